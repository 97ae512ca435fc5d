package probes

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// announce tells the platform's channel when the environment's probe starts failing (a
// failed or slow step) and when it recovers, once each: the store remembers what was last
// said. A message that cannot be posted is taken back, so that the next run says it.
func (r *Runner) announce(ctx context.Context, run berth.ProbeRun, log *slog.Logger) {
	failing := !run.Healthy()
	var changed bool
	err := r.st.Tx(ctx, func(tx *store.Tx) (err error) {
		changed, err = tx.SetProbeAlarm(ctx, run.Env, failing, run.ID)
		return err
	})
	if err != nil {
		log.Warn("record the probe's alarm", "err", err)
		return
	}
	if !changed || r.o.Chat == nil || r.o.Channel == "" {
		return
	}
	// Said even when the server is stopping (within a bound), or taken back: never recorded
	// as said when it was not.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	text := Message(run)
	if _, err := r.o.Chat.Post(ctx, r.o.Channel, text); err != nil {
		log.Warn("announce the probe in chat", "channel", r.o.Channel, "err", err)
		err := r.st.Tx(ctx, func(tx *store.Tx) error {
			_, err := tx.SetProbeAlarm(ctx, run.Env, !failing, run.ID)
			return err
		})
		if err != nil {
			log.Warn("take back the probe's alarm", "err", err)
		}
		return
	}
	log.Info("probe announced", "channel", r.o.Channel, "failing", failing)
}

// Message is the announcement of run: a failure naming its failing and slow steps, or a
// recovery with how long the steps took. It holds no secret: the steps' errors are the
// agent's, scrubbed, and the server's own.
func Message(run berth.ProbeRun) string {
	if run.Healthy() {
		return fmt.Sprintf("Probe of %s recovered (run #%d): all %d steps passed in %s.", run.Env, run.ID, len(run.Steps),
			run.Duration().Round(time.Millisecond))
	}
	return fmt.Sprintf("Probe of %s is failing (run #%d): %s. Details: berth probes show %d", run.Env, run.ID, run.Reason, run.ID)
}
