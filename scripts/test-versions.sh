#!/usr/bin/env bash
# The extension on every supported PostgreSQL version:
#   scripts/test-versions.sh [VERSION...]     (default: scripts/pg-versions.sh list)
# For each version, in a scratch copy of this tree (committed or not, build
# products left out) and a private copy of that version's installation: build
# with -Werror, install, start a cluster of its own under .run-v<major> on
# port 5438<last digit of major> (FYNN_VERSIONS_PORT_BASE, default 54380, plus
# that digit: another checkout running this at the same time needs another
# base), run the pg_regress suite, the upgrade test, the dump/restore test,
# the invalidation test and the HTTP suite (the gateway against that
# server), stop the cluster.  One line per version, then "versions: N passed, M failed"
# counting every check; a failed build or cluster start counts as one failure and prints its log.
#
# Nothing here depends on the caller's cluster: every FYNN_* and PG* setting
# of the caller is dropped, and "make install" writes into the private copy,
# never into the installation other checkouts' clusters run from.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
unset FYNN_ROOT FYNN_RUN FYNN_PGDATA FYNN_PGSOCK FYNN_PGPORT FYNN_PGBIN FYNN_DB
for var in $(compgen -e | grep '^PG'); do unset "$var"; done
. "$ROOT/scripts/env.sh"

"$ROOT/scripts/install-deps.sh" >/dev/null || die "could not install the build and test packages"

