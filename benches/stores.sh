#!/usr/bin/env bash
# The demo on redb and on PostgreSQL, side by side in one run: the load scenarios of
# benches/load/scenarios.sh (GET /profile with a valid cookie, logins/s, ...) plus
# registrations/s (REGISTER=yes), first on a fresh redb file, then on a fresh PostgreSQL
# database; then the PostgreSQL figures as ratios of redb's.
#   benches/stores.sh        (DURATION=8 seconds per scenario, BCRYPT_COST=12 by default)
#   DURATION=5 BCRYPT_COST=4 benches/stores.sh     (what the store costs, bcrypt kept small)
# PostgreSQL: BENCH_DATABASE_URL (a postgres:// URL of a role that may create databases), or
# else a throwaway cluster (Debian's /usr/lib/postgresql/*/bin, in a temp dir, on a free
# loopback port, fsync off, run as the postgres user when run as root), stopped at the end.
# The throwaway cluster is pinned to PG_CPUS (default 0: the demo's CPU, so both stores get
# the same CPU budget; wrk has CPU 1). POOL sets AUTH_DATABASE_POOL (default 16).
# The registration quota is raised (AUTH_THROTTLE_REGISTRATIONS_PER_HOUR) for both, so that
# the registration scenario measures registrations, not 429s.
# Needs wrk, taskset, curl, python3 and PostgreSQL's binaries (psql, and initdb/pg_ctl
# without BENCH_DATABASE_URL).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scenarios=$root/benches/load/scenarios.sh
cargo build --quiet --release --features postgres --example demo --manifest-path "$root/Cargo.toml"
demo=$root/target/release/examples/demo

pg_bin=$(dirname "$(ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1)")
[ -x "$pg_bin/psql" ] || pg_bin=$(dirname "$(command -v psql)")
pg_dir=
as_pg=()
out=$(mktemp)
cleanup() {
  if [ -n "$pg_dir" ]; then
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" stop -m fast >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  fi
  rm -f "$out"
}
trap cleanup EXIT
admin_url=${BENCH_DATABASE_URL:-}
if [ -z "$admin_url" ]; then
  pg_dir=$(mktemp -d)
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$pg_dir"
    as_pg=(runuser -u postgres --)
  fi
  pg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
  taskset -c "${PG_CPUS:-0}" "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
    -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start >/dev/null
  admin_url="postgres://postgres@127.0.0.1:$pg_port/postgres"
fi
db=bench_$(date +%s)_$$
"$pg_bin/psql" -q "$admin_url" -c "CREATE DATABASE $db" >/dev/null
pg_url=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$admin_url" "$db")

cd "$(mktemp -d)"
export REGISTER=yes AUTH_THROTTLE_REGISTRATIONS_PER_HOUR=1000000000
PASS_PATH=/me "$scenarios" demo-redb "$demo" | tee -a "$out"
AUTH_DATABASE_URL=$pg_url AUTH_DATABASE_POOL=${POOL:-16} PASS_PATH=/me "$scenarios" demo-postgres "$demo" | tee -a "$out"
"$pg_bin/psql" -q "$admin_url" -c "DROP DATABASE $db WITH (FORCE)" >/dev/null || true
# The same on PostgreSQL with the session cache off (AUTH_SESSION_CACHE_MB=0): every request
# reads its session from the database.
"$pg_bin/psql" -q "$admin_url" -c "CREATE DATABASE $db" >/dev/null
AUTH_SESSION_CACHE_MB=0 AUTH_DATABASE_URL=$pg_url AUTH_DATABASE_POOL=${POOL:-16} PASS_PATH=/me "$scenarios" demo-postgres-nocache "$demo" | tee -a "$out"
"$pg_bin/psql" -q "$admin_url" -c "DROP DATABASE $db WITH (FORCE)" >/dev/null || true

# figure SERVER SCENARIO: requests/s (or logins/s) of that line of this run.
figure() {
  awk -v n="$1" -v s="$2" '$1 == n && i = index($0, " " s " ") {
    split(substr($0, i + length(s) + 2), f, " "); print f[1]; exit }' "$out"
}
ratio() { python3 -c "import sys; a, b = map(float, sys.argv[1:]); print(f'{a / b:.2f}')" "$1" "$2"; }
cost=${BCRYPT_COST:-12}
echo
for s in "profile(valid cookie)" "profile(bad cookie)" "pass-through(/me)" "login(cost=$cost)" "register(cost=$cost)"; do
  echo "$s: PostgreSQL $(figure demo-postgres "$s"), redb $(figure demo-redb "$s"): $(ratio "$(figure demo-postgres "$s")" "$(figure demo-redb "$s")") of redb"
done
s="profile(valid cookie)"
echo "$s, PostgreSQL without the session cache: $(figure demo-postgres-nocache "$s"): $(ratio "$(figure demo-postgres-nocache "$s")" "$(figure demo-redb "$s")") of redb"
