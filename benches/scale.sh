#!/usr/bin/env bash
# The scale harness (issue 12): 1,000 and then N (default 1,000,000) users with one session
# each, in one run, measured on the shipped path, then one JSON object as the LAST line of
# standard output (keys: BENCHMARKS.md, "Scale").
#   benches/scale.sh [N]      (DURATION=8 seconds per HTTP measurement by default)
# 1. benches/scale/main.rs (cargo bench --bench scale): Auth::authenticate uncached and
#    cached, memory per cached session, disk after compact(), sessions/s under write load
#    with validation p99 beside idle, fsync latency; it keeps its files in a temp dir.
# 2. criterion (benches/hot_path.rs): the layer's own cost, "behind the layer, valid cookie"
#    minus "app alone", medians matched by name in CRITERION_HOME (a temp dir).
# 3. the release demo (pinned to CPU 0, wrk on CPU 1, 32 connections, renewal pushed out):
#    GET /profile with 1,000 sessions, with N and a cache budget holding all, with N and the
#    default budget (skewed: 10% of the sessions take 90% of the requests; uniform; unknown
#    random cookies), three rounds alternating, medians; then its start-up time on the
#    N-record file after a clean stop and after kill -9.
# With AUTH_DATABASE_URL (a role that may create databases) the in-process figures and the
# HTTP figures are measured on PgStore too, in a throwaway database, and printed beside.
# Needs cargo, wrk, taskset, curl and python3. Everything it writes is removed on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000000}
duration=${DURATION:-8}
bench_dir=$root/benches
started=$(date +%s)
work=$(mktemp -d -t scale-harness.XXXXXX)
pids=()
pg_db=
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  if [ -n "$pg_db" ]; then "$psql" -q "$AUTH_DATABASE_URL" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
cd "$root"

features=()
if [ -n "${AUTH_DATABASE_URL:-}" ]; then
  features=(--features postgres)
  psql=$(ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1)
  psql=${psql:-$(command -v psql)}
  pg_db=scale_$(date +%s)_$$
  "$psql" -q "$AUTH_DATABASE_URL" -c "CREATE DATABASE $pg_db" >/dev/null
  pg_url=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$AUTH_DATABASE_URL" "$pg_db")
fi
echo "== build"
cargo build --quiet --release "${features[@]}" --example demo
cargo bench --quiet --no-run "${features[@]}" --bench scale --bench hot_path 2>/dev/null
echo "built in $(($(date +%s) - started)) s"

echo "== in process: Auth::authenticate, memory, disk, writes (benches/scale/main.rs)"
SCALE_KEEP=$work SCALE_PG_URL=${pg_url:-} cargo bench --quiet "${features[@]}" --bench scale -- "$n"

echo "== criterion: the layer's own cost (benches/hot_path.rs)"
CRITERION_HOME=$work/criterion cargo bench --quiet "${features[@]}" --bench hot_path -- 'app alone|valid cookie' \
  >"$work/criterion.log" 2>&1 || { cat "$work/criterion.log"; exit 1; }

