-- refresh.lua: rotate a login's refresh family, with a grace window and reuse detection.
--
-- KEYS[1]  the record key
-- ARGV     1 base, 2 session id, 3 presented refresh token hash, 4 nonce of this
--          rotation, 5 successor refresh token hash, 6 successor session token hash,
--          7 absolute ms, 8 grace ms, 9 reuse scope ('family' | 'user')
-- Returns  {'rotated', now, idle expiry, absolute expiry, family expiry,
--           session was live (1 | 0), user id}
--          | {'replay', nonce, idle expiry, absolute expiry, family expiry}
--          | {'err', 'invalid_grant'}
--          | {'err', 'reuse_detected', user id, first detection (1 | 0), n,
--             ended sid × n, revoked sid...}
-- Invariants: one generation rotates exactly once (concurrent presentations of the
-- current token within the grace window all get the same successor, which the caller
-- re-derives from the stored nonce); the new session carries the login's latest data and
-- metadata and never outlives the family; any older generation revokes the login for
-- good, leaving a tombstone that keeps answering reuse_detected.

local base, sid, h, nonce, new_rh, new_th = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5],
  ARGV[6]
local abs, grace, scope = tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9]

local r = load(base, sid)
if not r or h == r[TH] or not owns(r, h) then return { 'err', 'invalid_grant' } end
if r[KIND] == TOMBSTONE then return { 'err', 'reuse_detected', r[UID], 0, 0 } end
local now = now_ms()
if not family_live(r, now) then return { 'err', 'invalid_grant' } end

if h == r[CUR] then
  local was_live = session_live(r, now) and 1 or 0
  retire(r, r[TH])
  retire(r, r[PREV])
  r[PREV], r[CUR], r[NONCE], r[ROTATED] = r[CUR], new_rh, nonce, now
  r[GEN] = r[GEN] + 1
  r[FAM_USED] = now
  r[TH] = new_th
  r[SEEN] = now
  r[ABS_EXP] = math.min(now + abs, r[FAM_EXP])
  r[IDLE_EXP] = math.min(now + r[IDLE_MS], r[ABS_EXP])
  save(base, sid, r)
  return { 'rotated', now, r[IDLE_EXP], r[ABS_EXP], r[FAM_EXP], was_live, r[UID] }
end

if h == r[PREV] and now - r[ROTATED] <= grace then
  return { 'replay', r[NONCE], r[IDLE_EXP], r[ABS_EXP], r[FAM_EXP] }
end

-- A superseded generation: the token was copied. End the login; keep only what answers
-- reuse_detected for its tokens until the family's original expiry.
local t = {}
t[KIND], t[TH], t[UID], t[UH] = TOMBSTONE, '', r[UID], r[UH]
t[CREATED], t[SEEN], t[IDLE_EXP], t[ABS_EXP], t[IDLE_MS], t[VERSION] = r[CREATED], now, 0, 0,
  0, r[VERSION]
t[FAM_EXP], t[FAM_IDLE], t[FAM_USED], t[META], t[DATA] = r[FAM_EXP], 0, now, '', ''
t[CUR], t[PREV], t[NONCE], t[ROTATED], t[GEN], t[RETIRED] = r[CUR], r[PREV], '', now,
  r[GEN], r[RETIRED]
redis.call('SET', record_key(base, sid), cmsgpack.pack(unpack(t, 1, FIELDS)), 'PXAT',
  r[FAM_EXP])
unindex(base, r[UH], sid)
local ended, revoked = {}, { sid }
if scope == 'user' then
  local others
  ended, others = revoke_user(base, r[UH], '', now)
  append_all(revoked, others)
end
local out = append_all({ 'err', 'reuse_detected', r[UID], 1, #ended }, ended)
return append_all(out, revoked)
