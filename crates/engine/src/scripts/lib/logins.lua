-- lib/logins.lua: a user's device logins: index upkeep, the cap, revocation.

-- Removes a login from its user's index, keeping the bucket count in step.
local function unindex(base, uh, sid)
  if redis.call('ZREM', index_key(base, uh), sid) == 1 then
    redis.call('DECR', base .. 'n')
  end
end

-- Ends a live login: its session and its refresh family go together.
local function drop(base, sid, r)
  redis.call('DEL', record_key(base, sid))
  unindex(base, r[UH], sid)
end

-- Removes the index entries of logins that ended (their records expired with them) and
-- returns their ids, so each yields its 'expired' event wherever it is noticed.
local function prune(base, uh, now)
  local idx = index_key(base, uh)
  local ended = redis.call('ZRANGE', idx, '-inf', now, 'BYSCORE')
  if #ended > 0 then
    redis.call('ZREMRANGEBYSCORE', idx, '-inf', now)
    redis.call('DECRBY', base .. 'n', #ended)
  end
  return ended
end

-- Makes room for one more login under the cap. One read of the whole index finds both
-- the ended entries and the live count: an index never holds more than the cap (1..1000)
-- entries, since every create prunes it and makes room first, so every loop here is
-- bounded. Removes the ended entries from the index but leaves the bucket count to the
-- caller (create settles it in `save`).
-- Returns the ended ids, the evicted ids (or false when the user is at the cap and the
-- policy is 'reject': then nothing live changed) and the lowest index score read (nil
-- for an empty index), for `save`.
local function make_room(base, uh, now, cap, policy)
  local idx = index_key(base, uh)
  local all = redis.call('ZRANGE', idx, '0', '-1', 'WITHSCORES')
  if #all == 0 then return {}, {}, nil end
  local earliest = tonumber(all[2])
  local ended, live = {}, {}
  for i = 1, #all, 2 do
    if tonumber(all[i + 1]) <= now then
      ended[#ended + 1] = all[i]
    else
      live[#live + 1] = all[i]
    end
  end
  if #ended > 0 then redis.call('ZREMRANGEBYSCORE', idx, '-inf', now) end
  local count = #live
  if count < cap then return ended, {}, earliest end
  if policy ~= 'evict_lru' then return ended, false, earliest end
  local seen = {}
  for i, lsid in ipairs(live) do
    local r = load(base, lsid, SEEN)
    seen[i] = { sid = lsid, l = r and r[SEEN] or 0 }
  end
  table.sort(seen, function(x, y) return x.l < y.l end)
  local evicted = {}
  for i = 1, count - cap + 1 do
    redis.call('DEL', record_key(base, seen[i].sid))
    unindex(base, uh, seen[i].sid)
    evicted[i] = seen[i].sid
  end
  return ended, evicted, earliest
end

-- Ends every live login of the user except `keep`. Returns the ended ids (expired
-- before), the revoked ids, and how many of those still had a usable refresh family.
local function revoke_user(base, uh, keep, now)
  local ended = prune(base, uh, now)
  local revoked, families = {}, 0
  for _, sid in ipairs(redis.call('ZRANGE', index_key(base, uh), 0, -1)) do
    if sid ~= keep then
      local r = load(base, sid, FAM_USED)
      redis.call('DEL', record_key(base, sid))
      unindex(base, uh, sid)
      revoked[#revoked + 1] = sid
      if r and family_live(r, now) then families = families + 1 end
    end
  end
  return ended, revoked, families
end
