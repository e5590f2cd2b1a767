#!/usr/bin/env bash
# Throughput and p99 latency of POST /user/api-tokens through fynn-gateway
# (wrk), next to pgbench running the same transaction with -M prepared, at
# the same concurrency, both with synchronous_commit=off; plus the
# gateway's memory under load.
#
#   bench/gateway.sh                 1, 2 and 16 connections, 2 alternating rounds of 5 s
#   FYNN_BENCH_CONNS="2 16 32" FYNN_BENCH_SECONDS=10 FYNN_BENCH_ROUNDS=3 bench/gateway.sh
#
# Uses its own cluster (.run-bench, port 54342 unless FYNN_RUN/FYNN_PGPORT say
# otherwise).  Targets: gateway >= 0.8 x pgbench requests/s, RSS <= 32 MB.
# Also prints each side's CPU per request (client, gateway, server), which
# tells where the two shared cores went.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
use_bench_cluster "$ROOT/.run-bench" 54342 "${FYNN_BENCH_DB:-fynn_bench}"

CONNS=${FYNN_BENCH_CONNS:-1 2 16}
SECONDS_EACH=${FYNN_BENCH_SECONDS:-5}
ROUNDS=${FYNN_BENCH_ROUNDS:-2}
WORK=$FYNN_RUN/bench
mkdir -p "$WORK"
trap cleanup_bench EXIT

require_tools wrk pgbench curl
build_gateway
start_bench_cluster
new_gateway_secrets
recreate_databases "$FYNN_DB"
alter_system "SET synchronous_commit = off" "RESET log_statement"
grant_gateway_role "$FYNN_DB"

# One identity for both clients: the claims pgbench sets are the JWT's payload.
claims='{"sub":"bench-user","tenant_id":"bench-tenant","permissions":["user:api-token:write"],"exp":4102444800}'
export FYNN_BENCH_JWT=$(sign_jwt "$jwt_secret" "$claims")

# The gateway's transaction, statement for statement, as a pgbench script.
# Values travel as bind parameters (-D variables), as the gateway sends them;
# it also keeps pgbench from reading the colons in the JSON as variables.
body='{"description":"bench token","expiresAt":null}'
headers='{"content-type":"application/json"}'
cat >"$WORK/create_token.sql" <<'SQL'
BEGIN;
SELECT set_config('request.jwt.claims', :claims, true), set_config('request.method', 'POST', true), set_config('request.path', '/user/api-tokens', true), set_config('request.headers', :headers, true);
SELECT b, current_setting('response.status', true), current_setting('response.headers', true) FROM (SELECT fynn_api.create_user_api_token(:body::json)::text AS b OFFSET 0) AS call;
COMMIT;
SQL

gw_port=$(free_port)
start_gateway "$gw_port" "$FYNN_DB" "$(largest $CONNS)" "$WORK/gateway.log"
wait_for_gateway "$gw_port" || die "gateway not ready (see $WORK/gateway.log)"

# Samples the gateway's resident set while wrk runs; prints the maximum in kB.
sample_rss() {
	local max=0 kb
	while kill -0 "$1" 2>/dev/null && [ -e "$WORK/sampling" ]; do
		kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$gateway_pid/status" 2>/dev/null || echo 0)
		[ "${kb:-0}" -gt "$max" ] && max=$kb
		sleep 0.2
	done
	echo "$max"
}

# p99 in ms from pgbench's per-transaction logs (third field: latency in us).
pgbench_p99() {
	cat "$WORK"/pgbench_log.* | "$PY" -c '
import sys
lat = sorted(int(l.split()[2]) for l in sys.stdin if l.strip())
print("%.2f" % (lat[min(len(lat) - 1, int(len(lat) * 0.99))] / 1000.0) if lat else "nan")'
}

# wrk prints "99%  1.23ms" (or us/s); converted to ms.
wrk_p99() {
	awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
		f = (u == "us") ? 0.001 : (u == "s") ? 1000 : 1; printf "%.2f", v * f }' "$1"
}

log "warm-up"
wrk -t1 -c2 -d2s -s "$ROOT/bench/create_token.lua" "http://127.0.0.1:$gw_port" >/dev/null

# CPU time in clock ticks: of the gateway, and of the server (the postmaster
# with every child it has reaped, plus the children still running), so
# backends that exit during a round are counted too.
ticks_of() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
server_ticks() {
	local postmaster total child
	postmaster=$(head -n 1 "$FYNN_PGDATA/postmaster.pid")
	total=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$postmaster/stat")
	for child in $(pgrep -P "$postmaster"); do total=$((total + $(ticks_of "$child"))); done
	echo "$total"
}
# Runs a client, printing its own CPU time (user + system, seconds) on fd 3.
client_cpu() {
	local TIMEFORMAT='%U %S'
	{ time "$@" 2>&4; } 2>&1 >&5 | awk '{print $1 + $2}' >&3
} 4>&2 5>&1
hz=$(getconf CLK_TCK)

