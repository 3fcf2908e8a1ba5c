-- create.lua: create device logins, one or more per call: the engine sends the creates
-- that arrive while earlier ones are on their way in one call (see batch.rs).
--
-- KEYS[i]  the i-th login's user index key (routing only; on Cluster a call carries one
--          login, whose keys all share this key's slot)
-- ARGV     12 per login, the i-th login's from ARGV[12 * (i - 1) + 1]: 1 base, 2 user
--          hash, 3 user id, 4 session id, 5 session token hash, 6 the record's fields
--          from META on, MessagePack-encoded by the engine (metadata, data, refresh token
--          hash, then the family's initial values; see record.rs), 7 idle ms, 8 absolute
--          ms, 9 family ttl ms, 10 family idle ms (0 = none), 11 cap (1..1000), 12 policy
--          ('evict_lru' | 'reject')
-- Returns  one reply per login, in order: what create_login returns (lib/logins.lua), or
--          {'fail', message} when Redis refused one of its commands (that login then
--          fails as a single create would; the logins after it are still created).

local now = now_ms()
local out = {}
for i = 1, #KEYS do
  local ok, reply = pcall(create_login, ARGV, 12 * (i - 1), now)
  if not ok then
    reply = { 'fail', type(reply) == 'table' and reply.err or tostring(reply) }
  end
  out[i] = reply
end
return out
