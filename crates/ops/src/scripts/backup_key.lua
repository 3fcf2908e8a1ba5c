#!lua flags=no-writes
-- backup_key.lua: one key on its own (deletion token, tombstone, schedule, counter,
-- schema, event stream), its value and TTL read at one instant.
--
-- KEYS[1]  the key
-- ARGV     1 '1' when the key is a device login record, else '0'
-- Returns  {} when the key is gone, {'live'} for a live login record (those are only
--          exported with their user's index), else {now ms, DUMP, PTTL ms}
-- Invariant: read-only; a live record never leaves without its index, so every
-- exported login is listed by the index exported with it.

local key = KEYS[1]
if ARGV[1] == '1' then
  local value = redis.call('GET', key)
  if not value then return {} end
  local _, kind = cmsgpack.unpack_limit(value, 1)
  if kind == 'L' then return { 'live' } end
end
local dump = redis.call('DUMP', key)
if not dump then return {} end
local t = redis.call('TIME')
return { tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), dump, redis.call('PTTL', key) }
