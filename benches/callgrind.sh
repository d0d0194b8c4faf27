#!/usr/bin/env bash
# User-space instructions per request of one server, counted by valgrind's callgrind: the
# figure that stays the same run after run where seconds do not (BENCHMARKS.md).
#   benches/callgrind.sh NAME COMMAND [ARGS...]
# Starts COMMAND under `valgrind --tool=callgrind` with PORT (a free loopback port), AUTH_DB
# (a fresh path) and BCRYPT_COST=4 in its environment (HOST is left unset: the demo's default
# is 127.0.0.1), registers and logs in one user, and for each scenario sends WARM requests,
# zeroes the counters (`callgrind_control -z`), sends N requests (default 2,000) over one
# keep-alive connection, dumps the counters (`callgrind_control -d`) and prints one line:
#   NAME  SCENARIO  instructions/request  non200=COUNT
# Scenarios: `index(no cookie)` GET /; `profile(valid cookie)` GET /profile; with
# PASS_PATH=PATH, `pass-through(PATH)` GET PATH with the logged-in cookie (a route of the
# wrapped app). ACCOUNTS=no skips registering and logging in (a fixed unknown cookie is sent).
# The client is another process: its instructions are not counted; the server's threads all
# are. Needs valgrind, curl and python3. Build with debug info (the release profile has it).
set -euo pipefail
name=$1
shift
n=${N:-2000}
warm=${WARM:-200}

# shellcheck source=load/server.sh
. "$(dirname "$0")/load/server.sh"
unset HOST
server_prepare
BCRYPT_COST=4 server_start valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$@"
trap server_stop EXIT
server_wait "$name" 1200

sid=$(server_session "$name")

# requests PATH COOKIE COUNT: COUNT GETs over one keep-alive connection; prints how many
# were not answered 200.
requests() {
  python3 - "$port" "$1" "$2" "$3" <<'EOF'
import http.client, sys
port, path, cookie, count = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
headers = {"Cookie": f"session_id={cookie}"} if cookie else {}
bad = 0
for _ in range(count):
    conn.request("GET", path, headers=headers)
    res = conn.getresponse()
    res.read()
    bad += res.status != 200
print(bad)
EOF
}

dumps=0
# scenario NAME PATH COOKIE: one line.
scenario() {
  requests "$2" "$3" "$warm" >/dev/null
  callgrind_control -z "$server" >/dev/null 2>&1
  local bad
  bad=$(requests "$2" "$3" "$n")
  callgrind_control -d "$server" >/dev/null 2>&1
  dumps=$((dumps + 1))
  local file=$work/cg.out.$dumps
  for _ in $(seq 1 300); do
    [ -s "$file" ] && grep -q -E '^(summary|totals):' "$file" && break
    sleep 0.1
  done
  local total
  total=$(sed -n -E 's/^(summary|totals): *([0-9]+).*/\2/p' "$file" | head -n 1)
  printf '%s  %s  %d  non200=%s\n' "$name" "$1" $((total / n)) "$bad"
}

scenario "index(no cookie)" / ""
scenario "profile(valid cookie)" /profile "$sid"
if [ -n "${PASS_PATH:-}" ]; then
  scenario "pass-through($PASS_PATH)" "$PASS_PATH" "$sid"
fi
