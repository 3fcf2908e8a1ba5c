-- revoke.lua: end one device login (its session and its refresh family together).
--
-- KEYS[1]  the record key
-- ARGV     1 base, 2 session id, 3 credential hash ('' = revoke by id), 4 user id
--          ('' = by credential)
-- Returns  {'ok', user id, family was usable (1 | 0)} | {'err', 'session_not_found'}
-- Invariant: any credential that ever belonged to the login (its session token, a
-- session token a refresh replaced, its current, previous or a retired refresh token)
-- or its id reaches the login for as long as it lives, so a sign-out can never leave the
-- family behind.

local base, sid, h, uid = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local r = load(base, sid)
if not r or r[KIND] ~= LIVE then return { 'err', 'session_not_found' } end
if h ~= '' and not owns(r, h) then return { 'err', 'session_not_found' } end
if uid ~= '' and r[UID] ~= uid then return { 'err', 'session_not_found' } end
local now = now_ms()
if now >= login_end(r) then return { 'err', 'session_not_found' } end
drop(base, sid, r)
return { 'ok', r[UID], family_live(r, now) and 1 or 0 }
