-- wrk script for benches/load/scenarios.sh: every request is POST /sessions (log in) with the
-- bench user's credentials as a form, the way the seed's clients log in.
wrk.method = "POST"
wrk.path = "/sessions"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "email=bench%40example.com&password=bench-password-123"
