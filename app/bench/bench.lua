-- flashsale bench: the one wrk script of every scenario.
-- wrk ... -s bench.lua URL -- METHOD PATH TOKENS_FILE SKIP THREADS
--   TOKENS_FILE  one bearer token a line ('-' for none); thread i of THREADS takes lines i, i+THREADS, ...
--   SKIP         where in its share of the tokens each thread starts (so the slices of a run go on where the
--                last one stopped: distinct users stay distinct)
-- At the end it prints one line `FLASHSALE-BENCH {json}`: totals, errors, answers by status, latency percentiles.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  method, path = args[1], args[2]
  local file, skip = args[3], tonumber(args[4])
  nthreads = tonumber(args[5])
  tokens = {}
  if file ~= "-" then
    local line_no = 0
    for line in io.lines(file) do
      if line_no % nthreads == id then tokens[#tokens + 1] = line end
      line_no = line_no + 1
    end
  end
  sent, statuses = skip, {}
  plain = wrk.format(method, path)
end

function request()
  if #tokens == 0 then return plain end
  local token = tokens[sent % #tokens + 1]
  sent = sent + 1
  return wrk.format(method, path, { ["Authorization"] = "Bearer " .. token })
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

local function percentiles(latency)
  local out = {}
  for p = 1, 99 do out[#out + 1] = string.format("[%d,%d]", p, latency:percentile(p)) end
  for _, p in ipairs({ 99.5, 99.9, 99.99 }) do
    out[#out + 1] = string.format("[%g,%d]", p, latency:percentile(p))
  end
  return "[" .. table.concat(out, ",") .. "]"
end

function done(summary, latency, requests)
  local counts, used = {}, {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do counts[status] = (counts[status] or 0) + n end
    used[#used + 1] = tostring(thread:get("sent"))
  end
  local by_status = {}
  for status, n in pairs(counts) do by_status[#by_status + 1] = string.format('"%d":%d', status, n) end
  local e = summary.errors
  io.write(string.format(
    'FLASHSALE-BENCH {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"statuses":{%s},"sent":[%s],"latency_us":{"min":%d,"max":%d,"mean":%f,"stdev":%f,"percentiles":%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    table.concat(by_status, ","), table.concat(used, ","),
    latency.min, latency.max, latency.mean, latency.stdev, percentiles(latency)))
end
