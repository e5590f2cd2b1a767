#!/usr/bin/env bash
# Runs the README's PostgREST setup, its ```sql block that starts with
# "-- fynn_tokens behind PostgREST", in database DB as the superuser, with
# PASSWORD for the authenticator in place of the README's 'change me':
#
#   bash test/postgrest/readme-postgrest-setup.sh DB PASSWORD
#
# The tests that put PostgREST (or its replay) in front of fynn_api take the
# extension, roles and grants from here, so they run what the README tells
# people to run, and a step missing from the README fails them.  DB must
# exist without the extension.  The README's roles are cluster-wide and
# another suite on the same cluster may have left them holding grants in its
# database: they are dropped first, with what they own or hold everywhere.
# The password travels as a psql
# variable, with statement logging off, so it reaches neither a shell quote
# nor the server log.  Uses the cluster scripts/env.sh points at.
set -euo pipefail
[ $# = 2 ] || { echo "usage: $0 DB PASSWORD" >&2; exit 2; }
db=$1 password=$2
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/scripts/env.sh"

setup=$(/usr/bin/python3 - "$ROOT/README.md" <<'PYEOF'
import re, sys
readme = open(sys.argv[1], encoding="utf-8").read()
blocks = [b for b in re.findall(r"^```sql\n(.*?)^```$", readme, re.S | re.M)
          if b.startswith("-- fynn_tokens behind PostgREST")]
if len(blocks) != 1:
    sys.exit(f"README.md has {len(blocks)} sql blocks starting '-- fynn_tokens behind PostgREST', not one")
if blocks[0].count("'change me'") != 1:
    sys.exit("README.md's PostgREST setup does not give the password 'change me' exactly once")
sys.stdout.write(blocks[0].replace("'change me'", ":'pw'"))
PYEOF
) || die "no PostgREST setup to take from README.md"

# The roles the README creates, dropped with their grants in every database.
roles=$(grep -oE '^CREATE ROLE [a-z_]+' <<<"$setup" | awk '{print $3}' | paste -sd, -)
[ -n "$roles" ] || die "the README's PostgREST setup creates no role"
existing=$(psql -X -qtA -d postgres -c "SELECT string_agg(rolname, ',') FROM pg_roles
	WHERE rolname = ANY (string_to_array('$roles', ','))")
if [ -n "$existing" ]; then
	for other in $(psql -X -qtA -d postgres -c "SELECT datname FROM pg_database WHERE datallowconn"); do
		psql -X -q -v ON_ERROR_STOP=1 -d "$other" -c "DROP OWNED BY $existing" >/dev/null ||
			die "could not drop what $existing hold in database $other"
	done
	psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "DROP ROLE $existing" >/dev/null || die "could not drop $existing"
fi

{
	echo "SET client_min_messages = warning;"
	echo "SET log_statement = 'none';"
	printf '%s\n' "$setup"
} | psql -X -q -v ON_ERROR_STOP=1 -v pw="$password" -d "$db" >/dev/null ||
	die "the README's PostgREST setup failed in database $db"
