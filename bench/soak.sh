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
. "$(dirname "$0")/lib.sh"
use_bench_cluster "$ROOT/.run-soak" 54378 fynn_soak
minutes=${1:-5}
threads=${2:-8}
# The soak stops its cluster at exit even if it found it running.
trap 'stop_gateways; stop_bench_cluster' EXIT

build_gateway
start_bench_cluster >/dev/null 2>&1
recreate_databases "$FYNN_DB" 2>/dev/null
alter_system "SET synchronous_commit = off"
new_gateway_secrets 12
grant_gateway_role "$FYNN_DB"
port=$(free_port)
admin_port=$(free_port)
start_gateway "$port" "$FYNN_DB" 8 "$FYNN_RUN/soak-gateway.log" \
	PGRST_ADMIN_SERVER_PORT="$admin_port" FYNN_LOG_LEVEL=warn
# With the admin port set, /ready answers there.
wait_for_gateway "$admin_port" || die "gateway not ready (see $FYNN_RUN/soak-gateway.log)"

log "soak: $minutes min, $threads threads"
SOAK_GATEWAY_PORT=$port SOAK_JWT_SECRET=$jwt_secret SOAK_GATEWAY_PID=$gateway_pid SOAK_MINUTES=$minutes \
	SOAK_THREADS=$threads SOAK_PSQL="psql -X -d $FYNN_DB" "$PY" "$ROOT/bench/soak.py"
