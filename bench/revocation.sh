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

. "$(dirname "$0")/lib.sh"
use_bench_cluster "$ROOT/.run-bench-auth" 54376 "${FYNN_BENCH_DB:-fynn_bench_revocation}"

TRIALS=${FYNN_BENCH_TRIALS:-100}
THREADS=${FYNN_BENCH_THREADS:-2}
WORK=$FYNN_RUN/bench-revocation
mkdir -p "$WORK"
trap cleanup_bench EXIT

build_gateway
start_bench_cluster
new_gateway_secrets
recreate_databases "$FYNN_DB"
grant_gateway_role "$FYNN_DB"

gw_port=$(free_port)
start_gateway "$gw_port" "$FYNN_DB" 8 "$WORK/gateway.log"
wait_for_gateway "$gw_port" || die "gateway not ready (see $WORK/gateway.log)"

echo "revocation -> 401 on GET /auth, cached token, gateway on 127.0.0.1:$gw_port, $(nproc) cores shared"
"$PY" "$ROOT/bench/revocation.py" "$gw_port" \
	"host=$FYNN_PGSOCK port=$FYNN_PGPORT dbname=$FYNN_DB user=postgres application_name=fynn-bench-revoker" \
	"$jwt_secret" "${FYNN_BENCH_MODES:-plain,kill}" "$TRIALS" "$THREADS"
