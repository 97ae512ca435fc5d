// Package freeport picks loopback ports for servers started as separate processes.
//
// Asking the kernel for port 0 gives a port from the ephemeral range, the same range the
// kernel gives to outgoing connections: in the seconds between choosing a port and the
// server binding it, any client connection on the machine may take it as its source port
// and the server fails with "address already in use". Ports below the ephemeral range are
// never handed out that way, so Pick chooses there and checks the port is free.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// floor is the lowest port Pick chooses: above the well-known and most registered ports.
const floor = 20000

// Pick returns a port nothing listens on, outside the kernel's ephemeral range when that
// range leaves room below it.
func Pick() (int, error) {
	lo, hi := window(ephemeralLow())
	for range 200 {
		p := lo + rand.IntN(hi-lo)
		if Free(p) {
			return p, nil
		}
	}
	// A crowded window: fall back to the kernel's choice.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// window is where Pick chooses, given the ephemeral range's first port.
func window(ephemeral int) (lo, hi int) {
	if ephemeral-floor >= 1000 {
		return floor, ephemeral
	}
	// An unusual range that starts low: choose above it instead.
	return 61000, 65000
}

// Free reports whether port can be bound on every IPv4 address now.
func Free(port int) bool {
	l, err := net.Listen("tcp4", ":"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's default when it
// cannot be read).
func ephemeralLow() int {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	return parseRange(string(data))
}

func parseRange(s string) int {
	f := strings.Fields(s)
	if len(f) != 2 {
		return 32768
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil || lo < 1 || lo > 65535 {
		return 32768
	}
	return lo
}
