-- lib.lua: helpers shared by every sessiondb script; prepended to each script at build
-- time (see scripts.rs), so one script call stays one atomic unit.
--
-- Key schema (all keys of one bucket share the hash tag in `base` = "<prefix>:{<tag>}:"):
--   base.."s:"..sid    HASH  session: u uid, h user hash, d data, m metadata, c created,
--                            l last seen, e idle expiry, a absolute expiry, i idle ms,
--                            v version, th token hash, f family id
--   base.."u:"..uh     ZSET  the user's sessions: sid -> expiry (ms); lives 24 h past the last
--   base.."uf:"..uh    ZSET  the user's live refresh families: fid -> family expiry (ms)
--   base.."f:"..fid    HASH  refresh family (see refresh.lua)
--   base.."fh:"..fid   SET   hashes of the family's retired refresh tokens
--   base.."d:"..did    HASH  deletion token (see deletion_issue.lua)
--   base.."due"        ZSET  cleanup schedule: "<uh>:<uid>" -> earliest index expiry
--   base.."n"          STRING live sessions in this bucket (for the active-sessions gauge)
--
-- Time: every script reads the clock with TIME, so all API instances share Redis's clock.

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function session_key(base, sid) return base .. 's:' .. sid end
local function index_key(base, uh) return base .. 'u:' .. uh end
local function families_key(base, uh) return base .. 'uf:' .. uh end
local function family_key(base, fid) return base .. 'f:' .. fid end
local function history_key(base, fid) return base .. 'fh:' .. fid end

-- Makes `key` live at least until `at` (ms); never shortens a later expiry.
local function extend_expiry(key, at)
  if redis.call('PEXPIRETIME', key) < at then
    redis.call('PEXPIREAT', key, at)
  end
end

-- Removes a session from its user's index, keeping the bucket's live count in step.
local function unindex(base, uh, sid)
  if redis.call('ZREM', index_key(base, uh), sid) == 1 then
    redis.call('DECR', base .. 'n')
  end
end

-- An index outlives its last session by this long, so cleanup (normally every few
-- minutes) finds the expired entries and keeps the live count exact; if cleanup never
-- runs, the index still disappears by itself.
local INDEX_MARGIN_MS = 86400000

-- Adds (or re-scores) a session in its user's index and the cleanup schedule.
local function index_add(base, uh, uid, sid, expires_at)
  local idx = index_key(base, uh)
  if redis.call('ZADD', idx, expires_at, sid) == 1 then
    redis.call('INCR', base .. 'n')
  end
  extend_expiry(idx, expires_at + INDEX_MARGIN_MS)
  redis.call('ZADD', base .. 'due', 'LT', expires_at, uh .. ':' .. uid)
end

-- Writes a new session hash with its expiry and index entry.
local function put_session(base, s)
  local sk = session_key(base, s.sid)
  redis.call('HSET', sk, 'u', s.uid, 'h', s.uh, 'd', s.data, 'm', s.meta, 'c', s.now,
    'l', s.now, 'e', s.e, 'a', s.a, 'i', s.idle, 'v', 1, 'th', s.th, 'f', s.fid)
  redis.call('PEXPIREAT', sk, s.e)
  index_add(base, s.uh, s.uid, s.sid, s.e)
end

-- Marks an active family revoked ('r') or revoked by reuse detection ('x'). The hash
-- stays as a tombstone until the family's own expiry. Returns 1 when it changed.
local function revoke_family(base, fid, state)
  if not fid or fid == '' then return 0 end
  local fk = family_key(base, fid)
  local f = redis.call('HMGET', fk, 'st', 'h')
  if f[1] ~= 'a' then return 0 end
  redis.call('HSET', fk, 'st', state)
  redis.call('ZREM', families_key(base, f[2]), fid)
  return 1
end

-- Deletes a session and its index entry; revokes its family when fam_state is given.
-- Returns 1 when a live session was removed, and 1 when its family was revoked.
local function drop_session(base, uh, sid, fam_state, now)
  local sk = session_key(base, sid)
  local s = redis.call('HMGET', sk, 'e', 'f')
  unindex(base, uh, sid)
  if not s[1] then return 0, 0 end
  redis.call('DEL', sk)
  local fam = 0
  if fam_state then fam = revoke_family(base, s[2], fam_state) end
  if tonumber(s[1]) > now then return 1, fam end
  return 0, fam
end

-- Revokes every session and family of a user, except session `except_sid` and its
-- family. Returns the revoked live session ids and the number of families revoked.
local function revoke_user(base, uh, except_sid, fam_state, now)
  local except_fid = ''
  if except_sid ~= '' then
    except_fid = redis.call('HGET', session_key(base, except_sid), 'f') or ''
  end
  local revoked, families = {}, 0
  for _, sid in ipairs(redis.call('ZRANGE', index_key(base, uh), 0, -1)) do
    if sid ~= except_sid then
      local live, fam = drop_session(base, uh, sid, fam_state, now)
      if live == 1 then revoked[#revoked + 1] = sid end
      families = families + fam
    end
  end
  for _, fid in ipairs(redis.call('ZRANGE', families_key(base, uh), 0, -1)) do
    if fid ~= except_fid then
      families = families + revoke_family(base, fid, fam_state)
    end
  end
  return revoked, families
end

-- Ids of the user's live sessions (other than `exclude`), pruning index entries whose
-- session expired or vanished. Expired sessions never count against the cap.
local function live_sessions(base, uh, now, exclude)
  local live = {}
  for _, sid in ipairs(redis.call('ZRANGE', index_key(base, uh), 0, -1)) do
    local e = tonumber(redis.call('HGET', session_key(base, sid), 'e'))
    if e and e > now then
      if sid ~= exclude then live[#live + 1] = sid end
    else
      drop_session(base, uh, sid, nil, now)
    end
  end
  return live
end

-- Enforces the per-user cap before one more session is added. `cap` 0 is unlimited
-- (expired index entries are still pruned). Policy 'evict' revokes least recently used
-- sessions (and their families) until there is room; 'reject' returns false and changes
-- nothing. Returns the list of evicted session ids.
local function make_room(base, uh, now, cap, policy, exclude)
  if cap == 0 then
    for _, sid in ipairs(redis.call('ZRANGE', index_key(base, uh), '-inf', now, 'BYSCORE')) do
      drop_session(base, uh, sid, nil, now)
    end
    return {}
  end
  local live = live_sessions(base, uh, now, exclude)
  if #live < cap then return {} end
  if policy ~= 'evict' then return false end
  local seen = {}
  for i, sid in ipairs(live) do
    seen[i] = { sid = sid, l = tonumber(redis.call('HGET', session_key(base, sid), 'l')) }
  end
  table.sort(seen, function(x, y) return x.l < y.l end)
  local evicted = {}
  for i = 1, #live - cap + 1 do
    drop_session(base, uh, seen[i].sid, 'r', now)
    evicted[#evicted + 1] = seen[i].sid
  end
  return evicted
end

-- Appends the elements of `list` to `out`.
local function append_all(out, list)
  for _, v in ipairs(list) do out[#out + 1] = v end
  return out
end
