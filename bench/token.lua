-- wrk script: client_credentials token requests (client_secret_post), round-robin over
-- KEYS seeded keys kmc_bench00000001... sharing SECRET. Set via environment variables.
local keys = tonumber(os.getenv("KEYS") or "1")
local secret = os.getenv("SECRET")
local counter = 0
thread_offset = 0 -- global: setup() sets it in each thread's own state

function setup(thread)
  thread:set("thread_offset", thread_offset)
  thread_offset = thread_offset + 7919
end

function init(args)
  counter = thread_offset
end

function request()
  counter = counter + 1
  local id = string.format("kmc_bench%08d", (counter % keys) + 1)
  local body = "grant_type=client_credentials&client_id=" .. id .. "&client_secret=" .. secret
  return wrk.format("POST", "/production/oauth2/token",
    { ["Content-Type"] = "application/x-www-form-urlencoded" }, body)
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, errors))
end
