-- wrk script for benches/load/scenarios.sh (REGISTER=yes): every request is POST /users
-- (register) with a new email, so each one writes a new account: registrations/s.
local prefix
local counter = 0

init = function(args)
  math.randomseed(os.time())
  prefix = string.format("r%d-%d", os.time(), math.random(1000000000))
end

request = function()
  counter = counter + 1
  local body = "email=" .. prefix .. "-" .. counter .. "%40example.com&password=bench-password-123"
  return wrk.format("POST", "/users", { ["Content-Type"] = "application/x-www-form-urlencoded" }, body)
end
