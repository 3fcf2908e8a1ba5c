-- cleanup.lua: one bounded cleanup step for one bucket.
--
-- KEYS[1]  the bucket's cleanup schedule (base.."due")
-- ARGV     1 base, 2 budget (most index entries removed by this call)
-- Returns  {removed index entries, users visited, more due (1 | 0), indexed logins in
--           the bucket, user id, session id, user id, session id, ...}
-- Invariants: work is proportional to what became due: only users whose earliest index
-- entry has ended are visited, and only their ended entries are touched; no record is
-- read (an entry's score is its login's end). One call removes at most `budget` entries,
-- so it stays short however large the backlog; the caller calls again while `more`.
-- Records and deletion tokens expire through their own Redis TTLs; this removes what
-- Redis cannot: index entries of ended logins.

local due = KEYS[1]
local base, budget = ARGV[1], tonumber(ARGV[2])
local now = now_ms()
local users = redis.call('ZRANGE', due, '-inf', now, 'BYSCORE', 'LIMIT', 0, budget)
local removed, visited, events, more = 0, 0, {}, 0
for _, member in ipairs(users) do
  if removed >= budget then
    more = 1
    break
  end
  visited = visited + 1
  local uh = string.sub(member, 1, 22)
  local uid = string.sub(member, 24)
  local idx = index_key(base, uh)
  local left = budget - removed
  local ended = redis.call('ZRANGE', idx, '-inf', now, 'BYSCORE', 'LIMIT', 0, left)
  if #ended > 0 then
    redis.call('ZREM', idx, unpack(ended))
    redis.call('DECRBY', base .. 'n', #ended)
    for _, sid in ipairs(ended) do
      events[#events + 1] = uid
      events[#events + 1] = sid
    end
    removed = removed + #ended
  end
  if #ended == left then
    -- The budget ran out inside this user: the rest is left for the next call.
    more = 1
    break
  end
  local first = redis.call('ZRANGE', idx, 0, 0, 'WITHSCORES')
  if #first == 0 then
    redis.call('ZREM', due, member)
  else
    redis.call('ZADD', due, 'XX', first[2], member)
  end
end
if #users == budget then more = 1 end
local live = tonumber(redis.call('GET', base .. 'n')) or 0
return append_all({ removed, visited, more, live }, events)