echo "== HTTP: the release demo"
demo=$root/target/release/examples/demo
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# start_demo PORT ENV...: the demo with these AUTH_* settings (on redb unless they name
# AUTH_DATABASE_URL), pinned to CPU 0; its pid in $pid.
start_demo() {
  local port=$1
  shift
  env -u AUTH_DATABASE_URL PORT="$port" AUTH_SESSION_RENEWAL=86400 RUST_LOG=warn "$@" taskset -c 0 "$demo" >/dev/null 2>&1 &
  pid=$!
  pids+=("$pid")
}
# wait_ready PORT: until the demo answers; prints the milliseconds it waited.
wait_ready() {
  local t0 i
  t0=$(date +%s%N)
  for i in $(seq 1 30000); do
    curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$1/" && break
    sleep 0.005
  done
  echo $((($(date +%s%N) - t0) / 1000000))
}
# wrk_run PORT TOKENS MODE SECONDS [FROM]: wrk's report.
wrk_run() {
  taskset -c 1 wrk -t1 -c32 -d"$4s" -s "$bench_dir/load/random_cookie.lua" \
    "http://127.0.0.1:$1" -- "$2" "$3" "${5:-0}"
}
# load PORT TOKENS MODE [SECONDS]: "req/s non-2xx" of one wrk run.
load() {
  local out
  out=$(wrk_run "$1" "$2" "$3" "${4:-$duration}")
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '/Non-2xx/ {print $NF}' <<<"$out" | grep . || echo 0)"
}
# warm PORT TOKENS: every session of the file once, in order, over as many runs as it takes.
warm() {
  local done=0 total
  total=$(wc -l <"$2")
  while [ "$done" -lt "$total" ]; do
    done=$((done + $(wrk_run "$1" "$2" sequential 3 "$done" | awk '/requests in/ {print $1}')))
  done
}
http_rounds() { # LABEL TOKENS_PREFIX PORT_1K PORT_ALL PORT_DEFAULT: three rounds to http.txt
  local label=$1 small=$work/${2}small_tokens.txt all=$work/${2}tokens.txt round
  shift 2
  # one sequential pass over every session fills the caches, so that each set is measured warm
  warm "$1" "$small"
  warm "$2" "$all"
  load "$3" "$all" skewed "$duration" >/dev/null
  for round in 1 2 3; do
    echo "$label $round rps_1k $(load "$1" "$small" uniform)"
    echo "$label $round rps_n $(load "$2" "$all" uniform)"
    echo "$label $round rps_n_skewed $(load "$3" "$all" skewed)"
    echo "$label $round rps_n_default $(load "$3" "$all" uniform)"
    echo "$label $round rps_n_unknown $(load "$3" "$all" unknown)"
  done | tee -a "$work/http.txt"
}
all_mb=$(((n * 512 >> 20) > 64 ? (n * 512 >> 20) : 64))  # as budget_holding in main.rs
cp "$work/scale.redb" "$work/default.redb"
p1=$(free_port) && start_demo "$p1" AUTH_DB="$work/small.redb" AUTH_SESSION_CACHE_MB="$all_mb"
p2=$(free_port) && start_demo "$p2" AUTH_DB="$work/scale.redb" AUTH_SESSION_CACHE_MB="$all_mb"
p3=$(free_port) && start_demo "$p3" AUTH_DB="$work/default.redb"
for p in "$p1" "$p2" "$p3"; do wait_ready "$p" >/dev/null; done
http_rounds redb "" "$p1" "$p2" "$p3"
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
pids=()
rm -f "$work/default.redb"

echo "== start-up on the $n-record file"
p=$(free_port) && start_demo "$p" AUTH_DB="$work/scale.redb"
open_clean=$(wait_ready "$p")
curl -s -o /dev/null -b "session_id=$(head -n 1 "$work/tokens.txt")" "http://127.0.0.1:$p/profile"
kill -9 "$pid" && wait "$pid" 2>/dev/null || true
start_demo "$p" AUTH_DB="$work/scale.redb"
open_kill=$(wait_ready "$p")
kill "$pid" && wait "$pid" 2>/dev/null || true
pids=()
echo "after a clean stop: $open_clean ms; after kill -9: $open_kill ms"

if [ -n "${pg_url:-}" ]; then
  echo "== HTTP: the release demo on PgStore"
  # one database: its 1,000-session figure draws from the first 1,000 of its N sessions
  p2=$(free_port) && start_demo "$p2" AUTH_DATABASE_URL="$pg_url" AUTH_SESSION_CACHE_MB="$all_mb"
  p3=$(free_port) && start_demo "$p3" AUTH_DATABASE_URL="$pg_url"
  for p in "$p2" "$p3"; do wait_ready "$p" >/dev/null; done
  http_rounds pg pg_ "$p2" "$p2" "$p3"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pids=()
fi

echo "== figures (wall time $(($(date +%s) - started)) s)"
python3 "$bench_dir/scale/report.py" "$work" "$open_clean" "$open_kill"
