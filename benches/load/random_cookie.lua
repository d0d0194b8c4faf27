-- wrk script for benches/scale.sh: GET /profile with a session cookie per request, from a
-- file of session tokens (one a line) given after `--`, drawn as the second argument says:
--   uniform     (default) a session drawn at random
--   skewed      10% of the sessions (the file's first tenth) take 90% of the requests
--   sequential  the file's sessions in order from the line after the third argument (default
--               0), each once per pass: fills a session cache
--   unknown     a random token of the issued form (a UUID v4) that no session has, from as
--               many drawn at start as the file has lines (drawn ahead like the others' requests,
--               so that wrk's own cost is the same in every mode)
local requests = {}
local mode = "uniform"
local hot = 1
local next_index = 0

local function random_uuid()
  local r = math.random
  return string.format("%04x%04x-%04x-4%03x-%x%03x-%04x%04x%04x", r(0, 65535), r(0, 65535),
    r(0, 65535), r(0, 4095), r(8, 11), r(0, 4095), r(0, 65535), r(0, 65535), r(0, 65535))
end

-- Every request of a listed session is formatted once, here: formatting it per request
-- (string concatenation, wrk.format) made wrk itself the bottleneck at a million sessions.
init = function(args)
  for line in io.lines(args[1]) do
    requests[#requests + 1] = wrk.format("GET", "/profile", { ["Cookie"] = "session_id=" .. line })
  end
  mode = args[2] or "uniform"
  if mode == "unknown" then
    math.randomseed(os.time())
    for i = 1, #requests do
      requests[i] = wrk.format("GET", "/profile", { ["Cookie"] = "session_id=" .. random_uuid() })
    end
  end
  hot = math.max(1, math.floor(#requests / 10))
  next_index = tonumber(args[3] or "0") % #requests
  math.randomseed(os.time() + #requests)
end


-- The formatted request of a listed session, drawn as `mode` says.
local function pick()
  if mode == "sequential" then
    next_index = next_index % #requests + 1
    return requests[next_index]
  elseif mode == "skewed" and hot < #requests then
    if math.random() < 0.9 then
      return requests[math.random(hot)]
    end
    return requests[math.random(hot + 1, #requests)]
  end
  return requests[math.random(#requests)]
end

request = function()
  return pick()
end
