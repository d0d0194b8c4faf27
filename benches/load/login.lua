-- wrk script for benches/load/scenarios.sh: every request is POST /sessions (log in) with the
-- bench user's credentials as a form, the way the seed's clients log in.
-- It counts successful logins (answers 200), not requests, and prints at the end
--   logins/s RATE logins=COUNT window_s=SECONDS
-- over the whole run, or, with script arguments `-- SKIP LENGTH`, over the LENGTH seconds
-- that start SKIP seconds after the thread started (answers received in that window only):
-- how the login storm counts its logins only while the other load is being measured.
wrk.method = "POST"
wrk.path = "/sessions"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "email=bench%40example.com&password=bench-password-123"

local ffi = require("ffi")
ffi.cdef([[
  typedef struct { long tv_sec; long tv_nsec; } login_lua_timespec;
  int clock_gettime(int clock, login_lua_timespec *ts);
]])
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("login_lua_timespec")
local function now()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) / 1e9
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

-- Per thread: the window and the count (read by done() through thread:get).
function init(args)
  local start = now()
  if #args >= 2 then
    window_start = start + tonumber(args[1])
    window_end = window_start + tonumber(args[2])
  else
    window_start = start
    window_end = nil
  end
  logins = 0
end

function response(status, headers, body)
  if status ~= 200 then
    return
  end
  local t = now()
  if t >= window_start and (window_end == nil or t <= window_end) then
    logins = logins + 1
  end
end

function done(summary, latency, requests)
  local count, window = 0, 0
  for _, thread in ipairs(threads) do
    count = count + thread:get("logins")
    local w_end = thread:get("window_end")
    -- Without a window: the whole run (wrk's own duration, in microseconds).
    local w = w_end and (w_end - thread:get("window_start")) or summary.duration / 1e6
    window = math.max(window, w)
  end
  local rate = window > 0 and count / window or 0
  io.write(string.format("logins/s %.2f logins=%d window_s=%.1f\n", rate, count, window))
end
