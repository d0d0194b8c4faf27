-- wrk script for benches/scale_http.sh: GET /profile with the cookie of a session drawn at
-- random, per request, from a file of session tokens (one a line) given after `--`.
local tokens = {}

init = function(args)
  for line in io.lines(args[1]) do
    tokens[#tokens + 1] = line
  end
  math.randomseed(os.time() + #tokens)
end

request = function()
  local token = tokens[math.random(#tokens)]
  return wrk.format("GET", "/profile", { ["Cookie"] = "session_id=" .. token })
end
