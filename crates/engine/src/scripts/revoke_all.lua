-- revoke_all.lua: revoke all of a user's sessions and refresh families, optionally
-- all but one session (and that session's family).
--
-- KEYS[1]  the user's index key
-- ARGV     1 base, 2 user hash, 3 session id to keep ('' = none)
-- Returns  {'ok', families revoked, revoked session id...}
-- Invariant: after it returns, no session or family of the user is usable except the
-- one kept.

local base, uh, keep = ARGV[1], ARGV[2], ARGV[3]
local now = now_ms()
if keep ~= '' and redis.call('HGET', session_key(base, keep), 'h') ~= uh then
  return { 'err', 'session_not_found' }
end
local revoked, families = revoke_user(base, uh, keep, 'r', now)
return append_all({ 'ok', families }, revoked)