# Gateway and pgbench alternate in rounds, so drift on a shared machine
# (other load, CPU frequency) hits both sides alike; req/s is the mean over
# the rounds, p99 the worst round.
rows=() cpu_rows=()
for c in $CONNS; do
	threads=$(( c < 2 ? c : 2 ))
	gw_sum=0 pg_sum=0 gw_p99=0 pg_p99=0 non201=0 rss_kb=0
	gw_cpu=(0 0 0) pg_cpu=(0 0) gw_requests=0 pg_requests=0
	rm -f "$WORK"/pgbench_log.*
	for round in $(seq "$ROUNDS"); do
		log "round $round/$ROUNDS: gateway with $c connections, ${SECONDS_EACH}s"
		touch "$WORK/sampling"
		sample_rss "$gateway_pid" >"$WORK/rss.$c" &
		sampler=$!
		g0=$(ticks_of "$gateway_pid") s0=$(server_ticks)
		client_cpu wrk -t"$threads" -c"$c" -d"${SECONDS_EACH}s" --latency -s "$ROOT/bench/create_token.lua" \
			"http://127.0.0.1:$gw_port" >"$WORK/wrk.$c.$round.txt" 3>"$WORK/client_cpu"
		gw_cpu=("$(echo "${gw_cpu[0]} + $(cat "$WORK/client_cpu")" | bc)"
			$((gw_cpu[1] + $(ticks_of "$gateway_pid") - g0)) $((gw_cpu[2] + $(server_ticks) - s0)))
		gw_requests=$((gw_requests + $(awk '/requests in/ {print $1}' "$WORK/wrk.$c.$round.txt")))
		rm -f "$WORK/sampling"
		wait "$sampler"
		rss=$(cat "$WORK/rss.$c")
		[ "$rss" -gt "$rss_kb" ] && rss_kb=$rss
		gw_sum=$(awk -v s="$gw_sum" '/^Requests\/sec:/ {printf "%.0f", s + $2}' "$WORK/wrk.$c.$round.txt")
		gw_p99=$(awk -v a="$gw_p99" -v b="$(wrk_p99 "$WORK/wrk.$c.$round.txt")" 'BEGIN {print (b > a ? b : a)}')
		non201=$((non201 + $(awk -F= '/^non201=/ {print $2}' "$WORK/wrk.$c.$round.txt")))

		log "round $round/$ROUNDS: pgbench with $c clients, ${SECONDS_EACH}s"
		s0=$(server_ticks)
		(cd "$WORK" && export PGPASSWORD=$db_password && client_cpu pgbench -n -M prepared -h 127.0.0.1 -p "$FYNN_PGPORT" \
			-U fynn_gateway -c "$c" -j "$threads" -T "$SECONDS_EACH" -l --log-prefix="pgbench_log.$round" \
			-f create_token.sql -D claims="$claims" -D headers="$headers" -D body="$body" \
			"$FYNN_DB" >"$WORK/pgbench.$c.$round.txt" 2>&1 3>"$WORK/client_cpu") ||
			die "pgbench failed (see $WORK/pgbench.$c.$round.txt)"
		pg_cpu=("$(echo "${pg_cpu[0]} + $(cat "$WORK/client_cpu")" | bc)" $((pg_cpu[1] + $(server_ticks) - s0)))
		pg_requests=$((pg_requests + $(awk '/^number of transactions actually processed:/ {print $NF}' "$WORK/pgbench.$c.$round.txt")))
		pg_sum=$(awk -v s="$pg_sum" '/^tps = / {printf "%.0f", s + $3}' "$WORK/pgbench.$c.$round.txt")
	done
	pg_p99=$(pgbench_p99)
	rm -f "$WORK"/pgbench_log.*
	gw_rps=$((gw_sum / ROUNDS))
	pg_tps=$((pg_sum / ROUNDS))
	ratio=$(awk -v a="$gw_rps" -v b="$pg_tps" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
	rows+=("$(printf '%5s | %9s | %8s | %9s | %8s | %5s | %7s | %s' \
		"$c" "$gw_rps" "$gw_p99" "$pg_tps" "$pg_p99" "$ratio" "$((rss_kb / 1024))" "$non201")")
	# CPU per request, us: where each side's two cores go.
	cpu_rows+=("$(awk -v c="$c" -v hz="$hz" -v n="$gw_requests" -v wrk="${gw_cpu[0]}" -v gw="${gw_cpu[1]}" \
		-v srv="${gw_cpu[2]}" -v m="$pg_requests" -v pgb="${pg_cpu[0]}" -v psrv="${pg_cpu[1]}" 'BEGIN {
		us = 1e6; printf "%5d | %6.0f | %7.0f | %6.0f | %5.0f | %8.0f | %6.0f | %5.0f", c,
			wrk * us / n, gw * us / hz / n, srv * us / hz / n, (wrk + (gw + srv) / hz) * us / n,
			pgb * us / m, psrv * us / hz / m, (pgb + psrv / hz) * us / m }')")
done

hwm_kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$gateway_pid/status")
echo
echo "POST /user/api-tokens, $ROUNDS x ${SECONDS_EACH}s per side, synchronous_commit=off, $(nproc) cores shared by client, gateway and server"
echo "conns | gw req/s  | gw p99ms | pgbench/s | pg p99ms | ratio | RSS MB  | non-201"
echo "------+-----------+----------+-----------+----------+-------+---------+--------"
printf '%s\n' "${rows[@]}"
echo "gateway VmHWM: $((hwm_kb / 1024)) MB ($hwm_kb kB); targets: ratio >= 0.8, RSS <= 32 MB"
echo
echo "CPU per request, us (user + system): the gateway side (wrk, gateway, server) and pgbench's (pgbench, server)"
echo "conns |    wrk | gateway | server | total | pgbench | server | total"
echo "------+--------+---------+--------+-------+----------+--------+------"
printf '%s\n' "${cpu_rows[@]}"
