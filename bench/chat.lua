-- wrk script: POST /v1/chat/completions with a small chat body; prints one JSON line with the results.
-- Environment: BENCH_MODEL (model name), BENCH_STREAM ("1" for stream: true with include_usage),
-- BENCH_AUTH_NAME / BENCH_AUTH_VALUE (one auth header, optional), BENCH_MAX_TOKENS.
local model = os.getenv("BENCH_MODEL") or "bench/fast"
local stream = os.getenv("BENCH_STREAM") == "1"
local max_tokens = os.getenv("BENCH_MAX_TOKENS") or "16"

local body = '{"model":"' .. model .. '","messages":[{"role":"system","content":"You are terse."},'
  .. '{"role":"user","content":"Say hello in five words."}],"max_tokens":' .. max_tokens
if stream then
  body = body .. ',"stream":true,"stream_options":{"include_usage":true}'
end
body = body .. '}'

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = stream and "text/event-stream" or "application/json"
local auth_name = os.getenv("BENCH_AUTH_NAME")
local auth_value = os.getenv("BENCH_AUTH_VALUE")
if auth_name and auth_name ~= "" and auth_value then
  wrk.headers[auth_name] = auth_value
end

-- No response() hook on purpose: it makes wrk copy every answer into Lua. wrk counts status >= 400 in
-- summary.errors.status; the harness probes one request itself to show what a failing answer was.
function done(summary, latency, requests)
  local e = summary.errors
  local out = string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
        '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,' ..
    '"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p999":%d}}',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9))
  io.write("BENCH_JSON " .. out .. "\n")
end
