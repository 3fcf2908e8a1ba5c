-- restore_user.lua: puts one user's index and records back, or reports what it would do.
--
-- KEYS[1]  the user's index (base.."u:"..uh)
-- ARGV     1 base, 2 force ('1' | '0'), 3 dry run ('1' | '0'), 4 the index's DUMP,
--          5 number of records n, then n × (session id, expiry ms (0 = none), DUMP)
-- Returns  {outcome, records restored, records expired} where outcome is 'restored',
--          'replaced' (force: the user's current keys were replaced), 'kept' (the user
--          has keys already and force is off: nothing changed) or 'expired' (every
--          record ended since the backup: nothing to restore)
-- Invariant: the user is restored whole or not at all. The existing data wins unless
-- force: a user whose index or any of whose records exists is kept. With force the
-- backup's state of the user replaces the current one (its current records go too).
-- Afterwards the index lists exactly the restored records, scored by their expiry, the
-- bucket's schedule holds the user at its earliest entry, and the bucket's live count
-- moved by the change in indexed logins; records past their expiry are skipped.

local idx = KEYS[1]
local base, force, dry, idx_dump = ARGV[1], ARGV[2] == '1', ARGV[3] == '1', ARGV[4]
local n = tonumber(ARGV[5])
local now = now_ms()

local exists = redis.call('EXISTS', idx) == 1
local live = {}
for i = 0, n - 1 do
  local sid, at, dump = ARGV[6 + 3 * i], tonumber(ARGV[7 + 3 * i]), ARGV[8 + 3 * i]
  if redis.call('EXISTS', base .. 's:' .. sid) == 1 then exists = true end
  if at == 0 or at > now then live[#live + 1] = { sid, at, dump } end
end
if exists and not force then return { 'kept', 0, 0 } end
if #live == 0 then return { 'expired', 0, n } end
local outcome = exists and 'replaced' or 'restored'
if dry then return { outcome, #live, n - #live } end

local before = 0
if redis.call('EXISTS', idx) == 1 then
  for _, sid in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
    redis.call('DEL', base .. 's:' .. sid)
  end
  before = redis.call('ZCARD', idx)
  redis.call('DEL', idx)
end
local kept = {}
for _, r in ipairs(live) do
  if r[2] == 0 then
    redis.call('RESTORE', base .. 's:' .. r[1], 0, r[3], 'REPLACE')
  else
    redis.call('RESTORE', base .. 's:' .. r[1], r[2], r[3], 'ABSTTL', 'REPLACE')
  end
  kept[r[1]] = true
end
redis.call('RESTORE', idx, 0, idx_dump)
-- The index lists exactly the restored records.
for _, sid in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
  if not kept[sid] then redis.call('ZREM', idx, sid) end
end
local after = redis.call('ZCARD', idx)
if after ~= before then redis.call('INCRBY', base .. 'n', after - before) end
if after > 0 then
  local r = load(base, live[1][1], UH)
  local first = redis.call('ZRANGE', idx, 0, 0, 'WITHSCORES')
  redis.call('ZADD', base .. 'due', 'LT', first[2], r[UH] .. ':' .. r[UID])
end
return { outcome, #live, n - #live }
