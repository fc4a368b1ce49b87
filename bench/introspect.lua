-- wrk script: RFC 7662 introspection of one token by one caller (Basic auth).
-- Environment: AUTH (the Basic credentials, base64), TOKEN (the token to introspect).
local body = "token=" .. os.getenv("TOKEN")
local auth = "Basic " .. os.getenv("AUTH")

function request()
  return wrk.format("POST", "/production/oauth2/introspect",
    { ["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = auth }, body)
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, errors))
end
