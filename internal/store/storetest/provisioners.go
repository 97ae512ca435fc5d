package storetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

func testProvisionerFiles(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	tx(t, st, func(tx *store.Tx) error {
		_, err := tx.CreateEnvironment(ctx, berth.Environment{Name: "dev", InCluster: true})
		return err
	})
	if _, err := st.ProvisionerFile(ctx, "dev", 0); !errors.Is(err, berth.ErrNotFound) {
		t.Fatalf("ProvisionerFile before any set: %v, want ErrNotFound", err)
	}
	const v1, v2 = "- type: redis\n  outputs: \"host: a\"\n", "- type: redis\n  outputs: \"host: b\"\n"
	var first, second berth.ProvisionerFile
	tx(t, st, func(tx *store.Tx) error {
		var err error
		if first, err = tx.SetProvisionerFile(ctx, "dev", v1, "alice"); err != nil {
			return err
		}
		second, err = tx.SetProvisionerFile(ctx, "dev", v2, "bob")
		return err
	})
	equal(t, "first set", first, berth.ProvisionerFile{Env: "dev", Version: 1, Content: v1, CreatedBy: "alice", CreatedAt: epoch})
	equal(t, "second set", second.Version, int64(2))

	newest, err := st.ProvisionerFile(ctx, "dev", 0)
	must(t, "ProvisionerFile newest", err)
	equal(t, "newest", newest, second)
	old, err := st.ProvisionerFile(ctx, "dev", 1)
	must(t, "ProvisionerFile 1", err)
	equal(t, "version 1", old, first)
	if _, err := st.ProvisionerFile(ctx, "dev", 3); !errors.Is(err, berth.ErrNotFound) || !strings.Contains(err.Error(), "version 3") {
		t.Errorf("ProvisionerFile 3: %v, want ErrNotFound naming version 3", err)
	}
	hist, err := st.ProvisionerFileHistory(ctx, "dev")
	must(t, "ProvisionerFileHistory", err)
	equal(t, "history", hist, []berth.ProvisionerFile{
		{Env: "dev", Version: 2, CreatedBy: "bob", CreatedAt: epoch},
		{Env: "dev", Version: 1, CreatedBy: "alice", CreatedAt: epoch},
	})

	// Unknown environments, oversized files and a missing actor change nothing.
	for _, tc := range []struct {
		env, content, by string
		want             error
	}{
		{"nope", v1, "alice", berth.ErrNotFound},
		{"dev", strings.Repeat("#", berth.MaxProvisionerFileSize+1), "alice", berth.ErrInvalid},
		{"dev", v1, "", berth.ErrInvalid},
	} {
		err := st.Tx(ctx, func(tx *store.Tx) error {
			_, err := tx.SetProvisionerFile(ctx, tc.env, tc.content, tc.by)
			return err
		})
		if !errors.Is(err, tc.want) {
			t.Errorf("SetProvisionerFile(%s, %d bytes, %q) = %v, want %v", tc.env, len(tc.content), tc.by, err, tc.want)
		}
	}
	hist, err = st.ProvisionerFileHistory(ctx, "dev")
	must(t, "ProvisionerFileHistory", err)
	equal(t, "versions after refused sets", len(hist), 2)

	// Deleting the environment deletes its files.
	tx(t, st, func(tx *store.Tx) error { return tx.DeleteEnvironment(ctx, "dev") })
	tx(t, st, func(tx *store.Tx) error {
		_, err := tx.CreateEnvironment(ctx, berth.Environment{Name: "dev", InCluster: true})
		return err
	})
	if _, err := st.ProvisionerFile(ctx, "dev", 0); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("a re-created environment has its predecessor's file: %v", err)
	}
}
