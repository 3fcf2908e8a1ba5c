-- recount.lua: recomputes one bucket's live count from its users' indexes.
--
-- KEYS[1]  the bucket's cleanup schedule (base.."due")
-- ARGV     1 base
-- Returns  {count before, count after, schedule entries removed}
-- Invariant: afterwards `n` equals the number of index entries of the bucket's users
-- (what create, cleanup and revocation keep it at), and the schedule lists only users
-- that still have an index. Atomic, so concurrent engine scripts on the bucket see
-- either the old or the new count, never a partial one.

local due = KEYS[1]
local base = ARGV[1]
local total, removed = 0, 0
for _, member in ipairs(redis.call('ZRANGE', due, 0, -1)) do
  local c = redis.call('ZCARD', index_key(base, string.sub(member, 1, 22)))
  if c == 0 then
    redis.call('ZREM', due, member)
    removed = removed + 1
  else
    total = total + c
  end
end
local before = tonumber(redis.call('GET', base .. 'n')) or 0
if total == 0 then
  redis.call('DEL', base .. 'n')
else
  redis.call('SET', base .. 'n', total)
end
return { before, total, removed }
