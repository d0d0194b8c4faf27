#!/usr/bin/env bash
# A login storm per hashing priority (issue 12, goal 9): for AUTH_HASHING_PRIORITY=idle, low
# and normal in turn, the demo in the hardened profile (bcrypt cost 12 unless BCRYPT_COST is
# set) runs benches/load/scenarios.sh's storm scenarios (SCENARIOS=storm):
#   GET / alone (4 connections), logins/s alone (4 connections), GET / during a login storm
#   (4 connections while 8 more log in without pause), and the storm's logins/s meanwhile
# then prints a table: GET / kept during the storm (ratio to alone) and logins/s alone and
# during the storm, per priority. Logins are the answers 200 to POST /sessions (login.lua),
# not requests. ROUNDS=R repeats the three in turn R times (a fresh demo each time) and the
# table gives the medians: on a shared machine, a disturbance then hits every priority alike.
#   benches/storm.sh                 (DURATION=20 seconds per scenario, ROUNDS=1 by default)
#   ROUNDS=3 DURATION=12 benches/storm.sh
#   PRIORITIES="idle normal" benches/storm.sh
# The demo is pinned to CPU 0 and wrk to CPU 1, as in benches/load.sh. The machine's load
# average is printed before and after: the idle priority hashes only on an idle core, so
# other work on CPU 0 lowers its logins/s first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scenarios=$root/benches/load/scenarios.sh
priorities=${PRIORITIES:-idle low normal}
rounds=${ROUNDS:-1}
export DURATION=${DURATION:-20}
cargo build --quiet --release --example demo --manifest-path "$root/Cargo.toml"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cd "$(mktemp -d)"

echo "before: $(uptime)"
for round in $(seq 1 "$rounds"); do
  echo "round $round: $(uptime)"
  for priority in $priorities; do
    AUTH_PROFILE=hardened AUTH_HASHING_PRIORITY=$priority SCENARIOS=storm \
      "$scenarios" "ours-$priority" "$root/target/release/examples/demo" | tee -a "$out"
  done
done
echo "after: $(uptime)"

# figure SERVER SCENARIO: requests/s (or logins/s) of that scenario in this run, the median
# over the rounds.
figure() {
  awk -v n="$1" -v s="$2" '$1 == n && i = index($0, " " s " ") {
    split(substr($0, i + length(s) + 2), f, " "); print f[1] }' "$out" |
    python3 -c "import statistics, sys; print(f'{statistics.median(float(l) for l in sys.stdin):.2f}')"
}
ratio() { python3 -c "import sys; a, b = map(float, sys.argv[1:]); print(f'{a / b:.2f}')" "$1" "$2"; }
echo
echo "medians of $rounds round(s), ${DURATION} s per scenario, bcrypt cost ${BCRYPT_COST:-12}:"
echo "| priority | GET / req/s alone | GET / req/s during the storm (ratio) | logins/s alone | logins/s during the storm (ratio) |"
echo "| --- | --- | --- | --- | --- |"
for priority in $priorities; do
  n=ours-$priority
  alone=$(figure "$n" "index(4 conns)")
  stormy=$(figure "$n" "index(4 conns, login storm)")
  logins=$(figure "$n" "login(cost=${BCRYPT_COST:-12})")
  storm_logins=$(figure "$n" "logins(login storm)")
  echo "| $priority | $alone | $stormy ($(ratio "$stormy" "$alone")) | $logins | $storm_logins ($(ratio "$storm_logins" "$logins")) |"
done
