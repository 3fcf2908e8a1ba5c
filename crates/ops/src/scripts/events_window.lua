#!lua flags=no-writes
-- events_window.lua: counts lifecycle events by type over a recent window, one page.
--
-- KEYS[1]  the lifecycle event stream (<prefix>:events)
-- ARGV     1 upper bound of the page ('+' for the newest entry, or '(' .. id to go on
--          below an id already counted), 2 lower bound (an entry id; '' means the
--          window ending now), 3 window in ms (used when ARGV[2] is ''), 4 page size
-- Returns  {lower bound used, entries counted, last id counted or '', type, count, ...}
-- Invariant: read-only; at most `page size` entries per call, so a busy stream is read
-- in short steps; only the `type` field is looked at, user ids never leave Redis.

local stream = KEYS[1]
local upper, lower, window, page = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
if lower == '' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  lower = tostring(now - window) .. '-0'
end
local entries = redis.call('XREVRANGE', stream, upper, lower, 'COUNT', page)
local counts, last = {}, ''
for _, entry in ipairs(entries) do
  last = entry[1]
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'type' then
      counts[fields[i + 1]] = (counts[fields[i + 1]] or 0) + 1
      break
    end
  end
end
local out = { lower, #entries, last }
for kind, n in pairs(counts) do
  out[#out + 1] = kind
  out[#out + 1] = n
end
return out
