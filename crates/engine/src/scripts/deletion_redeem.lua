-- deletion_redeem.lua: consume a deletion token and revoke its target.
--
-- KEYS[1]  the deletion token key
-- ARGV     1 base, 2 token hash
-- Returns  {'ok', scope, user id, families revoked, revoked session id...}
--          | {'err', 'token_not_found'} | {'err', 'token_spent'}
-- Invariant: a token is consumed exactly once, in the same step that revokes; the spent
-- marker stays until the token's own expiry so a second redemption says "spent".

local dk = KEYS[1]
local base, th = ARGV[1], ARGV[2]
local d = redis.call('HMGET', dk, 'th', 'k', 't', 'h', 'u', 'st')
if not d[1] or d[1] ~= th then return { 'err', 'token_not_found' } end
if d[6] == 'spent' then return { 'err', 'token_spent' } end
redis.call('HSET', dk, 'st', 'spent')

local now = now_ms()
local scope, target, uh, uid = d[2], d[3], d[4], d[5]
if scope == 'session' then
  local revoked = {}
  local fid = redis.call('HGET', session_key(base, target), 'f')
  if drop_session(base, uh, target, nil, now) == 1 then revoked[1] = target end
  local families = revoke_family(base, fid, 'r')
  return append_all({ 'ok', scope, uid, families }, revoked)
end
local revoked, families = revoke_user(base, uh, '', 'r', now)
return append_all({ 'ok', scope, uid, families }, revoked)
