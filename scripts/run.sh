#!/usr/bin/env bash
# `make run` and `make stop`: a newcomer's whole local Berth in one command.
#
#   scripts/run.sh        start (or reuse) the dev cluster (with its real node where the machine
#                         allows it) and a `berth server` on SQLite, create the environment
#                         `dev` (its pods land on the real node) and the team `demo`, build
#                         examples/hello into an image in the cluster's registry, deploy it,
#                         and print the dashboard's address, the admin token, what to try and
#                         the app's URL, with its answer through the ingress
#                         With a real node it also starts a PostgreSQL of its own (initdb +
#                         pg_ctl from the Debian binaries, listening on loopback and the pod
#                         bridge), registers it for `dev` and sets dev's base domain to
#                         dev.localhost, so apps with postgres, dns and route resources work
#                         With a real node it also runs a Prometheus (built or found by
#                         tools/prometheus/build.sh) on 127.0.0.1, with the configuration of
#                         `berth dev cluster prometheus-config`: it scrapes the pods that ask
#                         for it, the real node's kubelet and the server, and loads the alert
#                         rules the server (--prometheus-url, --prometheus-rules-dir) writes
#                         into $BERTH_RUN_DIR/prometheus/rules
#                         With a real node it also gives dev what its synthetic probe checks
#                         (docs/probes.md): an S3 server (versitygw) and a queue server
#                         (nats-server), built or found by tools/versitygw and tools/nats,
#                         listening on the pod bridge; the probe image (bin/berth itself,
#                         pushed to the cluster's registry); and runs `berth probe run --env dev`
#   scripts/run.sh stop   stop that server (by its recorded pid), that Prometheus, the S3 and
#                         queue servers, that PostgreSQL, then the dev cluster
#
# Run it again and it reuses what runs: the cluster, Prometheus (if its pid is still a
# `prometheus` of our configuration file on our port, /-/ready answers and the cluster was
# not restarted; a changed configuration is reloaded), the server (if its pid is still a
# `berth server` on our data and port, with our Prometheus flags, /readyz answers, and
# neither the cluster nor the binary changed since it started), the environment, the team,
# and the deploy (skipped when the manifest is unchanged, the app is live as deployed, and
# Prometheus has its alert rules).
#
# Environment (all optional):
#   BERTH_BIN        the berth binary (default: bin/berth of this checkout)
#   BERTH_STATE_DIR  parent of the dev cluster's state (<dir>/dev-cluster, as for
#                    `berth dev cluster`) and of the run directory (default:
#                    ${XDG_STATE_HOME:-~/.local/state}/berth)
#   BERTH_RUN_DIR    the server's run directory: data/ (SQLite), server.log, server.pid,
#                    admin-token, secrets.key, prometheus/ (prometheus.yml, rules/, data/,
#                    prometheus.log, prometheus.pid), s3/ and nats/ (each its data, port,
#                    credentials, log and pid) (default: $BERTH_STATE_DIR/run)
#   BERTH_RUN_PORT   the server's port on 127.0.0.1 (default: 8080)
#   BERTH_PROMETHEUS_PORT  Prometheus's port on 127.0.0.1 (default: 9090)
#   BERTH_REAL_NODE  auto (default): the dev cluster runs a real node when the machine allows
#                    it; on: fail without one; off: simulated pods only
#   BERTH_REAL_NODE_WAIT  how long to wait for another cluster's real node (default 0s)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${BERTH_BIN:-$root/bin/berth}
[[ $bin == /* ]] || bin=$PWD/$bin
state_dir=${BERTH_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/berth}
run_dir=${BERTH_RUN_DIR:-$state_dir/run}
[[ $run_dir == /* ]] || run_dir=$PWD/$run_dir
port=${BERTH_RUN_PORT:-8080}
prom_port=${BERTH_PROMETHEUS_PORT:-9090}
real_node=${BERTH_REAL_NODE:-auto}
real_node_wait=${BERTH_REAL_NODE_WAIT:-0s}
url=http://127.0.0.1:$port
prom_url=http://127.0.0.1:$prom_port
manifest=$root/examples/hello/berth.yaml
env_name=dev team=demo app=hello
# What stops this run: the same directories.
stop_cmd="make stop"
[[ -z ${BERTH_RUN_DIR:-} ]] || stop_cmd="BERTH_RUN_DIR=$run_dir $stop_cmd"
[[ -z ${BERTH_STATE_DIR:-} ]] || stop_cmd="BERTH_STATE_DIR=$state_dir $stop_cmd"
# `berth dev cluster` finds its state directory through the same variable.
export BERTH_STATE_DIR=$state_dir

data_dir=$run_dir/data
pid_file=$run_dir/server.pid
log_file=$run_dir/server.log
token_file=$run_dir/admin-token
key_file=$run_dir/secrets.key
# What the running server was started with: the dev cluster's kubeconfig (a restarted
# cluster has new certificates and ports under the same path, and the server keeps its
# first client) and the binary (rebuilt with changes, it should serve them).
fingerprint_file=$run_dir/server.fingerprint

# dev's Prometheus: its configuration, the rules directory the server writes apps' alert
# rules into, its TSDB, log and pid.
prom_dir=$run_dir/prometheus
prom_config=$prom_dir/prometheus.yml
prom_rules=$prom_dir/rules
prom_data=$prom_dir/data
prom_log=$prom_dir/prometheus.log
prom_pid_file=$prom_dir/prometheus.pid
# What the running Prometheus read once at its start: the dev cluster's kubeconfig. A
# reload of an unchanged configuration keeps the Kubernetes discovery's first client, so a
# restarted cluster (new certificates and ports under the same path) needs a new process.
prom_fingerprint_file=$prom_dir/prometheus.fingerprint
# How often Prometheus scrapes and evaluates rules: a dev loop wants quick answers.
prom_interval=5s
# The directory of prometheus and promtool (tools/prometheus/build.sh prints it).
prom_bin=""
# The Prometheus flags the server runs with: both empty without a real node.
server_prom_url="" server_prom_rules=""

# dev's S3 server and queue server, for its synthetic probe: each in a directory of its
# own with its data, port, credentials, log and pid.
s3_dir=$run_dir/s3
nats_dir=$run_dir/nats
# The bucket the probe puts, reads and deletes its object in.
probe_bucket=berth-probe
# The probe image the server runs and where its pods report: both empty without a real
# node. probe_image_file caches the image by the binary's checksum: the same binary is
# pushed once.
server_probe_image="" server_probe_listen=""
probe_image_file=$run_dir/probe-image

die() {
  echo "run: $*" >&2
  exit 1
}

# Timings as `berth dev cluster up` shows them: one line per step, ok and seconds.
now_us() {
  local t=$EPOCHREALTIME
  echo "${t/[.,]/}"
}
seconds_since() {
  local d=$(($(now_us) - $1))
  printf '%d.%d' $((d / 1000000)) $((d % 1000000 / 100000))
}
step_begin=0
step() {
  step_begin=$(now_us)
  printf '==> %s\n' "$*"
}
step_done() {
  printf '    %s (%ss)\n' "$*" "$(seconds_since "$step_begin")"
}
# indent shows a child's progress under the current step.
indent() { sed -u 's/^/    /'; }

# terminate PID SECONDS asks PID to stop (TERM) and waits until it has, killing it after
# SECONDS.
terminate() {
  kill -TERM "$1" 2>/dev/null || true
  local deadline=$((SECONDS + $2))
  while running "$1"; do
    if ((SECONDS >= deadline)); then
      kill -KILL "$1" 2>/dev/null || true
    fi
    sleep 0.1
  done
}

# running PID succeeds while the process runs. Not kill -0: an exited process nobody has
# reaped yet (a zombie) still has its pid, but no command line.
running() {
  local c
  c=$(tr -d '\0' <"/proc/$1/cmdline" 2>/dev/null) && [[ -n $c ]]
}

# server_pid prints the pid of the server this run directory started, if it still runs.
# A pid is ours only if it is alive and its command line is `berth server` on our data
# directory: pids are reused, and the file may have outlived a reboot.
server_pid() {
  local pid cmd
  [[ -f $pid_file ]] || return 1
  pid=$(<"$pid_file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  cmd=$(tr '\0' '\n' <"/proc/$pid/cmdline") || return 1
  [[ $(sed -n 1p <<<"$cmd") == */berth || $(sed -n 1p <<<"$cmd") == berth ]] || return 1
  [[ $(sed -n 2p <<<"$cmd") == server ]] || return 1
  grep -qxF -- "$data_dir" <<<"$cmd" || return 1
  echo "$pid"
}

