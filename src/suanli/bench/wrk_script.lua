-- wrk script for suanli bench api: POST bodies (cycled), optional fresh Idempotency-Key,
-- and one JSON line with the counts and latency percentiles at the end.
wrk.method = "POST"
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  bodies = {}
  for i = 2, #args do table.insert(bodies, args[i]) end
  idempotent = args[1] == "1"
  counter = math.random(#bodies)
  if not idempotent then
    fixed = {}
    for i, b in ipairs(bodies) do fixed[i] = wrk.format(nil, nil, nil, b) end
  end
end

function request()
  counter = counter + 1
  local i = (counter % #bodies) + 1
  if idempotent then
    local headers = {}
    for name, value in pairs(wrk.headers) do headers[name] = value end
    headers["Idempotency-Key"] = string.format("w%d-%d-%d", tid, counter, math.random(1e9))
    return wrk.format(nil, nil, headers, bodies[i])
  end
  return fixed[i]
end

function done(summary, latency, requests)
  local codes = summary.errors.status
  io.write(string.format(
    '{"requests":%d,"non_2xx":%d,"socket_errors":%d,"duration_us":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, codes, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
