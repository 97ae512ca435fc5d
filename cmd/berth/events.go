package main

import (
	"context"
	"log/slog"
	"sync"

	"github.com/berth-dev/berth/internal/cli"
	"github.com/berth-dev/berth/internal/kube"
	"github.com/berth-dev/berth/internal/service"
)

// keepEvents runs, until ctx ends, the watcher that keeps the Kubernetes events of the
// apps' objects in the store (--events-max-per-app, --events-max-age); 0 for
// --events-max-per-app runs none. The returned func waits for it to end.
func keepEvents(ctx context.Context, svc *service.Service, clusters *kube.Pool, o *cli.ServerOptions, log *slog.Logger) (wait func()) {
	var wg sync.WaitGroup
	if o.EventsMaxPerApp > 0 {
		wg.Go(func() {
			err := svc.KeepClusterEvents(ctx, clusters, service.EventKeeping{MaxPerApp: o.EventsMaxPerApp, MaxAge: o.EventsMaxAge})
			if err != nil {
				log.Error("keep cluster events", "err", err)
			}
		})
	}
	return wg.Wait
}
