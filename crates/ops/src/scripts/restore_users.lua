-- restore_users.lua: puts users' indexes and records back (or reports what it would
-- do), for users of one bucket.
--
-- KEYS[1]  the first user's index (routes the call; every key is in the same bucket)
-- ARGV     1 base, 2 force ('1' | '0'), 3 dry run ('1' | '0'), 4 number of users m,
--          then m × (index key, index DUMP, number of records n,
--                    n × (session id, expiry ms (0 = none), record DUMP))
-- Returns  one {outcome, records restored, records expired} per user, in order, where
--          outcome is 'restored', 'replaced' (force: the user's current keys were
--          replaced), 'kept' (the user has keys already and force is off: nothing
--          changed) or 'expired' (every record ended since the backup: nothing restored)
-- Invariant: each user is restored whole or not at all. The existing data wins unless
-- force: a user whose index or any of whose records exists is kept. With force the
-- backup's state of the user replaces the current one (its current records go too).
-- Afterwards the index lists exactly the restored records, scored by their expiry, the
-- bucket's schedule holds the user at its earliest entry, and the bucket's live count
-- moved by the change in indexed logins; records past their expiry are skipped.

local base, force, dry, m = ARGV[1], ARGV[2] == '1', ARGV[3] == '1', tonumber(ARGV[4])
local now = now_ms()
local at_arg = 5

local function restore_user(idx, idx_dump, records)
  local exists = redis.call('EXISTS', idx) == 1
  local live = {}
  for _, r in ipairs(records) do
    if redis.call('EXISTS', base .. 's:' .. r[1]) == 1 then exists = true end
    if r[2] == 0 or r[2] > now then live[#live + 1] = r end
  end
  if exists and not force then return { 'kept', 0, 0 } end
  if #live == 0 then return { 'expired', 0, #records } end
  local outcome = exists and 'replaced' or 'restored'
  if dry then return { outcome, #live, #records - #live } end

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
  return { outcome, #live, #records - #live }
end

local out = {}
for u = 1, m do
  local idx, idx_dump, n = ARGV[at_arg], ARGV[at_arg + 1], tonumber(ARGV[at_arg + 2])
  at_arg = at_arg + 3
  local records = {}
  for i = 1, n do
    records[i] = { ARGV[at_arg], tonumber(ARGV[at_arg + 1]), ARGV[at_arg + 2] }
    at_arg = at_arg + 3
  end
  out[u] = restore_user(idx, idx_dump, records)
end
return out
