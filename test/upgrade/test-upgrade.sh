#!/usr/bin/env bash
# 0.1.0 -> 0.2.0: tokens issued at 0.1.0 live on through ALTER EXTENSION
# UPDATE, and an updated database is the same as one created at 0.2.0.
#
# Between a package upgrade and ALTER EXTENSION UPDATE a database runs
# 0.1.0's SQL objects against the new shared library (the only one
# installed), so that state is exercised first: tokens are created and
# verified through 0.1.0's functions with today's library.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

old=fynn_upgrade_old		# created at 0.1.0, then updated
fresh=fynn_upgrade_fresh	# created at the default version
work=$(mktemp -d)
trap 'rm -rf "$work"; for db in $old $fresh; do psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" 2>/dev/null; done' EXIT

q() { psql -X -q -v ON_ERROR_STOP=1 -tA -d "$@"; }
claims='{"sub":"upgrade-user","tenant_id":"t-upgrade","permissions":["user:api-token:write","user:api-token:read"]}'
# Runs SQL in $old as the user the claims name.
as_user() { q $old -c "SELECT set_config('request.jwt.claims', '$claims', false)" "$@" | tail -n +2; }
verifies() { q $old -c "SELECT coalesce(fynn_tokens.verify_api_token('$1')->>'sub', 'not valid')"; }

for db in $old $fresh; do psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"; done

# ------------------------------------------------ 0.1.0 with the new library

q $old -c "CREATE EXTENSION fynn_tokens VERSION '0.1.0' CASCADE" 2>/dev/null
check "the old database starts at 0.1.0" "0.1.0" \
	"$(q $old -c "SELECT extversion FROM pg_extension WHERE extname = 'fynn_tokens'")"

# Four tokens through 0.1.0's two create functions: two live, one to be
# revoked and one to expire, as an operator of 0.1.0 would (plain UPDATEs:
# 0.1.0 had no function for either).
created=$(as_user -c "SELECT fynn_tokens.create_user_api_token('upgrade live', NULL)" \
	-c "SELECT fynn_tokens.create_user_api_token('{\"description\": \"upgrade dated\", \"expiresAt\": \"2099-01-01T00:00:00Z\"}'::json)" \
	-c "SELECT fynn_tokens.create_user_api_token('upgrade revoked', NULL)" \
	-c "SELECT fynn_tokens.create_user_api_token('upgrade expired', '2099-01-01Z')")
field() { sed -n "$1p" <<<"$created" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }
live_token=$(field 1 token) live_id=$(field 1 id)
dated_token=$(field 2 token) dated_id=$(field 2 id)
revoked_token=$(field 3 token) revoked_id=$(field 3 id)
expired_token=$(field 4 token) expired_id=$(field 4 id)
check "0.1.0's create(text, timestamptz) issues a token with the new library" "4" \
	"$(q $old -c "SELECT count(*) FROM fynn_tokens.api_token WHERE user_id = 'upgrade-user' AND tenant_id = 't-upgrade'")"
check "0.1.0's create(json) keeps the expiry" "2099-01-01T00:00:00+00:00" "$(field 2 expiresAt)"
q $old -c "UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE id = '$revoked_id'" \
	-c "UPDATE fynn_tokens.api_token SET expires_at = now() - interval '1 hour' WHERE id = '$expired_id'"

check "0.1.0's verify accepts a live token" "upgrade-user" "$(verifies "$live_token")"
check "0.1.0's verify_api_token_hash accepts a live token" "t-upgrade" \
	"$(q $old -c "SELECT fynn_tokens.verify_api_token_hash(digest('$dated_token', 'sha256'))->>'tenant_id'")"
check "0.1.0's verify refuses the revoked token" "not valid" "$(verifies "$revoked_token")"
check "0.1.0's verify refuses the expired token" "not valid" "$(verifies "$expired_token")"
# 0.1.0 has no change triggers: nothing announces a revocation, so the new
# library's verify cache must remember nothing there.  One session verifies
# a token twice, another revokes it, the first verifies again.
cached_token=$(q $old -c "SELECT set_config('request.jwt.claims', '{\"sub\":\"upgrade-cache-user\",\"tenant_id\":\"t-upgrade\",\"permissions\":[\"user:api-token:write\"]}', false)" \
	-c "SELECT fynn_tokens.create_user_api_token('upgrade cached', NULL)->>'token'" | tail -n 1)
check "0.1.0 with the new library: a revocation by another session shows at once in a session that verified the token" "t t t" \
	"$(q $old -v token="$cached_token" <<SQL | tr '\n' ' ' | sed 's/ $//'
