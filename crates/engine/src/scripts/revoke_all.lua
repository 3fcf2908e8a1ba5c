-- revoke_all.lua: end all of a user's device logins, optionally all but one.
--
-- KEYS[1]  the user's index key
-- ARGV     1 base, 2 user hash, 3 session id to keep ('' = none), 4 user id
-- Returns  {'ok', families revoked, n, ended sid × n, revoked sid...}
--          | {'err', 'session_not_found'} (the login to keep is not a live login of
--          the user)
-- Invariant: after it returns, no session or refresh family of the user is usable
-- except the kept login. Bounded: a user has at most `cap` live logins.

local base, uh, keep, uid = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now = now_ms()
if keep ~= '' then
  local r = load(base, keep, FAM_USED)
  if not r or r[KIND] ~= LIVE or r[UID] ~= uid or now >= login_end(r) then
    return { 'err', 'session_not_found' }
  end
end
local ended, revoked, families = revoke_user(base, uh, keep, now)
local out = append_all({ 'ok', families, #ended }, ended)
return append_all(out, revoked)
