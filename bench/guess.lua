-- wrk script: a guesser: every request a new wrong secret for one of KEYS seeded client
-- ids, all from this one address. Counts answers by status.
local keys = tonumber(os.getenv("KEYS") or "1")
local counter = 0
local threads = {}
local codes = { "200", "400", "401", "429", "503" }

function setup(thread)
  thread:set("offset", #threads * 1000003)
  table.insert(threads, thread)
end

function init(args)
  counter = offset or 0
  for _, code in ipairs(codes) do _G["s" .. code] = 0 end
  s_other = 0
end

function request()
  counter = counter + 1
  local id = string.format("kmc_bench%08d", (counter % keys) + 1)
  local body = "grant_type=client_credentials&client_id=" .. id .. "&client_secret=kms_guess" .. counter
  return wrk.format("POST", "/production/oauth2/token",
    { ["Content-Type"] = "application/x-www-form-urlencoded" }, body)
end

function response(status, headers, body)
  local name = "s" .. status
  if _G[name] then _G[name] = _G[name] + 1 else s_other = s_other + 1 end
end

function done(summary, latency, requests)
  local mix = {}
  for _, code in ipairs(codes) do
    local n = 0
    for _, thread in ipairs(threads) do n = n + (thread:get("s" .. code) or 0) end
    if n > 0 then mix[#mix + 1] = code .. ":" .. n end
  end
  io.write(string.format("RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d statuses=%s\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, table.concat(mix, ",")))
end
