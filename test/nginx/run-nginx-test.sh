#!/usr/bin/env bash
# A real nginx in front of fynn-gateway, configured with
# docs/nginx/forward-auth.conf: auth_request asks the gateway's /auth, and
# the gateway, as the upstream, receives the minted JWT instead of the
# client's API token.  The cases are in nginx_cases.py.
#
#   test/nginx/run-nginx-test.sh
#
# Installs Debian's nginx when it is missing.  Uses its own cluster
# (FYNN_RUN=.run-nginx, port 54375 unless set).  Prints "ok - ..." /
# "not ok - ..." lines and "nginx: N passed, M failed"; exits non-zero on a
# failure.  nginx, the gateway and the cluster (when this run started it)
# are stopped on exit, failure or not.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export FYNN_ROOT=$ROOT
export FYNN_RUN=${FYNN_RUN:-$ROOT/.run-nginx}
export FYNN_PGPORT=${FYNN_PGPORT:-54375}
export FYNN_DB=${FYNN_NGINX_DB:-fynn_nginx_test}
. "$ROOT/scripts/env.sh"

PY=/usr/bin/python3
CONF=$ROOT/docs/nginx/forward-auth.conf
PG_LOG=$FYNN_RUN/postgresql.log
passed=0
failed=0
gw_pid=
nginx_pid=
tmp=

