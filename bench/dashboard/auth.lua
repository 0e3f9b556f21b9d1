-- wrk script for bench/dashboard/run.sh: sends the bearer token given after
-- "--" on wrk's command line, and prints one machine-readable RESULT line.
init = function(args)
  wrk.headers["Authorization"] = "Bearer " .. args[1]
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d bytes=%d rps=%.1f p50_us=%d p99_us=%d max_us=%d non2xx=%d errors=%d\n",
    summary.requests, summary.duration, summary.bytes,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout))
end
