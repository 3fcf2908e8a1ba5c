-- deletion_issue.lua: store a deletion token for one device login or a whole user.
--
-- KEYS[1]  the deletion token key
-- ARGV     1 base, 2 token hash, 3 scope ('session' | 'user'), 4 target session id
--          ('' for scope user), 5 user hash, 6 user id, 7 ttl ms
-- Deletion record (MessagePack stream): state ('live' | 'spent'), token hash, scope,
--   target session id, user hash, user id
-- Returns  {'ok', expiry} | {'err', 'session_not_found'}
-- Invariant: a login-scoped token is only issued for a live login of that user. It
-- names the login, which keeps its id across refreshes, so it reaches the login for as
-- long as the login lives.

local dk = KEYS[1]
local base, th, scope, target, uh, uid, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5],
  ARGV[6], tonumber(ARGV[7])
local now = now_ms()
if scope == 'session' then
  local r = load(base, target, FAM_USED)
  if not r or r[KIND] ~= LIVE or r[UID] ~= uid or now >= login_end(r) then
    return { 'err', 'session_not_found' }
  end
end
redis.call('SET', dk, cmsgpack.pack('live', th, scope, target, uh, uid), 'PXAT', now + ttl)
return { 'ok', now + ttl }
