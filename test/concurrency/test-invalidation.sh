#!/usr/bin/env bash
# The extension keeps the token table's OIDs and shape per backend and drops
# them on a relcache invalidation.  Fresh connections verifying and creating
# tokens while another session invalidates the table over and over (ALTER
# TABLE SET/RESET, ANALYZE: what autovacuum and an operator do) must never
# fail: every call answers, and every verify finds its token.
#   test/concurrency/test-invalidation.sh [seconds=6]
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

seconds=${1:-6}
db=fynn_invalidation
work=$(mktemp -d)
chmod 755 "$work"
: >"$work/churns"
trap 'kill "${churn_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

q() { psql -X -q -v ON_ERROR_STOP=1 -tA -d "$db" "$@"; }
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
q -c "CREATE EXTENSION fynn_tokens CASCADE"
claims='{"sub":"inval-user","tenant_id":"t-inval","permissions":["user:api-token:write"]}'
hash=$(q -c "SELECT set_config('request.jwt.claims', '$claims', false)" \
	-c "SELECT encode(sha256(convert_to(fynn_tokens.create_user_api_token('kept', NULL)->>'token', 'UTF8')), 'hex')" | tail -n 1)

# A NULL verify is a division by zero: the client aborts and the run fails.
cat >"$work/verify.sql" <<SQL
SELECT 1 / (fynn_tokens.verify_api_token_hash('\\x$hash'::bytea) IS NOT NULL)::int;
SQL
cat >"$work/create.sql" <<SQL
SELECT set_config('request.jwt.claims', '$claims', false);
SELECT fynn_tokens.create_user_api_token('under invalidation', NULL);
SQL

# Invalidates the table's relcache entry as fast as it can, until killed.
churn() {
	while true; do
		q -c "ALTER TABLE fynn_tokens.api_token SET (fillfactor = 90)" \
			-c "ALTER TABLE fynn_tokens.api_token RESET (fillfactor)" \
			-c "ANALYZE fynn_tokens.api_token" >/dev/null 2>&1 && echo >>"$work/churns"
	done
}
churn & churn_pid=$!

# Runs a pgbench script on fresh connections; echoes "processed failed-or-aborted".
run() {
	local out processed
	out=$(pgbench -n -C -c 2 -j 2 -T "$seconds" -f "$1" "$db" 2>&1) || true
	processed=$(grep -Eo 'number of transactions actually processed: [0-9]+' <<<"$out" | grep -Eo '[0-9]+$' || echo 0)
	echo "$processed $(grep -Ec 'aborted|ERROR' <<<"$out")"
	grep -E 'ERROR' <<<"$out" | sort | uniq -c | head -n 5 >&2 || true
}

read -r verified verify_errors < <(run "$work/verify.sql")
read -r created create_errors < <(run "$work/create.sql")
kill "$churn_pid"; wait "$churn_pid" 2>/dev/null || true
churns=$(wc -l <"$work/churns")

check "verify on fresh connections under invalidation never fails" 0 "$verify_errors"
check "verify ran (more than 50 connections)" true "$([ "$verified" -gt 50 ] && echo true || echo "false ($verified)")"
check "create on fresh connections under invalidation never fails" 0 "$create_errors"
check "every create that answered stored its token" "$((created + 1))" "$(q -c "SELECT count(*) FROM fynn_tokens.api_token")"
check "the table was invalidated meanwhile (more than 20 rounds)" true "$([ "$churns" -gt 20 ] && echo true || echo "false ($churns)")"

psql -X -q -d postgres -c "DROP DATABASE $db WITH (FORCE)"
finish invalidation
