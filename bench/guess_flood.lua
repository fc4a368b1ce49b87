-- wrk script: a flood of fresh wrong secrets for seeded client ids (kmc_bench00000001 ..
-- KEYS), each request from a new address (X-Forwarded-For; loopback is a trusted proxy by
-- default), so no per-address lock applies: a botnet guessing. Counts the answers that
-- are not 401 as errors (a 429 or 503 would mean the flood reached a limit or argon2).
local keys = tonumber(os.getenv("KEYS") or "1000")
local threads = {}
counter = 0
other = 0 -- a global: done() reads it from each thread

function setup(thread)
  thread:set("counter", #threads * 100000000)
  threads[#threads + 1] = thread
end

function request()
  counter = counter + 1
  local id = string.format("kmc_bench%08d", (counter % keys) + 1)
  local address = string.format("10.%d.%d.%d", math.floor(counter / 65536) % 256,
    math.floor(counter / 256) % 256, counter % 256)
  local body = "grant_type=client_credentials&client_id=" .. id .. "&client_secret=kms_wrong" .. counter
  return wrk.format("POST", "/production/oauth2/token",
    { ["Content-Type"] = "application/x-www-form-urlencoded", ["X-Forwarded-For"] = address }, body)
end

function response(status, headers, body)
  if status ~= 401 then other = other + 1 end
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  for _, thread in ipairs(threads) do errors = errors + thread:get("other") end
  io.write(string.format("RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, errors))
end
