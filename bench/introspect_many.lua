-- wrk script: RFC 7662 introspection of a stream of distinct tokens, each introspected
-- once (a gateway seeing tokens for the first time). Environment: AUTH (Basic
-- credentials, base64), TOKENS (a file of tokens, one per line: more than the run
-- sends, else it wraps and repeats). Answers that are not active count as errors.
local auth = "Basic " .. os.getenv("AUTH")
local threads = {}
local tokens = {}
next_index = 0
local stride = 1
inactive = 0 -- a global: done() reads it from each thread

function setup(thread)
  thread:set("next_index", #threads)
  threads[#threads + 1] = thread
end

function init(args)
  for line in io.lines(os.getenv("TOKENS")) do
    tokens[#tokens + 1] = line
  end
  stride = tonumber(os.getenv("THREADS") or "2")
end

function request()
  local token = tokens[(next_index % #tokens) + 1]
  next_index = next_index + stride
  return wrk.format("POST", "/production/oauth2/introspect",
    { ["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = auth },
    "token=" .. token)
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"active":true', 1, true) then
    inactive = inactive + 1
  end
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  for _, thread in ipairs(threads) do
    errors = errors + thread:get("inactive")
  end
  io.write(string.format("RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, errors))
end
