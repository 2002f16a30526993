-- wrk script for bench/bench_server.py.
--
-- Environment (read once per wrk thread):
--   BENCH_METHOD  GET (default) or POST
--   BENCH_BODY    request body for POST (sent as application/x-www-form-urlencoded)
--
-- Counts every response whose status is not 2xx (wrk's own errors.status only counts
-- status > 399) and prints one machine-readable line from the done hook:
--   BENCH_RESULT {"requests":..,"duration_us":..,"p50_us":..,"p99_us":..,"non2xx":..,...}

local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")

wrk.method = method
if method == "POST" then
  wrk.body = body or ""
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

-- Per-thread state lives in each thread's own Lua state; setup() runs in the main state.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

non2xx = 0
first_bad = nil

function response(status, headers, resp_body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if first_bad == nil then
      first_bad = tostring(status) .. " " .. string.sub(resp_body or "", 1, 200)
    end
  end
end

local function json_string(s)
  s = string.gsub(s, '[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end)
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local bad, sample = 0, ""
  for _, t in ipairs(threads) do
    bad = bad + (t:get("non2xx") or 0)
    local fb = t:get("first_bad")
    if fb ~= nil and sample == "" then sample = fb end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"p50_us":%.1f,"p90_us":%.1f,"p99_us":%.1f,'
      .. '"max_us":%.1f,"mean_us":%.1f,"non2xx":%d,"status_errors":%d,"connect_errors":%d,'
      .. '"read_errors":%d,"write_errors":%d,"timeouts":%d,"first_bad":%s}\n',
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean,
    bad, e.status, e.connect, e.read, e.write, e.timeout, json_string(sample)))
end
