#!/usr/bin/env bash
# Tokens survive pg_dump/pg_restore: the rows come back byte for byte and a
# token issued before the dump still verifies after the restore.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

src=fynn_dump_src
dst=fynn_dump_dst
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

q() { psql -X -q -v ON_ERROR_STOP=1 -tA -d "$@"; }

for db in $src $dst; do psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"; done
q $src -c "CREATE EXTENSION fynn_tokens CASCADE"
token=$(q $src <<'SQL'
SELECT set_config('request.jwt.claims', '{"sub":"dump-user","tenant_id":"t-dump","permissions":["user:api-token:write"]}', false) \g /dev/null
SELECT fynn_tokens.create_user_api_token('dumped ' || i, CASE WHEN i % 2 = 0 THEN '2099-01-01Z'::timestamptz END) FROM generate_series(1, 50) i \g /dev/null
UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE description = 'dumped 7';
SELECT fynn_tokens.create_user_api_token('kept for verify', NULL)->>'token';
SQL
)
rows_sql="SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY id)) FROM fynn_tokens.api_token t"
before=$(q $src -c "$rows_sql")

pg_dump -Fc -d $src -f "$work/fynn.dump"
pg_restore -d $dst --exit-on-error "$work/fynn.dump"

check "row count and content survive" "$before" "$(q $dst -c "$rows_sql")"
check "the extension is restored, not a plain table" "fynn_tokens" \
	"$(q $dst -c "SELECT extname FROM pg_extension WHERE extname = 'fynn_tokens'")"
check "a token issued before the dump verifies after the restore" "dump-user" \
	"$(q $dst -c "SELECT fynn_tokens.verify_api_token('$token')->>'sub'")"
check "a revoked token stays revoked" "1" \
	"$(q $dst -c "SELECT count(*) FROM fynn_tokens.api_token WHERE revoked_at IS NOT NULL")"
check "the unique hash index is restored" "t" \
	"$(q $dst -c "SELECT indisunique FROM pg_index WHERE indexrelid = 'fynn_tokens.api_token_token_hash_key'::regclass")"
check "row-level security is restored" "t" \
	"$(q $dst -c "SELECT relrowsecurity FROM pg_class WHERE oid = 'fynn_tokens.api_token'::regclass")"
check "the dump holds no issued token" "0" "$(pg_restore -f - "$work/fynn.dump" | grep -c "${token:4:32}" || true)"

for db in $src $dst; do psql -X -q -d postgres -c "DROP DATABASE $db"; done
finish dump-restore
