-- wrk script for bench/gateway.sh: POST /user/api-tokens with a JWT from
-- the environment (FYNN_BENCH_JWT), the same body pgbench sends.
wrk.method = "POST"
wrk.path = "/user/api-tokens"
wrk.body = '{"description":"bench token","expiresAt":null}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("FYNN_BENCH_JWT")

-- Prints wrk's count of error statuses (>= 400), so a fast stream of errors
-- is not mistaken for throughput.  No per-response hook: it would slow wrk.
done = function(summary, latency, requests)
	io.write(string.format("non201=%d\n", summary.errors.status))
end
