-- wrk script: the body that made the old parser quadratic: just under 64 KiB of
-- ~13,000 distinct parameter names, with otherwise valid credentials (KEYS/SECRET).
local secret = os.getenv("SECRET")
local parts = { "grant_type=client_credentials&client_id=kmc_bench00000001&client_secret=" .. secret }
local i, size = 0, #parts[1]
while size < 60 * 1024 do
  local name = string.format("&%x", i)
  parts[#parts + 1] = name
  size = size + #name
  i = i + 1
end
local body = table.concat(parts)

function request()
  return wrk.format("POST", "/production/oauth2/token",
    { ["Content-Type"] = "application/x-www-form-urlencoded" }, body)
end

function done(summary, latency, requests)
  io.write(string.format("RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d non2xx=%d names=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, summary.errors.status, i))
end
