-- list.lua: one page of the user's live sessions (metadata only, never token hashes).
-- Read-only.
--
-- KEYS[1]  the user's index key
-- ARGV     1 base, 2 offset into the live index entries, 3 page size
-- Returns  {next offset (-1 = last page), sid, metadata, created, last seen,
--           idle expiry, absolute expiry, version, ...} (7 values per session)
-- Invariant: exact whatever cleanup has done: index entries count only while their
-- login is live (score > now), and a login shows only while its session is.

local base, offset, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
local ids = redis.call('ZRANGE', KEYS[1], '(' .. now, '+inf', 'BYSCORE', 'LIMIT', offset,
  limit)
local next_offset = -1
if #ids == limit then next_offset = offset + limit end
local out = { next_offset }
for _, sid in ipairs(ids) do
  local r = load(base, sid, META)
  if r and session_live(r, now) then
    append_all(out, { sid, r[META], r[CREATED], r[SEEN], r[IDLE_EXP], r[ABS_EXP],
      r[VERSION] })
  end
end
return out
