#!/usr/bin/env bash
# Side-by-side load benchmark, in one run: the demo (the seed's app behind AuthLayer), bare
# hyper, the axum-login peer, and the demo's app and server without the layer; then the
# issue's goals as ratios of figures from this one run.
#   benches/load.sh                  (DURATION=8 seconds per scenario by default)
# Builds the release demo and the reference servers of benches/peers first. Every server runs
# on 127.0.0.1, pinned to CPU 0, with wrk pinned to CPU 1 (benches/load/scenarios.sh).
# Needs wrk, taskset, curl and python3; BENCHMARKS.md says what each server is.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scenarios=$root/benches/load/scenarios.sh
peers=$root/benches/peers/target/release
cargo build --quiet --release --example demo --manifest-path "$root/Cargo.toml"
cargo build --quiet --release --manifest-path "$root/benches/peers/Cargo.toml"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cd "$(mktemp -d)"
PASS_PATH=/me "$scenarios" ours "$root/target/release/examples/demo" | tee -a "$out"
"$scenarios" bare-hyper "$peers/bare_hyper" | tee -a "$out"
"$scenarios" peer-axum-login "$peers/peer_axum_login" | tee -a "$out"
# The same app and server without the layer: no account routes, so pass-through only (its
# /me answers 401 without the layer's user; the figure is the app's and the server's cost).
SCENARIOS=pass ACCOUNTS=no PASS_PATH=/me "$scenarios" app-without-auth "$peers/app_without_auth" | tee -a "$out"

# figure SERVER SCENARIO: requests/s (or logins/s) of that line of this run.
figure() {
  awk -v n="$1" -v s="$2" '$1 == n && i = index($0, " " s " ") {
    split(substr($0, i + length(s) + 2), f, " "); print f[1]; exit }' "$out"
}
ratio() { python3 -c "import sys; a, b = map(float, sys.argv[1:]); print(f'{a / b:.2f}')" "$1" "$2"; }
ours_profile=$(figure ours "profile(valid cookie)")
echo
echo "GET /profile valid cookie: $(ratio "$ours_profile" "$(figure peer-axum-login "profile(valid cookie)")")x the peer (goal 1.30)," \
  "$(ratio "$ours_profile" "$(figure bare-hyper "profile(valid cookie)")") of bare hyper (goal 0.85)"
echo "pass-through /me: $(ratio "$(figure ours "pass-through(/me)")" "$(figure app-without-auth "pass-through(/me)")") of the app without the layer (goal 0.85)"
echo "logins/s at cost ${BCRYPT_COST:-12}: $(figure ours "login(cost=${BCRYPT_COST:-12})") (limit: cores / time per hash)"
echo "GET / during a login storm: $(ratio "$(figure ours "index(4 conns, login storm)")" "$(figure ours "index(4 conns)")") of idle (goal 0.90);" \
  "peer: $(ratio "$(figure peer-axum-login "index(4 conns, login storm)")" "$(figure peer-axum-login "index(4 conns)")")"
echo "logins/s during that storm: $(figure ours "logins(login storm)") (alone: $(figure ours "login(cost=${BCRYPT_COST:-12})"));" \
  "peer: $(figure peer-axum-login "logins(login storm)") (alone: $(figure peer-axum-login "login(cost=${BCRYPT_COST:-12})")); per hashing priority: benches/storm.sh"
