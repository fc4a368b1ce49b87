-- wrk script: client_credentials token requests with client_secret_basic, one client.
-- Environment: AUTH (base64 of id:secret), TOKEN_PATH (the token endpoint's path),
-- SCOPE (optional).
local auth = "Basic " .. os.getenv("AUTH")
local path = os.getenv("TOKEN_PATH")
local body = "grant_type=client_credentials"
if os.getenv("SCOPE") then body = body .. "&scope=" .. os.getenv("SCOPE") end

function request()
  return wrk.format("POST", path,
    { ["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = auth }, body)
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, errors))
end
