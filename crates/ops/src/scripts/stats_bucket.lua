#!lua flags=no-writes
-- stats_bucket.lua: live device logins per user, for one page of one bucket's users.
--
-- KEYS[1]  the bucket's cleanup schedule (base.."due"): one member "<uh>:<user id>" per
--          user with indexed logins
-- ARGV     1 base, 2 first rank of the page, 3 page size, 4 most top users to return
-- Returns  {users in the schedule, {sessions, users, sessions, users, ...},
--           {member, sessions, member, sessions, ...}} where the second list is the
--          page's histogram and the third its users with the most live logins
-- Invariant: read-only and bounded: one ZCOUNT per user of the page, never a record.
-- A login counts while its index score (its end) is in the future, as everywhere else.

local due = KEYS[1]
local base, first, size, top_n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local total = redis.call('ZCARD', due)
local members = redis.call('ZRANGE', due, first, first + size - 1)
local hist, top = {}, {}
for _, member in ipairs(members) do
  local uh = string.sub(member, 1, 22)
  local n = redis.call('ZCOUNT', base .. 'u:' .. uh, '(' .. now, '+inf')
  if n > 0 then
    hist[n] = (hist[n] or 0) + 1
    if top_n > 0 and (#top < top_n or n > top[#top][2]) then
      local at = #top + 1
      while at > 1 and top[at - 1][2] < n do at = at - 1 end
      table.insert(top, at, { member, n })
      if #top > top_n then table.remove(top) end
    end
  end
end
local flat_hist, flat_top = {}, {}
for n, users in pairs(hist) do
  flat_hist[#flat_hist + 1] = n
  flat_hist[#flat_hist + 1] = users
end
for _, entry in ipairs(top) do
  flat_top[#flat_top + 1] = entry[1]
  flat_top[#flat_top + 1] = entry[2]
end
return { total, flat_hist, flat_top }
