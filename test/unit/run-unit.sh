#!/bin/sh
# Runs every unit test binary given on the command line and adds up their
# "ok" / "not ok" lines into one verdict:
#
#   unit: N passed, M failed
#
# A binary that dies (a sanitizer report, an abort) or exits non-zero
# without having printed a "not ok" line counts as one more failure, so a
# crash can never pass as a clean run.  Exit status: 0 only when M is 0.
set -u

passed=0
failed=0
for bin in "$@"; do
	out=$(mktemp)
	"$bin" >"$out" 2>&1
	status=$?
	cat "$out"
	p=$(grep -c '^ok ' "$out")
	f=$(grep -c '^not ok ' "$out")
	rm -f "$out"
	if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $bin exited with status $status"
		f=1
	fi
	if [ "$status" -eq 0 ] && [ "$f" -ne 0 ]; then
		echo "not ok - $bin reported failures but exited 0"
		f=$((f + 1))
	fi
	passed=$((passed + p))
	failed=$((failed + f))
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
