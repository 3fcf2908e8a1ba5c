-- rotate.lua: give a session a new token (session-fixation defence).
--
-- KEYS[1]  the session key
-- ARGV     1 base, 2 current token hash, 3 new token hash
-- Returns  {'ok', idle expiry, absolute expiry, user id} | {'err', 'session_not_found'}
-- Invariant: the old token stops working in the same atomic step that enables the new.

local sk = KEYS[1]
local th, new_th = ARGV[2], ARGV[3]
local s = redis.call('HMGET', sk, 'th', 'e', 'a', 'u')
if not s[1] or s[1] ~= th then return { 'err', 'session_not_found' } end
if now_ms() >= tonumber(s[2]) then return { 'err', 'session_not_found' } end
redis.call('HSET', sk, 'th', new_th)
return { 'ok', tonumber(s[2]), tonumber(s[3]), s[4] }
