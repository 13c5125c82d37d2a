-- wrk script for benchmarks/ingest.py: cycles through pre-signed carrier webhook requests.
--
--   wrk -t1 -c32 -d10s --latency -s benchmarks/ingest.lua http://127.0.0.1:PORT -- FILE [OFFSET [DELAY_MS]]
--
-- FILE holds one request a line: path<TAB>header-name<TAB>header-value<TAB>body (compact JSON
-- bodies have no tabs or newlines). The requests are formatted once, in init, and sent in file
-- order starting at OFFSET. With DELAY_MS, each connection waits that long before each request
-- (a throttled run: about connections * 1000 / DELAY_MS requests a second). done() prints one
-- "BENCH_JSON {...}" line for the Python side.

local requests = {}
local count = 0
local index = 0

function init(args)
   local path = args[1]
   index = tonumber(args[2] or "0") or 0
   local delay_ms = tonumber(args[3] or "0") or 0
   if delay_ms > 0 then
      -- Defined only when asked for: wrk takes a slower path for every request once it exists.
      delay = function()
         return delay_ms
      end
   end
   for line in io.lines(path) do
      local req_path, name, value, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      if req_path then
         local headers = { ["Content-Type"] = "application/json" }
         headers[name] = value
         count = count + 1
         requests[count] = wrk.format("POST", req_path, headers, body)
      end
   end
   if count == 0 then
      error("no requests in " .. tostring(path))
   end
end

function request()
   local req = requests[(index % count) + 1]
   index = index + 1
   return req
end

function done(summary, latency, _requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "non2xx": %d, "socket_errors": %d, "duration_s": %.6f, '
         .. '"p50_ms": %.3f, "p99_ms": %.3f}\n',
      summary.requests,
      e.status,
      e.connect + e.read + e.write + e.timeout,
      summary.duration / 1e6,
      latency:percentile(50) / 1e3,
      latency:percentile(99) / 1e3
   ))
end
