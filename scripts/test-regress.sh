#!/usr/bin/env bash
# Runs the pg_regress suite against the private cluster; --update copies
# results over the expected files (then review them with git diff).
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$FYNN_ROOT"

"$FYNN_ROOT/scripts/pg-cluster.sh" start
status=0
make -s installcheck -o gateway || status=$?
if [ "${1:-}" = "--update" ]; then
	for f in test/sql/*.sql; do
		b=$(basename "$f" .sql)
		[ -f "results/$b.out" ] && cp "results/$b.out" "expected/$b.out"
	done
	# The isolation tests (test/specs/) write their results under output_iso/.
	for f in test/specs/*.spec; do
		b=$(basename "$f" .spec)
		[ -f "output_iso/results/$b.out" ] && cp "output_iso/results/$b.out" "expected/$b.out"
	done
	exit 0
fi
[ $status -eq 0 ] || { cat regression.diffs output_iso/regression.diffs >&2 2>/dev/null || true; }
exit $status
