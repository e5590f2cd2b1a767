#!/usr/bin/env bash
# HTTP tests of fynn-gateway against the installed fynn_tokens extension.
#
#   scripts/test-http.sh            build the gateway, start a private cluster, run every
#                                   test/http/test_*.py module against a gateway of its own,
#                                   a short run of each module's SMOKE list under valgrind,
#                                   then grep every log, the data directory, the WAL and a
#                                   dump for every credential the tests used
#   FYNN_HTTP_VALGRIND=0 ...        skip the valgrind run
#   FYNN_HTTP_MODULES="routes faults" ...   run only these modules (test_<name>.py)
#
# Uses its own cluster (FYNN_RUN=.run-http, port 54373 unless set), so it runs
# beside a development cluster.  Every module gets the same environment: a
# fresh gateway with the same settings, which must exit 0 on SIGTERM after it.
# The last line is "N passed, M failed"; the exit status is non-zero when
# anything failed.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export FYNN_ROOT=$ROOT
export FYNN_RUN=${FYNN_RUN:-$ROOT/.run-http}
export FYNN_PGPORT=${FYNN_PGPORT:-54373}
export FYNN_DB=${FYNN_HTTP_DB:-fynn_http_test}
. "$ROOT/scripts/env.sh"

PY=/usr/bin/python3
WORK=$FYNN_RUN/http-test
GW_LOG=$WORK/gateway.log
PG_LOG=$FYNN_RUN/postgresql.log
SECRETS=$WORK/secrets.txt
MODULE_TIMEOUT=${FYNN_HTTP_MODULE_TIMEOUT:-900}
passed=0
failed=0
gw_pid=
started_at=$(date +%s)

