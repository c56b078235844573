-- wrk script for http_bench.py: each write carries DEPTH requests for the URL's path
-- (default 16), so that the server, not wrk, is the limit.
--   wrk -t1 -c64 -d10s --latency -s benchmarks/http/pipeline.lua http://127.0.0.1:PORT/ [-- DEPTH]
-- wrk counts the requests in the string request() returns and waits for that many
-- responses before it writes again; the string is made once per thread, in init().
--
-- Latency: wrk records one sample per write (from the write to the last of its
-- responses), then "corrects" the histogram for coordinated omission with an interval
-- computed as if each write carried one request. That puts made-up samples below the
-- minimum, where its percentile code no longer counts them, so under pipelining wrk
-- prints percentiles of 0 or nonsense. done() therefore prints the histogram as wrk left
-- it, as one "latency-histogram" line, and http_bench.py undoes the correction (it is
-- deterministic) to get the percentiles of the writes' latencies. wrk 4.1's Lua API does
-- not expose the buckets (latency[i] answers the key), so they are read through LuaJIT's
-- FFI from wrk's stats struct: count, limit, min, max, then one counter per microsecond.

local batch

function init(args)
    local depth = tonumber(args[1] or "16")
    if depth == nil or depth < 1 then
        error("pipeline.lua: the depth must be a positive number, not " .. tostring(args[1]))
    end
    local one = wrk.format("GET")
    local parts = {}
    for i = 1, depth do
        parts[i] = one
    end
    batch = table.concat(parts)
end

function request()
    return batch
end

-- The line: duration_us requests count min max, then "latency_us:count" for every
-- bucket in [0, max] that is not empty.
function done(summary, latency, requests)
    local ok, ffi = pcall(require, "ffi")
    if not ok then
        io.write("latency-histogram unavailable (wrk is not built on LuaJIT)\n")
        return
    end
    pcall(ffi.cdef, [[
        typedef struct {
            uint64_t count;
            uint64_t limit;
            uint64_t min;
            uint64_t max;
            uint64_t data[];
        } http_bench_wrk_stats;
    ]])
    -- The userdata holds a pointer to wrk's stats.
    local s = ffi.cast("http_bench_wrk_stats**", latency)[0]
    if tonumber(s.max) ~= latency.max or tonumber(s.min) ~= latency.min then
        io.write("latency-histogram unavailable (wrk's stats layout is not the expected one)\n")
        return
    end
    local out = {"latency-histogram", summary.duration, summary.requests, tonumber(s.count),
                 tonumber(s.min), tonumber(s.max)}
    for us = 0, tonumber(s.max) do
        local n = tonumber(s.data[us])
        if n > 0 then
            out[#out + 1] = string.format("%d:%d", us, n)
        end
    end
    io.write(table.concat(out, " "), "\n")
end
