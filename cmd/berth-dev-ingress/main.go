// Command berth-dev-ingress is the dev cluster's ingress controller (internal/devingress):
// `berth dev cluster up` starts it beside the real node. It serves the Ingress objects of
// its class on --listen and answers GET /healthz on --health once it has read the cluster.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	networkingv1client "k8s.io/client-go/kubernetes/typed/networking/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/berth-dev/berth/internal/devingress"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "berth-dev-ingress:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("berth-dev-ingress", flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the controller's identity (required)")
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve HTTP traffic on")
	health := fs.String("health", "127.0.0.1:8081", "address of GET /healthz (200 once synced)")
	class := fs.String("class", "berth", "the IngressClass to serve")
	status := fs.String("status-address", "", "IP written to the status of served Ingresses")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *kubeconfig == "" {
		return errors.New("--kubeconfig is required")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return err
	}
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return err
	}
	netc, err := networkingv1client.NewForConfig(cfg)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	c := &devingress.Controller{Core: core, Networking: netc, Class: *class, StatusAddress: *status, Log: log}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	traffic := &http.Server{Addr: *listen, Handler: c, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !c.Synced() {
			http.Error(w, "not synced", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	healthSrv := &http.Server{Addr: *health, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 3)
	go func() { errc <- c.Run(ctx) }()
	for _, s := range []*http.Server{traffic, healthSrv} {
		go func() {
			if err := s.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	log.Info("serving", "listen", *listen, "health", *health, "class", *class)
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = traffic.Shutdown(shut)
	_ = healthSrv.Shutdown(shut)
	return err
}
