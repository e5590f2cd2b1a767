#!/usr/bin/env bash
# Tokens survive pg_dump/pg_restore: the rows come back byte for byte and a
# token issued before the dump still verifies after the restore.  So do
# 0.2.0's tables (tenant policies, the event log and its sequence, chains of
# tokens created by tokens), and the restored database's triggers still act
# on restored rows.
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
# A chain: root issued with a JWT, child issued with the root's claims (as an
# API-token caller), grandchild with the child's.
chain_claims='{"sub":"chain-user","tenant_id":"t-chain","permissions":["user:api-token:write","user:api-token:read"]}'
issue() {	# CLAIMS DESCRIPTION -> "id token"
	q $src -c "SELECT set_config('request.jwt.claims', '$1', false)" \
		-c "SELECT answer->>'id', answer->>'token' FROM fynn_tokens.create_user_api_token('$2', NULL) answer" |
		tail -n 1 | tr '|' ' '
}
claims_of() { q $src -c "SELECT fynn_tokens.verify_api_token('$1')"; }
read -r root_id root_token < <(issue "$chain_claims" "chain root")
read -r child_id child_token < <(issue "$(claims_of "$root_token")" "chain child")
read -r grandchild_id grandchild_token < <(issue "$(claims_of "$child_token")" "chain grandchild")
q $src -c "INSERT INTO fynn_tokens.tenant_policy VALUES ('t-policy-a', interval '30 days', 5), ('t-policy-b', NULL, 2)"

rows_sql="SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY id)) FROM fynn_tokens.api_token t"
policy_sql="SELECT count(*) || ':' || md5(string_agg(p::text, '|' ORDER BY tenant_id)) FROM fynn_tokens.tenant_policy p"
events_sql="SELECT count(*) || ':' || md5(string_agg(e::text, '|' ORDER BY id)) FROM fynn_tokens.api_token_event e"
chain_sql="WITH RECURSIVE up AS (SELECT id, parent_id, 1 AS depth FROM fynn_tokens.api_token WHERE id = '$grandchild_id'
	UNION ALL SELECT t.id, t.parent_id, up.depth + 1 FROM fynn_tokens.api_token t JOIN up ON t.id = up.parent_id)
	SELECT string_agg(id, '<' ORDER BY depth) FROM up"
before=$(q $src -c "$rows_sql")
policies_before=$(q $src -c "$policy_sql")
events_before=$(q $src -c "$events_sql")
last_event=$(q $src -c "SELECT max(id) FROM fynn_tokens.api_token_event")

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

# 0.2.0's tables.
check "tenant policies survive" "$policies_before" "$(q $dst -c "$policy_sql")"
check "a restored tenant policy still applies" "22023" \
	"$(q $dst -v VERBOSITY=sqlstate -c "SELECT set_config('request.jwt.claims', '{\"sub\":\"p\",\"tenant_id\":\"t-policy-a\",\"permissions\":[\"user:api-token:write\"]}', false)" \
		-c "SELECT fynn_tokens.create_user_api_token('no expiry under a max lifetime', NULL)" 2>&1 >/dev/null | grep -Eo '[0-9A-Z]{5}' | tail -n 1)"
check "the event log survives ($(cut -d: -f1 <<<"$events_before") events)" "$events_before" "$(q $dst -c "$events_sql")"
check "the chain of parents survives" "$grandchild_id<$child_id<$root_id" "$(q $dst -c "$chain_sql")"
check "a restored grandchild token verifies as an API-token-issued token" "chain-user" \
	"$(q $dst -c "SELECT fynn_tokens.verify_api_token('$grandchild_token')->>'sub'")"
# (Were the sequence not restored, the new event would take id 1 and the
# creation would fail on the primary key.)
q $dst -c "SELECT set_config('request.jwt.claims', '$chain_claims', false)" \
	-c "SELECT fynn_tokens.create_user_api_token('after the restore', NULL)" >/dev/null 2>&1 || true
check "the event sequence continues: a new event's id is above every restored one" "t" \
	"$(q $dst -c "SELECT coalesce(bool_and(e.id > $last_event), false) FROM fynn_tokens.api_token_event e
		JOIN fynn_tokens.api_token t ON t.id = e.token_id WHERE t.description = 'after the restore'")"

# The restored triggers: revoking the restored root revokes its restored
# descendants in the same statement (seen in the table, whoever listens),
# logs the cascade, and notifies each id.
notified=$(q $dst <<SQL
LISTEN fynn_tokens_changes;
SELECT set_config('request.jwt.claims', '$chain_claims', false) \g /dev/null
SELECT fynn_tokens.revoke_user_api_token('$root_id') \g /dev/null
SQL
)
check "revoking a restored root revokes its restored descendants" "3" \
	"$(q $dst -c "SELECT count(*) FROM fynn_tokens.api_token WHERE id IN ('$root_id', '$child_id', '$grandchild_id') AND revoked_at IS NOT NULL")"
check "the restored descendants no longer verify" "t" \
	"$(q $dst -c "SELECT fynn_tokens.verify_api_token('$child_token') IS NULL AND fynn_tokens.verify_api_token('$grandchild_token') IS NULL")"
check "the cascade is logged against the root" "$child_id:$root_id,$grandchild_id:$root_id" \
	"$(q $dst -c "SELECT string_agg(token_id || ':' || related_token_id, ',' ORDER BY token_id = '$grandchild_id', token_id) FROM fynn_tokens.api_token_event WHERE action = 'revoke' AND reason = 'cascade'")"
check "the cascade notifies every revoked id" "$(printf '%s\n' "$root_id" "$child_id" "$grandchild_id" | sort | paste -sd,)" \
	"$(grep -o 'with payload "[^"]*"' <<<"$notified" | cut -d'"' -f2 | sort | paste -sd,)"

for db in $src $dst; do psql -X -q -d postgres -c "DROP DATABASE $db"; done
finish dump-restore
