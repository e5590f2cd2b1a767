#!/usr/bin/env bash
# The fynn_api schema behind PostgREST v12.2, replayed statement for
# statement (test/postgrest/postgrest.py) against the installed extension.
#
#   bash test/postgrest/run-replay.sh        [-v: unittest's own verbose output too]
#
# Uses its own cluster (FYNN_RUN=.run-replay, port 54372 unless set), a fresh
# database, and the roles a PostgREST deployment has, set up by the README's
# PostgREST block (test/postgrest/readme-postgrest-setup.sh): web_anon
# (anonymous), fynn_api_user (the JWT's role, and the role API-token requests
# run as), authenticator (LOGIN NOINHERIT, the one PostgREST connects as, over
# TCP).  Nothing is granted on schema fynn_tokens: PostgREST's roles reach the
# tokens only through fynn_api.  Prints "ok"/"FAIL" lines and ends with
# "replay: N passed, M failed"; the exit status is non-zero on failure.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export FYNN_ROOT=$ROOT
export FYNN_RUN=${FYNN_RUN:-$ROOT/.run-replay}
export FYNN_PGPORT=${FYNN_PGPORT:-54372}
export FYNN_DB=${FYNN_REPLAY_DB:-fynn_replay}
. "$ROOT/scripts/env.sh"

PY=/usr/bin/python3
PG_LOG=$FYNN_RUN/postgresql.log

# A setup failure still ends with the tally line callers parse.
die() { printf 'error: %s\n' "$*" >&2; echo "replay: 0 passed, 1 failed"; exit 1; }
random_string() { "$PY" -c "import secrets,string,sys; a=string.ascii_letters+string.digits; print(''.join(secrets.choice(a) for _ in range(int(sys.argv[1]))))" "$1"; }

cluster_was_running=0
as_postgres "$FYNN_PGBIN/pg_ctl" -D "$FYNN_PGDATA" status >/dev/null 2>&1 && cluster_was_running=1
cleanup() {
	[ "$cluster_was_running" = 1 ] || "$ROOT/scripts/pg-cluster.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

log "starting cluster in $FYNN_RUN on port $FYNN_PGPORT"
"$ROOT/scripts/pg-cluster.sh" start >/dev/null 2>&1 || die "cluster did not start (see $PG_LOG)"
[ -r "$PG_LOG" ] || die "no server log at $PG_LOG"

# A fresh database and PostgREST's three roles, made again by the README's
# own setup (which first drops them, with whatever grants they still hold).
password=$(random_string 24)
psql -X -q -v ON_ERROR_STOP=1 -d postgres -v db="$FYNN_DB" <<'SQL' >/dev/null || die "database setup failed"
SET client_min_messages = warning;
DROP DATABASE IF EXISTS :"db" WITH (FORCE);
CREATE DATABASE :"db";
SQL
"$ROOT/test/postgrest/readme-postgrest-setup.sh" "$FYNN_DB" "$password" ||
	die "the README's PostgREST setup failed (is fynn_tokens installed? make install)"
# Beyond the README, for the test of what reaches the server log: every
# statement of PostgREST's connections logged, with its bind parameters.
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "ALTER ROLE authenticator SET log_statement = 'all'" >/dev/null ||
	die "ALTER ROLE authenticator failed"

export REPLAY_DB_URI="host=127.0.0.1 port=$FYNN_PGPORT dbname=$FYNN_DB user=authenticator password=$password connect_timeout=10"
export REPLAY_SUPERUSER_URI="host=$FYNN_PGSOCK port=$FYNN_PGPORT dbname=$FYNN_DB user=postgres"
export REPLAY_JWT_SECRET=$(random_string 48)
export REPLAY_PG_LOG=$PG_LOG

log "running test/postgrest/test_replay.py"
"$PY" "$ROOT/test/postgrest/test_replay.py" "$@"
