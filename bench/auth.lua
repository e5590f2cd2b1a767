-- wrk script for bench/auth.sh: GET /auth with the API token in
-- FYNN_BENCH_TOKEN (no token: no Authorization, for /health).
local token = os.getenv("FYNN_BENCH_TOKEN")
if token and token ~= "" then
	wrk.headers["Authorization"] = "Bearer " .. token
end

-- wrk's count of error statuses (>= 400), so a stream of 401s is not taken for throughput.
done = function(summary, latency, requests)
	io.write(string.format("errors_status=%d\n", summary.errors.status))
end
