#!lua flags=no-writes,allow-cross-slot-keys
-- backup_keys.lua: keys read on their own (deletion tokens, tombstones, schedules,
-- counters, schema, event stream), each value read with its TTL.
--
-- KEYS[1]  the first key (routes the call; every key is also in ARGV)
-- ARGV     1 number of keys n, then n × (key, '1' when it is a device login record
--          else '0')
-- Returns  one reply per key, in order: {} when the key is gone, {'live'} for a live
--          login record (those are only exported with their user's index), else
--          {now ms, DUMP, PTTL ms}
-- Invariant: read-only; a live record never leaves without its index, so every
-- exported login is listed by the index exported with it. On a Cluster node every key
-- read is one of the node's own.

local n = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i = 0, n - 1 do
  local key, record = ARGV[2 + 2 * i], ARGV[3 + 2 * i] == '1'
  local reply = {}
  local live = false
  if record then
    local value = redis.call('GET', key)
    if value then
      local _, kind = cmsgpack.unpack_limit(value, 1)
      live = kind == 'L'
    end
  end
  if live then
    reply = { 'live' }
  else
    local dump = redis.call('DUMP', key)
    if dump then reply = { now, dump, redis.call('PTTL', key) } end
  end
  out[#out + 1] = reply
end
return out