# stale_reason PID says why the running server PID cannot be reused, or nothing when it can:
# it must listen on our port, answer /readyz, and have been started against the dev
# cluster that runs now.
stale_reason() {
  local cmd
  cmd=$(tr '\0' '\n' <"/proc/$1/cmdline")
  if ! grep -qxF -- "127.0.0.1:$port" <<<"$cmd"; then
    echo "it listens on another port than $port"
  elif [[ $(flag_value --prometheus-url <<<"$cmd") != "$server_prom_url" ||
    $(flag_value --prometheus-rules-dir <<<"$cmd") != "$server_prom_rules" ]]; then
    if [[ -z $server_prom_url ]]; then
      echo "it reports to a Prometheus, and this run has none"
    else
      echo "it does not report to the Prometheus at $prom_url (--prometheus-url, --prometheus-rules-dir $server_prom_rules)"
    fi
  elif [[ $(flag_value --probe-image <<<"$cmd") != "$server_probe_image" ||
    $(flag_value --probe-listen <<<"$cmd") != "$server_probe_listen" ]]; then
    echo "it runs another probe image, or takes probe reports elsewhere, than this run's"
  elif ! ready; then
    echo "it does not answer on $url/readyz"
  elif [[ ! -f $fingerprint_file || $(sha256sum <"$kubeconfig") != "$(sed -n 1p "$fingerprint_file")" ]]; then
    echo "the dev cluster was restarted since it started"
  elif [[ $(cksum <"$bin") != "$(sed -n 2p "$fingerprint_file")" ]]; then
    echo "${bin#"$root"/} changed since it started"
  fi
}

# flag_value FLAG prints the argument after FLAG in a command line on stdin, one argument
# a line; nothing when FLAG is not there.
flag_value() { awk -v f="$1" 'next_is { print; exit } $0 == f { next_is = 1 }'; }

fingerprint() {
  sha256sum <"$kubeconfig"
  cksum <"$bin" # a checksum, fast on a 100 MB binary: go build rewrites it, changed or not
}

ready() { curl -fsS --max-time 2 -o /dev/null "$url/readyz" 2>/dev/null; }

# api METHOD PATH prints the response body of an authorized API call and fails on a status
# of 400 or more. The token goes to curl on stdin, never on a command line.
api() {
  printf 'header = "Authorization: Bearer %s"\n' "$token" |
    curl -fsS --max-time 10 -K - -X "$1" "$url/api/v1$2"
}
# api_status PATH prints only the HTTP status of a GET.
api_status() {
  printf 'header = "Authorization: Bearer %s"\n' "$token" |
    curl -sS --max-time 10 -K - -o /dev/null -w '%{http_code}' "$url/api/v1$1"
}

stop_server() {
  local pid
  if ! pid=$(server_pid); then
    rm -f "$pid_file"
    return 1
  fi
  # The server drains in-flight requests for up to its --shutdown-timeout (10s here).
  terminate "$pid" 15
  rm -f "$pid_file" "$fingerprint_file"
  echo "$pid"
}