ok() { passed=$((passed + 1)); printf 'ok - %s\n' "$*"; }
not_ok() { failed=$((failed + 1)); printf 'not ok - %s\n' "$*"; }
summary() { echo "nginx: $passed passed, $failed failed"; }
# A setup failure still ends with the summary line.
die() { printf 'error: %s\n' "$*" >&2; not_ok "setup: $*"; exit 1; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
random_string() { "$PY" -c "import secrets; print(secrets.token_urlsafe(int('$1')))"; }

# Stops what this run started, by pid, and prints the summary (also after a failure).
cleanup() {
	local rc=$?
	if [ -n "$nginx_pid" ]; then
		kill -QUIT "$nginx_pid" 2>/dev/null
		wait "$nginx_pid" 2>/dev/null
	fi
	if [ -n "$gw_pid" ]; then
		kill -TERM "$gw_pid" 2>/dev/null
		wait "$gw_pid" 2>/dev/null
	fi
	psql -X -q -d postgres -c "ALTER SYSTEM RESET log_statement" -c "SELECT pg_reload_conf()" >/dev/null 2>&1
	[ "${cluster_was_running:-1}" = 1 ] || "$ROOT/scripts/pg-cluster.sh" stop >/dev/null 2>&1
	[ -n "$tmp" ] && rm -rf "$tmp"
	summary
	[ "$failed" = 0 ] && [ "$rc" = 0 ] && exit 0
	exit 1
}
trap cleanup EXIT

# Debian's nginx, only when missing; its service is not started (policy-rc.d).
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$NGINX" ]; then
	log "installing nginx"
	made_policy=0
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
	fi
	apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
	install_rc=$?
	[ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
	[ "$install_rc" = 0 ] || die "apt-get install nginx failed"
	NGINX=/usr/sbin/nginx
fi
"$NGINX" -V 2>&1 | grep -q -- --with-http_auth_request_module || die "this nginx has no auth_request module"

make -s -C "$ROOT/gateway" >/dev/null || die "gateway build failed"

# The cluster, a fresh database, the extension and the gateway's role, as scripts/test-http.sh does.
cluster_was_running=0
as_postgres "$FYNN_PGBIN/pg_ctl" -D "$FYNN_PGDATA" status >/dev/null 2>&1 && cluster_was_running=1
"$ROOT/scripts/pg-cluster.sh" start 2>/dev/null || die "cluster did not start"
tmp=$(mktemp -d /tmp/fynn-nginx.XXXXXX)
chmod 755 "$tmp"
db_password=$(random_string 18)
jwt_secret=$(random_string 36)
psql -X -q -v ON_ERROR_STOP=1 -d postgres >/dev/null <<SQL || die "database setup failed"
SET log_statement = 'none';
DROP DATABASE IF EXISTS $FYNN_DB WITH (FORCE);
CREATE DATABASE $FYNN_DB;
SQL
FYNN_GATEWAY_DB_PASSWORD=$db_password "$ROOT/scripts/gateway-role.sh" "$FYNN_DB" >/dev/null ||
	die "CREATE EXTENSION failed (is fynn_tokens installed? make install)"
pg_log_offset=$(stat -c %s "$PG_LOG" 2>/dev/null || echo 0)
psql -X -q -d postgres -c "ALTER SYSTEM SET log_statement = 'all'" -c "SELECT pg_reload_conf()" >/dev/null ||
	die "enabling statement logging failed"

# One gateway, both the auth service and the upstream.  "authorization" on
# its request.headers allow-list is for this test only: it puts the header
# the upstream received into the postgres log, which is the proof that it
# was a minted JWT (see nginx_cases.py).
gw_port=$(free_port)
gw_log=$tmp/gateway.log
env PGRST_DB_URI="postgresql://fynn_gateway:$db_password@127.0.0.1:$FYNN_PGPORT/$FYNN_DB" \
	PGRST_JWT_SECRET="$jwt_secret" PGRST_SERVER_HOST=127.0.0.1 PGRST_SERVER_PORT="$gw_port" \
	PGRST_DB_POOL=4 FYNN_LOG_LEVEL=info FYNN_REQUEST_HEADERS="authorization,content-type,host" \
	"$ROOT/gateway/fynn-gateway" >"$gw_log" 2>&1 &
gw_pid=$!
for _ in $(seq 100); do
	curl -sf -o /dev/null "http://127.0.0.1:$gw_port/ready" && break
	kill -0 "$gw_pid" 2>/dev/null || break
	sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$gw_port/ready" || die "gateway not ready: $(tail -5 "$gw_log")"

# nginx: the documented server block, pointed at this gateway and a free port,
# inside a minimal http block whose files all live in the temp folder.
ng_port=$(free_port)
mkdir -p "$tmp/logs" "$tmp/temp"
sed -e "s/server 127\.0\.0\.1:3000;/server 127.0.0.1:$gw_port;/" \
	-e "s/listen 127\.0\.0\.1:8080;/listen 127.0.0.1:$ng_port;/" "$CONF" >"$tmp/forward-auth.conf"
grep -q "127.0.0.1:$gw_port;" "$tmp/forward-auth.conf" && grep -q "listen 127.0.0.1:$ng_port;" "$tmp/forward-auth.conf" ||
	die "docs/nginx/forward-auth.conf no longer has 'server 127.0.0.1:3000;' and 'listen 127.0.0.1:8080;'"
cat >"$tmp/nginx.conf" <<CONF
worker_processes 1;
events { worker_connections 256; }
http {
    access_log $tmp/logs/access.log;
    client_body_temp_path $tmp/temp/client_body;
    proxy_temp_path $tmp/temp/proxy;
    fastcgi_temp_path $tmp/temp/fastcgi;
    uwsgi_temp_path $tmp/temp/uwsgi;
    scgi_temp_path $tmp/temp/scgi;
    include $tmp/forward-auth.conf;
}
CONF
nginx_args=(-p "$tmp" -c "$tmp/nginx.conf" -g "daemon off; pid $tmp/nginx.pid; error_log $tmp/error.log;")
"$NGINX" -t "${nginx_args[@]}" >"$tmp/nginx-t.log" 2>&1 || die "nginx -t: $(cat "$tmp/nginx-t.log")"
"$NGINX" "${nginx_args[@]}" &
nginx_pid=$!
for _ in $(seq 100); do
	curl -s -o /dev/null "http://127.0.0.1:$ng_port/" && break
	kill -0 "$nginx_pid" 2>/dev/null || break
	sleep 0.05
done
curl -s -o /dev/null "http://127.0.0.1:$ng_port/" || die "nginx did not start: $(cat "$tmp/error.log")"

env GATEWAY_PORT="$gw_port" NGINX_PORT="$ng_port" GATEWAY_JWT_SECRET="$jwt_secret" \
	GATEWAY_LOG="$gw_log" PG_LOG="$PG_LOG" PG_LOG_OFFSET="$pg_log_offset" \
	NGINX_COUNTS_FILE="$tmp/counts" "$PY" "$ROOT/test/nginx/nginx_cases.py"
if [ -f "$tmp/counts" ]; then
	read -r p f <"$tmp/counts"
	passed=$((passed + p))
	failed=$((failed + f))
else
	not_ok "nginx_cases.py did not finish"
fi
grep -q '\[emerg\]\|\[alert\]\|\[crit\]' "$tmp/error.log" && not_ok "nginx error log: $(grep '\[emerg\]\|\[alert\]\|\[crit\]' "$tmp/error.log" | head -3)"

# The README shows the configuration this test ran, byte for byte.
if "$PY" - "$ROOT/README.md" "$CONF" <<'PYEOF'; then
import re, sys
readme = open(sys.argv[1], encoding="utf-8").read()
conf = open(sys.argv[2], encoding="utf-8").read()
blocks = re.findall(r"^```nginx\n(.*?)^```$", readme, re.S | re.M)
sys.exit(0 if conf in blocks else 1)
PYEOF
	ok "README.md has docs/nginx/forward-auth.conf verbatim in an nginx code block"
else
	not_ok "README.md has docs/nginx/forward-auth.conf verbatim in an nginx code block"
fi
