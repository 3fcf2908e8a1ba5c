-- lease_release.lua: release the cleanup lease only if this holder still owns it.
--
-- KEYS[1]  the lease key
-- ARGV     1 the holder's random lease value
-- Returns  1 when released, 0 when the lease had passed to someone else
-- Invariant: a holder whose lease expired never deletes the next holder's lease.

if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
