-- wrk script: POST /v1/sessions/refresh, each request presenting the next unused refresh
-- token of TOKEN_FILE (one per line, written by scale_load create --refresh-out). Run with
-- one thread; when the file runs out, tokens repeat and answer 400 (counted as non-2xx).
--
--   TOKEN_FILE   refresh tokens
--   API_KEY      bearer API key with sessions:write
--   ROUTE        /v1/sessions/refresh (default) or /v1/refresh-tokens/revoke

local reqs, n, i = {}, 0, 0

function init(args)
  local file = assert(os.getenv("TOKEN_FILE"), "set TOKEN_FILE")
  local key = assert(os.getenv("API_KEY"), "set API_KEY")
  local route = os.getenv("ROUTE") or "/v1/sessions/refresh"
  local headers = { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }
  local f = assert(io.open(file, "r"))
  for line in f:lines() do
    if #line > 0 then
      n = n + 1
      reqs[n] = wrk.format("POST", route, headers, '{"refresh_token":"' .. line .. '"}')
    end
  end
  f:close()
  assert(n > 0, "no tokens in " .. file)
end

function request()
  i = i % n + 1
  return reqs[i]
end
