// Command pause is the dev cluster's pod sandbox process: it holds a pod's namespaces open,
// reaps the zombies the pod's containers leave (it is PID 1 there) and exits on SIGINT or
// SIGTERM, as Kubernetes' own pause.c does. Static Go, so building it needs no C toolchain.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
