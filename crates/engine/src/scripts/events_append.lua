-- events_append.lua: appends a batch of lifecycle events to the stream.
--
-- KEYS[1]  the stream (<prefix>:events)
-- ARGV     1 approximate length cap (XADD MAXLEN ~), then four values per event: type,
--          user id, session id, reason
-- Returns  how many of the appends Redis refused
-- One call for the whole batch instead of one XADD command per event: the writer
-- (events.rs) sends what queued up while the previous batch was appended. Each entry's
-- id is Redis's time of its own XADD, as with separate commands.

local stream, cap = KEYS[1], ARGV[1]
local failed = 0
for i = 2, #ARGV, 4 do
  local reply = redis.pcall('XADD', stream, 'MAXLEN', '~', cap, '*', 'type', ARGV[i],
    'user_id', ARGV[i + 1], 'session_id', ARGV[i + 2], 'reason', ARGV[i + 3])
  if type(reply) == 'table' and reply.err then failed = failed + 1 end
end
return failed
