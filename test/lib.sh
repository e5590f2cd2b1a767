# Sourced by the shell test suites: the cluster's environment and a tally.
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"
# psql, pg_dump and pg_restore of the cluster's own version: an older pg_dump
# refuses a newer server, and Debian's wrappers pick 15 whatever the server.
export PATH=$FYNN_PGBIN:$PATH

passed=0 failed=0

# check NAME EXPECTED ACTUAL: one expectation, printed TAP-style.
check() {
	if [ "$2" = "$3" ]; then
		passed=$((passed + 1)); echo "ok - $1"
	else
		failed=$((failed + 1)); echo "not ok - $1: expected '$2', got '$3'"
	fi
}

# Prints the suite's tally line and fails when anything failed.
finish() {
	echo "$1: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
