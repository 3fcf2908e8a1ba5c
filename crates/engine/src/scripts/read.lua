-- read.lua: a device login's record and Redis's clock, for a session read. Read-only.
--
-- KEYS[1]  the record key
-- Returns  {record, now} | false when there is no record
-- The engine checks kind, token hash (constant-time) and idle expiry against `now`:
-- the record outlives its session while the refresh family lives, so a read must compare
-- with the store's clock, which this returns in the same round trip.

local v = redis.call('GET', KEYS[1])
if not v then return false end
return { v, now_ms() }
