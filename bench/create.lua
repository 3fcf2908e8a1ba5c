-- wrk script: POST /v1/sessions for a new user each time, with the same 512-byte data
-- object the harness's peers store (email, name, roles, prefs, created_at, padding).
--
--   API_KEY      bearer API key with sessions:write
--   USER_PREFIX  user id prefix (default "w<random>-")

local prefix = os.getenv("USER_PREFIX")
local key = os.getenv("API_KEY")
local counter = 0
local headers = {}
local body_head, body_tail

function init(args)
  assert(key, "set API_KEY")
  math.randomseed(os.time())
  prefix = prefix or ("w" .. math.random(1, 1000000000) .. "-")
  headers["Authorization"] = "Bearer " .. key
  headers["Content-Type"] = "application/json"
  local data = '{"email":"user@example.com","name":"Bench User","roles":["user","beta"],'
    .. '"prefs":{"theme":"dark","lang":"en"},"created_at":"2026-01-01T00:00:00Z","pad":"'
  local pad = string.rep("x", 512 - #data - 2)
  body_head = '{"user_id":"'
  body_tail = '","data":' .. data .. pad .. '"}}'
end

function request()
  counter = counter + 1
  return wrk.format("POST", "/v1/sessions", headers, body_head .. prefix .. counter .. body_tail)
end
