#!/usr/bin/env bash
# Session validation at the HTTP level with 1,000 and with N (default 1,000,000) live
# sessions: GET /profile with a random valid cookie per request, against the release demo
# (pinned to CPU 0, wrk on CPU 1, 32 connections), in one run.
#   benches/scale_http.sh [N]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000000}
D=${DURATION:-8}
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
cargo build --quiet --release --example demo --example scale --manifest-path "$here/Cargo.toml"
SCALE_KEEP=$work "$here/target/release/examples/scale" "$n"
head -n 1000 "$work/tokens.txt" > "$work/small.txt"
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
# Renewal is pushed out so that the run measures reads, not a million renewal writes.
PORT=$port AUTH_DB=$work/scale.redb AUTH_SESSION_RENEWAL=86400 RUST_LOG=warn \
  taskset -c 0 "$here/target/release/examples/demo" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 300); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
cat > "$work/random_cookie.lua" <<'LUA'
local tokens = {}
init = function(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  math.randomseed(os.time() + #tokens)
end
request = function()
  local t = tokens[math.random(#tokens)]
  return wrk.format("GET", "/profile", { ["Cookie"] = "session_id=" .. t })
end
LUA
for set in small.txt tokens.txt; do
  # one pass first, so that both sets are measured warm
  taskset -c 1 wrk -t1 -c32 -d"${D}s" -s "$work/random_cookie.lua" "http://127.0.0.1:$port" -- "$work/$set" >/dev/null
  out=$(taskset -c 1 wrk -t1 -c32 -d"${D}s" --latency -s "$work/random_cookie.lua" "http://127.0.0.1:$port" -- "$work/$set")
  printf '%-12s %s req/s, p50 %s, p99 %s, non-2xx %s\n' "$(wc -l < "$work/$set") sessions" \
    "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" "$(echo "$out" | awk '$1=="50%" {print $2}')" \
    "$(echo "$out" | awk '$1=="99%" {print $2}')" "$(echo "$out" | awk '/Non-2xx/ {print $NF}')"
done
