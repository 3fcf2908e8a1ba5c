-- deletion_redeem.lua: consume a deletion token and revoke its target.
--
-- KEYS[1]  the deletion token key
-- ARGV     1 base, 2 token hash
-- Returns  {'ok', scope, user id, families revoked, n, ended sid × n, revoked sid...}
--          | {'err', 'token_not_found'} | {'err', 'token_spent'}
-- Invariant: a token is consumed exactly once, in the same step that revokes; the spent
-- marker stays until the token's own expiry so a second redemption says "spent".

local dk = KEYS[1]
local base, th = ARGV[1], ARGV[2]
local v = redis.call('GET', dk)
if not v then return { 'err', 'token_not_found' } end
local state, hash, scope, target, uh, uid = cmsgpack.unpack(v)
if hash ~= th then return { 'err', 'token_not_found' } end
if state == 'spent' then return { 'err', 'token_spent' } end
redis.call('SET', dk, cmsgpack.pack('spent', hash, scope, target, uh, uid), 'KEEPTTL')

local now = now_ms()
if scope == 'session' then
  local r = load(base, target)
  if not r or r[KIND] ~= LIVE or now >= login_end(r) then
    return { 'ok', scope, uid, 0, 0 }
  end
  drop(base, target, r)
  return { 'ok', scope, uid, family_live(r, now) and 1 or 0, 0, target }
end
local ended, revoked, families = revoke_user(base, uh, '', now)
local out = append_all({ 'ok', scope, uid, families, #ended }, ended)
return append_all(out, revoked)
