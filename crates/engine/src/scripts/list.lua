-- list.lua: the user's live sessions (metadata only, never token hashes). Read-only.
--
-- KEYS[1]  the user's index key
-- ARGV     1 base
-- Returns  {sid, metadata, created, last seen, idle expiry, absolute expiry, version,
--          ...} flattened, 7 values per session
-- Invariant: exact whatever cleanup has done: an index entry counts only when its
-- session hash exists and is unexpired by the clock.

local base = ARGV[1]
local now = now_ms()
local out = {}
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], now + 1, '+inf', 'BYSCORE')) do
  local s = redis.call('HMGET', session_key(base, sid), 'e', 'm', 'c', 'l', 'a', 'v')
  if s[1] and tonumber(s[1]) > now then
    append_all(out, { sid, s[2], tonumber(s[3]), tonumber(s[4]),
      tonumber(s[1]), tonumber(s[5]), tonumber(s[6]) })
  end
end
return out
