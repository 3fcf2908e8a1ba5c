-- rotate.lua: new session token and new refresh token for the same login state
-- (session-fixation defence).
--
-- KEYS[1]  the record key
-- ARGV     1 base, 2 session id, 3 current session token hash, 4 new session token hash,
--          5 new refresh token hash
-- Returns  {'ok', idle expiry, absolute expiry, family expiry, user id}
--          | {'err', 'session_not_found'}
-- Invariant: no credential issued before the rotation reaches the state after it: the
-- old session token stops working, and every earlier refresh token is retired, so
-- presenting one later is reuse.

local base, sid, th, new_th, new_rh = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local r = load(base, sid)
if not r or r[TH] ~= th then return { 'err', 'session_not_found' } end
local now = now_ms()
if not session_live(r, now) then return { 'err', 'session_not_found' } end
retire(r, r[TH])
retire(r, r[CUR])
retire(r, r[PREV])
r[TH], r[CUR], r[PREV], r[NONCE] = new_th, new_rh, '', ''
r[GEN] = r[GEN] + 1
save(base, sid, r)
return { 'ok', r[IDLE_EXP], r[ABS_EXP], r[FAM_EXP], r[UID] }
