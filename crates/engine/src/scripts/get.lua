-- get.lua: read a session by token and slide its idle expiry, at most once per interval.
-- (Reads that need no touch are a plain HMGET; see engine/sessions.rs.)
--
-- KEYS[1]  the session key
-- ARGV     1 base, 2 session token hash, 3 touch interval ms
-- Returns  {user id, data, metadata, created, last seen, idle expiry, absolute expiry,
--          version} | false when no live session matches
-- Invariants: a touch never extends a session past its absolute expiry and never brings
-- back an expired or revoked session.

local sk = KEYS[1]
local base, th, interval = ARGV[1], ARGV[2], tonumber(ARGV[3])
local s = redis.call('HMGET', sk, 'th', 'u', 'd', 'm', 'c', 'l', 'e', 'a', 'v', 'i', 'h')
if not s[1] or s[1] ~= th then return false end
local now = now_ms()
local l, e, a = tonumber(s[6]), tonumber(s[7]), tonumber(s[8])
if now >= e then return false end

if now - l >= interval then
  l = now
  e = math.min(now + tonumber(s[10]), a)
  redis.call('HSET', sk, 'l', l, 'e', e)
  redis.call('PEXPIREAT', sk, e)
  local sid = string.sub(sk, #base + 3)
  index_add(base, s[11], s[2], sid, e)
end
return { s[2], s[3], s[4], tonumber(s[5]), l, e, a, tonumber(s[9]) }
