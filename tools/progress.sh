# Sourced by tools/*/build.sh. go_progress LABEL reads `go build -v` output on stdin: it
# passes compiler errors through and, instead of one line per package, says every 30 s
# how many packages LABEL has compiled so far, so a 10-minute cold build shows it is alive.
go_progress() {
  awk -v label="$1" -v start="$(date +%s)" '
    /^[^ :]+$/ { n++; now = systime(); if (now - last >= 30) { printf "  %s: %d packages compiled (%d s)\n", label, n, now - start; fflush(); last = now }; next }
    { print; fflush() }
    BEGIN { last = systime() }
  ' >&2
}
