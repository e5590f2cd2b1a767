#!/usr/bin/env bash
# verify_api_token works on a hot standby: a streaming replica of the test
# cluster verifies tokens created on the primary, sees revocations, and
# refuses to create tokens with 25006.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

db=fynn_standby_test
standby_data=$FYNN_RUN/standby
standby_port=$((FYNN_PGPORT + 1))

primary() { psql -X -q -v ON_ERROR_STOP=1 -tA -d $db "$@"; }
standby() { psql -X -q -tA -p "$standby_port" -d $db "$@"; }

stop_standby() {
	if [ -f "$standby_data/postmaster.pid" ]; then
		as_postgres "$FYNN_PGBIN/pg_ctl" -D "$standby_data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$standby_data"
}
trap 'stop_standby; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" 2>/dev/null' EXIT

# Waits until the standby has replayed everything the primary wrote so far.
wait_for_replay() {
	local lsn
	lsn=$(primary -c "SELECT pg_current_wal_lsn()")
	for _ in $(seq 100); do
		[ "$(standby -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'" 2>/dev/null)" = t ] && return 0
		sleep 0.1
	done
	echo "standby did not catch up" >&2
	return 1
}

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
primary -c "CREATE EXTENSION fynn_tokens CASCADE" 2>/dev/null
stop_standby
as_postgres "$FYNN_PGBIN/pg_basebackup" -D "$standby_data" -c fast -R -X stream -h "$FYNN_PGSOCK" -p "$FYNN_PGPORT" -U postgres
echo "port = $standby_port" | as_postgres tee -a "$standby_data/postgresql.conf" >/dev/null
as_postgres "$FYNN_PGBIN/pg_ctl" -D "$standby_data" -l "$FYNN_RUN/standby.log" -w -t 60 start >/dev/null

claims='{"sub":"standby-user","tenant_id":"t-standby","permissions":["user:api-token:write"]}'
token=$(primary -c "SELECT set_config('request.jwt.claims', '$claims', false)" \
	-c "SELECT fynn_tokens.create_user_api_token('replicated', NULL)->>'token'" | tail -n 1)
wait_for_replay

check "the standby is in recovery" "t" "$(standby -c "SELECT pg_is_in_recovery()")"
check "a token created on the primary verifies on the standby" "standby-user" \
	"$(standby -c "SELECT fynn_tokens.verify_api_token('$token')->>'sub'")"
check "the hash form verifies on the standby" "t-standby" \
	"$(standby -c "SELECT fynn_tokens.verify_api_token_hash(digest('$token', 'sha256'))->>'tenant_id'")"
check "creating on the standby is refused with 25006" "25006" \
	"$(standby -v VERBOSITY=sqlstate -c "SELECT set_config('request.jwt.claims', '$claims', false)" \
		-c "SELECT fynn_tokens.create_user_api_token('on standby', NULL)" 2>&1 >/dev/null | grep -Eo '[0-9A-Z]{5}' | tail -n 1)"

primary -c "UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE user_id = 'standby-user'"
wait_for_replay
check "a revocation on the primary reaches the standby" "t" \
	"$(standby -c "SELECT fynn_tokens.verify_api_token('$token') IS NULL")"

# A standby session's verify cache forgets a token the moment the standby
# replays its revocation: the invalidation travels in the commit record.
# One psql session on the standby verifies (the second time from memory,
# with no index scan), has the primary revoke, waits for the replay, and
# verifies again.
cached=$(primary -c "SELECT set_config('request.jwt.claims', '$claims', false)" \
	-c "SELECT fynn_tokens.create_user_api_token('cached on the standby', NULL)->>'token'" | tail -n 1)
wait_for_replay
answers=$(standby -v token="$cached" <<'SQL'
SELECT fynn_tokens.verify_api_token(:'token') IS NOT NULL AS first_read;
BEGIN;
SELECT idx_scan AS scans_before FROM pg_stat_xact_user_tables WHERE relid = 'fynn_tokens.api_token'::regclass \gset
SELECT fynn_tokens.verify_api_token(:'token') IS NOT NULL AS remembered;
SELECT idx_scan - :scans_before FROM pg_stat_xact_user_tables WHERE relid = 'fynn_tokens.api_token'::regclass;
COMMIT;
\! psql -X -q -d fynn_standby_test -c "UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE description = 'cached on the standby'"
\set lsn `psql -X -tA -d fynn_standby_test -c "SELECT pg_current_wal_lsn()"`
SELECT count(pg_sleep(0.05)) >= 0 AS waited FROM generate_series(1, 200) WHERE pg_last_wal_replay_lsn() < :'lsn';
SELECT pg_last_wal_replay_lsn() >= :'lsn' AS replayed;
SELECT fynn_tokens.verify_api_token(:'token') IS NULL AS refused_after_replay;
SQL
)
check "a standby session verifies a token, then answers from memory without an index scan" "t t 0" \
	"$(sed -n 1,3p <<<"$answers" | tr '\n' ' ' | sed 's/ $//')"
check "the standby replayed the revocation" "t" "$(sed -n 5p <<<"$answers")"
check "the same standby session refuses the token once the revocation is replayed" "t" "$(sed -n 6p <<<"$answers")"

finish hot-standby
