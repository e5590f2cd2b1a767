#!/usr/bin/env bash
# Proves that no credential the HTTP tests used is at rest anywhere the
# database or the gateway writes: every line of the secrets file (API
# tokens, JWTs, the JWT secret, the database password, header values) is
# looked for in
#   - every file of the cluster's data directory, after a CHECKPOINT,
#   - the WAL, as pg_waldump prints every segment in pg_wal,
#   - a plain pg_dump of the test database,
#   - the gateway's and the postgres logs (FYNN_HTTP_LOGS, and the cluster's log).
# A secret found is reported by its line number in the secrets file, never
# by its value.  Called by scripts/test-http.sh at the end, with the cluster
# running:
#   test/http/check-secrets-at-rest.sh SECRETS_FILE
set -uo pipefail
. "$(dirname "$0")/../../scripts/env.sh"

secrets_file=${1:?usage: $0 SECRETS_FILE}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
grep . "$secrets_file" | sort -u >"$work/patterns"
n_secrets=$(wc -l <"$work/patterns")
[ "$n_secrets" -gt 0 ] || die "no secrets to look for in $secrets_file"
found=0

# Reports every secret found in the given files (text or binary) under a label.
look_in() {
	local label=$1 matches
	shift
	matches=$(grep -a -o -h -F -f "$work/patterns" -- "$@" 2>/dev/null | sort -u)
	[ -n "$matches" ] || return 0
	while IFS= read -r match; do
		found=$((found + 1))
		printf 'secret #%s found in %s\n' "$(grep -nxF -- "$match" "$secrets_file" | head -1 | cut -d: -f1)" "$label"
	done <<<"$matches"
}

# Whatever sits in shared buffers reaches the files.
psql -X -q -d "$FYNN_DB" -c CHECKPOINT >/dev/null || die "CHECKPOINT failed"

mapfile -t data_files < <(find "$FYNN_PGDATA" -type f)
look_in "the data directory" "${data_files[@]}"

segments=0
records=0
for segment in "$FYNN_PGDATA"/pg_wal/[0-9A-F]*; do
	[[ $(basename "$segment") =~ ^[0-9A-F]{24}$ ]] || continue
	segments=$((segments + 1))
	# The current segment ends in unwritten space: pg_waldump stops there with an error.
	"$FYNN_PGBIN/pg_waldump" -p "$FYNN_PGDATA/pg_wal" "$(basename "$segment")" >"$work/wal.txt" 2>/dev/null
	records=$((records + $(grep -c '^rmgr:' "$work/wal.txt")))
	look_in "WAL segment $(basename "$segment")" "$work/wal.txt"
done
[ "$records" -gt 0 ] || die "pg_waldump printed no WAL record: the WAL check would prove nothing"

pg_dump -Fp -d "$FYNN_DB" >"$work/dump.sql" || die "pg_dump failed"
grep -q 'COPY fynn_tokens.api_token' "$work/dump.sql" || die "the dump holds no api_token data"
look_in "a pg_dump of $FYNN_DB" "$work/dump.sql"

logs=("$FYNN_RUN/postgresql.log")
for f in ${FYNN_HTTP_LOGS:-}; do
	[ -f "$f" ] && logs+=("$f")
done
look_in "the logs" "${logs[@]}"

printf 'secrets at rest: %d secrets checked in %d data files, %d WAL segments (%d records), a dump of %d bytes, %d logs: %d found\n' \
	"$n_secrets" "${#data_files[@]}" "$segments" "$records" "$(stat -c %s "$work/dump.sql")" "${#logs[@]}" "$found"
[ "$found" = 0 ]
