#!/usr/bin/env bash
# The README's first command, as a user runs it: scripts/demo.sh walks every
# route with the statuses it announces, can run again over its own state, and
# "scripts/demo.sh stop" stops the gateway and the cluster it started.
# Own state (.run-demo-test, port 54378) and a free gateway port, so the
# user's .run/ and port 3000 are left alone.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export FYNN_RUN=$ROOT/.run-demo-test FYNN_PGPORT=54378
unset FYNN_PGDATA FYNN_PGSOCK
. "$ROOT/test/lib.sh"
export PGRST_SERVER_PORT
PGRST_SERVER_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
trap '"$ROOT/scripts/demo.sh" stop >/dev/null 2>&1' EXIT

# The statuses the demo's steps announce, in order.
expected="201 201 200 200 200 201 204 204 202 401 200"

for run in first second; do
	out=$("$ROOT/scripts/demo.sh" 2>&1)
	check "$run run exits 0" 0 $?
	check "$run run: every route answers as announced" "$expected" \
		"$(grep -Eo '^=> HTTP [0-9]+' <<<"$out" | awk '{print $3}' | xargs)"
	check "$run run: a token created in SQL verifies as its user" 1 \
		"$(grep -c '^verified: {"sub":"demo-user","tenant_id":"demo-tenant"' <<<"$out")"
	check "$run run: says how to stop" 1 "$(grep -c 'Stop everything: scripts/demo.sh stop' <<<"$out")"
done
gateway_pid=$(cat "$FYNN_RUN/gateway.pid" 2>/dev/null)
check "the gateway runs after the demo" yes "$(kill -0 "$gateway_pid" 2>/dev/null && echo yes || echo no)"

"$ROOT/scripts/demo.sh" stop >/dev/null 2>&1
check "stop exits 0" 0 $?
sleep 0.5
check "stop ends the gateway" no "$(kill -0 "$gateway_pid" 2>/dev/null && echo yes || echo no)"
check "stop ends the cluster" stopped \
	"$(as_postgres "$FYNN_PGBIN/pg_ctl" -D "$FYNN_PGDATA" status >/dev/null 2>&1 && echo running || echo stopped)"
check "nothing listens on the gateway's port" closed \
	"$(curl -s -o /dev/null "http://127.0.0.1:$PGRST_SERVER_PORT/health" && echo open || echo closed)"
finish demo
