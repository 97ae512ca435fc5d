package devcluster

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"

	"github.com/berth-dev/berth/internal/freeport"
)

// PortInUseError says a port asked for is already taken by another program.
type PortInUseError struct {
	Port int
	Flag string
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("port %d on 127.0.0.1 is already in use by another program: stop it, "+
		"or pick another port with %s (0 chooses a free one)", e.Port, e.Flag)
}

// reservePort returns port if it is free, or a free port when port is 0 (chosen below the
// kernel's ephemeral range, so no outgoing connection takes it before the component binds it).
func reservePort(port int, flag string) (int, error) {
	if port == 0 {
		return freeport.Pick()
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return 0, &PortInUseError{Port: port, Flag: flag}
		}
		return 0, fmt.Errorf("reserve port %d: %w", port, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Listening reports whether something accepts connections on 127.0.0.1:port.
func Listening(port int) bool {
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	c.Close()
	return true
}
