# Sourced by the scripts that drive one server over HTTP (scenarios.sh, ../callgrind.sh):
# start it on a free loopback port with a fresh database, wait until it answers, log in the
# bench user, stop it. Sets and reads the globals port, base, work and server.

# A session cookie value of the right form that no server issued.
unknown_sid=00000000-0000-4000-8000-000000000000

# server_prepare: picks a free loopback port and makes a fresh temp dir; sets port, base
# ("http://127.0.0.1:$port") and work.
server_prepare() {
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  base="http://127.0.0.1:$port"
  work=$(mktemp -d)
}

# server_start COMMAND...: runs COMMAND in the background with PORT and AUTH_DB (in $work)
# in its environment, its output in $work/server.log; sets server (its pid). After
# server_prepare.
server_start() {
  PORT=$port AUTH_DB=$work/auth.redb "$@" >"$work/server.log" 2>&1 &
  server=$!
}

# server_stop: stops the server and removes $work (for an EXIT trap).
server_stop() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$work"
}

# server_wait NAME TRIES: waits until GET / answers, polling every 0.1 s at most TRIES
# times; exits with the server's log if it never does.
server_wait() {
  for _ in $(seq 1 "$2"); do
    curl -s -o /dev/null "$base/" && return 0
    sleep 0.1
  done
  curl -s -o /dev/null "$base/" || { echo "$1: the server did not start" >&2; cat "$work/server.log" >&2; exit 1; }
}

# server_session NAME: registers and logs in the bench user and prints the session cookie's
# value (fails if logging in gave none); with ACCOUNTS=no (a server without account routes)
# prints a fixed unknown cookie instead.
server_session() {
  if [ "${ACCOUNTS:-yes}" = no ]; then
    echo "$unknown_sid"
    return 0
  fi
  local form="email=bench@example.com&password=bench-password-123" sid
  curl -s -o /dev/null -d "$form" "$base/users"
  sid=$(curl -s -D - -o /dev/null -d "$form" "$base/sessions" |
    sed -n -E 's/^[Ss]et-[Cc]ookie: *session_id=([^;]*).*/\1/p' | tr -d '\r')
  [ -n "$sid" ] || { echo "$1: logging in gave no session cookie" >&2; return 1; }
  echo "$sid"
}
