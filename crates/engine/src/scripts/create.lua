-- create.lua: create a device login: a session and its refresh-token family.
--
-- KEYS[1]  the user's index key (routing only; same slot as every key below)
-- ARGV     1 base, 2 user hash, 3 user id, 4 session id, 5 session token hash,
--          6 the record's fields from META on, MessagePack-encoded by the engine
--          (metadata, data, refresh token hash, then the family's initial values; see
--          record.rs), 7 idle ms, 8 absolute ms, 9 family ttl ms, 10 family idle ms
--          (0 = none), 11 cap (1..1000), 12 policy ('evict_lru' | 'reject')
-- Returns  {'ok', now, idle expiry, absolute expiry, family expiry, n, ended sid × n,
--           evicted sid...}
--          | {'err', 'session_limit_reached', n, ended sid × n}
-- Invariant: counting, evicting and inserting happen in one script, so no interleaving
-- of concurrent creates (from any number of API instances) leaves a user with more live
-- device logins than the cap. Logins whose session idled out but whose family can still
-- refresh count too.

local base, uh, uid, sid, th, tail = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local idle, abs, fttl, fidle = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]),
  tonumber(ARGV[10])
local cap, policy = tonumber(ARGV[11]), ARGV[12]

local now = now_ms()
local ended, evicted, earliest = make_room(base, uh, now, cap, policy)
if evicted == false then
  if #ended > 0 then redis.call('DECRBY', base .. 'n', #ended) end
  return append_all({ 'err', 'session_limit_reached', #ended }, ended)
end

local x = now + fttl
local a = math.min(now + abs, x)
local e = math.min(now + idle, a)
-- The fields up to FAM_USED in field order (see lib/record.lua), from Redis's clock; the
-- engine encoded the rest, so the data is not re-encoded here.
local head = {
  LIVE, th, uid, uh, -- KIND, TH, UID, UH
  now, now, e, a, idle, 1, -- CREATED, SEEN, IDLE_EXP, ABS_EXP, IDLE_MS, VERSION
  x, fidle, now, -- FAM_EXP, FAM_IDLE, FAM_USED
}
save(base, sid, head, #ended, earliest, cmsgpack.pack(unpack(head, 1, FAM_USED)) .. tail)

local out = append_all({ 'ok', now, e, a, x, #ended }, ended)
return append_all(out, evicted)
