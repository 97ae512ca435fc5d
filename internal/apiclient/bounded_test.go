package apiclient

import (
	"io"
	"strings"
	"testing"
)

// TestBoundedReader: a body up to the bound reads whole; one byte more fails, and says why.
func TestBoundedReader(t *testing.T) {
	for _, c := range []struct {
		body string
		err  string
	}{
		{"0123456789", ""},
		{"01234567890", "response larger than 64 MiB"},
	} {
		data, err := io.ReadAll(&boundedReader{r: strings.NewReader(c.body), left: 10})
		switch {
		case c.err == "" && (err != nil || string(data) != c.body):
			t.Errorf("%q: %q %v", c.body, data, err)
		case c.err != "" && (err == nil || err.Error() != c.err):
			t.Errorf("%q: error %v, want %q", c.body, err, c.err)
		}
	}
}
