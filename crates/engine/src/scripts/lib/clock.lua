-- lib/clock.lua: the store's clock. Prepended to every script (see scripts.rs); the only
-- module read.lua needs, so the hot read path does not define the other modules' functions
-- on every call.
--
-- Every script reads the clock with TIME, so all API instances share Redis's clock.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
