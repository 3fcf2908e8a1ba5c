-- lib/record.lua: the device-login record. Shared by every script (defined once at the
-- top of the scripts' Functions library, see scripts.rs), so one script call stays one
-- atomic unit. A session read decodes the same record without a script
-- (crates/engine/src/record.rs).
--
-- Key schema (every key of one bucket shares the hash tag in `base` = "<prefix>:{<tag>}:"):
--   base.."s:"..sid   STRING  device login (session + refresh family), a MessagePack
--                             stream of the fields below; expires when the login ends
--   base.."u:"..uh    ZSET    the user's device logins: sid -> when the login ends (ms),
--                             always equal to the record's expiry
--   base.."d:"..did   STRING  deletion token (see deletion_issue.lua)
--   base.."due"       ZSET    cleanup schedule: "<uh>:<user id>" -> earliest index score
--   base.."n"         STRING  indexed device logins in the bucket (active-sessions gauge)
--
-- Time: every script reads the clock with now_ms (lib/clock.lua).

-- Field order of a record. crates/engine/src/record.rs decodes the same order; the
-- fields a session read needs come first, the family's last, so readers stop early.
local KIND, TH, UID, UH, CREATED, SEEN, IDLE_EXP, ABS_EXP, IDLE_MS, VERSION, FAM_EXP,
  FAM_IDLE, FAM_USED, META, DATA, CUR, PREV, NONCE, ROTATED, GEN, RETIRED =
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21
local FIELDS = 21
-- KIND: a live login, or the tombstone of a family revoked by reuse detection (kept so
-- that its tokens keep answering reuse_detected until the family's original expiry).
local LIVE, TOMBSTONE = 'L', 'X'
-- Token hashes are 16 bytes (truncated SHA-256 of the token); RETIRED concatenates them.
local HASH_LEN = 16

local function record_key(base, sid) return base .. 's:' .. sid end
local function index_key(base, uh) return base .. 'u:' .. uh end

-- Loads a record, or nil. With `upto`, decodes only the first `upto` fields.
local function load(base, sid, upto)
  local v = redis.call('GET', record_key(base, sid))
  if not v then return nil end
  if upto then
    local r = { cmsgpack.unpack_limit(v, upto) }
    table.remove(r, 1) -- the offset of the next field
    return r
  end
  return { cmsgpack.unpack(v) }
end

local function session_live(r, now)
  return r[KIND] == LIVE and now < r[IDLE_EXP]
end

local function family_live(r, now)
  return r[KIND] == LIVE and now < r[FAM_EXP]
    and (r[FAM_IDLE] == 0 or now - r[FAM_USED] < r[FAM_IDLE])
end

-- When the device login ends: its session is idle-expired and its family can no longer
-- refresh. This is the one liveness rule: a login is live while now < login_end.
local function login_end(r)
  local fam = r[FAM_EXP]
  if r[FAM_IDLE] > 0 then fam = math.min(fam, r[FAM_USED] + r[FAM_IDLE]) end
  return math.max(r[IDLE_EXP], fam)
end

-- Writes a live record. Its key expires when the login ends and its index entry carries
-- the same instant, so "score > now" in the index means "live" without reading records.
-- Keeps the bucket's count and the cleanup schedule in step. Returns the encoded record.
--
-- `encoded` (create only): the record already encoded; `r` then needs only the fields
-- up to FAM_USED. `removed` (create only; default 0): index entries the caller already removed without
-- counting them down, so one INCRBY settles the count. `earliest` (create only): the
-- lowest index score the caller read in this script, before any removal. The schedule
-- always holds a user's entry at or below the user's lowest index score (ZADD LT here;
-- cleanup rewrites it from the index), so when `earliest` <= the new score the schedule
-- already covers this login and is left alone.
local function save(base, sid, r, removed, earliest, encoded)
  local t = login_end(r)
  -- Formatted once as an integer: a number passed to redis.call is formatted as a float
  -- (%.14g) on every use, which costs more than the command that takes it.
  local ts = string.format('%d', t)
  local v = encoded or cmsgpack.pack(unpack(r, 1, FIELDS))
  redis.call('SET', record_key(base, sid), v, 'PXAT', ts)
  local delta = redis.call('ZADD', index_key(base, r[UH]), ts, sid) - (removed or 0)
  if delta == 1 then
    redis.call('INCR', base .. 'n')
  elseif delta ~= 0 then
    redis.call('INCRBY', base .. 'n', delta)
  end
  if not (earliest and earliest <= t) then
    redis.call('ZADD', base .. 'due', 'LT', ts, r[UH] .. ':' .. r[UID])
  end
  return v
end

-- Whether `h` is a credential of this login: its session token, its current or previous
-- refresh token, or any token it retired.
local function owns(r, h)
  if h == '' then return false end
  if h == r[TH] or h == r[CUR] or h == r[PREV] then return true end
  local old = r[RETIRED]
  for i = 1, #old, HASH_LEN do
    if string.sub(old, i, i + HASH_LEN - 1) == h then return true end
  end
  return false
end

local function retire(r, h)
  if h ~= '' then r[RETIRED] = r[RETIRED] .. h end
end

-- Appends the elements of `list` to `out`.
local function append_all(out, list)
  for _, v in ipairs(list) do out[#out + 1] = v end
  return out
end
