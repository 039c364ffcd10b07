-- wrk.lua - the one wrk script of bench/run (issue 7): method, headers and
-- body come from the environment so every figure uses the same script.
--   WRK_METHOD   GET (default), POST, PATCH
--   WRK_AUTH     value of the Authorization header (never printed)
--   WRK_BODY     request body (POST)
--   WRK_PATCH    "1": PATCH {"index":0,"value":"bench-<n>"}, a new value
--                every request so every request is a real write
--   WRK_HEADERS  more request headers, "Name: value" lines (e.g.
--                anthropic-version for a Claude client)
local method = os.getenv("WRK_METHOD") or "GET"
local auth = os.getenv("WRK_AUTH")
local body = os.getenv("WRK_BODY")
local patch = os.getenv("WRK_PATCH") == "1"
local extra = os.getenv("WRK_HEADERS") or ""
local n = 0
tid = 0  -- set per thread by setup() below

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

wrk.method = method
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end
for name, value in extra:gmatch("([^:\n]+):%s*([^\n]*)") do
  wrk.headers[name] = value
end
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

if patch then
  wrk.headers["Content-Type"] = "application/json"
  request = function()
    n = n + 1
    return wrk.format("PATCH", nil, nil,
      '{"index":0,"value":"bench-' .. tid .. '-' .. n .. '"}')
  end
end

done = function(summary, latency, requests)
  -- latency in ms; "bad" = answers outside 2xx/3xx, "errors" = socket
  -- errors and timeouts (wrk counts both per run, not per thread)
  local e = summary.errors
  io.write(string.format("BENCH rps=%.3f p50=%.3f p99=%.3f requests=%d bad=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end
