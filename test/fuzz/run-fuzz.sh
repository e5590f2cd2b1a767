#!/bin/sh
# test/fuzz/run-fuzz.sh [SECONDS] [HARNESS...]
#
# Builds every libFuzzer harness listed in HARNESSES below with clang
# (-fsanitize=fuzzer,address,undefined -g -O1, UBSan fatal) into
# test/fuzz/build/, then runs each (or only the named ones) for SECONDS
# (default 30) on a scratch copy of its seed corpus test/fuzz/corpus/<name>/
# (the committed corpus never grows), and prints
#
#   ok - fuzz_x: <runs> runs in <N>s
#   not ok - fuzz_x: crash (artifact saved to test/fuzz/artifacts/fuzz_x/crash-...)
#   fuzz: N passed, M failed
#
# Exit status is non-zero when any harness failed to build or found a crash,
# leak, timeout (> 10 s for one input) or out-of-memory.  The log of each run
# is kept in test/fuzz/artifacts/<name>.log.  Needs clang and libFuzzer
# (Debian: apt-get install clang libclang-rt-14-dev).
#
# A long campaign:
#   test/fuzz/run-fuzz.sh 3600                  # an hour per harness
#   test/fuzz/run-fuzz.sh 3600 fuzz_identity    # an hour on one
# or run a built binary directly, on all cores, growing a corpus of your own
# (not the committed one) that you can merge back by hand later:
#   mkdir -p /tmp/corpus && cp test/fuzz/corpus/fuzz_identity/* /tmp/corpus/
#   test/fuzz/build/fuzz_identity -jobs=8 -workers=8 -max_total_time=36000 \
#       -dict=test/fuzz/fuzz_identity.dict -artifact_prefix=/tmp/ /tmp/corpus
#   # keep only inputs that add coverage, into the committed corpus:
#   test/fuzz/build/fuzz_identity -merge=1 test/fuzz/corpus/fuzz_identity /tmp/corpus
#
# When a harness finds a crash:
#   1. reproduce: test/fuzz/build/fuzz_x test/fuzz/artifacts/fuzz_x/crash-...
#   2. minimise:  test/fuzz/build/fuzz_x -minimize_crash=1 -runs=100000 \
#                     -exact_artifact_path=/tmp/min test/fuzz/artifacts/fuzz_x/crash-...
#   3. fix the bug in common/ in its own commit, saying what the bug was;
#   4. add /tmp/min to test/fuzz/corpus/fuzz_x/ under a name that says
#      what it is (it then runs on every fuzz run), and the same input as a
#      case in test/unit/test_x.c so `make check-unit` keeps it fixed.
set -u

# One line per harness: its name (test/fuzz/<name>.c), then whatever else
# the compiler needs - sources, -I/-D flags, libraries; the line is
# expanded by the shell, so $(pkg-config --cflags --libs jansson) works.
# Adding a harness is adding a line here and a corpus/<name>/ folder.
HARNESSES='
fuzz_rfc3339		common/rfc3339.c
fuzz_token_format	common/api_token_format.c
fuzz_identity		common/identity.c
fuzz_identity_long	common/identity.c
fuzz_gateway_head	-std=gnu11 -Igateway gateway/head.c gateway/routes.c
fuzz_gateway_body	-std=gnu11 -Igateway gateway/body.c common/api_token_format.c $(pkg-config --cflags --libs jansson libcrypto)
fuzz_gateway_auth	-std=gnu11 -Igateway -pthread gateway/auth.c gateway/errors.c gateway/log.c gateway/metrics.c gateway/routes.c gateway/cache.c gateway/listener.c common/identity.c common/api_token_format.c $(pkg-config --cflags --libs jansson libjwt libcrypto libpq) -I$(pg_config --includedir) -lm
'

SECONDS_EACH=${1:-30}
[ $# -gt 0 ] && shift
case $SECONDS_EACH in
	'' | *[!0-9]*) echo "usage: $0 [SECONDS] [HARNESS...]" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2
CC=${FUZZ_CC:-clang}
CFLAGS="-std=c99 -g -O1 -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined \
-fno-sanitize-recover=all -fno-omit-frame-pointer -Icommon"
build=test/fuzz/build
artifacts=test/fuzz/artifacts
mkdir -p "$build" "$artifacts"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT INT TERM

# The harness lines to run: all, or the ones named on the command line.
selected=$(printf '%s\n' "$HARNESSES" | while read -r name rest; do
	[ -n "$name" ] || continue
	if [ $# -eq 0 ]; then
		echo "$name $rest"
	else
		for want in "$@"; do
			[ "$want" = "$name" ] && echo "$name $rest"
		done
	fi
done)
if [ -z "$selected" ]; then
	echo "no such harness: $*" >&2
	exit 2
fi

passed=0
failed=0
while read -r name rest; do
	log=$artifacts/$name.log
	if ! eval "$CC $CFLAGS -o $build/$name test/fuzz/$name.c $rest" >"$log" 2>&1; then
		cat "$log" >&2
		echo "not ok - $name: does not build (see $log)"
		failed=$((failed + 1))
		continue
	fi

	mkdir -p "$scratch/$name" "$artifacts/$name"
	cp test/fuzz/corpus/"$name"/* "$scratch/$name/" 2>/dev/null
	dict=
	[ -f test/fuzz/"$name".dict ] && dict=-dict=test/fuzz/$name.dict

	start=$(date +%s)
	UBSAN_OPTIONS=print_stacktrace=1 "$build/$name" ${dict:+"$dict"} \
		-max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$artifacts/$name/" \
		"$scratch/$name" >"$log" 2>&1
	status=$?
	elapsed=$(($(date +%s) - start))

	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
	if [ "$status" -eq 0 ] && [ -z "$artifact" ]; then
		echo "ok - $name: ${runs:-?} runs in ${elapsed}s"
		passed=$((passed + 1))
	else
		kind=crash
		case $(basename "${artifact:-x}") in
			leak-*) kind=leak ;;
			timeout-*) kind=timeout ;;
			oom-*) kind=out-of-memory ;;
		esac
		grep -E 'ERROR|runtime error|fuzz_[a-z_]+:|SUMMARY' "$log" | head -n 5 >&2
		echo "not ok - $name: $kind (artifact saved to ${artifact:-none; see $log})"
		failed=$((failed + 1))
	fi
	rm -rf "${scratch:?}/$name"
done <<EOF
$selected
EOF

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
