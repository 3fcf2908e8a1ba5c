-- wrk script: GET /v1/sessions/current with a session token picked at random.
--
--   COOKIE_FILE  one session token per line (written by seed.py)
--   API_KEY      bearer API key with sessions:read
--
-- Request strings are built once in init(), as in the harness's own scripts, so the
-- client costs the same per request as for the other peers.

local reqs = {}
local n = 0

function init(args)
  local file = assert(os.getenv("COOKIE_FILE"), "set COOKIE_FILE")
  local key = assert(os.getenv("API_KEY"), "set API_KEY")
  local f = assert(io.open(file, "r"))
  for line in f:lines() do
    if #line > 0 then
      n = n + 1
      reqs[n] = wrk.format("GET", "/v1/sessions/current", {
        ["Authorization"] = "Bearer " .. key,
        ["X-Session-Token"] = line,
      })
    end
  end
  f:close()
  assert(n > 0, "no tokens in " .. file)
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
  return reqs[math.random(n)]
end
