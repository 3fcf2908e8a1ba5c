-- restore_keys.lua: puts keys back on their own (deletion tokens, tombstones, schema,
-- event stream), or reports what it would do.
--
-- KEYS[1]  the first key (routes the call; the keys share a bucket, or there is one)
-- ARGV     1 force ('1' | '0'), 2 dry run ('1' | '0'), 3 number of keys n,
--          then n × (key, expiry ms (0 = none), DUMP)
-- Returns  one outcome per key, in order: 'restored', 'replaced' (force, the key
--          existed), 'kept' (the key exists and force is off: unchanged) or 'expired'
--          (its expiry has passed: not restored)
-- Invariant: an existing key wins unless force; nothing past its expiry comes back.

local force, dry, n = ARGV[1] == '1', ARGV[2] == '1', tonumber(ARGV[3])
local now = now_ms()
local out = {}
for i = 0, n - 1 do
  local key, at, dump = ARGV[4 + 3 * i], tonumber(ARGV[5 + 3 * i]), ARGV[6 + 3 * i]
  local outcome
  if at ~= 0 and at <= now then
    outcome = 'expired'
  else
    local exists = redis.call('EXISTS', key) == 1
    if exists and not force then
      outcome = 'kept'
    else
      outcome = exists and 'replaced' or 'restored'
      if not dry then
        if at == 0 then
          redis.call('RESTORE', key, 0, dump, 'REPLACE')
        else
          redis.call('RESTORE', key, at, dump, 'ABSTTL', 'REPLACE')
        end
      end
    end
  end
  out[#out + 1] = outcome
end
return out