SELECT fynn_tokens.verify_api_token(:'token') IS NOT NULL;
SELECT fynn_tokens.verify_api_token(:'token') IS NOT NULL;
\! psql -X -q -d $old -c "UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE description = 'upgrade cached'"
SELECT fynn_tokens.verify_api_token(:'token') IS NULL;
SQL
)"
check "0.1.0's record_api_token_use writes" "t" \
	"$(q $old -c "SELECT fynn_tokens.record_api_token_use(digest('$live_token', 'sha256'))")"
check "0.1.0's claimed_user_id reads the claims" "upgrade-user" \
	"$(as_user -c "SELECT fynn_tokens.claimed_user_id()")"
check "0.1.0 has its row-level security policy" "1" \
	"$(q $old -c "SELECT count(*) FROM pg_policy WHERE polrelid = 'fynn_tokens.api_token'::regclass")"
before=$(q $old -c "SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM fynn_tokens.api_token t")

# ------------------------------------------------------------------ update

q $old -c "ALTER EXTENSION fynn_tokens UPDATE"
check "ALTER EXTENSION UPDATE reaches 0.2.0" "0.2.0" \
	"$(q $old -c "SELECT extversion FROM pg_extension WHERE extname = 'fynn_tokens'")"
check "the update leaves 0.1.0's columns as they were" "$before" \
	"$(q $old -c "SELECT md5(string_agg((id, tenant_id, user_id, description, token_hash, permissions, created_at, expires_at, revoked_at, last_used_at)::text, '|' ORDER BY id)) FROM fynn_tokens.api_token")"
check "the update leaves parent_id and updated_at NULL on old rows" "5:0" \
	"$(q $old -c "SELECT count(*) || ':' || count(*) FILTER (WHERE parent_id IS NOT NULL OR updated_at IS NOT NULL) FROM fynn_tokens.api_token")"
check "an old live token verifies after the update" "upgrade-user" "$(verifies "$live_token")"
check "an old dated token verifies after the update" "upgrade-user" "$(verifies "$dated_token")"
check "the old revoked token stays refused" "not valid" "$(verifies "$revoked_token")"
check "the old expired token stays refused" "not valid" "$(verifies "$expired_token")"
check "0.1.0's row-level security policy is gone, row-level security stays on" "0:true" \
	"$(q $old -c "SELECT (SELECT count(*) FROM pg_policy WHERE polrelid = c.oid) || ':' || c.relrowsecurity FROM pg_class c WHERE c.oid = 'fynn_tokens.api_token'::regclass")"
check "0.1.0's owner index is replaced" "api_token_live_owner_idx,api_token_live_parent_idx,api_token_pkey,api_token_token_hash_key" \
	"$(q $old -c "SELECT string_agg(indexrelid::regclass::text, ',' ORDER BY indexrelid::regclass::text COLLATE \"C\") FROM pg_index WHERE indrelid = 'fynn_tokens.api_token'::regclass" | sed 's/fynn_tokens\.//g')"
check "the new tables and sequence exist and belong to the extension" "3" \
	"$(q $old -c "SELECT count(*) FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
		WHERE d.classid = 'pg_class'::regclass AND d.deptype = 'e' AND e.extname = 'fynn_tokens'
			AND d.objid IN ('fynn_tokens.tenant_policy'::regclass, 'fynn_tokens.api_token_event'::regclass,
				'fynn_tokens.api_token_event_id_seq'::regclass)")"
check "the new tables are dumped with their rows" \
	"api_token,api_token_event,api_token_event_id_seq,tenant_policy" \
	"$(q $old -c "SELECT string_agg(c.relname, ',' ORDER BY c.relname COLLATE \"C\") FROM pg_extension e JOIN pg_class c ON c.oid = ANY (e.extconfig) WHERE e.extname = 'fynn_tokens'")"

# ------------------------------------------------- 0.2.0's functions on old rows

listed=$(as_user -c "SELECT fynn_tokens.list_user_api_tokens()")
check "list shows the old tokens that are not revoked, newest first" "$expired_id,$dated_id,$live_id" \
	"$(python3 -c "import json,sys; print(','.join(i['id'] for i in json.loads(sys.argv[1])['data']))" "$listed")"
check "list shows updatedAt = createdAt for old tokens" "3" \
	"$(python3 -c "import json,sys; print(sum(i['updatedAt'] == i['createdAt'] for i in json.loads(sys.argv[1])['data']))" "$listed")"
