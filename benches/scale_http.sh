#!/usr/bin/env bash
# Session validation at the HTTP level with 1,000 and with N (default 1,000,000) live
# sessions: GET /profile with a random valid cookie per request (benches/load/random_cookie.lua)
# against the release demo (pinned to CPU 0, wrk on CPU 1, 32 connections, 127.0.0.1), in one
# run. The sessions are seeded by the scale bench (benches/scale.rs).
#   benches/scale_http.sh [N]        (DURATION=8 seconds per measurement by default)
# Needs wrk, taskset, curl and python3.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000000}
duration=${DURATION:-8}
work=$(mktemp -d)
pid=
trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
cargo build --quiet --release --example demo --manifest-path "$root/Cargo.toml"
SCALE_KEEP=$work cargo bench --quiet --bench scale --manifest-path "$root/Cargo.toml" -- "$n"
head -n 1000 "$work/tokens.txt" >"$work/small.txt"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Renewal is pushed out so that the run measures reads, not a million renewal writes.
PORT=$port AUTH_DB=$work/scale.redb AUTH_SESSION_RENEWAL=86400 RUST_LOG=warn \
  taskset -c 0 "$root/target/release/examples/demo" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break
  sleep 0.1
done
lua=$root/benches/load/random_cookie.lua
for set in small.txt tokens.txt; do
  # one pass first, so that both sets are measured warm
  taskset -c 1 wrk -t1 -c32 -d"${duration}s" -s "$lua" "http://127.0.0.1:$port" -- "$work/$set" >/dev/null
  out=$(taskset -c 1 wrk -t1 -c32 -d"${duration}s" --latency -s "$lua" "http://127.0.0.1:$port" -- "$work/$set")
  printf '%-12s %s req/s, p50 %s, p99 %s, non-2xx %s\n' "$(wc -l <"$work/$set") sessions" \
    "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1 == "50%" {print $2}' <<<"$out")" \
    "$(awk '$1 == "99%" {print $2}' <<<"$out")" "$(awk '/Non-2xx/ {print $NF}' <<<"$out" | grep . || echo 0)"
done
