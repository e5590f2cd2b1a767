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
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export FYNN_ROOT=$ROOT
export FYNN_RUN=${FYNN_RUN:-$ROOT/.run-bench}
export FYNN_PGPORT=${FYNN_PGPORT:-54342}
export FYNN_DB=${FYNN_BENCH_DB:-fynn_bench}
. "$ROOT/scripts/env.sh"

PY=/usr/bin/python3
CONNS=${FYNN_BENCH_CONNS:-1 2 16}
SECONDS_EACH=${FYNN_BENCH_SECONDS:-5}
ROUNDS=${FYNN_BENCH_ROUNDS:-2}
WORK=$FYNN_RUN/bench
mkdir -p "$WORK"
gw_pid=

cleanup() {
	if [ -n "$gw_pid" ]; then
		kill -TERM "$gw_pid" 2>/dev/null || true
		wait "$gw_pid" 2>/dev/null || true
	fi
	[ "${cluster_was_running:-1}" = 1 ] || "$ROOT/scripts/pg-cluster.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

for tool in wrk pgbench curl; do
	command -v "$tool" >/dev/null || die "$tool is not installed (scripts/install-deps.sh)"
done
make -s -C "$ROOT/gateway" >/dev/null

# A cluster this run started is stopped at exit; one already running is left running.
cluster_was_running=0
as_postgres "$FYNN_PGBIN/pg_ctl" -D "$FYNN_PGDATA" status >/dev/null 2>&1 && cluster_was_running=1
"$ROOT/scripts/pg-cluster.sh" start
db_password=$("$PY" -c 'import secrets; print(secrets.token_hex(16))')
jwt_secret=$("$PY" -c 'import secrets; print(secrets.token_hex(24))')
psql -X -q -v ON_ERROR_STOP=1 -d postgres <<SQL >/dev/null
SET log_statement = 'none';
DROP DATABASE IF EXISTS $FYNN_DB WITH (FORCE);
CREATE DATABASE $FYNN_DB;
ALTER SYSTEM SET synchronous_commit = off;
ALTER SYSTEM RESET log_statement;
SELECT pg_reload_conf();
SQL
FYNN_GATEWAY_DB_PASSWORD=$db_password "$ROOT/scripts/gateway-role.sh" "$FYNN_DB" >/dev/null

# One identity for both clients: the claims pgbench sets are the JWT's payload.
claims='{"sub":"bench-user","tenant_id":"bench-tenant","permissions":["user:api-token:write"],"exp":4102444800}'
export FYNN_BENCH_JWT=$("$PY" - "$jwt_secret" "$claims" <<'PYEOF'
import base64, hashlib, hmac, sys
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = b64(b'{"alg":"HS256","typ":"JWT"}')
body = b64(sys.argv[2].encode())
sig = b64(hmac.new(sys.argv[1].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
print(f"{head}.{body}.{sig}")
PYEOF
)

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

max_conns=0
for c in $CONNS; do [ "$c" -gt "$max_conns" ] && max_conns=$c; done
gw_port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PGRST_DB_URI="postgresql://fynn_gateway:$db_password@127.0.0.1:$FYNN_PGPORT/$FYNN_DB" \
	PGRST_JWT_SECRET="$jwt_secret" PGRST_SERVER_PORT=$gw_port PGRST_DB_POOL=$max_conns \
	FYNN_LOG_LEVEL=${FYNN_BENCH_LOG_LEVEL:-warn} \
	"$ROOT/gateway/fynn-gateway" >"$WORK/gateway.log" 2>&1 &
gw_pid=$!
for _ in $(seq 100); do
	curl -sf -o /dev/null "http://127.0.0.1:$gw_port/ready" && break
	sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$gw_port/ready" || die "gateway not ready (see $WORK/gateway.log)"

# Samples the gateway's resident set while wrk runs; prints the maximum in kB.
sample_rss() {
	local max=0 kb
	while kill -0 "$1" 2>/dev/null && [ -e "$WORK/sampling" ]; do
		kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$gw_pid/status" 2>/dev/null || echo 0)
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

# Gateway and pgbench alternate in rounds, so drift on a shared machine
# (other load, CPU frequency) hits both sides alike; req/s is the mean over
# the rounds, p99 the worst round.
rows=()
for c in $CONNS; do
	threads=$(( c < 2 ? c : 2 ))
	gw_sum=0 pg_sum=0 gw_p99=0 pg_p99=0 non201=0 rss_kb=0
	rm -f "$WORK"/pgbench_log.*
	for round in $(seq "$ROUNDS"); do
		log "round $round/$ROUNDS: gateway with $c connections, ${SECONDS_EACH}s"
		touch "$WORK/sampling"
		sample_rss "$gw_pid" >"$WORK/rss.$c" &
		sampler=$!
		wrk -t"$threads" -c"$c" -d"${SECONDS_EACH}s" --latency -s "$ROOT/bench/create_token.lua" \
			"http://127.0.0.1:$gw_port" >"$WORK/wrk.$c.$round.txt"
		rm -f "$WORK/sampling"
		wait "$sampler"
		rss=$(cat "$WORK/rss.$c")
		[ "$rss" -gt "$rss_kb" ] && rss_kb=$rss
		gw_sum=$(awk -v s="$gw_sum" '/^Requests\/sec:/ {printf "%.0f", s + $2}' "$WORK/wrk.$c.$round.txt")
		gw_p99=$(awk -v a="$gw_p99" -v b="$(wrk_p99 "$WORK/wrk.$c.$round.txt")" 'BEGIN {print (b > a ? b : a)}')
		non201=$((non201 + $(awk -F= '/^non201=/ {print $2}' "$WORK/wrk.$c.$round.txt")))

		log "round $round/$ROUNDS: pgbench with $c clients, ${SECONDS_EACH}s"
		(cd "$WORK" && PGPASSWORD=$db_password pgbench -n -M prepared -h 127.0.0.1 -p "$FYNN_PGPORT" \
			-U fynn_gateway -c "$c" -j "$threads" -T "$SECONDS_EACH" -l --log-prefix="pgbench_log.$round" \
			-f create_token.sql -D claims="$claims" -D headers="$headers" -D body="$body" \
			"$FYNN_DB" >"$WORK/pgbench.$c.$round.txt" 2>&1) || die "pgbench failed (see $WORK/pgbench.$c.$round.txt)"
		pg_sum=$(awk -v s="$pg_sum" '/^tps = / {printf "%.0f", s + $3}' "$WORK/pgbench.$c.$round.txt")
	done
	pg_p99=$(pgbench_p99)
	rm -f "$WORK"/pgbench_log.*
	gw_rps=$((gw_sum / ROUNDS))
	pg_tps=$((pg_sum / ROUNDS))
	ratio=$(awk -v a="$gw_rps" -v b="$pg_tps" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
	rows+=("$(printf '%5s | %9s | %8s | %9s | %8s | %5s | %7s | %s' \
		"$c" "$gw_rps" "$gw_p99" "$pg_tps" "$pg_p99" "$ratio" "$((rss_kb / 1024))" "$non201")")
done

hwm_kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$gw_pid/status")
echo
echo "POST /user/api-tokens, $ROUNDS x ${SECONDS_EACH}s per side, synchronous_commit=off, $(nproc) cores shared by client, gateway and server"
echo "conns | gw req/s  | gw p99ms | pgbench/s | pg p99ms | ratio | RSS MB  | non-201"
echo "------+-----------+----------+-----------+----------+-------+---------+--------"
printf '%s\n' "${rows[@]}"
echo "gateway VmHWM: $((hwm_kb / 1024)) MB ($hwm_kb kB); targets: ratio >= 0.8, RSS <= 32 MB"
