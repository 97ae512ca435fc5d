package web

import (
	"fmt"
	"html/template"
	"math"
	"time"

	"github.com/berth-dev/berth/internal/berth"
)

func (h *Handler) funcs() template.FuncMap {
	return template.FuncMap{
		"when":     func(t time.Time) template.HTML { return when(t, h.now()) },
		"duration": deployDuration,
		"tone":     tone,
		"ms":       func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	}
}

// when shows a time relative to now, with the absolute time on hover; the page's script
// keeps the relative text current.
func when(t time.Time, now time.Time) template.HTML {
	if t.IsZero() {
		return "—"
	}
	abs := t.UTC().Format("2006-01-02 15:04:05 UTC")
	return template.HTML(fmt.Sprintf(`<time datetime="%s" title="%s">%s</time>`,
		t.UTC().Format(time.RFC3339), abs, template.HTMLEscapeString(relative(now.Sub(t)))))
}

// relative says how long ago d was, the way people say it.
func relative(d time.Duration) string {
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < 45*time.Second:
		return "just now"
	case d < 90*time.Second:
		s = "1 min"
	case d < time.Hour:
		s = fmt.Sprintf("%d min", int(math.Round(d.Minutes())))
	case d < 36*time.Hour:
		s = fmt.Sprintf("%d h", int(math.Round(d.Hours())))
	default:
		s = fmt.Sprintf("%d days", int(math.Round(d.Hours()/24)))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func deployDuration(d berth.Deploy) string {
	if d.StartedAt.IsZero() {
		return "—"
	}
	end := d.FinishedAt
	if end.IsZero() {
		return "running"
	}
	return end.Sub(d.StartedAt).Round(100 * time.Millisecond).String()
}

// tone is the colour class of a state or outcome; templates always print the state's
// name next to it, so colour never carries meaning alone.
func tone(state any) string {
	switch fmt.Sprint(state) {
	case "succeeded", "success", "Running", "available", "active", "departed":
		return "ok"
	case "failed", "failure", "denied", "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "Failed", "stopped":
		return "bad"
	case "running", "queued", "Pending", "progressing", "awaiting-approval", "awaiting-merge", "announced", "departing", "deploying":
		return "busy"
	}
	return "neutral"
}
