-- refresh.lua: rotate a refresh-token family, with a grace window and reuse detection.
--
-- KEYS[1]  the family key
-- ARGV     1 base, 2 presented token hash, 3 nonce of this rotation, 4 successor refresh
--          token hash, 5 successor session token hash, 6 successor session id, 7 family
--          id, 8 absolute ms, 9 grace ms, 10 cap, 11 policy ('evict' | 'reject'),
--          12 reuse scope ('family' | 'user')
-- Family hash: st state ('a' active, 'r' revoked, 'x' revoked by reuse), u user id,
--   h user hash, s current session id, cur current token hash, prev previous token hash,
--   n nonce of the last rotation, r time of the last rotation, g generation, x expiry,
--   i idle limit ms (0 = none), lu last use, si session idle ms, d initial data,
--   m initial metadata
-- Returns  {'rotated', session id, now, idle expiry, absolute expiry, family expiry,
--           replaced session id or '', user id, evicted sid...}
--          | {'replay', nonce, session id, idle expiry, absolute expiry, family expiry}
--          | {'err', 'invalid_grant'} | {'err', 'session_limit_reached'}
--          | {'err', 'reuse_detected', user id, first detection (1 | 0), revoked sid...}
-- Invariants: one token generation rotates exactly once (concurrent presentations of the
-- current token within the grace window all get the same successor, which the caller
-- re-derives from the stored nonce); any older generation revokes the family for good;
-- a session created here never outlives its family.

local fk = KEYS[1]
local base, h, nonce, new_rh, new_th, new_sid, fid = ARGV[1], ARGV[2], ARGV[3], ARGV[4],
  ARGV[5], ARGV[6], ARGV[7]
local abs, grace, cap, policy, scope = tonumber(ARGV[8]), tonumber(ARGV[9]),
  tonumber(ARGV[10]), ARGV[11], ARGV[12]

local f = redis.call('HMGET', fk, 'st', 'u', 'h', 's', 'cur', 'prev', 'n', 'r', 'x', 'i',
  'lu', 'si', 'd', 'm')
if not f[1] then return { 'err', 'invalid_grant' } end
local st, uid, uh, sid, cur, prev = f[1], f[2], f[3], f[4], f[5], f[6]
local known = h == cur or h == prev or redis.call('SISMEMBER', history_key(base, fid), h) == 1
if not known then return { 'err', 'invalid_grant' } end
if st == 'x' then return { 'err', 'reuse_detected', uid, 0 } end
if st ~= 'a' then return { 'err', 'invalid_grant' } end

local now = now_ms()
local x, fidle = tonumber(f[9]), tonumber(f[10])
if now >= x or (fidle > 0 and now - tonumber(f[11]) >= fidle) then
  return { 'err', 'invalid_grant' }
end

if h == cur then
  local old = redis.call('HMGET', session_key(base, sid), 'd', 'm', 'e')
  local data, meta = f[13], f[14]
  if old[1] and tonumber(old[3]) > now then data, meta = old[1], old[2] end
  local evicted = make_room(base, uh, now, cap, policy, sid)
  if evicted == false then return { 'err', 'session_limit_reached' } end
  local replaced = ''
  if drop_session(base, uh, sid, nil, now) == 1 then replaced = sid end
  local a = math.min(now + abs, x)
  local e = math.min(now + tonumber(f[12]), a)
  put_session(base, { sid = new_sid, uid = uid, uh = uh, data = data, meta = meta,
    now = now, e = e, a = a, idle = tonumber(f[12]), th = new_th, fid = fid })
  redis.call('HSET', fk, 'cur', new_rh, 'prev', cur, 'n', nonce, 'r', now, 's', new_sid,
    'lu', now)
  redis.call('HINCRBY', fk, 'g', 1)
  local hk = history_key(base, fid)
  redis.call('SADD', hk, cur)
  redis.call('PEXPIREAT', hk, x)
  return append_all({ 'rotated', new_sid, now, e, a, x, replaced, uid }, evicted)
end

if h == prev and now - tonumber(f[8]) <= grace then
  local s = redis.call('HMGET', session_key(base, sid), 'e', 'a')
  return { 'replay', f[7], sid, tonumber(s[1]) or 0, tonumber(s[2]) or 0, x }
end

-- A superseded generation: the token was copied. Revoke the family and its session;
-- the family hash stays (state 'x') so later presentations keep answering reuse.
redis.call('HSET', fk, 'st', 'x')
redis.call('ZREM', families_key(base, uh), fid)
local revoked = {}
if drop_session(base, uh, sid, nil, now) == 1 then revoked[1] = sid end
if scope == 'user' then
  local others = revoke_user(base, uh, '', 'r', now)
  append_all(revoked, others)
end
return append_all({ 'err', 'reuse_detected', uid, 1 }, revoked)
