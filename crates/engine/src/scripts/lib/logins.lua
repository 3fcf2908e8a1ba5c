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

-- Creates one device login (a session and its refresh-token family) at `now`, from the
-- 12 arguments after `ARGV[o]` (see create.lua), making room under the cap first.
-- Returns {'ok', now, idle expiry, absolute expiry, family expiry, n, ended sid × n,
-- evicted sid...} | {'err', 'session_limit_reached', n, ended sid × n}.
-- Invariant: counting, evicting and inserting happen in one script, so no interleaving
-- of concurrent creates (from any number of API instances) leaves a user with more live
-- device logins than the cap. Logins whose session idled out but whose family can still
-- refresh count too.
local function create_login(ARGV, o, now)
  local base, uh, uid, sid, th, tail = ARGV[o + 1], ARGV[o + 2], ARGV[o + 3], ARGV[o + 4],
    ARGV[o + 5], ARGV[o + 6]
  local idle, abs, fttl, fidle = tonumber(ARGV[o + 7]), tonumber(ARGV[o + 8]),
    tonumber(ARGV[o + 9]), tonumber(ARGV[o + 10])
  local cap, policy = tonumber(ARGV[o + 11]), ARGV[o + 12]

  local ended, evicted, earliest = make_room(base, uh, now, cap, policy)
  if evicted == false then
    if #ended > 0 then redis.call('DECRBY', base .. 'n', #ended) end
    return append_all({ 'err', 'session_limit_reached', #ended }, ended)
  end

  local x = now + fttl
  local a = math.min(now + abs, x)
  local e = math.min(now + idle, a)
  -- The fields up to FAM_USED in field order (see lib/record.lua), from Redis's clock;
  -- the engine encoded the rest, so the data is not re-encoded here.
  local head = {
    LIVE, th, uid, uh, -- KIND, TH, UID, UH
    now, now, e, a, idle, 1, -- CREATED, SEEN, IDLE_EXP, ABS_EXP, IDLE_MS, VERSION
    x, fidle, now, -- FAM_EXP, FAM_IDLE, FAM_USED
  }
  save(base, sid, head, #ended, earliest, cmsgpack.pack(unpack(head, 1, FAM_USED)) .. tail)

  local out = append_all({ 'ok', now, e, a, x, #ended }, ended)
  return append_all(out, evicted)
end
