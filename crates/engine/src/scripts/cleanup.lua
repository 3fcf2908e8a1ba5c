-- cleanup.lua: one bounded cleanup step for one bucket.
--
-- KEYS[1]  the bucket's cleanup schedule (base.."due")
-- ARGV     1 base, 2 batch size (users per call)
-- Returns  {removed index entries, users processed, more due (1 | 0), indexed logins in
--           the bucket, user id, session id, user id, session id, ...}
-- Invariant: work is proportional to what became due: only users whose earliest index
-- entry has ended are visited, and only their ended entries are touched; no record is
-- read (an entry's score is its login's end). Records and deletion tokens expire through
-- their own Redis TTLs; this removes what Redis cannot: index entries of ended logins.

local due = KEYS[1]
local base, batch = ARGV[1], tonumber(ARGV[2])
local now = now_ms()
local users = redis.call('ZRANGE', due, '-inf', now, 'BYSCORE', 'LIMIT', 0, batch)
local removed, events = 0, {}
for _, member in ipairs(users) do
  local uh = string.sub(member, 1, 22)
  local uid = string.sub(member, 24)
  for _, sid in ipairs(prune(base, uh, now)) do
    removed = removed + 1
    events[#events + 1] = uid
    events[#events + 1] = sid
  end
  local first = redis.call('ZRANGE', index_key(base, uh), 0, 0, 'WITHSCORES')
  if #first == 0 then
    redis.call('ZREM', due, member)
  else
    redis.call('ZADD', due, 'XX', first[2], member)
  end
end
local more = 0
if #users == batch then more = 1 end
local live = tonumber(redis.call('GET', base .. 'n')) or 0
return append_all({ removed, #users, more, live }, events)
