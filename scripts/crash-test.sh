#!/usr/bin/env bash
# Runs the crash test of the deploy engine with 10 trials: each deploys 50 apps, starts a
# team redeploy, kills the server with SIGKILL twice at random moments, restarts it, and
# checks every deploy ended exactly once (make test runs 2 trials).
set -euo pipefail
cd "$(dirname "$0")/.."
BERTH_CRASH_TRIALS=${BERTH_CRASH_TRIALS:-10} exec go test -count=1 -timeout=60m -v -run 'TestCrashDuringTeamRedeploy' ./cmd/berth
