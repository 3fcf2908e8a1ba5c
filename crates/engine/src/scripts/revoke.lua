-- revoke.lua: revoke one session and its refresh-token family.
--
-- KEYS[1]  the session key
-- ARGV     1 base, 2 token hash ('' = revoke by id), 3 user hash ('' = by token)
-- Returns  {'ok', user id} | {'err', 'session_not_found'}
-- Invariant: the session and its family die together, so a refresh token can never
-- bring back a revoked session.

local sk = KEYS[1]
local base, th, uh = ARGV[1], ARGV[2], ARGV[3]
local s = redis.call('HMGET', sk, 'th', 'h', 'u', 'e')
if not s[1] then return { 'err', 'session_not_found' } end
if th ~= '' and s[1] ~= th then return { 'err', 'session_not_found' } end
if uh ~= '' and s[2] ~= uh then return { 'err', 'session_not_found' } end
local now = now_ms()
local live = drop_session(base, s[2], string.sub(sk, #base + 3), 'r', now)
if live == 0 then return { 'err', 'session_not_found' } end
return { 'ok', s[3] }