cmd_stop() {
  local pid
  step "berth server of $run_dir"
  if pid=$(stop_server); then
    step_done "stopped pid $pid; its data stays in $data_dir"
  else
    step_done "not running"
  fi
  step "Prometheus of dev"
  if pid=$(stop_prometheus); then
    step_done "stopped pid $pid; its data stays in $prom_data"
  else
    step_done "not running"
  fi
  step "S3 and queue servers of dev"
  local stopped=()
  if pid=$(stop_daemon "$s3_dir" versitygw); then stopped+=("versitygw (pid $pid)"); fi
  if pid=$(stop_daemon "$nats_dir" nats-server); then stopped+=("nats-server (pid $pid)"); fi
  if ((${#stopped[@]} > 0)); then
    step_done "stopped ${stopped[0]}${stopped[1]:+ and ${stopped[1]}}; their data stays in $s3_dir and $nats_dir"
  else
    step_done "not running"
  fi
  step "PostgreSQL of dev"
  if [[ -s $pg_dir_file && -s $(<"$pg_dir_file")/data/postmaster.pid ]] && pg_bin >/dev/null; then
    as_postgres "$(pg_bin)/pg_ctl" -D "$(<"$pg_dir_file")/data" stop -m fast -w >/dev/null
    step_done "stopped; its data stays in $(<"$pg_dir_file")"
  else
    step_done "not running"
  fi
  step "dev cluster (berth dev cluster down)"
  if [[ ! -e $state_dir/dev-cluster ]]; then
    step_done "not running"
    return
  fi
  [[ -x $bin ]] || die "$bin is not built: run \`make build\`, then \`make stop\` again to stop the dev cluster"
  "$bin" dev cluster down 2>&1 | indent
  step_done "stopped"
}

# The PostgreSQL `make run` registers for dev: its directory (data/, port, postgres.log, the
# socket) is recorded in $pg_dir_file; the admin role's password is in $pg_password_file.
pg_dir_file=$run_dir/postgres.dir
pg_password_file=$run_dir/postgres-admin-password

# pg_bin prints the newest installed PostgreSQL's bin directory (Debian's layout).
pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [[ -x $d/initdb && -x $d/pg_ctl ]] || return 1
  echo "$d"
}

# as_postgres runs a PostgreSQL program as the postgres user when we are root (PostgreSQL
# refuses to run as root), else as ourselves.
as_postgres() {
  if ((EUID == 0)); then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# postgres_up NODE_IP starts (or reuses) dev's PostgreSQL, listening on loopback and the
# pod bridge's address NODE_IP, and prints the DSN of its admin role berth_admin.
postgres_up() {
  local node_ip=$1 bin dir port password
  bin=$(pg_bin) || die "PostgreSQL's server binaries are not installed: run scripts/deps.sh (Debian package postgresql)"
  if [[ -s $pg_dir_file ]]; then
    dir=$(<"$pg_dir_file")
  else
    dir=$state_dir/postgres
    # As root, the postgres user must reach the directory; a private home hides it.
    if ((EUID == 0)) && ! runuser -u postgres -- test -x "$state_dir"; then
      dir=/var/lib/berth/dev-postgres-$(sha256sum <<<"$state_dir" | head -c 12)
    fi
    echo "$dir" >"$pg_dir_file"
  fi
  if [[ ! -s $dir/data/PG_VERSION ]]; then
    mkdir -p "$dir"
    chmod 0700 "$dir"
    ((EUID != 0)) || chown postgres: "$dir"
    as_postgres "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-instructions >/dev/null
    # Sockets in $dir trust their users (only postgres, and root, reach it); TCP, on
    # loopback and the pod bridge, takes passwords.
    printf 'local all all trust\nhost all all all scram-sha-256\n' | as_postgres tee "$dir/data/pg_hba.conf" >/dev/null
    port=54330
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
    echo "$port" | as_postgres tee "$dir/port" >/dev/null
  fi
  port=$(<"$dir/port")
  [[ -s $pg_password_file ]] || (umask 077 && od -An -N18 -tx1 /dev/urandom | tr -d ' \n' >"$pg_password_file")
  password=$(<"$pg_password_file")
  if ! as_postgres "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1,$node_ip -c port=$port -c unix_socket_directories=$dir" start >/dev/null ||
      die "PostgreSQL did not start; see $dir/postgres.log"
  fi
  as_postgres "$bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -qtA -v ON_ERROR_STOP=1 -v pw="$password" >/dev/null <<'SQL' ||
SELECT format('CREATE ROLE berth_admin LOGIN CREATEDB CREATEROLE PASSWORD %L', :'pw')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'berth_admin') \gexec
SQL
    die "could not create the role berth_admin; see $dir/postgres.log"
  echo "postgres://berth_admin:$password@$node_ip:$port/postgres?sslmode=disable"
}

# prom_pid prints the pid of the Prometheus this run directory started, if it still runs: a
# `prometheus` whose command line names our configuration file (pids are reused, and the
# file may have outlived a reboot).
prom_pid() {
  local pid cmd
  [[ -f $prom_pid_file ]] || return 1
  pid=$(<"$prom_pid_file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  cmd=$(tr '\0' '\n' <"/proc/$pid/cmdline") || return 1
  [[ $(sed -n 1p <<<"$cmd") == */prometheus ]] || return 1
  grep -qxF -- "--config.file=$prom_config" <<<"$cmd" || return 1
  echo "$pid"
}

prom_ready() { curl -fsS --max-time 2 -o /dev/null "$prom_url/-/ready" 2>/dev/null; }

# prom_stale_reason PID says why the running Prometheus PID cannot be reused, or nothing
# when it can: it must be the build this run found, listen on our port, answer /-/ready,
# and have been started against the dev cluster that runs now.
prom_stale_reason() {
  local cmd
  cmd=$(tr '\0' '\n' <"/proc/$1/cmdline")
  if ! grep -qxF -- "--web.listen-address=127.0.0.1:$prom_port" <<<"$cmd"; then
    echo "it listens on another port than $prom_port"
  elif [[ $(sed -n 1p <<<"$cmd") != "$prom_bin/prometheus" ]]; then
    echo "it is another build than $prom_bin/prometheus"
  elif ! prom_ready; then
    echo "it does not answer on $prom_url/-/ready"
  elif [[ ! -f $prom_fingerprint_file || $(sha256sum <"$kubeconfig") != "$(<"$prom_fingerprint_file")" ]]; then
    echo "the dev cluster was restarted since it started"
  fi
}

stop_prometheus() {
  local pid
  if ! pid=$(prom_pid); then
    rm -f "$prom_pid_file"
    return 1
  fi
  # It writes its head block's checkpoint first; its write-ahead log survives a KILL.
  terminate "$pid" 20
  rm -f "$prom_pid_file" "$prom_fingerprint_file"
  echo "$pid"
}

start_prometheus() {
  refuse_taken "$prom_port" BERTH_PROMETHEUS_PORT
  mkdir -p "$prom_data"
  printf -- '--- %s: prometheus on %s\n' "$(date -u +%FT%TZ)" "$prom_url" >>"$prom_log"
  # setsid: it outlives `make run` and a Ctrl-C in its terminal. --web.enable-lifecycle lets
  # the server (and this script) make it reload its configuration and rules.
  setsid "$prom_bin/prometheus" --config.file="$prom_config" --storage.tsdb.path="$prom_data" \
    --web.listen-address="127.0.0.1:$prom_port" --web.enable-lifecycle \
    </dev/null >>"$prom_log" 2>&1 &
  local pid=$!
  echo "$pid" >"$prom_pid_file"
  local deadline=$((SECONDS + 60))
  until prom_ready; do
    if ! running "$pid"; then
      rm -f "$prom_pid_file"
      echo "run: Prometheus exited; the end of $prom_log:" >&2
      tail -n 15 "$prom_log" | indent >&2
      exit 1
    fi
    ((SECONDS < deadline)) || die "Prometheus (pid $pid) not ready after 60s; see $prom_log"
    sleep 0.1
  done
  prom_pid >/dev/null || die "pid $pid is not the Prometheus it should be; see $prom_log"
  sha256sum <"$kubeconfig" >"$prom_fingerprint_file"
  echo "$pid"
}

# prometheus_up builds (or finds) Prometheus, writes its configuration for the dev cluster
# and the server on $port, and starts, reloads or reuses it; step_done says which.
prometheus_up() {
  local pid why="" changed=false out
  prom_bin=$("$root/tools/prometheus/build.sh" 2> >(indent >&2)) ||
    die "building Prometheus failed (see above); tools/prometheus/build.sh builds it alone"
  mkdir -p "$prom_rules"
  "$bin" dev cluster prometheus-config --berth "127.0.0.1:$port" --rules-dir "$prom_rules" \
    --interval "$prom_interval" >"$prom_config.new" ||
    die "could not write Prometheus's configuration (berth dev cluster prometheus-config, above)"
  if ! cmp -s "$prom_config.new" "$prom_config"; then
    mv "$prom_config.new" "$prom_config"
    changed=true
  else
    rm -f "$prom_config.new"
  fi
  if pid=$(prom_pid) && why=$(prom_stale_reason "$pid") && [[ -z $why ]]; then
    if [[ $changed == false ]]; then
      step_done "already running, pid $pid; log $prom_log"
      return
    fi
    # It answers once the new configuration and its rules are loaded, or says why not.
    # A refused configuration is not kept as if it were loaded: the next run tries again.
    if ! out=$(curl -sS --fail-with-body --max-time 30 -X POST "$prom_url/-/reload" 2>&1); then
      mv "$prom_config" "$prom_config.refused"
      die "Prometheus (pid $pid) refused the new configuration (kept in $prom_config.refused); it runs with the one before: $out"
    fi
    step_done "reloaded $prom_config, pid $pid; log $prom_log"
    return
  fi
  if pid=$(stop_prometheus); then
    echo "    stopped Prometheus, pid $pid: $why"
  fi
  pid=$(start_prometheus)
  step_done "started, pid $pid, scraping every $prom_interval; log $prom_log"
}

# daemon_pid DIR NAME prints the pid of the program NAME this run started from DIR (its
# pid file there), if it still runs with DIR on its command line: pids are reused.
daemon_pid() {
  local pid cmd
  [[ -f $1/pid ]] || return 1
  pid=$(<"$1/pid")
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
  cmd=$(tr '\0' '\n' <"/proc/$pid/cmdline") || return 1
  [[ $(sed -n 1p <<<"$cmd") == */"$2" ]] || return 1
  grep -qF -- "$1" <<<"$cmd" || return 1
  echo "$pid"
}

# stop_daemon DIR NAME stops that program (TERM, then KILL after 10 s) and prints its pid.
stop_daemon() {
  local pid
  if ! pid=$(daemon_pid "$1" "$2"); then
    rm -f "$1/pid"
    return 1
  fi
  terminate "$pid" 10
  rm -f "$1/pid"
  echo "$pid"
}

# free_port IP FROM prints the first port from FROM that nothing listens on at IP.
free_port() {
  local p=$2
  while (exec 3<>"/dev/tcp/$1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}

# secret_file FILE makes FILE (mode 0600) hold a new random secret, unless it holds one.
secret_file() {
  [[ -s $1 ]] || (umask 077 && od -An -N20 -tx1 /dev/urandom | tr -d ' \n' >"$1")
}

# await_ready PID NAME LOG URL waits up to 30 s for URL to answer 200, while PID runs.
await_ready() {
  local deadline=$((SECONDS + 30))
  until curl -fsS --max-time 2 -o /dev/null "$4" 2>/dev/null; do
    if ! running "$1"; then
      echo "run: $2 exited; the end of $3:" >&2
      tail -n 15 "$3" | indent >&2
      exit 1
    fi
    ((SECONDS < deadline)) || die "$2 (pid $1) not ready after 30s; see $3"
    sleep 0.1
  done
}

# s3_up NODE_IP starts (or reuses) dev's S3 server, versitygw on the pod bridge's address
# with a root account of its own, makes the probe's bucket, and prints its endpoint.
s3_up() {
  local ip=$1 gw pid port
  gw=$("$root/tools/versitygw/build.sh" 2> >(indent >&2)) ||
    die "building versitygw failed (see above); tools/versitygw/build.sh builds it alone"
  mkdir -p "$s3_dir/data" "$s3_dir/meta"
  chmod 0700 "$s3_dir"
  secret_file "$s3_dir/access-key"
  secret_file "$s3_dir/secret-key"
  [[ -s $s3_dir/port ]] || free_port "$ip" 7070 >"$s3_dir/port"
  port=$(<"$s3_dir/port")
  # Reused only when started with these credentials on this address (started holds their
  # hash): regenerated files restart it.
  local started
  started=$(cat "$s3_dir/access-key" "$s3_dir/secret-key" <(echo "$ip:$port") | sha256sum)
  if ! pid=$(daemon_pid "$s3_dir" versitygw) || [[ $started != "$(cat "$s3_dir/started" 2>/dev/null)" ]]; then
    stop_daemon "$s3_dir" versitygw >/dev/null || true
    # The credentials go in the environment, never on a command line; metadata in a
    # directory beside the data (--sidecar), which needs no extended attributes.
    ROOT_ACCESS_KEY_ID=$(<"$s3_dir/access-key") ROOT_SECRET_ACCESS_KEY=$(<"$s3_dir/secret-key") \
      setsid "$gw/versitygw" --port "$ip:$port" --region us-east-1 --health /_health posix --sidecar "$s3_dir/meta" "$s3_dir/data" \
      </dev/null >>"$s3_dir/versitygw.log" 2>&1 &
    pid=$!
    echo "$pid" >"$s3_dir/pid"
    echo "$started" >"$s3_dir/started"
  fi
  await_ready "$pid" versitygw "$s3_dir/versitygw.log" "http://$ip:$port/_health"
  # The bucket, with a signed request (curl's SigV4, the credentials on stdin; S3 wants the
  # empty body's SHA-256 named, which this curl does not add): 409 says it is ours already.
  local code
  code=$(printf 'user = "%s:%s"\n' "$(<"$s3_dir/access-key")" "$(<"$s3_dir/secret-key")" |
    curl -sS --max-time 10 -K - --aws-sigv4 "aws:amz:us-east-1:s3" -X PUT -o /dev/null -w '%{http_code}' \
      -H "x-amz-content-sha256: $(sha256sum </dev/null | cut -d' ' -f1)" "http://$ip:$port/$probe_bucket")
  [[ $code == 200 || $code == 409 ]] || die "versitygw refused to make the bucket $probe_bucket (HTTP $code); see $s3_dir/versitygw.log"
  echo "$ip:$port"
}

# nats_up NODE_IP starts (or reuses) dev's queue server, nats-server on the pod bridge's
# address with a token of its own, and prints its nats:// URL.
nats_up() {
  local ip=$1 nb pid port mon
  nb=$("$root/tools/nats/build.sh" 2> >(indent >&2)) ||
    die "building nats-server failed (see above); tools/nats/build.sh builds it alone"
  mkdir -p "$nats_dir"
  chmod 0700 "$nats_dir"
  secret_file "$nats_dir/token"
  # The token goes in the configuration file, not on a command line every process can read.
  (umask 077 && printf 'authorization { token: "%s" }\n' "$(<"$nats_dir/token")" >"$nats_dir/nats.conf")
  [[ -s $nats_dir/port ]] || free_port "$ip" 4222 >"$nats_dir/port"
  [[ -s $nats_dir/monitor-port ]] || free_port "$ip" 8222 >"$nats_dir/monitor-port"
  port=$(<"$nats_dir/port") mon=$(<"$nats_dir/monitor-port")
  local started
  started=$(cat "$nats_dir/nats.conf" <(echo "$ip:$port:$mon") | sha256sum)
  if ! pid=$(daemon_pid "$nats_dir" nats-server) || [[ $started != "$(cat "$nats_dir/started" 2>/dev/null)" ]]; then
    stop_daemon "$nats_dir" nats-server >/dev/null || true
    setsid "$nb/nats-server" --config "$nats_dir/nats.conf" --addr "$ip" --port "$port" --http_port "$mon" \
      </dev/null >>"$nats_dir/nats.log" 2>&1 &
    pid=$!
    echo "$pid" >"$nats_dir/pid"
    echo "$started" >"$nats_dir/started"
  fi
  await_ready "$pid" nats-server "$nats_dir/nats.log" "http://$ip:$mon/healthz"
  echo "nats://$ip:$port"
}

# probe_image_up pushes the berth binary to the cluster's registry as the probe image (once
# per binary and cluster: a new cluster's registry is empty) and prints it by its digest.
probe_image_up() {
  local sum ref
  sum="$(cksum <"$bin") $(sha256sum <"$kubeconfig")"
  if [[ -s $probe_image_file && $(sed -n 1p "$probe_image_file") == "$sum" ]]; then
    sed -n 2p "$probe_image_file"
    return
  fi
  ref=$("$bin" dev image build --binary "$bin" -t berth:dev --digest 2> >(indent >&2)) ||
    die "pushing ${bin#"$root"/} as the probe image failed (see above)"
  printf '%s\n%s\n' "$sum" "$ref" >"$probe_image_file"
  echo "$ref"
}

# refuse_taken PORT VARIABLE dies when something listens on 127.0.0.1:PORT, naming it when
# ss can, and the variable that picks another port.
refuse_taken() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null || return 0
  local who=""
  who=$(ss -Hltnp "sport = :$1" 2>/dev/null |
    sed -n 's/.*users:(("\([^"]*\)",pid=\([0-9]*\).*/\1 (pid \2)/p' | head -n 1) || true
  die "127.0.0.1:$1 is already taken${who:+ by $who}; set $2 to a free port, e.g. $2=$(($1 + 1)) make run"
}

start_server() {
  refuse_taken "$port" BERTH_RUN_PORT
  mkdir -p -m 0700 "$data_dir"
  printf -- '--- %s: berth server on %s\n' "$(date -u +%FT%TZ)" "$url" >>"$log_file"
  # setsid: the server outlives `make run` and a Ctrl-C in its terminal. The token reaches
  # it through the environment only: never a command line, never the log. Flags, not
  # BERTH_* variables, name the database and key, so a developer's own settings stay out.
  BERTH_BOOTSTRAP_TOKEN=$token setsid env -u BERTH_DATABASE -u BERTH_SECRETS_KEY -u BERTH_TOKEN -u BERTH_SERVER \
    "$bin" server --listen "127.0.0.1:$port" --data-dir "$data_dir" --database "$data_dir/berth.db" \
    --secrets-key-file "$key_file" --shutdown-timeout 10s "${mirror_flags[@]}" "${prom_flags[@]}" "${probe_flags[@]}" \
    </dev/null >>"$log_file" 2>&1 &
  local pid=$!
  echo "$pid" >"$pid_file"
  local deadline=$((SECONDS + 60))
  until ready; do
    if ! running "$pid"; then
      rm -f "$pid_file"
      echo "run: berth server exited; the end of $log_file:" >&2
      tail -n 15 "$log_file" | indent >&2
      exit 1
    fi
    ((SECONDS < deadline)) || die "berth server (pid $pid) not ready after 60s; see $log_file"
    sleep 0.1
  done
  # exec replaced setsid and env with berth: the pid is the server's own.
  server_pid >/dev/null || die "pid $pid is not the berth server it should be; see $log_file"
  fingerprint >"$fingerprint_file"
  echo "$pid"
}

cmd_up() {
  local t0 pid code
  t0=$(now_us)
  [[ -x $bin ]] || die "$bin not found: run \`make build\` (or set BERTH_BIN)"
  [[ $port =~ ^[0-9]+$ ]] && ((port > 0 && port < 65536)) || die "BERTH_RUN_PORT=$port is not a port number"
  [[ $prom_port =~ ^[0-9]+$ ]] && ((prom_port > 0 && prom_port < 65536)) ||
    die "BERTH_PROMETHEUS_PORT=$prom_port is not a port number"
  ((prom_port != port)) || die "BERTH_PROMETHEUS_PORT and BERTH_RUN_PORT are both $port: Prometheus and the server need a port each"
  for c in curl jq setsid sha256sum; do
    command -v "$c" >/dev/null || die "$c is required: run scripts/deps.sh"
  done

  # 1. The dev cluster: up is a no-op when it already runs.
  step "dev cluster (berth dev cluster up)"
  tmp_out=$(mktemp)
  trap 'rm -f "$tmp_out"' EXIT
  if ! "$bin" dev cluster up --real-node "$real_node" --real-node-wait "$real_node_wait" 2>&1 >"$tmp_out" | indent; then
    indent <"$tmp_out"
    die "the dev cluster did not start; its logs are in $state_dir/dev-cluster/logs"
  fi
  kubeconfig=$("$bin" dev cluster kubeconfig)
  local status ingress="" selector="" toleration=""
  # Deploys from git wait for their images: the server asks the real node's registry for
  # the names manifests use (registry.berth.localhost/...) at its loopback address; and
  # previews' URLs name the real node's ingress port.
  mirror_flags=()
  status=$("$bin" dev cluster status -o json)
  if [[ $(jq -r '.realNode != null' <<<"$status") == true ]]; then
    mirror_flags=(--registry-mirror "$(jq -r '.realNode.registry | "\(.name)=\(.addr)"' <<<"$status")")
    ingress=$(jq -r .realNode.ingress <<<"$status")
    # Pull requests' comments name preview URLs on the ingress's port.
    mirror_flags+=(--ingress-port "${ingress##*:}")
    selector=$(jq -r .realNode.label <<<"$status")
    toleration=$(jq -r .realNode.taint <<<"$status")
  fi
  step_done "$(head -n 1 "$tmp_out")${ingress:+; real node with ingress on $ingress}"
  mkdir -p "$run_dir"
  chmod 0700 "$run_dir"

  # 2. Prometheus, before the server, which reports to it: only pods on the real node answer
  # its scrapes.
  prom_flags=()
  step "Prometheus on $prom_url"
  if [[ -n $ingress ]]; then
    prometheus_up
    server_prom_url=$prom_url server_prom_rules=$prom_rules
    prom_flags=(--prometheus-url "$server_prom_url" --prometheus-rules-dir "$server_prom_rules")
  elif pid=$(stop_prometheus); then
    step_done "stopped pid $pid: the dev cluster has no real node, whose pods it would scrape"
  else
    step_done "skipped: the dev cluster has no real node, whose pods it would scrape"
  fi

  # What dev's synthetic probe checks, on the pod bridge where probe pods reach them: an S3
  # server and a queue server; and the probe image, with the server's address for reports.
  probe_flags=()
  local node_ip="" s3_endpoint="" queue_url=""
  if [[ -n $ingress ]]; then
    node_ip=$(jq -r .realNode.ip <<<"$status")
    step "S3 server (versitygw) and queue server (nats-server) for $env_name's probe"
    s3_endpoint=$(s3_up "$node_ip")
    queue_url=$(nats_up "$node_ip")
    step_done "S3 on $s3_endpoint (bucket $probe_bucket), queue on $queue_url; data in $s3_dir and $nats_dir"
    step "probe image (${bin#"$root"/} itself, berth dev image build --binary)"
    server_probe_image=$(probe_image_up) server_probe_listen=$node_ip:$port
    probe_flags=(--probe-image "$server_probe_image" --probe-listen "$server_probe_listen")
    step_done "$server_probe_image; probe pods report to http://$server_probe_listen"
  else
    stop_daemon "$s3_dir" versitygw >/dev/null || true
    stop_daemon "$nats_dir" nats-server >/dev/null || true
  fi

  # 3. The server. Its admin token is made once and kept, so every run can print it.
  step "berth server on $url"
  if [[ ! -s $token_file ]]; then
    [[ ! -e $data_dir/berth.db ]] ||
      die "$token_file is missing but $data_dir holds a database whose admin token it was; to start over, \`$stop_cmd\` and remove $run_dir"
    (umask 077 && echo "berth_$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" >"$token_file")
  fi
  [[ -s $key_file ]] || (umask 077 && head -c 32 /dev/urandom | base64 >"$key_file")
  token=$(<"$token_file")
  local why=""
  if pid=$(server_pid) && why=$(stale_reason "$pid") && [[ -z $why ]]; then
    step_done "already running, pid $pid; log $log_file"
  else
    if pid=$(stop_server); then
      echo "    stopped the server, pid $pid: $why"
    fi
    pid=$(start_server)
    step_done "started, pid $pid; log $log_file"
  fi
  code=$(api_status /whoami)
  [[ $code == 200 ]] ||
    die "the server refuses the token in $token_file (HTTP $code): was $data_dir replaced? To start over, \`$stop_cmd\` and remove $run_dir"

  export BERTH_SERVER=$url BERTH_TOKEN=$token
  # A developer's saved `berth login` must not change what this script talks to.
  export BERTH_CONFIG=$run_dir/no-config.json

  # 4. The environment and the team the example needs.
  step "environment $env_name on the dev cluster"
  case $(api_status "/envs/$env_name") in
  200)
    local have
    have=$(api GET "/envs/$env_name" | jq -r .kubeconfig)
    [[ $have == "$kubeconfig" ]] ||
      die "environment $env_name points at $have, not $kubeconfig: \`$bin envs delete $env_name\` and run again"
    step_done "exists"
    ;;
  404)
    local sched=()
    [[ -z $selector ]] || sched=(--node-selector "$selector" --toleration "$toleration")
    "$bin" envs create "$env_name" --kubeconfig "$kubeconfig" "${sched[@]}" >/dev/null
    step_done "created; team $team's apps deploy to namespace $team-$env_name${selector:+, on the real node}"
    ;;
  *) die "GET /api/v1/envs/$env_name failed; see $log_file" ;;
  esac

  # The environment's resources: its own PostgreSQL and a base domain the ingress serves.
  if [[ -n $ingress ]]; then
    step "PostgreSQL for $env_name's postgres resources, base domain $env_name.localhost"
    local dsn env_json
    dsn=$(postgres_up "$node_ip")
    env_json=$(api GET "/envs/$env_name")
    # Registered once per DSN (the file holds its hash), so a second run audits nothing new.
    if [[ -z $(jq -r '.postgres // ""' <<<"$env_json") || $(sha256sum <<<"$dsn") != "$(cat "$run_dir/postgres.registered" 2>/dev/null)" ]]; then
      # On stdin, not the command line: the DSN holds the password.
      "$bin" envs set-postgres "$env_name" --dsn - <<<"$dsn" >/dev/null
      sha256sum <<<"$dsn" >"$run_dir/postgres.registered"
    fi
    if [[ $(jq -r '.baseDomain // ""' <<<"$env_json") != "$env_name.localhost" ]]; then
      "$bin" envs update "$env_name" --base-domain "$env_name.localhost" >/dev/null
    fi
    step_done "on $node_ip:$(<"$(<"$pg_dir_file")/port"), data in $(<"$pg_dir_file")"

    step "$env_name's probe: its database, S3 server and queue (berth envs set-probe)"
    # Set when they change (the file holds their hash: the secrets cannot be read back) or
    # the server lacks them (a recreated dev has none): a second run audits nothing new.
    local probe_sum have
    probe_sum=$(cat "$s3_dir/access-key" "$s3_dir/secret-key" "$nats_dir/token" <(echo "$s3_endpoint $queue_url") | sha256sum)
    have=$(api GET "/envs/$env_name/probe" | jq -r '"\(.s3Endpoint // "") \(.queueURL // "") \(.hasS3SecretKey) \(.hasQueueToken)"')
    if [[ $probe_sum != "$(cat "$run_dir/probe.registered" 2>/dev/null)" || $have != "$s3_endpoint $queue_url true true" ]]; then
      local set_out
      set_out=$("$bin" envs set-probe "$env_name" --s3-endpoint "$s3_endpoint" --s3-bucket "$probe_bucket" --s3-region us-east-1 \
        --s3-access-key "$(<"$s3_dir/access-key")" --s3-secret-key-file "$s3_dir/secret-key" \
        --queue-url "$queue_url" --queue-token-file "$nats_dir/token" --interval 10m 2>&1) ||
        die "berth envs set-probe $env_name failed: $set_out"
      echo "$probe_sum" >"$run_dir/probe.registered"
    fi
    step_done "every 10 minutes, and with \`berth probe run --env $env_name\`"
  fi

  step "team $team"
  case $(api_status "/teams/$team") in
  200) step_done "exists" ;;
  404)
    "$bin" teams create "$team" >/dev/null
    step_done "created"
    ;;
  *) die "GET /api/v1/teams/$team failed; see $log_file" ;;
  esac

  # 5. The example app's image, into the cluster's registry (the same source gives the same
  # digest, so an unchanged app pushes nothing new).
  if [[ -n $ingress ]]; then
    step "image of examples/hello (berth dev image build)"
    local ref
    ref=$("$bin" dev image build "$root/examples/hello" -t "hello:$(hello_version)" 2> >(indent >&2)) ||
      die "building the image of examples/hello failed (see above)"
    step_done "$ref"
  fi

  # 6. The example app. A deploy of an unchanged manifest would only add a deploy to the
  # history: skip it when the running deploy is of this very manifest and the app is live
  # as deployed. A restarted cluster (empty), an edited manifest or drift deploy again; so
  # does a Prometheus without the app's alert rules (a deploy writes them).
  step "app $app (${manifest#"$root"/}) in $env_name"
  if deployed_unchanged; then
    step_done "$deployed_note"
  else
    [[ -z $redeploy_note ]] || echo "    $redeploy_note"
    if ! "$bin" deploy -f "$manifest" --env "$env_name" --wait 2>&1 | indent; then
      die "the deploy of $app failed: see \`$bin status $app\` and \`$bin history $app --env $env_name\`"
    fi
    step_done "deployed"
  fi

  local shown_bin=${bin#"$root"/} answer=""
  local host=$app.$team.$env_name.localhost
  if [[ -n $ingress ]]; then
    step "GET http://$host:${ingress##*:}/ (through the ingress)"
    answer=$(wait_answer "$host" "$ingress") || die "examples/hello did not answer through the ingress: $answer"
    step_done "answered"
  fi
  if [[ -n $ingress ]]; then
    step "$env_name's probe (berth probe run --env $env_name)"
    local probe_out
    if probe_out=$("$bin" probe run --env "$env_name" 2>&1); then
      step_done "$(tail -n 1 <<<"$probe_out")"
    else
      indent <<<"$probe_out"
      echo "run: the probe of $env_name failed (above): see docs/probes.md; the rest of make run worked" >&2
      step_done "failed"
    fi
  fi
  local prom_lines="" prom_try="" stopped="the server and the cluster"
  if [[ -n $server_prom_url ]]; then
    stopped="the server, Prometheus, the S3 and queue servers, PostgreSQL and the cluster"
    prom_lines="
  Prometheus at $prom_url (its HTTP API; this build has no web UI)
               scrapes dev's pods, the real node's kubelet and the server every $prom_interval;
               apps' alert rules in $prom_rules"
    prom_try="
  # is the platform alive? dev's synthetic probe, every step timed (docs/probes.md)
  $shown_bin probe run --env $env_name
  $shown_bin probes list

  # hello's golden signals and alerts, from Prometheus (send it some requests first)
  $shown_bin metrics $app --env $env_name --since 15m
  curl -s $prom_url/api/v1/alerts | jq '.data.alerts[] | {alert: .labels.alertname, app: .labels.app, state}'
"
  fi
  cat <<EOF

Berth is running ($(seconds_since "$t0")s).

  dashboard at $url/
  admin token: $token
               (also in $token_file)$prom_lines

Try it:

  export BERTH_SERVER=$url BERTH_TOKEN=\$(cat $token_file)
  $shown_bin status $app
  $shown_bin dev image build examples/hello -t hello:1.1.0
  $shown_bin deploy -f examples/hello/berth.yaml --env $env_name --set version=1.1.0 --wait
  $shown_bin history $app --env $env_name
$prom_try
  # an app with a database, a host name and a route (examples/notes/README.md)
  $shown_bin dev image build examples/notes -t notes:1.0.0
  $shown_bin deploy -f examples/notes/berth.yaml --env $env_name --wait
  $shown_bin resources list --app notes --team $team

Stop $stopped with \`$stop_cmd\`; the server's data stays in $data_dir.
EOF
  if [[ -n $ingress ]]; then
    cat <<EOF

examples/hello runs on the real node and answers at

  http://$host:${ingress##*:}/

  \$ curl http://$host:${ingress##*:}/
$(sed 's/^/  /' <<<"$answer")
EOF
  else
    echo
    echo "This machine runs no real node (see the dev cluster's step above): examples/hello's pods are simulated and answer nothing."
  fi
}

# hello_version prints the version examples/hello/berth.yaml deploys by default.
hello_version() {
  "$bin" render -f "$manifest" --env "$env_name" -o json | jq -r '[.items[] | select(.kind == "Deployment")][0].spec.template.spec.containers[0].image | split(":") | last'
}

# wait_answer HOST ADDR polls the app through the ingress until it answers 200 (a route
# appears a moment after its Ingress) and prints the answer.
wait_answer() {
  local deadline=$((SECONDS + 60)) out
  while :; do
    if out=$(curl -fsS --max-time 5 --resolve "$1:${2##*:}:127.0.0.1" "http://$1:${2##*:}/" 2>&1); then
      echo "$out"
      return 0
    fi
    ((SECONDS < deadline)) || {
      echo "$out"
      return 1
    }
    sleep 0.2
  done
}

# deployed_unchanged succeeds when the app's current deploy in the environment is the
# newest, succeeded, of a revision whose manifest is the file's, the app runs as deployed,
# and the server's Prometheus has the app's alert rules; deployed_note then says so. When
# only the rules are missing (a server that ran without Prometheus made that deploy),
# redeploy_note says so.
deployed_note="" redeploy_note=""
deployed_unchanged() {
  local status rev current
  [[ $(api_status "/teams/$team/apps/$app") == 200 ]] || return 1
  status=$(api GET "/teams/$team/apps/$app/status?env=$env_name") || return 1
  current=$(jq -r --arg env "$env_name" '.envs[] | select(.env == $env)
    | select(.current != null and .latest != null and .current.id == .latest.id and .current.state == "succeeded")
    | select((.error // "") == "" and .live != null)
    | select(.live.desired > 0 and .live.ready == .live.desired and .live.updated == .live.desired)
    | select((.live.drift // []) | length == 0)
    | "\(.current.revision) \(.current.id)"' <<<"$status") || return 1
  [[ -n $current ]] || return 1
  rev=${current% *}
  api GET "/teams/$team/apps/$app/revisions" |
    jq -e --argjson rev "$rev" --rawfile m "$manifest" 'any(.items[]; .number == $rev and .manifest == $m)' >/dev/null ||
    return 1
  if [[ -n $server_prom_rules && ! -f $server_prom_rules/$env_name.$team-$env_name.$app.rules.yaml ]]; then
    redeploy_note="revision $rev is live as deploy ${current#* }, but Prometheus has no alert rules of it: deploying again"
    return 1
  fi
  deployed_note="revision $rev is live as deploy ${current#* }, and the manifest is unchanged: not redeployed"
}

case ${1:-up} in
up) cmd_up ;;
stop) cmd_stop ;;
*) die "usage: $0 [up|stop]" ;;
esac
