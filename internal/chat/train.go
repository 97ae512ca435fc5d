package chat

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
)

// train answers `train status|delay|depart [NAME]`: the train named (with --team, or the
// one of that name p can see), or the only train p can see.
func (b *Bot) train(ctx context.Context, p *authz.Principal, c Command) (string, error) {
	t, err := b.findTrain(ctx, p, c)
	if err != nil {
		return "", err
	}
	switch c.Sub {
	case "delay":
		run, left, err := b.svc.DelayTrain(ctx, p, t.Team, t.Name)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s delayed the %s/%s train by %s: it now leaves at %s; %d more %s allowed today.",
			p.Name, t.Team, t.Name, t.Delay, at(t, run.Departs), left, pluralWord(left, "delay", "delays")), nil
	case "depart":
		if _, err := b.svc.DepartTrain(ctx, p, t.Team, t.Name); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s sent the %s/%s train off: it leaves now for %s.", p.Name, t.Team, t.Name, t.To), nil
	}
	st, err := b.svc.Train(ctx, p, t.Team, t.Name, 1)
	if err != nil {
		return "", err
	}
	lines := []string{fmt.Sprintf("*Train %s/%s*: %s → %s, schedule `%s` (%s)", t.Team, t.Name, t.From, t.To, t.Schedule, t.TimeZone)}
	if t.Held(b.now()) {
		lines = append(lines, fmt.Sprintf("Frozen until %s: %s", at(t, t.HeldUntil), t.HeldReason))
	}
	if n := st.Next; n != nil {
		line := fmt.Sprintf("Next departure: %s (%s)", at(t, n.Departs), n.State)
		if n.Delays > 0 {
			line += fmt.Sprintf(", delayed %d %s", n.Delays, pluralWord(n.Delays, "time", "times"))
		}
		lines = append(lines, line+fmt.Sprintf("; %d %s left today", st.DelaysLeft, pluralWord(st.DelaysLeft, "delay", "delays")))
		if n.State == berth.TrainScheduled {
			lines = append(lines, "What is on it is announced "+t.AnnounceBefore.String()+" before it leaves.")
		}
		for _, car := range n.Cars {
			what := fmt.Sprintf("revision %d", car.Revision)
			if car.Total > 0 {
				what = fmt.Sprintf("%d %s", car.Total, pluralWord(car.Total, "commit", "commits"))
			}
			lines = append(lines, fmt.Sprintf("• %s: %s (%s)", car.App, what, car.State))
		}
	} else {
		lines = append(lines, "No departure coming.")
	}
	return strings.Join(lines, "\n"), nil
}

// findTrain is the train c names, or the only one p can see.
func (b *Bot) findTrain(ctx context.Context, p *authz.Principal, c Command) (berth.Train, error) {
	ts, err := b.svc.Trains(ctx, p, c.Team)
	if err != nil {
		return berth.Train{}, err
	}
	var match []berth.Train
	for _, t := range ts {
		if c.Train == "" || t.Name == c.Train {
			match = append(match, t)
		}
	}
	switch {
	case len(match) == 1:
		return match[0], nil
	case len(match) == 0 && c.Train != "":
		return berth.Train{}, fmt.Errorf("no train called %s that you can see: %w", c.Train, berth.ErrNotFound)
	case len(match) == 0:
		return berth.Train{}, fmt.Errorf("no train that you can see: a team admin makes one with `berth train create`: %w", berth.ErrNotFound)
	}
	var names []string
	for _, t := range match {
		names = append(names, t.Team+"/"+t.Name)
	}
	return berth.Train{}, fmt.Errorf("you can see trains %s: name one (`train status NAME`, with --team TEAM when two teams have one of that name)", strings.Join(names, ", "))
}

func at(t berth.Train, when time.Time) string {
	loc, err := time.LoadLocation(t.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	return when.In(loc).Format("Mon 15:04 MST")
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
