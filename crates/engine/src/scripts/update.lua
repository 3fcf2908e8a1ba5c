-- update.lua: replace a session's data, optionally only at an expected version.
--
-- KEYS[1]  the session key
-- ARGV     1 base, 2 session token hash, 3 new data, 4 expected version ('' = any)
-- Returns  {'ok', version, last seen, idle expiry, absolute expiry}
--          | {'err', 'session_not_found'} | {'err', 'version_conflict', current version}
-- Invariants: a version mismatch changes nothing; an update never resurrects a session
-- that expired or was revoked (the key must exist and be unexpired).

local sk = KEYS[1]
local base, th, data, expected = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local s = redis.call('HMGET', sk, 'th', 'v', 'e', 'a', 'i', 'h', 'u')
if not s[1] or s[1] ~= th then return { 'err', 'session_not_found' } end
local now = now_ms()
if now >= tonumber(s[3]) then return { 'err', 'session_not_found' } end
local v = tonumber(s[2])
if expected ~= '' and tonumber(expected) ~= v then
  return { 'err', 'version_conflict', v }
end

v = v + 1
local a = tonumber(s[4])
local e = math.min(now + tonumber(s[5]), a)
redis.call('HSET', sk, 'd', data, 'v', v, 'l', now, 'e', e)
redis.call('PEXPIREAT', sk, e)
index_add(base, s[6], s[7], string.sub(sk, #base + 3), e)
return { 'ok', v, now, e, a }
