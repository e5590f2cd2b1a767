#!/usr/bin/env bash
# Prepares a database for fynn-gateway: the extension, and the login role
# fynn_gateway with exactly the grants the README documents: the fynn_api
# functions and the two core functions that verify a token by its hash, and
# the database's verify cache off for it (the gateway has its own).  Used
# by the demo, the HTTP tests and the benchmark, so all three run the
# gateway with the privileges an operator would give it.
#   FYNN_GATEWAY_DB_PASSWORD=... scripts/gateway-role.sh DBNAME
set -euo pipefail
. "$(dirname "$0")/env.sh"

db=${1:?usage: FYNN_GATEWAY_DB_PASSWORD=... $0 DBNAME}
[ -n "${FYNN_GATEWAY_DB_PASSWORD:-}" ] || die "FYNN_GATEWAY_DB_PASSWORD is not set"

# The password travels as a psql variable, and statement logging is off
# for this session, so it reaches neither a shell quote nor the server log.
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -v pw="$FYNN_GATEWAY_DB_PASSWORD" <<'SQL'
SET client_min_messages = warning;
SET log_statement = 'none';
CREATE EXTENSION IF NOT EXISTS fynn_tokens CASCADE;
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fynn_gateway') AS need_role \gset
\if :need_role
CREATE ROLE fynn_gateway LOGIN;
\endif
ALTER ROLE fynn_gateway PASSWORD :'pw';
-- The HTTP contract, and the two core functions forward-auth and the
-- request transaction use to turn a token's SHA-256 into claims.
GRANT USAGE ON SCHEMA fynn_api, fynn_tokens TO fynn_gateway;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA fynn_api TO fynn_gateway;
GRANT EXECUTE ON FUNCTION fynn_tokens.verify_api_token_hash(bytea),
	fynn_tokens.record_api_token_use(bytea) TO fynn_gateway;
-- The gateway keeps a verify cache of its own; the backends' would add
-- their max age to the gateway's for a change no trigger announced.
ALTER ROLE fynn_gateway SET fynn_tokens.verify_cache_size = 0;
SQL
