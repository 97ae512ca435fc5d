package kube

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/berth"
)

// TestReadLines: the time comes off the front of each line; a line longer than the bound
// is cut there (on a rune) and the rest of it skipped; the last line needs no newline.
func TestReadLines(t *testing.T) {
	long := strings.Repeat("é", berth.MaxLogLine) // twice the bound, in bytes
	in := "2026-03-14T15:09:26.535897123Z hello\r\n" +
		"2026-03-14T15:09:27Z " + long + "\n" +
		"2026-03-14T15:09:28Z after the long one\n" +
		"not a time at all\n" +
		"2026-03-14T15:09:29Z last"
	type line struct {
		t    time.Time
		text string
	}
	var got []line
	err := readLines(strings.NewReader(in), func(t time.Time, text string) error {
		got = append(got, line{t, text})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Fatalf("%d lines, want 5: %v", len(got), got)
	}
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return v }
	want := []line{
		{at("2026-03-14T15:09:26.535897123Z"), "hello"},
		{at("2026-03-14T15:09:27Z"), ""},
		{at("2026-03-14T15:09:28Z"), "after the long one"},
		{got[3].t, "not a time at all"},
		{at("2026-03-14T15:09:29Z"), "last"},
	}
	cut := got[1].text
	got[1].text = ""
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(line{})); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	if !strings.HasSuffix(cut, " …[cut at 16384 bytes]") || len(cut) > berth.MaxLogLine+64 || !strings.HasPrefix(cut, "éé") ||
		strings.ContainsRune(cut, '\uFFFD') {
		t.Errorf("the long line is %d bytes: %q...%q", len(cut), cut[:10], cut[len(cut)-30:])
	}
}

// TestReorder: records that come within the window are sent in time order, whichever
// connection brought them first; the stream ends with its context.
func TestReorder(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	in := make(chan berth.LogRecord)
	ctx, cancel := context.WithCancel(context.Background())
	var got []string
	done := make(chan error, 1)
	go func() {
		done <- reorder(ctx, in, func(r berth.LogRecord) error {
			got = append(got, r.Line)
			if len(got) == 4 {
				cancel()
			}
			return nil
		})
	}()
	for _, r := range []berth.LogRecord{
		{Time: t0.Add(2 * time.Second), Line: "c"}, // a pod whose line came first
		{Time: t0, Line: "a"},
		{Time: t0.Add(3 * time.Second), Line: "d"},
		{Time: t0.Add(time.Second), Line: "b"},
	} {
		in <- r
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reorder did not end with its context")
	}
	if strings.Join(got, "") != "abcd" {
		t.Errorf("sent %q, want in time order", got)
	}
}