if [ $# -eq 0 ]; then
	mapfile -t versions < <("$ROOT/scripts/pg-versions.sh" list)
else
	versions=("$@")
fi

total_passed=0 total_failed=0

# Copies the files git would see (tracked and untracked, ignored ones left
# out: objects, results, clusters) into $1, uncommitted changes included.
copy_tree() {
	mkdir -p "$1"
	(cd "$ROOT" && git ls-files -z -co --exclude-standard |
		while IFS= read -r -d '' f; do
			[ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"	# deleted but still tracked: skip
		done | tar --null -T - -cf -) | tar -xf - -C "$1"
}

# The tally of a shell suite's output: "passed failed".  A suite that
# stopped before its tally line counts its checks so far plus one failure.
suite_counts() {
	local tally
	tally=$(grep -Eo '^([a-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1 | sed -E 's/^[0-9]/total: &/')
	if [ -n "$tally" ]; then
		awk '{print $2, $4}' <<<"$tally"
	else
		echo "$(grep -c '^ok - ' "$1") $(($(grep -c '^not ok - ' "$1") + 1))"
	fi
}

# Runs everything for one version in a subshell of its own environment and
# writes "passed failed summary" to $2.
run_version() {
	local version=$1 result=$2
	(
		major=${version%%[.a-z]*}
		run=$ROOT/.run-v$major
		logs=$run/logs
		unset FYNN_PGDATA FYNN_PGSOCK		# derived from FYNN_RUN by env.sh
		export FYNN_RUN=$run FYNN_PGPORT=$((${FYNN_VERSIONS_PORT_BASE:-54380} + ${major: -1}))
		passed=0 failed=0 parts=()
		report() { echo "$passed $failed PostgreSQL $version: $*" >"$result"; }
		fail_with_log() {	# STEP LOG...: the step failed before any check ran
			failed=$((failed + 1)); parts+=("$1 FAILED")
			shift
			for f in "$@"; do [ -f "$f" ] && { echo "--- $f"; tail -n 60 "$f"; }; done
			summary=$(printf '%s, ' "${parts[@]}")
			report "${summary%, }"
			exit 0
		}

		mkdir -p "$run"
		orig_bin=$("$ROOT/scripts/pg-versions.sh" bindir "$version" 2>"$run/resolve.log") ||
			fail_with_log "PostgreSQL build" "$run/resolve.log"
		# A cluster left running by an interrupted run goes first, then its files.
		if [ -f "$run/pgdata/postmaster.pid" ]; then
			as_postgres "$orig_bin/pg_ctl" -D "$run/pgdata" -m immediate -w stop >/dev/null 2>&1 || true
		fi
		rm -rf "$run"
		mkdir -p "$logs"

		pg_config=$("$ROOT/scripts/pg-versions.sh" private-install "$version" "$run/pg" 2>"$logs/install-copy.log") ||
			fail_with_log "private installation" "$logs/install-copy.log"
		export FYNN_PGBIN FYNN_ROOT=$run/src
		FYNN_PGBIN=$("$pg_config" --bindir)
		export PATH=$FYNN_PGBIN:$PATH		# psql, pg_dump, pg_restore of this version
		copy_tree "$FYNN_ROOT" 2>"$logs/copy.log" || fail_with_log "copy of the tree" "$logs/copy.log"
		. "$FYNN_ROOT/scripts/env.sh"
		cd "$FYNN_ROOT" || exit 1

		{ make -s -j"$(nproc)" PG_CONFIG="$pg_config" -o gateway &&
			make -s install PG_CONFIG="$pg_config" -o gateway -o gateway-install; } >"$logs/build.log" 2>&1 ||
			fail_with_log build "$logs/build.log"

		trap 'scripts/pg-cluster.sh stop >/dev/null 2>&1' EXIT
		trap 'exit 130' INT TERM
		scripts/pg-cluster.sh start >"$logs/cluster.log" 2>&1 ||
			fail_with_log "cluster start" "$logs/cluster.log" "$run/postgresql.log"

		# pg_regress prints "... ok" up to 15 and TAP ("ok 1 - name") from 16; the
		# isolation specs run after the regression files, in the same installcheck.
		n_tests=$(echo 'print-regress: ; @echo $(REGRESS) $(ISOLATION)' |
			make -s --no-print-directory -f Makefile -f - print-regress PG_CONFIG="$pg_config" | wc -w)
		make -s installcheck PG_CONFIG="$pg_config" -o gateway >"$logs/regress.log" 2>&1
		rc=$?
		ok=$(grep -Ec '\.\.\. ok|^ok [0-9]+ ' "$logs/regress.log")
		bad=$((n_tests - ok))
		[ $rc -eq 0 ] || [ $bad -gt 0 ] || bad=1
		passed=$((passed + ok)); failed=$((failed + bad)); parts+=("regress $ok/$n_tests")
		if [ $bad -gt 0 ]; then
			grep -E 'FAILED|^not ok|failed|error' "$logs/regress.log"
			[ -f regression.diffs ] && { cp regression.diffs "$logs/"; head -n 200 regression.diffs; }
		fi

		# The gateway (built against Debian's libpq) against this server; valgrind runs once, on 15.
		export FYNN_HTTP_VALGRIND=0
		for suite in upgrade:test/upgrade/test-upgrade.sh dump-restore:test/dump/test-dump-restore.sh \
			invalidation:test/concurrency/test-invalidation.sh http:scripts/test-http.sh; do
			name=${suite%%:*}
			bash "${suite#*:}" >"$logs/$name.log" 2>&1
			read -r p f < <(suite_counts "$logs/$name.log")
			passed=$((passed + p)); failed=$((failed + f)); parts+=("$name $p/$((p + f))")
			[ "$f" -eq 0 ] || { echo "--- $name"; grep -v '^ok - ' "$logs/$name.log"; }
		done

		scripts/pg-cluster.sh stop >/dev/null 2>&1
		trap - EXIT
		# The copies and the cluster (initdb'd afresh by every run) are only
		# worth keeping to look into a failure; the logs stay.
		[ $failed -ne 0 ] || rm -rf "$run/src" "$run/pg" "$run/pgdata"
		summary=$(printf '%s, ' "${parts[@]}")
		report "${summary%, }"
	)
}

for v in "${versions[@]}"; do
	if ! name=$("$ROOT/scripts/pg-versions.sh" name "$v" 2>&1); then
		echo "$name"
		echo "PostgreSQL $v: unsupported FAILED"; total_failed=$((total_failed + 1))
		continue
	fi
	log "PostgreSQL $name"
	start=$SECONDS
	result=$(mktemp)
	run_version "$name" "$result"
	if [ -s "$result" ]; then
		read -r p f summary <"$result"
	else
		p=0 f=1 summary="PostgreSQL $name: stopped without a result FAILED"
	fi
	rm -f "$result"
	summary="$summary ($((SECONDS - start)) s)"
	echo "$summary"
	total_passed=$((total_passed + p)); total_failed=$((total_failed + f))
done

echo "versions: $total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
