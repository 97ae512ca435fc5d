package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/berth-dev/berth/internal/store/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestNotes stores notes in a real PostgreSQL and lists them back.
func TestNotes(t *testing.T) {
	pool, err := pgxpool.New(t.Context(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	srv := httptest.NewServer(newHandler(pool, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := do("GET", "/ready", ""); code != 200 {
		t.Fatalf("ready: %d %s", code, body)
	}
	if code, body := do("POST", "/notes", "first"); code != 201 || !strings.Contains(body, `"id":1`) {
		t.Fatalf("post: %d %s", code, body)
	}
	if code, _ := do("POST", "/notes", strings.Repeat("x", maxNote+1)); code != 400 {
		t.Errorf("an oversized note: %d, want 400", code)
	}
	if code, _ := do("POST", "/notes", "  "); code != 400 {
		t.Errorf("an empty note: %d, want 400", code)
	}
	if code, body := do("GET", "/notes", ""); code != 200 || body != `[{"id":1,"body":"first"}]`+"\n" {
		t.Fatalf("list: %d %q", code, body)
	}
}
