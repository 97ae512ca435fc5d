package freeport

import (
	"net"
	"strconv"
	"testing"
)

func TestPickIsFreeAndBelowTheEphemeralRange(t *testing.T) {
	low := ephemeralLow()
	for range 20 {
		p, err := Pick()
		if err != nil {
			t.Fatal(err)
		}
		if lo, hi := window(low); p < lo || p >= hi {
			t.Fatalf("port %d outside [%d,%d)", p, lo, hi)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("picked port %d cannot be bound: %v", p, err)
		}
		l.Close()
	}
}

func TestFreeSeesAListener(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if Free(l.Addr().(*net.TCPAddr).Port) {
		t.Fatal("a port with a listener on 127.0.0.1 reported free")
	}
}

func TestWindowAndRange(t *testing.T) {
	for _, c := range []struct {
		in string
		lo int
	}{{"32768\t60999\n", 32768}, {"1024 65000", 1024}, {"junk", 32768}, {"", 32768}, {"0 5", 32768}} {
		if got := parseRange(c.in); got != c.lo {
			t.Errorf("parseRange(%q) = %d, want %d", c.in, got, c.lo)
		}
	}
	if lo, hi := window(32768); lo != 20000 || hi != 32768 {
		t.Errorf("window(32768) = %d,%d", lo, hi)
	}
	if lo, hi := window(1024); lo != 61000 || hi != 65000 {
		t.Errorf("window(1024) = %d,%d", lo, hi)
	}
}
