-- create.lua: create a device login: a session and its refresh-token family.
--
-- KEYS[1]  the user's index key (routing only; same slot as every key below)
-- ARGV     1 base, 2 user hash, 3 user id, 4 session id, 5 session token hash,
--          6 refresh token hash, 7 data, 8 metadata, 9 idle ms, 10 absolute ms,
--          11 family ttl ms, 12 family idle ms (0 = none), 13 cap (1..1000),
--          14 policy ('evict_lru' | 'reject')
-- Returns  {'ok', now, idle expiry, absolute expiry, family expiry, n, ended sid × n,
--           evicted sid...}
--          | {'err', 'session_limit_reached', n, ended sid × n}
-- Invariant: counting, evicting and inserting happen in one script, so no interleaving
-- of concurrent creates (from any number of API instances) leaves a user with more live
-- device logins than the cap. Logins whose session idled out but whose family can still
-- refresh count too.

local base, uh, uid, sid, th, rh = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local data, meta = ARGV[7], ARGV[8]
local idle, abs, fttl, fidle = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11]),
  tonumber(ARGV[12])
local cap, policy = tonumber(ARGV[13]), ARGV[14]

local now = now_ms()
local ended, evicted, earliest = make_room(base, uh, now, cap, policy)
if evicted == false then
  if #ended > 0 then redis.call('DECRBY', base .. 'n', #ended) end
  return append_all({ 'err', 'session_limit_reached', #ended }, ended)
end

local x = now + fttl
local a = math.min(now + abs, x)
local e = math.min(now + idle, a)
-- One constructor in field order (see lib/record.lua) builds the table at its final size.
local r = {
  LIVE, th, uid, uh, -- KIND, TH, UID, UH
  now, now, e, a, idle, 1, -- CREATED, SEEN, IDLE_EXP, ABS_EXP, IDLE_MS, VERSION
  x, fidle, now, -- FAM_EXP, FAM_IDLE, FAM_USED
  meta, data, -- META, DATA
  rh, '', '', 0, 1, '', -- CUR, PREV, NONCE, ROTATED, GEN, RETIRED
}
save(base, sid, r, #ended, earliest)

local out = append_all({ 'ok', now, e, a, x, #ended }, ended)
return append_all(out, evicted)
