-- touch.lua: slide a session's idle expiry, at most once per touch interval.
--
-- KEYS[1]  the record key
-- ARGV     1 base, 2 session id, 3 session token hash, 4 touch interval ms
-- Returns  {record, now} | false when no live session matches
-- Invariants: a touch never extends a session past its absolute expiry and never brings
-- back an expired or revoked session.

local base, sid, th, interval = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local r = load(base, sid)
if not r or r[TH] ~= th then return false end
local now = now_ms()
if not session_live(r, now) then return false end
if now - r[SEEN] < interval then
  return { redis.call('GET', KEYS[1]), now }
end
r[SEEN] = now
r[IDLE_EXP] = math.min(now + r[IDLE_MS], r[ABS_EXP])
return { save(base, sid, r), now }
