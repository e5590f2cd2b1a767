#!/usr/bin/env bash
# Revocation latency of forward-auth: from the COMMIT of a revocation
# returning to the first 401 from /auth for a token the verify cache held,
# 100 trials; then the same with the gateway's LISTEN connection killed at
# a random moment around each revocation.  Driver: bench/revocation.py.
#
#   bench/revocation.sh
#   FYNN_BENCH_TRIALS=200 FYNN_BENCH_THREADS=4 bench/revocation.sh
#   FYNN_BENCH_DUMP=/tmp/rev bench/revocation.sh   also writes each trial to /tmp/rev.<mode>.json
#   FYNN_BENCH_MODES=kill bench/revocation.sh       one mode only (plain, kill)
#
# A bench-side LISTEN connection records when the database delivered each
# revocation's NOTIFY, so a stall of the machine (the notification itself
# late) is told apart from a slow gateway.
#
# Targets: p99 < 50 ms; no 200 for a request that started more than 50 ms
# after the COMMIT returned, in either mode.  Uses the cluster of
# bench/auth.sh (.run-bench-auth, port 54376) with a database of its own.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export FYNN_ROOT=$ROOT
export FYNN_RUN=${FYNN_RUN:-$ROOT/.run-bench-auth}
export FYNN_PGPORT=${FYNN_PGPORT:-54376}
export FYNN_DB=${FYNN_BENCH_DB:-fynn_bench_revocation}
. "$ROOT/scripts/env.sh"

PY=/usr/bin/python3
TRIALS=${FYNN_BENCH_TRIALS:-100}
THREADS=${FYNN_BENCH_THREADS:-2}
WORK=$FYNN_RUN/bench-revocation
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

make -s -C "$ROOT/gateway" >/dev/null
cluster_was_running=0
as_postgres "$FYNN_PGBIN/pg_ctl" -D "$FYNN_PGDATA" status >/dev/null 2>&1 && cluster_was_running=1
"$ROOT/scripts/pg-cluster.sh" start
db_password=$("$PY" -c 'import secrets; print(secrets.token_hex(16))')
jwt_secret=$("$PY" -c 'import secrets; print(secrets.token_hex(24))')
psql -X -q -v ON_ERROR_STOP=1 -d postgres <<SQL >/dev/null
SET log_statement = 'none';
DROP DATABASE IF EXISTS $FYNN_DB WITH (FORCE);
CREATE DATABASE $FYNN_DB;
SQL
FYNN_GATEWAY_DB_PASSWORD=$db_password "$ROOT/scripts/gateway-role.sh" "$FYNN_DB" >/dev/null

gw_port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PGRST_DB_URI="postgresql://fynn_gateway:$db_password@127.0.0.1:$FYNN_PGPORT/$FYNN_DB" \
	PGRST_JWT_SECRET="$jwt_secret" PGRST_SERVER_PORT=$gw_port PGRST_DB_POOL=8 \
	FYNN_LOG_LEVEL=${FYNN_BENCH_LOG_LEVEL:-warn} \
	"$ROOT/gateway/fynn-gateway" >"$WORK/gateway.log" 2>&1 &
gw_pid=$!
for _ in $(seq 100); do
	curl -sf -o /dev/null "http://127.0.0.1:$gw_port/ready" && break
	sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$gw_port/ready" || die "gateway not ready (see $WORK/gateway.log)"

echo "revocation -> 401 on GET /auth, cached token, gateway on 127.0.0.1:$gw_port, $(nproc) cores shared"
"$PY" "$ROOT/bench/revocation.py" "$gw_port" \
	"host=$FYNN_PGSOCK port=$FYNN_PGPORT dbname=$FYNN_DB user=postgres application_name=fynn-bench-revoker" \
	"$jwt_secret" "${FYNN_BENCH_MODES:-plain,kill}" "$TRIALS" "$THREADS"
