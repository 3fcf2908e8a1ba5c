-- restore_key.lua: puts one key back (deletion token, tombstone, schema, event stream),
-- or reports what it would do.
--
-- KEYS[1]  the key
-- ARGV     1 force ('1' | '0'), 2 dry run ('1' | '0'), 3 expiry ms (0 = none), 4 DUMP
-- Returns  'restored', 'replaced' (force, the key existed), 'kept' (the key exists and
--          force is off: unchanged) or 'expired' (its expiry has passed: not restored)
-- Invariant: an existing key wins unless force; nothing past its expiry comes back.

local key = KEYS[1]
local force, dry, at, dump = ARGV[1] == '1', ARGV[2] == '1', tonumber(ARGV[3]), ARGV[4]
if at ~= 0 and at <= now_ms() then return 'expired' end
local exists = redis.call('EXISTS', key) == 1
if exists and not force then return 'kept' end
local outcome = exists and 'replaced' or 'restored'
if dry then return outcome end
if at == 0 then
  redis.call('RESTORE', key, 0, dump, 'REPLACE')
else
  redis.call('RESTORE', key, at, dump, 'ABSTTL', 'REPLACE')
end
return outcome
