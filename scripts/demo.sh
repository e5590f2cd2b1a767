#!/usr/bin/env bash
# The main command: installs what is missing, builds and installs the
# extension and the gateway, starts a private cluster under .run/ and the
# gateway on 127.0.0.1:3000, and walks a token's life over HTTP: created
# with a JWT, used as a Bearer credential, exchanged at /auth, listed,
# rotated, revoked.  Prints a ready-to-paste curl for every route.
# Safe to run again.  Stop it all with: scripts/demo.sh stop
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

GATEWAY_PORT=${PGRST_SERVER_PORT:-3000}
SECRET_FILE=$FYNN_RUN/jwt_secret
DB_PASSWORD_FILE=$FYNN_RUN/gateway_db_password
BASE=http://127.0.0.1:$GATEWAY_PORT

# Stops the gateway this script started, by the pid it recorded, and waits
# until it has answered what it was serving and exited.
stop_gateway() {
	local pid
	if [ -f "$FYNN_RUN/gateway.pid" ]; then
		pid=$(cat "$FYNN_RUN/gateway.pid")
		# Only while that pid is still a gateway: a stale file must not kill a reused pid.
		# (comm, not exe: a reinstalled binary shows as "... (deleted)")
		if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = fynn-gateway ]; then
			kill "$pid" 2>/dev/null || true
			for _ in $(seq 400); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		fi
		rm -f "$FYNN_RUN/gateway.pid"
	fi
}

if [ "${1:-}" = stop ]; then
	stop_gateway
	scripts/pg-cluster.sh stop
	exit 0
fi

scripts/install-deps.sh
log "building"
make -s >/dev/null
make -s install >/dev/null
scripts/pg-cluster.sh start

# Secrets are made once and kept in .run/, readable by root only.
umask 077
[ -s "$SECRET_FILE" ] || openssl rand -hex 32 >"$SECRET_FILE"
[ -s "$DB_PASSWORD_FILE" ] || openssl rand -hex 16 >"$DB_PASSWORD_FILE"
umask 022
jwt_secret=$(cat "$SECRET_FILE")
db_password=$(cat "$DB_PASSWORD_FILE")

log "installing the extension in database $FYNN_DB (and updating it if an older version is there)"
psql -X -q -d "$FYNN_DB" -c "CREATE EXTENSION IF NOT EXISTS fynn_tokens CASCADE" -c "ALTER EXTENSION fynn_tokens UPDATE" 2>/dev/null
FYNN_GATEWAY_DB_PASSWORD=$db_password scripts/gateway-role.sh "$FYNN_DB"

log "a token created in SQL, as a backend service would, then verified"
psql -X -q -tA -v ON_ERROR_STOP=1 -d "$FYNN_DB" <<'SQL' || die "creating a token in SQL failed"
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub":"demo-user","tenant_id":"demo-tenant","permissions":["user:api-token:read","user:api-token:write"]}', true) \g /dev/null
SELECT fynn_tokens.create_user_api_token('Created from SQL', now() + interval '30 days') AS answer \gset
COMMIT;
SELECT 'created:  ' || :'answer';
SELECT 'verified: ' || fynn_tokens.verify_api_token(:'answer'::json->>'token');
SQL

# The gateway: restarted so it runs the binary just built.
stop_gateway
log "starting fynn-gateway on 127.0.0.1:$GATEWAY_PORT (log: $FYNN_RUN/gateway.log)"
PGRST_DB_URI="postgresql://fynn_gateway:$db_password@127.0.0.1:$FYNN_PGPORT/$FYNN_DB" \
PGRST_JWT_SECRET="$jwt_secret" PGRST_SERVER_PORT="$GATEWAY_PORT" \
	nohup fynn-gateway >>"$FYNN_RUN/gateway.log" 2>&1 &
echo $! >"$FYNN_RUN/gateway.pid"
for _ in $(seq 50); do
	curl -sf -o /dev/null "$BASE/ready" && break
	sleep 0.1
done
curl -sf -o /dev/null "$BASE/ready" || die "the gateway did not become ready; see $FYNN_RUN/gateway.log"

# An HS256 JWT valid for one hour, signed with the gateway's secret.
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
now=$(date +%s)
header=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
payload=$(printf '{"sub":"demo-user","tenant_id":"demo-tenant","permissions":["user:api-token:read","user:api-token:write"],"iat":%d,"exp":%d}' \
	"$now" $((now + 3600)) | b64url)
signature=$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -hmac "$jwt_secret" -binary | b64url)
jwt="$header.$payload.$signature"

# Shows a curl command, runs it, and keeps its body in $answer.
show() {
	local title=$1; shift
	echo
	echo "# $title"
	printf 'curl -s'
	for arg in "$@"; do
		if [[ $arg =~ ^[A-Za-z0-9_./:=?\&-]+$ && $arg != *'?'* ]]; then
			printf ' %s' "$arg"
		else
			printf " '%s'" "${arg//\'/\'\\\'\'}"
		fi
	done
	echo
	answer=$(curl -s -w '\n%{http_code}' "$@")
	echo "=> HTTP $(tail -n 1 <<<"$answer") $(sed '$d' <<<"$answer")"
	answer=$(sed '$d' <<<"$answer")
}
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" <<<"$answer"; }

echo
echo "Every route, ready to paste (the JWT is valid for one hour):"
show "create a token with the JWT (201)" -X POST "$BASE/user/api-tokens" \
	-H 'Content-Type: application/json' -H "Authorization: Bearer $jwt" \
	--data '{"description": "My API token", "expiresAt": "2099-01-01T00:00:00+00:00"}'
api_token=$(field token)
token_id=$(field id)
[ -n "$api_token" ] || die "the gateway did not issue a token"

show "the issued API token authenticates like its user: a narrower child token (201)" \
	-X POST "$BASE/user/api-tokens" -H 'Content-Type: application/json' \
	-H "Authorization: Bearer $api_token" \
	--data '{"description": "Read-only child", "permissions": ["user:api-token:read"]}'
child_id=$(field id)

show "list the user's tokens (200)" "$BASE/user/api-tokens?page=1&limit=10" -H "Authorization: Bearer $api_token"
show "get one token (200)" "$BASE/user/api-tokens/$token_id" -H "Authorization: Bearer $jwt"
show "forward-auth, as nginx auth_request asks it (200, X-Fynn-* headers)" -i "$BASE/auth" \
	-H "Authorization: Bearer $api_token"
show "rotate the token, the old one valid for 60 s more (201)" -X POST "$BASE/user/api-tokens/$token_id/rotate" \
	-H 'Content-Type: application/json' -H "Authorization: Bearer $jwt" --data '{"gracePeriod": 60}'
successor=$(field token)
show "revoke the child by id (204)" -X DELETE "$BASE/user/api-tokens/$child_id" -H "Authorization: Bearer $jwt"
show "a token revokes itself (204)" -X DELETE "$BASE/user/api-tokens/current" -H "Authorization: Bearer $successor"
show "report a leaked token: no credential needed (202)" -X POST "$BASE/api-tokens/revoke" \
	-H 'Content-Type: application/json' --data "{\"token\": \"$api_token\"}"
show "the revoked token is refused on the very next request (401)" "$BASE/user/api-tokens" \
	-H "Authorization: Bearer $api_token"
show "probes and metrics" "$BASE/ready"

echo
echo "Metrics: curl -s $BASE/metrics    Stop everything: scripts/demo.sh stop"
