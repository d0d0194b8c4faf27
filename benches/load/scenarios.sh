#!/usr/bin/env bash
# Load figures for one server that implements the seed's HTTP contract.
#   benches/load/scenarios.sh NAME COMMAND [ARGS...]
# Starts COMMAND pinned to CPU 0 with PORT (a free loopback port), AUTH_DB (a fresh path) and
# BCRYPT_COST (default 12) in its environment (and whatever else the caller exports, such as
# AUTH_DATABASE_URL: benches/stores.sh), registers and logs in one user with curl, then
# drives it with wrk (one thread, pinned to CPU 1) and prints one line per scenario:
#   NAME  SCENARIO  requests/s  p50  p99  non2xx=COUNT
# Scenarios (DURATION seconds each, default 8):
#   profile(valid cookie)        GET /profile with the logged-in cookie, 32 connections
#   profile(bad cookie)          GET /profile with an unknown cookie, 32 connections
#   index(no cookie)             GET /, 32 connections
#   index(4 conns)               GET /, 4 connections
#   pass-through(PATH)           only with PASS_PATH=PATH: a route of the wrapped app, with the
#                                logged-in cookie, 32 connections (the layer's pass-through cost)
#   login(cost=C)                POST /sessions, 4 connections: logins/s is bcrypt-bound (the
#                                successful logins, answers 200, counted by login.lua; p50 and
#                                p99 are of all answers)
#   register(cost=C)             only with REGISTER=yes: POST /users with a new email each
#                                (register.lua), 4 connections: registrations/s (the server's
#                                registration quota must be raised, as benches/stores.sh does)
#   index(4 conns, login storm)  GET /, 4 connections, while 8 more connections keep logging in
#                                (compare with index(4 conns): does hashing stall the server?)
#   logins(login storm)          the storm's successful logins/s while index(4 conns, login
#                                storm) was measured (its first and last second left out), with
#                                the p50 and p99 of its answers over the whole storm
# SCENARIOS=storm runs index(4 conns), login(cost=C), the storm and its logins only (as
# benches/storm.sh does). SCENARIOS=pass runs the pass-through scenario alone, and ACCOUNTS=no
# skips the register and log-in steps (a fixed unknown cookie is sent instead): together they
# drive a server with no account routes, such as the app without the layer.
# Needs wrk, taskset, curl and python3.
set -euo pipefail
name=$1
shift
kit=$(cd "$(dirname "$0")" && pwd)
duration=${DURATION:-8}
cost=${BCRYPT_COST:-12}
scenarios=${SCENARIOS:-all}

# shellcheck source=server.sh
. "$kit/server.sh"
server_prepare
BCRYPT_COST=$cost server_start taskset -c 0 "$@"
storm=
cleanup() {
  if [ -n "$storm" ]; then kill "$storm" 2>/dev/null || true; fi
  server_stop
}
trap cleanup EXIT
server_wait "$name" 300

sid=$(server_session "$name")

# scenario WRK_ARGS...: one wrk run, printed as one line.
measure() {
  local scenario=$1
  shift
  local out
  out=$(taskset -c 1 wrk -t1 -d"${duration}s" --latency "$@" 2>&1) || true
  report "$scenario" "$out"
}

# report SCENARIO WRK_OUTPUT: the line of one wrk run. The rate is requests/s, or, for
# login.lua's runs, the successful logins/s that it counted.
report() {
  local rate
  rate=$(awk '$1 == "logins/s" {print $2}' <<<"$2")
  [ -n "$rate" ] || rate=$(awk '/Requests\/sec/ {print $2}' <<<"$2")
  printf '%-22s %-28s %10s %9s %9s non2xx=%s\n' "$name" "$1" "$rate" \
    "$(awk '$1 == "50%" {print $2}' <<<"$2")" \
    "$(awk '$1 == "99%" {print $2}' <<<"$2")" \
    "$(awk '/Non-2xx/ {print $NF}' <<<"$2" | grep . || echo 0)"
}

# login_storm: GET /, 4 connections, measured while 8 more connections keep logging in; then
# the logins that completed during that measurement. The storm starts a second early and ends
# a second late, so it covers the whole measurement, and counts only the logins answered
# within it (login.lua's window). Its answers may wait long: wrk's timeout is raised so that
# every one is recorded.
login_storm() {
  taskset -c 1 wrk -t1 -c8 -d"$((duration + 2))s" --timeout 120s --latency \
    -s "$kit/login.lua" "$base/sessions" -- 1 "$duration" >"$work/storm.out" 2>&1 &
  storm=$!
  sleep 1
  measure "index(4 conns, login storm)" -c4 "$base/"
  wait "$storm" || true
  storm=
  report "logins(login storm)" "$(cat "$work/storm.out")"
}

if [ "$scenarios" = pass ]; then
  measure "pass-through(${PASS_PATH:?SCENARIOS=pass needs PASS_PATH})" -c32 -H "Cookie: session_id=$sid" "$base$PASS_PATH"
  exit 0
fi
if [ "$scenarios" = storm ]; then
  measure "index(4 conns)" -c4 "$base/"
  measure "login(cost=$cost)" -c4 --timeout 120s -s "$kit/login.lua" "$base/sessions"
  login_storm
  exit 0
fi
measure "profile(valid cookie)" -c32 -H "Cookie: session_id=$sid" "$base/profile"
measure "profile(bad cookie)" -c32 -H "Cookie: session_id=$unknown_sid" "$base/profile"
measure "index(no cookie)" -c32 "$base/"
measure "index(4 conns)" -c4 "$base/"
if [ -n "${PASS_PATH:-}" ]; then
  measure "pass-through($PASS_PATH)" -c32 -H "Cookie: session_id=$sid" "$base$PASS_PATH"
fi
measure "login(cost=$cost)" -c4 --timeout 120s -s "$kit/login.lua" "$base/sessions"
if [ "${REGISTER:-no}" = yes ]; then
  measure "register(cost=$cost)" -c4 -s "$kit/register.lua" "$base/users"
fi
login_storm
