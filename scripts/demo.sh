#!/usr/bin/env bash
# The main command: installs what is missing, builds and installs the
# extension and the gateway, starts a private cluster under .run/ and the
# gateway on 127.0.0.1:3000, creates a token in SQL and over HTTP, and prints
# a ready-to-paste curl with a freshly signed JWT.  Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

GATEWAY_PORT=${PGRST_SERVER_PORT:-3000}
SECRET_FILE=$FYNN_RUN/jwt_secret
DB_PASSWORD_FILE=$FYNN_RUN/gateway_db_password

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

log "installing the extension in database $FYNN_DB"
FYNN_GATEWAY_DB_PASSWORD=$db_password scripts/gateway-role.sh "$FYNN_DB"

log "a token created in SQL, as a backend service would"
psql -X -q -tA -d "$FYNN_DB" <<'SQL'
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub":"demo-user","tenant_id":"demo-tenant","permissions":["user:api-token:write"]}', true) \g /dev/null
SELECT fynn_tokens.create_user_api_token('Created from SQL', now() + interval '30 days');
COMMIT;
SQL

# The gateway: restarted so it runs the binary just built.
if [ -f "$FYNN_RUN/gateway.pid" ]; then
	kill "$(cat "$FYNN_RUN/gateway.pid")" 2>/dev/null || true
	sleep 0.5
fi
log "starting fynn-gateway on 127.0.0.1:$GATEWAY_PORT (log: $FYNN_RUN/gateway.log)"
PGRST_DB_URI="postgresql://fynn_gateway:$db_password@127.0.0.1:$FYNN_PGPORT/$FYNN_DB" \
PGRST_JWT_SECRET="$jwt_secret" PGRST_SERVER_PORT="$GATEWAY_PORT" \
	nohup fynn-gateway >>"$FYNN_RUN/gateway.log" 2>&1 &
echo $! >"$FYNN_RUN/gateway.pid"
for _ in $(seq 50); do
	curl -sf -o /dev/null "http://127.0.0.1:$GATEWAY_PORT/ready" && break
	sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$GATEWAY_PORT/ready" || die "the gateway did not become ready; see $FYNN_RUN/gateway.log"

# An HS256 JWT valid for one hour, signed with the gateway's secret.
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
now=$(date +%s)
header=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
payload=$(printf '{"sub":"demo-user","tenant_id":"demo-tenant","permissions":["user:api-token:write"],"iat":%d,"exp":%d}' \
	"$now" $((now + 3600)) | b64url)
signature=$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -hmac "$jwt_secret" -binary | b64url)
jwt="$header.$payload.$signature"

curl_cmd="curl -i -X POST http://127.0.0.1:$GATEWAY_PORT/user/api-tokens \\
  --header 'Content-Type: application/json' \\
  --header 'Authorization: Bearer $jwt' \\
  --data '{\"description\": \"My API token\", \"expiresAt\": \"2099-01-01T00:00:00+00:00\"}'"

log "a token created over HTTP with that curl:"
eval "$curl_cmd" -s
echo
echo
echo "Ready to paste (the JWT is valid for one hour):"
echo
echo "$curl_cmd"

# The token just issued authenticates like its user: create another with it.
api_token=$(eval "${curl_cmd/curl -i/curl -s}" | sed -n 's/.*"token":"\(api_[0-9A-Za-z]*\)".*/\1/p')
[ -n "$api_token" ] || die "the gateway did not issue a token"
echo
echo "An issued API token works as a Bearer credential too:"
echo
echo "curl -i -X POST http://127.0.0.1:$GATEWAY_PORT/user/api-tokens \\
  --header 'Content-Type: application/json' \\
  --header 'Authorization: Bearer $api_token' \\
  --data '{\"description\": \"Made with an API token\"}'"