check "get answers for an old token" "upgrade dated" \
	"$(as_user -c "SELECT fynn_tokens.get_user_api_token('$dated_id')->>'description'")"
rotated=$(as_user -c "SELECT fynn_tokens.rotate_user_api_token('$dated_id')")
successor_token=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['token'])" "$rotated")
successor_id=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['id'])" "$rotated")
check "rotating an old token: its successor verifies" "upgrade-user" "$(verifies "$successor_token")"
check "rotating an old token: the old one is refused" "not valid" "$(verifies "$dated_token")"
check "rotating an old token: the successor keeps description, expiry and (no) parent" "upgrade dated|2099-01-01 00:00:00+00|" \
	"$(q $old -c "SET TimeZone = UTC" -c "SELECT description || '|' || expires_at || '|' || coalesce(parent_id, '') FROM fynn_tokens.api_token WHERE id = '$successor_id'")"
as_user -c "SELECT fynn_tokens.revoke_user_api_token('$live_id')" >/dev/null
check "revoking an old token: it is refused" "not valid" "$(verifies "$live_token")"
check "revoking an old token sets updated_at" "t" \
	"$(q $old -c "SELECT updated_at = revoked_at FROM fynn_tokens.api_token WHERE id = '$live_id'")"
check "the changes to old tokens are logged" "create:rotation,revoke:request,revoke:rotation,rotate:" \
	"$(q $old -c "SELECT string_agg(action || ':' || coalesce(reason, ''), ',' ORDER BY action || ':' || coalesce(reason, '') COLLATE \"C\") FROM fynn_tokens.api_token_event")"
check "fynn_api answers list, get and create with 200, 200, 201" "200,200,201" \
	"$(q $old <<SQL | paste -sd,
BEGIN;
SELECT set_config('request.jwt.claims', '$claims', true) \g /dev/null
SELECT fynn_api.list_user_api_tokens() \g /dev/null
SELECT current_setting('response.status');
SELECT fynn_api.get_user_api_token('$expired_id') \g /dev/null
SELECT current_setting('response.status');
SELECT fynn_api.create_user_api_token('{"description": "made after the update"}') \g /dev/null
SELECT current_setting('response.status');
COMMIT;
SQL
)"

# ------------------------------------- the same catalog as a fresh 0.2.0 install

q $fresh -c "CREATE EXTENSION fynn_tokens CASCADE" 2>/dev/null
check "a fresh database is created at 0.2.0" "0.2.0" \
	"$(q $fresh -c "SELECT extversion FROM pg_extension WHERE extname = 'fynn_tokens'")"
members_sql="SELECT member FROM (SELECT pg_describe_object(d.classid, d.objid, d.objsubid) AS member
	FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid AND d.refclassid = 'pg_extension'::regclass
	WHERE d.deptype = 'e' AND e.extname = 'fynn_tokens') m ORDER BY member COLLATE \"C\""
q $old -c "$members_sql" >"$work/old.members"
q $fresh -c "$members_sql" >"$work/fresh.members"
check "the updated and the fresh database hold the same extension objects ($(wc -l <"$work/fresh.members"))" "" \
	"$(diff "$work/old.members" "$work/fresh.members")"
# A plain dump holds only CREATE EXTENSION; pg_upgrade's form of it spells out
# every member with its definition.  What differs by database (OIDs, xids,
# LSNs, sequence positions, comments with names of the dump) is masked.
schema() {
	pg_dump --schema-only --binary-upgrade -d "$1" | sed -E \
		-e '/^--/d' -e '/^$/d' -e '/^\\(un)?restrict /d' -e '/pg_catalog\.setval\(/d' \
		-e "s/'[0-9]+'::pg_catalog\.oid/'OID'::pg_catalog.oid/g" \
		-e "s/relfrozenxid = '[0-9]+', relminmxid = '[0-9]+'/relfrozenxid = 'XID', relminmxid = 'MXID'/" \
		-e "s/WHERE oid = '[0-9]+'/WHERE oid = 'OID'/" \
		-e "s/'[^']*'::pg_catalog\.pg_lsn/'LSN'::pg_catalog.pg_lsn/g" \
		-e "/binary_upgrade_create_empty_extension/s/'\{[0-9,]+\}'/'{OIDS}'/"
}
schema $old >"$work/old.sql"
schema $fresh >"$work/fresh.sql"
check "the updated and the fresh database have the same definitions ($(grep -c . "$work/fresh.sql") lines)" "" \
	"$(diff "$work/old.sql" "$work/fresh.sql" | head -n 40)"

finish upgrade
