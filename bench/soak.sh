#!/usr/bin/env bash
# Soak: N minutes (default 5) of mixed traffic through fynn-gateway at full
# rate (bench/soak.py): unexpected statuses (target 0), gateway RSS and the
# database backends' memory at start, middle and end (target: flat), and
# every issued token still live verifying at the end.
#
#   bench/soak.sh [MINUTES] [THREADS]
#
# Own cluster (.run-soak, port 54378), database and gateway.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export FYNN_ROOT=$ROOT
export FYNN_RUN=${FYNN_RUN:-$ROOT/.run-soak}
export FYNN_PGPORT=${FYNN_PGPORT:-54378}
export FYNN_DB=fynn_soak
. "$ROOT/scripts/env.sh"
PY=/usr/bin/python3
minutes=${1:-5}
threads=${2:-8}
gw_pid=

cleanup() {
	[ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null && wait "$gw_pid" 2>/dev/null
	"$ROOT/scripts/pg-cluster.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

make -s -C "$ROOT/gateway" >/dev/null
"$ROOT/scripts/pg-cluster.sh" start >/dev/null 2>&1
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $FYNN_DB WITH (FORCE)" -c "CREATE DATABASE $FYNN_DB" 2>/dev/null
psql -X -q -d postgres -c "ALTER SYSTEM SET synchronous_commit = off" -c "SELECT pg_reload_conf()" >/dev/null
password=$("$PY" -c 'import secrets; print(secrets.token_hex(12))')
secret=$("$PY" -c 'import secrets; print(secrets.token_hex(24))')
FYNN_GATEWAY_DB_PASSWORD=$password "$ROOT/scripts/gateway-role.sh" "$FYNN_DB" >/dev/null
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
admin_port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PGRST_DB_URI="postgresql://fynn_gateway:$password@127.0.0.1:$FYNN_PGPORT/$FYNN_DB" PGRST_JWT_SECRET="$secret" \
	PGRST_SERVER_PORT=$port PGRST_DB_POOL=8 PGRST_ADMIN_SERVER_PORT=$admin_port FYNN_LOG_LEVEL=warn \
	"$ROOT/gateway/fynn-gateway" >"$FYNN_RUN/soak-gateway.log" 2>&1 &
gw_pid=$!
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/ready" && break; sleep 0.1; done

log "soak: $minutes min, $threads threads"
SOAK_GATEWAY_PORT=$port SOAK_JWT_SECRET=$secret SOAK_GATEWAY_PID=$gw_pid SOAK_MINUTES=$minutes \
	SOAK_THREADS=$threads SOAK_PSQL="psql -X -d $FYNN_DB" "$PY" "$ROOT/bench/soak.py"
