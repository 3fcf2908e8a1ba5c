-- deletion_issue.lua: store a deletion token for one session or for a whole user.
--
-- KEYS[1]  the deletion token key
-- ARGV     1 base, 2 token hash, 3 scope ('session' | 'user'), 4 target session id
--          ('' for scope user), 5 user hash, 6 user id, 7 ttl ms
-- Deletion hash: th token hash, k scope, t target session id, h user hash, u user id,
--   st ('live' | 'spent')
-- Returns  {'ok', expiry} | {'err', 'session_not_found'}
-- Invariant: a session-scoped token is only issued for a live session of that user.

local dk = KEYS[1]
local base, th, scope, target, uh, uid, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5],
  ARGV[6], tonumber(ARGV[7])
local now = now_ms()
if scope == 'session' then
  local s = redis.call('HMGET', session_key(base, target), 'h', 'e')
  if not s[1] or s[1] ~= uh or tonumber(s[2]) <= now then
    return { 'err', 'session_not_found' }
  end
end
redis.call('HSET', dk, 'th', th, 'k', scope, 't', target, 'h', uh, 'u', uid, 'st', 'live')
redis.call('PEXPIREAT', dk, now + ttl)
return { 'ok', now + ttl }
