#!/usr/bin/env bash
# Side-by-side load benchmark: our demo, the demo's app without the layer, bare hyper and the
# axum-login peer, in one run, with ../shared/bench/bench.sh; prints the issue's ratios.
#   benches/load.sh            (DURATION=8 seconds per scenario by default)
# Needs wrk and taskset, and the reference servers built:
#   cargo build --release --manifest-path ../shared/bench/rust/Cargo.toml --target-dir /tmp/bench-target
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$here/../shared}
refs=${REFS:-/tmp/bench-target/release}
D=${DURATION:-8}
out=$(mktemp)
cargo build --quiet --release --example demo --example app_without_auth --manifest-path "$here/Cargo.toml"
cd "$(mktemp -d)"
PASS_PATH=/me "$shared/bench/bench.sh" ours "$here/target/release/examples/demo" | tee -a "$out"
"$shared/bench/bench.sh" bare-hyper "$refs/bare_hyper" | tee -a "$out"
"$shared/bench/bench.sh" peer-axum-login "$refs/peer_axum_login" | tee -a "$out"
# The same app and server without the layer (it has no login route, so bench.sh cannot drive it).
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
PORT=$port taskset -c 0 "$here/target/release/examples/app_without_auth" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
rps=$(taskset -c 1 wrk -t1 -c32 -d"${D}s" --latency -H "Cookie: session_id=00000000-0000-4000-8000-000000000000" "http://127.0.0.1:$port/me" | awk '/Requests\/sec/ {print $2}')
printf '%-22s %-26s %10s\n' app-without-auth "pass-through(valid cookie)" "$rps" | tee -a "$out"
kill $pid
get() { awk -v n="$1" -v s="$2" '$1==n && index($0, s) {for (i=1;i<=NF;i++) if ($i ~ /^[0-9.]+$/) {print $i; exit}}' "$out"; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
ours_profile=$(get ours "profile(valid cookie)")
echo
echo "GET /profile valid cookie: $(ratio "$ours_profile" "$(get peer-axum-login "profile(valid cookie)")")x the peer (goal 1.30), $(ratio "$ours_profile" "$(get bare-hyper "profile(valid cookie)")") of bare hyper (goal 0.85)"
echo "pass-through /me: $(ratio "$(get ours "pass-through(valid cookie)")" "$rps") of the app without the layer (goal 0.85)"
echo "logins/s at cost 12: $(get ours "login(cost=12)") (limit: cores / time per hash)"
echo "GET / during a login storm: $(ratio "$(get ours "index(4 conns, login storm)")" "$(get ours "index(4 conns)")") of idle (goal 0.90); peer: $(ratio "$(get peer-axum-login "index(4 conns, login storm)")" "$(get peer-axum-login "index(4 conns)")")"
