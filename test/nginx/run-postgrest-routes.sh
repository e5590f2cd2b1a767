#!/usr/bin/env bash
# The README's nginx configuration for PostgREST (docs/nginx/postgrest-routes.conf),
# with a real nginx in front of PostgREST's replay (test/postgrest/emulator.py),
# compared request by request with fynn-gateway serving the same routes
# (test/postgrest/test_parity.py): same status, same contract headers, same body.
#
# Own cluster (.run-nginx-prest, port 54377), database, PostgREST's roles as the
# README sets them up, the gateway's role.  Prints "parity: N passed, M failed"
# (plus a check that the README shows the configuration verbatim); non-zero on failure.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export FYNN_ROOT=$ROOT
export FYNN_RUN=${FYNN_RUN:-$ROOT/.run-nginx-prest}
export FYNN_PGPORT=${FYNN_PGPORT:-54377}
export FYNN_DB=fynn_parity
. "$ROOT/scripts/env.sh"

PY=/usr/bin/python3
WORK=$FYNN_RUN/work
pids=()
die() { printf 'error: %s\n' "$*" >&2; echo "parity: 0 passed, 1 failed"; exit 1; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
random_string() { "$PY" -c "import secrets; print(secrets.token_hex(int('$1')))"; }

cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
	[ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null
	"$ROOT/scripts/pg-cluster.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

command -v nginx >/dev/null || {
	apt-get install -y -q nginx >/dev/null 2>&1 || die "cannot install nginx"
	# Debian starts the packaged service; this test runs its own.
	systemctl disable --now nginx >/dev/null 2>&1 || pkill -x nginx || true
}
make -s -C "$ROOT/gateway" >/dev/null || die "gateway build failed"
mkdir -p "$WORK"
"$ROOT/scripts/pg-cluster.sh" start >/dev/null 2>&1 || die "cluster did not start"

secret=$(random_string 24)
authenticator_pw=$(random_string 12)
gateway_pw=$(random_string 12)
psql -X -q -v ON_ERROR_STOP=1 -d postgres -v db="$FYNN_DB" <<'SQL' >/dev/null || die "database setup failed"
SET client_min_messages = warning;
SET log_statement = 'none';
DROP DATABASE IF EXISTS :"db" WITH (FORCE);
CREATE DATABASE :"db";
SQL
# The extension, roles and grants exactly as the README gives them, with this run's password.
"$ROOT/test/postgrest/readme-postgrest-setup.sh" "$FYNN_DB" "$authenticator_pw" || die "the README's PostgREST setup failed"
FYNN_GATEWAY_DB_PASSWORD=$gateway_pw "$ROOT/scripts/gateway-role.sh" "$FYNN_DB" >/dev/null || die "gateway role setup failed"

emulator_port=$(free_port)
gateway_port=$(free_port)
nginx_port=$(free_port)
"$PY" "$ROOT/test/postgrest/emulator.py" "$emulator_port" \
	"host=127.0.0.1 port=$FYNN_PGPORT dbname=$FYNN_DB user=authenticator password=$authenticator_pw" \
	web_anon "$secret" fynn_api.pre_request >"$WORK/emulator.log" 2>&1 &
pids+=($!)
PGRST_DB_URI="postgresql://fynn_gateway:$gateway_pw@127.0.0.1:$FYNN_PGPORT/$FYNN_DB" PGRST_JWT_SECRET="$secret" \
	PGRST_SERVER_PORT=$gateway_port FYNN_LOG_LEVEL=info "$ROOT/gateway/fynn-gateway" >"$WORK/gateway.log" 2>&1 &
pids+=($!)

# The README's file, with only the two addresses changed to this test's.
sed -e "s/127.0.0.1:3000/127.0.0.1:$emulator_port/" -e "s/127.0.0.1:8080/127.0.0.1:$nginx_port/" \
	"$ROOT/docs/nginx/postgrest-routes.conf" >"$WORK/routes.conf"
cat >"$WORK/nginx.conf" <<CONF
worker_processes 1;
events { worker_connections 64; }
http {
    access_log $WORK/access.log;
    client_body_temp_path $WORK/body;
    proxy_temp_path $WORK/proxy;
    fastcgi_temp_path $WORK/fastcgi;
    uwsgi_temp_path $WORK/uwsgi;
    scgi_temp_path $WORK/scgi;
    include $WORK/routes.conf;
}
CONF
nginx -t -p "$WORK" -c "$WORK/nginx.conf" -g "pid $WORK/nginx.pid; error_log $WORK/error.log;" >"$WORK/nginx-t.log" 2>&1 ||
	{ cat "$WORK/nginx-t.log"; die "nginx refuses the configuration"; }
nginx -p "$WORK" -c "$WORK/nginx.conf" -g "pid $WORK/nginx.pid; error_log $WORK/error.log;" ||
	die "nginx did not start"

for port in "$emulator_port" "$gateway_port" "$nginx_port"; do
	for _ in $(seq 100); do
		"$PY" -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
		sleep 0.1
	done
done

: >"$WORK/secrets.txt"
PARITY_GATEWAY_PORT=$gateway_port PARITY_NGINX_PORT=$nginx_port PARITY_JWT_SECRET="$secret" \
	PARITY_SECRETS_FILE="$WORK/secrets.txt" "$PY" "$ROOT/test/postgrest/test_parity.py" | tee "$WORK/parity.out"
status=${PIPESTATUS[0]}
if [ "$status" != 0 ]; then
	echo "--- nginx error log"; tail -20 "$WORK/error.log"
	echo "--- emulator log"; tail -20 "$WORK/emulator.log"
fi
# The README shows the configuration this test ran, byte for byte.
if "$PY" - "$ROOT/README.md" "$ROOT/docs/nginx/postgrest-routes.conf" <<'PYEOF'; then
import re, sys
readme = open(sys.argv[1], encoding="utf-8").read()
conf = open(sys.argv[2], encoding="utf-8").read()
sys.exit(0 if conf in re.findall(r"^```nginx\n(.*?)^```$", readme, re.S | re.M) else 1)
PYEOF
	echo "ok - README.md has docs/nginx/postgrest-routes.conf verbatim in an nginx code block"
else
	echo "not ok - README.md has docs/nginx/postgrest-routes.conf verbatim in an nginx code block"
	status=1
fi
exit "$status"
