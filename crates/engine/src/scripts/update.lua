-- update.lua: replace a session's data, optionally only at an expected version.
--
-- KEYS[1]  the record key
-- ARGV     1 base, 2 session id, 3 session token hash, 4 new data, 5 expected version
--          ('' = any)
-- Returns  {'ok', version, last seen, idle expiry, absolute expiry}
--          | {'err', 'session_not_found'} | {'err', 'version_conflict', current version}
-- Invariants: a version mismatch changes nothing; an update never resurrects a session
-- that expired or was revoked. The data lives in the login's one record, so a later
-- refresh always carries it (a refresh never rolls data back).

local base, sid, th, data, expected = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local r = load(base, sid)
if not r or r[TH] ~= th then return { 'err', 'session_not_found' } end
local now = now_ms()
if not session_live(r, now) then return { 'err', 'session_not_found' } end
if expected ~= '' and tonumber(expected) ~= r[VERSION] then
  return { 'err', 'version_conflict', r[VERSION] }
end
r[DATA] = data
r[VERSION] = r[VERSION] + 1
r[SEEN] = now
r[IDLE_EXP] = math.min(now + r[IDLE_MS], r[ABS_EXP])
save(base, sid, r)
return { 'ok', r[VERSION], now, r[IDLE_EXP], r[ABS_EXP] }
