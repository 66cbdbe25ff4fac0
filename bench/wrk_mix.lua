-- bench/api.py's load mix for wrk: each connection's next request is the next line of the file
-- named by WRK_PATHS (80 % from 20 repeated requests, 20 % drawn at random, written by the
-- bench, the same list for every server); each thread starts at its own place in the list.
-- At the end, one JSON line: requests, errors and latency percentiles (microseconds).
local paths = {}
for line in io.lines(os.getenv("WRK_PATHS")) do paths[#paths + 1] = line end
local started = 0

function setup(thread)
  thread:set("id", started)
  started = started + 1
end

local counter = 0
function init(args)
  counter = (id or 0) * 7919
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50": %d, "p95": %d, "p99": %d, "connect": %d, ' ..
    '"read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), e.connect, e.read, e.write, e.status, e.timeout))
end
