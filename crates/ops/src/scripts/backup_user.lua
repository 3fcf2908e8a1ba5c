#!lua flags=no-writes
-- backup_user.lua: one user's index and every record it lists, in one atomic read.
--
-- KEYS[1]  the user's index (base.."u:"..uh)
-- ARGV     1 base
-- Returns  {} when the index is gone, else {now ms, index DUMP, sid, record DUMP, record
--          PTTL ms, sid, record DUMP, record PTTL ms, ...}; records that no longer exist
--          (their login ended before cleanup removed the entry) are left out
-- Invariant: the index and its records are read at one instant, so a backup never
-- holds half of a create, a refresh or a cap eviction of this user. Read-only (runs on
-- replicas too); every key is in the index's bucket, hence in its Cluster slot.

local idx = KEYS[1]
local base = ARGV[1]
local dump = redis.call('DUMP', idx)
if not dump then return {} end
local t = redis.call('TIME')
local out = { tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), dump }
for _, sid in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
  local key = base .. 's:' .. sid
  local record = redis.call('DUMP', key)
  if record then
    out[#out + 1] = sid
    out[#out + 1] = record
    out[#out + 1] = redis.call('PTTL', key)
  end
end
return out
