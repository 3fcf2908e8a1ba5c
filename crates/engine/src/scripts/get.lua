-- get.lua: read a session by token, sliding its idle expiry at most once per interval.
--
-- KEYS[1]  the session key
-- ARGV     1 base, 2 session token hash, 3 touch (1 | 0), 4 touch interval ms
-- Returns  {user id, data, metadata, created, last seen, idle expiry, absolute expiry,
--          version} | false when no live session matches
-- Invariants: a read never extends a session past its absolute expiry, never brings
-- back an expired or revoked session, and with touch = 0 never writes.

local sk = KEYS[1]
local base, th, touch, interval = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local s = redis.call('HMGET', sk, 'th', 'u', 'd', 'm', 'c', 'l', 'e', 'a', 'v', 'i', 'h')
if not s[1] or s[1] ~= th then return false end
local now = now_ms()
local l, e, a = tonumber(s[6]), tonumber(s[7]), tonumber(s[8])
if now >= e then return false end

if touch == '1' and now - l >= interval then
  l = now
  e = math.min(now + tonumber(s[10]), a)
  redis.call('HSET', sk, 'l', l, 'e', e)
  redis.call('PEXPIREAT', sk, e)
  local sid = string.sub(sk, #base + 3)
  index_add(base, s[11], s[2], sid, e)
end
return { s[2], s[3], s[4], tonumber(s[5]), l, e, a, tonumber(s[9]) }
