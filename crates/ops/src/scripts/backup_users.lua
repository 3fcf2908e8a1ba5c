#!lua flags=no-writes,allow-cross-slot-keys
-- backup_users.lua: users' indexes and every record each lists, each user read whole.
--
-- KEYS[1]  the first user's index (routes the call; every index is also in ARGV)
-- ARGV     1 number of users n, then n × (index key, its bucket's base)
-- Returns  one reply per user, in order: {} when the index is gone, else {now ms,
--          index DUMP, sid, record DUMP, record PTTL ms, sid, ...}; records that no
--          longer exist (their login ended before cleanup removed the entry) are left out
-- Invariant: a user's index and records are read at one instant (the whole call is),
-- so a backup never holds half of a create, a refresh or a cap eviction. Read-only
-- (runs on replicas too). On a Cluster node every key read is one of the node's own
-- (the caller batches keys SCAN returned from this node), in any of its slots.

local n = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for u = 0, n - 1 do
  local idx, base = ARGV[2 + 2 * u], ARGV[3 + 2 * u]
  local dump = redis.call('DUMP', idx)
  local user = {}
  if dump then
    user = { now, dump }
    for _, sid in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
      local key = base .. 's:' .. sid
      local record = redis.call('DUMP', key)
      if record then
        user[#user + 1] = sid
        user[#user + 1] = record
        user[#user + 1] = redis.call('PTTL', key)
      end
    end
  end
  out[#out + 1] = user
end
return out