# A setup failure still ends with the summary line the callers parse.
die() { printf 'error: %s\n' "$*" >&2; echo "$passed passed, $((failed + 1)) failed"; exit 1; }
pass() { passed=$((passed + 1)); printf 'ok: %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL: %s\n' "$*"; }
random_string() { "$PY" -c "import secrets,string,sys; a=string.ascii_letters+string.digits; print(''.join(secrets.choice(a) for _ in range(int(sys.argv[1]))))" "$1"; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Stops a gateway we started, by its pid only; returns its exit status.
stop_gateway() {
	local pid=$1 rc=0
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" || rc=$?
	return $rc
}

cleanup() {
	[ -n "$gw_pid" ] && stop_gateway "$gw_pid" >/dev/null 2>&1
	# Gateways the tests started and a killed module left behind: by pid, only if
	# that pid still runs this checkout's gateway (a pid may have been reused).
	if [ -f "$WORK/gateway-pids" ]; then
		while read -r pid; do
			[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$ROOT/gateway/fynn-gateway" ] && kill -TERM "$pid" 2>/dev/null
		done <"$WORK/gateway-pids"
		rm -f "$WORK/gateway-pids"
	fi
	# Back to the default statement logging for whoever uses this cluster next.
	psql -X -q -d postgres -c "ALTER SYSTEM RESET log_statement" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
	[ "${cluster_was_running:-1}" = 1 ] || "$ROOT/scripts/pg-cluster.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

# Waits until the gateway answers /health, or fails when it died.
wait_ready() {
	local port=$1 pid=$2 tries=${3:-100}
	for _ in $(seq "$tries"); do
		kill -0 "$pid" 2>/dev/null || return 1
		curl -sf -o /dev/null "http://127.0.0.1:$port/health" && return 0
		sleep 0.1
	done
	return 1
}

log "building the gateway"
make -s -C "$ROOT/gateway" >/dev/null || die "gateway build failed"

# A cluster this run started is stopped at exit; one already running is left running.
cluster_was_running=0
as_postgres "$FYNN_PGBIN/pg_ctl" -D "$FYNN_PGDATA" status >/dev/null 2>&1 && cluster_was_running=1
log "starting cluster in $FYNN_RUN on port $FYNN_PGPORT"
"$ROOT/scripts/pg-cluster.sh" start || die "cluster did not start"
mkdir -p "$WORK"
: >"$SECRETS"
: >"$GW_LOG"
: >"$WORK/gateway-pids"
pg_log_offset=$(stat -c %s "$PG_LOG" 2>/dev/null || echo 0)

# A fresh database, the extension, and the role the gateway logs in as.
db_password=$(random_string 24)
psql -X -q -v ON_ERROR_STOP=1 -d postgres <<SQL >/dev/null || die "database setup failed"
SET log_statement = 'none';
DROP DATABASE IF EXISTS $FYNN_DB WITH (FORCE);
CREATE DATABASE $FYNN_DB;
SQL
FYNN_GATEWAY_DB_PASSWORD=$db_password "$ROOT/scripts/gateway-role.sh" "$FYNN_DB" >/dev/null ||
	die "CREATE EXTENSION failed (is fynn_tokens installed? make install)"
psql -X -q -v ON_ERROR_STOP=1 -d "$FYNN_DB" <<SQL >/dev/null || die "enabling statement logging failed"
ALTER SYSTEM SET log_statement = 'all';
SELECT pg_reload_conf();
SQL

jwt_secret=$(random_string 48)
echo "$jwt_secret" >>"$SECRETS"
echo "$db_password" >>"$SECRETS"
export GATEWAY_DB_URI="postgresql://fynn_gateway:$db_password@127.0.0.1:$FYNN_PGPORT/$FYNN_DB"

# Runs one gateway process; exec keeps the pid of the background job the gateway's own.
gateway_env() {
	exec env PGRST_DB_URI="$GATEWAY_DB_URI" PGRST_JWT_SECRET="$jwt_secret" \
		PGRST_SERVER_HOST=127.0.0.1 PGRST_SERVER_PORT="$1" PGRST_DB_POOL=4 \
		FYNN_LOG_LEVEL=debug "${@:2}"
}

# The modules, in name order (test_routes.py, with its database restart, after the others).
modules=()
for path in "$ROOT"/test/http/test_*.py; do
	name=$(basename "$path" .py)
	if [ -n "${FYNN_HTTP_MODULES:-}" ] && ! [[ " $FYNN_HTTP_MODULES " == *" ${name#test_} "* ]]; then
		continue
	fi
	modules+=("$path")
done
[ ${#modules[@]} -gt 0 ] || die "no test/http/test_*.py module to run"

# Runs one module against the gateway on port $1 ("smoke" as $3: its SMOKE list only);
# adds its counts, or a failure when it did not finish.  The Python tests get the
# gateway's coordinates; the database password only inside GATEWAY_DB_URI, for the
# gateways the tests start themselves.
run_module() {
	local port=$1 path=$2 mode=${3:-} counts p f
	counts=$WORK/counts.$(basename "$path" .py)
	rm -f "$counts"
	env GATEWAY_PORT="$port" GATEWAY_JWT_SECRET="$jwt_secret" GATEWAY_SECRETS_FILE="$SECRETS" \
		GATEWAY_BIN="$ROOT/gateway/fynn-gateway" GATEWAY_COUNTS_FILE="$counts" \
		GATEWAY_LOG="$GW_LOG" GATEWAY_AUD_LOG="$GW_LOG" GATEWAY_PG_LOG="$PG_LOG" \
		GATEWAY_PIDS_FILE="$WORK/gateway-pids" \
		timeout -k 10 "$MODULE_TIMEOUT" "$PY" "$path" $mode
	if [ -f "$counts" ] && read -r p f <"$counts"; then
		passed=$((passed + p))
		failed=$((failed + f))
		[ "$mode" != smoke ] && module_counts+=("$(basename "$path" .py): $p passed, $f failed")
		return 0
	fi
	fail "$(basename "$path") did not finish"
	return 1
}

module_counts=()
for path in "${modules[@]}"; do
	name=$(basename "$path" .py)
	gw_port=$(free_port)
	log "$name: fynn-gateway on 127.0.0.1:$gw_port"
	gateway_env "$gw_port" "$ROOT/gateway/fynn-gateway" >>"$GW_LOG" 2>&1 &
	gw_pid=$!
	if wait_ready "$gw_port" "$gw_pid"; then
		run_module "$gw_port" "$path"
	else
		fail "fynn-gateway did not start for $name (see $GW_LOG)"
	fi
	if stop_gateway "$gw_pid"; then pass "$name: gateway exits 0 on SIGTERM"; else fail "$name: gateway exit status on SIGTERM"; fi
	gw_pid=
done

# Valgrind: memory errors and leaks over every request path (each module's SMOKE
# list, against one gateway), then a clean SIGTERM shutdown that must free everything.
if [ "${FYNN_HTTP_VALGRIND:-1}" != 0 ] && command -v valgrind >/dev/null; then
	vg_port=$(free_port)
	log "valgrind run on 127.0.0.1:$vg_port"
	# Valgrind slows the SCRAM handshake past the default 2 s connect_timeout.
	GATEWAY_DB_URI="$GATEWAY_DB_URI?connect_timeout=15" gateway_env "$vg_port" valgrind -q --error-exitcode=99 --leak-check=full \
		--show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
		--log-file="$WORK/valgrind.log" "$ROOT/gateway/fynn-gateway" >>"$GW_LOG" 2>&1 &
	gw_pid=$!
	if wait_ready "$vg_port" "$gw_pid" 300; then
		before_p=$passed before_f=$failed
		: >"$WORK/valgrind-tests.log"
		for path in "${modules[@]}"; do
			run_module "$vg_port" "$path" smoke >>"$WORK/valgrind-tests.log" 2>&1
		done
		vg_p=$((passed - before_p)) vg_f=$((failed - before_f))
		passed=$before_p failed=$before_f
		if [ "$vg_f" = 0 ] && [ "$vg_p" -gt 0 ]; then
			pass "smoke tests under valgrind ($vg_p)"
		else
			fail "smoke tests under valgrind: $vg_p passed, $vg_f failed (see $WORK/valgrind-tests.log)"
		fi
	else
		fail "gateway did not start under valgrind"
	fi
	vg_rc=0
	stop_gateway "$gw_pid" || vg_rc=$?
	gw_pid=
	if [ "$vg_rc" = 0 ] && [ ! -s "$WORK/valgrind.log" ]; then
		pass "valgrind: no memory errors, no leaks after SIGTERM"
	else
		fail "valgrind exit $vg_rc (see $WORK/valgrind.log)"
		cat "$WORK/valgrind.log"
	fi
else
	log "valgrind run skipped"
fi

# Every JWT, API token, cookie and secret the tests used must be absent
# from the gateway's log and from the postgres log (log_statement=all).
tail -c +"$((pg_log_offset + 1))" "$PG_LOG" >"$WORK/postgresql-run.log"
grep -q 'fynn_api.create_user_api_token' "$WORK/postgresql-run.log" &&
	pass "postgres log has the statements (log_statement=all was on)" ||
	fail "postgres log lacks the statements: the secret check would prove nothing"
leaks=0
for f in "$GW_LOG" "$WORK/postgresql-run.log"; do
	while IFS= read -r secret; do
		leaks=$((leaks + 1))
		printf 'secret #%d found in %s\n' "$(grep -nxF -- "$secret" "$SECRETS" | head -1 | cut -d: -f1)" "$f"
	done < <(grep -aoF -f <(grep . "$SECRETS") -- "$f" | sort -u)
done
n_secrets=$(sort -u "$SECRETS" | grep -c .)
if [ "$leaks" = 0 ]; then
	pass "none of $n_secrets credentials appears in the gateway or postgres log"
else
	fail "$leaks credentials found in logs"
fi

# Last, after everything: none of them at rest either (data files, WAL, a dump).
if FYNN_HTTP_LOGS="$GW_LOG $WORK/postgresql-run.log" bash "$ROOT/test/http/check-secrets-at-rest.sh" "$SECRETS"; then
	pass "no credential at rest in the data directory, the WAL, a dump or a log"
else
	fail "credentials at rest (see above)"
fi

printf '%s\n' "${module_counts[@]}"
echo "duration: $(($(date +%s) - started_at)) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
