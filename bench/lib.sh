# Sourced by the gateway benchmarks (bench/gateway.sh, auth.sh, revocation.sh,
# soak.sh): the setup they all need, written once.  Each script keeps its own
# defaults (run folder, port, database), server settings and measurements.
#
# Sets ROOT (the checkout) and PY; new_gateway_secrets sets db_password and
# jwt_secret, which grant_gateway_role and start_gateway use; start_gateway
# sets gateway_pid and adds it to gateway_pids, which stop_gateways stops.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=/usr/bin/python3
gateway_pids=()

# use_bench_cluster RUN PORT DB: each benchmark has a cluster of its own, which FYNN_RUN and FYNN_PGPORT may still move.
use_bench_cluster() {
	export FYNN_ROOT=$ROOT
	export FYNN_RUN=${FYNN_RUN:-$1}
	export FYNN_PGPORT=${FYNN_PGPORT:-$2}
	export FYNN_DB=$3
	. "$ROOT/scripts/env.sh"
}

# require_tools TOOL...: a missing client is named before any setup, with where to get it.
require_tools() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null || die "$tool is not installed (scripts/install-deps.sh)"
	done
}

# build_gateway: the benchmark measures the gateway the current source builds.
build_gateway() {
	make -s -C "$ROOT/gateway" >/dev/null
}

# start_bench_cluster: notes in cluster_was_running whether it was up, so the exit leaves a cluster it found running.
start_bench_cluster() {
	cluster_was_running=0
	as_postgres "$FYNN_PGBIN/pg_ctl" -D "$FYNN_PGDATA" status >/dev/null 2>&1 && cluster_was_running=1
	"$ROOT/scripts/pg-cluster.sh" start
}

# stop_bench_cluster: quiet and never failing, as an exit trap needs.
stop_bench_cluster() {
	"$ROOT/scripts/pg-cluster.sh" stop >/dev/null 2>&1 || true
}

# random_hex BYTES: credentials are new every run and never written to a file.
random_hex() {
	"$PY" -c "import secrets; print(secrets.token_hex($1))"
}

# new_gateway_secrets [PASSWORD_BYTES]: the gateway role's password and the JWT secret the gateway checks.
new_gateway_secrets() {
	db_password=$(random_hex "${1:-16}")
	jwt_secret=$(random_hex 24)
}

# free_port: the gateway listens where nothing else on this shared machine does.
free_port() {
	"$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# recreate_databases DB...: every run starts from empty databases (statement logging off for the session).
recreate_databases() {
	local db
	{
		echo "SET log_statement = 'none';"
		for db in "$@"; do echo "DROP DATABASE IF EXISTS $db WITH (FORCE);"; done
		for db in "$@"; do echo "CREATE DATABASE $db;"; done
	} | psql -X -q -v ON_ERROR_STOP=1 -d postgres >/dev/null
}

# alter_system CLAUSE...: the server settings a benchmark runs under ("SET x = y", "RESET x"), in force on return.
alter_system() {
	local clause
	{
		for clause in "$@"; do echo "ALTER SYSTEM $clause;"; done
		echo "SELECT pg_reload_conf();"
	} | psql -X -q -v ON_ERROR_STOP=1 -d postgres >/dev/null
}

# grant_gateway_role DB...: the gateway runs with the privileges an operator would give it.
grant_gateway_role() {
	local db
	for db in "$@"; do
		FYNN_GATEWAY_DB_PASSWORD=$db_password "$ROOT/scripts/gateway-role.sh" "$db" >/dev/null
	done
}

# start_gateway PORT DB POOL LOG [VAR=VALUE...]: a gateway in the background, stopped at exit; extra settings win.
start_gateway() {
	local port=$1 db=$2 pool=$3 log_file=$4
	shift 4
	env PGRST_DB_URI="postgresql://fynn_gateway:$db_password@127.0.0.1:$FYNN_PGPORT/$db" \
		PGRST_JWT_SECRET="$jwt_secret" PGRST_SERVER_PORT="$port" PGRST_DB_POOL="$pool" \
		FYNN_LOG_LEVEL="${FYNN_BENCH_LOG_LEVEL:-warn}" "$@" \
		"$ROOT/gateway/fynn-gateway" >"$log_file" 2>&1 &
	gateway_pid=$!
	gateway_pids+=("$gateway_pid")
}

# gateway_ready PORT: /ready is 200 only once the gateway reaches its database (503 before).
gateway_ready() {
	curl -sf -o /dev/null "http://127.0.0.1:$1/ready"
}

# wait_for_gateway PORT: measuring starts once the gateway answers; fails after about 10 s without.
wait_for_gateway() {
	for _ in $(seq 100); do
		gateway_ready "$1" && return 0
		sleep 0.1
	done
	gateway_ready "$1"
}

# stop_gateways: no gateway outlives its benchmark, and only the ones this run started are signalled.
stop_gateways() {
	local pid
	for pid in "${gateway_pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

# cleanup_bench: the exit trap; the cluster is stopped only if this run started it.
cleanup_bench() {
	stop_gateways
	[ "${cluster_was_running:-1}" = 1 ] || stop_bench_cluster
}

# sign_jwt SECRET CLAIMS: an HS256 JWT whose payload is CLAIMS byte for byte, as a client would send it.
sign_jwt() {
	"$PY" - "$1" "$2" <<'PYEOF'
import base64, hashlib, hmac, sys
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = b64(b'{"alg":"HS256","typ":"JWT"}')
body = b64(sys.argv[2].encode())
sig = b64(hmac.new(sys.argv[1].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
print(f"{head}.{body}.{sig}")
PYEOF
}

# largest N...: a gateway's pool is sized for the most connections the run will open.
largest() {
	local n max=0
	for n in "$@"; do
		[ "$n" -gt "$max" ] && max=$n
	done
	echo "$max"
}
