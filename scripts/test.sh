#!/usr/bin/env bash
# The test command: installs what is missing, builds with -Werror, installs,
# and runs every suite against private clusters it starts and stops itself.
# Ends with one line "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
# A cluster of its own, so tests never touch the demo's data.
export FYNN_RUN=${FYNN_TEST_RUN:-$PWD/.run-test} FYNN_PGPORT=${FYNN_TEST_PGPORT:-54339}
. scripts/env.sh

scripts/install-deps.sh || die "could not install the build and test packages"
make -s clean >/dev/null 2>&1 || true
make -s || die "build failed"
make -s install >/dev/null || die "install failed"
scripts/pg-cluster.sh start || die "could not start the test cluster"
trap 'scripts/pg-cluster.sh stop' EXIT

total_passed=0 total_failed=0 failed_suites=()

# Runs one suite, echoing its output, and adds its "N passed, M failed" line to the totals.
run_suite() {
	local name=$1; shift
	local out rc counts
	log "suite: $name"
	out=$("$@" 2>&1); rc=$?
	printf '%s\n' "$out"
	counts=$(printf '%s\n' "$out" | grep -Eo '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
	if [ -z "$counts" ]; then
		counts="0 passed, 1 failed"		# a suite that printed no tally broke
	fi
	total_passed=$((total_passed + $(echo "$counts" | awk '{print $1}')))
	total_failed=$((total_failed + $(echo "$counts" | awk '{print $3}')))
	if [ $rc -ne 0 ]; then
		failed_suites+=("$name")
		[ "$(echo "$counts" | awk '{print $3}')" != 0 ] || total_failed=$((total_failed + 1))
	fi
}

# pg_regress prints one line per test file; turn its verdicts into a tally.
regress_suite() {
	local out rc
	out=$(scripts/test-regress.sh 2>&1); rc=$?
	printf '%s\n' "$out"
	echo "regress: $(grep -c '\.\.\. ok' <<<"$out") passed, $(grep -c '\.\.\. FAILED' <<<"$out") failed"
	return $rc
}

run_suite unit make -s check-unit
# Every libFuzzer harness (common/ and the gateway's readers), 30 s each.
run_suite fuzz sh test/fuzz/run-fuzz.sh "${FYNN_FUZZ_SECONDS:-30}"
run_suite regress regress_suite
run_suite dump-restore test/dump/test-dump-restore.sh
run_suite hot-standby test/standby/test-hot-standby.sh
run_suite invalidation test/concurrency/test-invalidation.sh
run_suite upgrade test/upgrade/test-upgrade.sh
# The HTTP contract: PostgREST's statements replayed, the gateway's routes,
# and both behind a real nginx.
run_suite replay test/postgrest/run-replay.sh
run_suite http scripts/test-http.sh
# The README's first command, run twice, then stopped.
run_suite demo test/demo/test-demo.sh
run_suite parity test/nginx/run-postgrest-routes.sh
# Forward-auth: nginx's auth_request in front of the gateway, as the README configures it.
run_suite forward-auth test/nginx/run-nginx-test.sh
# Packages built, checked and installed (then purged), and the release archives.
run_suite packages test/packaging/test-packages.sh
run_suite dist test/packaging/test-dist.sh
# Last: 15 (again), 16, 17 and 18, each in a copy of the tree with a cluster
# of its own; the suites above stay on the default pg_config (15).
run_suite versions scripts/test-versions.sh

echo
[ ${#failed_suites[@]} -eq 0 ] || echo "failing suites: ${failed_suites[*]}"
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ] && [ ${#failed_suites[@]} -eq 0 ]
