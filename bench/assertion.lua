-- wrk script: token requests whose bodies come, one per line, from the file BODIES
-- (bench/assertions.sh writes them). Each body is used once per pass: with ONCE=1 the
-- threads take interleaved lines and stop answering past the end (a signed assertion is
-- accepted once), otherwise every thread cycles through all of them.
local path = os.getenv("BODIES")
local once = os.getenv("ONCE") == "1"
local threads = 0
-- Set per thread by setup() through thread:set, so a global, not a local.
thread_index = 0
local bodies, at, step = {}, 0, 1

function setup(thread)
  thread:set("thread_index", threads)
  threads = threads + 1
end

function init(args)
  for line in io.lines(path) do bodies[#bodies + 1] = line end
  at = thread_index
  step = once and 2 or 1
end

function request()
  at = at + step
  local body = bodies[((at - 1) % #bodies) + 1]
  return wrk.format("POST", "/production/oauth2/token",
    { ["Content-Type"] = "application/x-www-form-urlencoded" }, body)
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, errors))
end
