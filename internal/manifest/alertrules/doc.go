// Package alertrules owns Berth's alerts as code: it renders the Prometheus rules of one app
// in one environment (threshold alerts on its request metrics and its containers' limits,
// and multi-window multi-burn-rate alerts on its SLO) into a rule file Prometheus loads.
//
// Everything here is pure and a leaf: no I/O, no clock, nothing of Berth's imported, so
// internal/manifest renders the same rules offline for `berth render` and on the server for
// a deploy. Render trusts its App; Validate says what is wrong with one.
//
// The series the rules select are the ones Berth's Prometheus scrapes: an app's own
// metrics carry the labels team, app and env (relabelled from the pod's labels), and the
// kubelet's resource metrics report containers by namespace, pod and container, so no
// kube-state-metrics is needed.
package alertrules
