-- create.lua: create a session and start its refresh-token family.
--
-- KEYS[1]  the user's index key (routing only; same slot as every key below)
-- ARGV     1 base, 2 user hash, 3 user id, 4 session id, 5 session token hash, 6 data,
--          7 metadata, 8 idle ms, 9 absolute ms, 10 cap (0 = unlimited),
--          11 policy ('evict' | 'reject'), 12 family id, 13 refresh token hash,
--          14 family ttl ms, 15 family idle ms (0 = none)
-- Returns  {'ok', now, idle expiry, absolute expiry, family expiry, evicted sid...}
--          | {'err', 'session_limit_reached'}
-- Invariant: counting, evicting and inserting happen in one script, so no interleaving
-- of concurrent creates (from any number of API instances) leaves a user above the cap.

local base, uh, uid, sid, th = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local data, meta = ARGV[6], ARGV[7]
local idle, abs = tonumber(ARGV[8]), tonumber(ARGV[9])
local cap, policy = tonumber(ARGV[10]), ARGV[11]
local fid, rh, fttl, fidle = ARGV[12], ARGV[13], tonumber(ARGV[14]), tonumber(ARGV[15])

local now = now_ms()
local evicted = make_room(base, uh, now, cap, policy, nil)
if evicted == false then return { 'err', 'session_limit_reached' } end

local a = now + abs
local e = math.min(now + idle, a)
put_session(base, { sid = sid, uid = uid, uh = uh, data = data, meta = meta, now = now,
  e = e, a = a, idle = idle, th = th, fid = fid })

local fexp = now + fttl
local fk = family_key(base, fid)
redis.call('HSET', fk, 'st', 'a', 'u', uid, 'h', uh, 's', sid, 'cur', rh, 'prev', '',
  'n', '', 'r', 0, 'g', 1, 'x', fexp, 'i', fidle, 'lu', now, 'si', idle, 'd', data, 'm', meta)
redis.call('PEXPIREAT', fk, fexp)
local uf = families_key(base, uh)
redis.call('ZREMRANGEBYSCORE', uf, '-inf', now)
redis.call('ZADD', uf, fexp, fid)
extend_expiry(uf, fexp)

return append_all({ 'ok', now, e, a, fexp }, evicted)
