-- lib/clock.lua: the store's clock. Shared by every script (see scripts.rs). A session
-- read runs no script: it uses the engine's estimate of this clock (clock.rs), or sends
-- TIME next to its GET (Store::get_with_clock in store.rs).
--
-- Every script reads the clock with TIME, so all API instances share Redis's clock.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
