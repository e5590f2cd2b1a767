#!/usr/bin/env bash
# Mutation testing: do the tests see the bugs they exist to catch?
#
#   test/mutation/run-mutants.sh [PATTERN...]
#
# For each mutant of test/mutation/mutants/ (all, or those whose file name
# contains one of the PATTERNs): a scratch copy of the working tree
# (committed or not), the mutant applied, built, installed into a private
# copy of PostgreSQL 15, and the suites its "# suites:" line names run in
# order, each against a fresh cluster of its own, until one fails.  The
# mutant is then killed by that suite's first failing test; it survived
# when every suite passed.  Prints one line per mutant, the wall time and,
# last, "score: K of N killed (P %)".
#
# A mutant that no longer applies to the working tree fails the run at once,
# before anything is built: the catalogue is kept in step with the code.  So
# does a baseline failure: first the union of the named suites runs on the
# unmutated tree, and must pass, or no kill would mean anything.
#
# Settings (environment):
#   FYNN_MUTATION_JOBS=2        mutants at once (1 or 2; each has its own cluster)
#   FYNN_MUTATION_WORK=DIR      scratch space (default .run-mutation/ here)
#   FYNN_MUTATION_BASELINE=0    skip the baseline run (when you know it passes)
#   FYNN_MUTATION_FUZZ_SECONDS  per harness, for the fuzz suite (default 10)
#   FYNN_MUTATION_KEEP=1        keep each mutant's scratch tree (else only logs)
#   FYNN_MUTATION_HTTP=ITEMS    replaces the selector of every http suite (ITEMS as
#                               after "http:"; "*" for every module), e.g. to judge the
#                               gateway mutants against other or newer test modules
#
# Nothing here touches the system's PostgreSQL or another checkout's
# cluster: every cluster listens on a port of 54400-54419 (two slots of ten:
# a port another process holds is skipped) with its socket under the work
# directory, and "make install" writes into private copies of PostgreSQL 15
# (scripts/pg-versions.sh private-install).  See test/mutation/README.md.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MUTANTS=$ROOT/test/mutation/mutants
# The caller's cluster settings would point the suites at another cluster.
unset FYNN_ROOT FYNN_RUN FYNN_PGDATA FYNN_PGSOCK FYNN_PGPORT FYNN_PGBIN FYNN_DB
for var in $(compgen -e | grep '^PG'); do unset "$var"; done
. "$ROOT/scripts/env.sh"

WORK=${FYNN_MUTATION_WORK:-$ROOT/.run-mutation}
JOBS=${FYNN_MUTATION_JOBS:-2}
[ "$JOBS" = 1 ] || [ "$JOBS" = 2 ] || die "FYNN_MUTATION_JOBS must be 1 or 2 (2 cores)"
PORT_BASE=54400
SUITES="unit regress isolation upgrade dump replay parity http fuzz"
started_at=$SECONDS

# ------------------------------------------------------------ the catalogue

# header FILE KEY: the value of the "# KEY:" line of a mutant.
header() { sed -n "s/^# $2:[[:space:]]*//p" "$1" | head -n 1; }

# A suite spec with FYNN_MUTATION_HTTP applied.
override() {
	if [ "${1%%:*}" = http ] && [ -n "${FYNN_MUTATION_HTTP:-}" ]; then
		[ "$FYNN_MUTATION_HTTP" = "*" ] && echo http || echo "http:$FYNN_MUTATION_HTTP"
	else
		echo "$1"
	fi
}

# The suites of a mutant, overrides applied.
mutant_suites() {
	local spec
	for spec in $(header "$1" suites); do override "$spec"; done
}

mapfile -t all_files < <(find "$MUTANTS" -maxdepth 1 -name '*.patch' | sort)
files=()
for f in "${all_files[@]}"; do
	name=$(basename "$f" .patch)
	if [ $# -eq 0 ]; then
		files+=("$f")
	else
		for pattern in "$@"; do
			[[ $name == *"$pattern"* ]] && { files+=("$f"); break; }
		done
	fi
done
[ ${#files[@]} -gt 0 ] || die "no mutant matches: $*"

# Every mutant must say what bug it stands for, name known suites, and apply.
problems=()
for f in "${files[@]}"; do
	name=$(basename "$f" .patch)
	[[ $name =~ ^[0-9]{3}-[a-z0-9-]+$ ]] || problems+=("$name: the name is not NNN-short-name")
	[ -n "$(header "$f" bug)" ] || problems+=("$name: no '# bug:' line")
	suites=$(header "$f" suites)
	[ -n "$suites" ] || problems+=("$name: no '# suites:' line")
	for spec in $suites; do
		spec=$(override "$spec")
		[[ " $SUITES " == *" ${spec%%:*} "* ]] || problems+=("$name: unknown suite '${spec%%:*}'")
		if [ "${spec%%:*}" = fuzz ] && [ ! -f "$ROOT/test/fuzz/run-fuzz.sh" ]; then
			problems+=("$name: suite fuzz named, but test/fuzz/run-fuzz.sh does not exist")
		fi
		if [ "${spec%%:*}" = http ] && [ "$spec" != http ]; then
			IFS=, read -r -a items <<<"${spec#http:}"
			for item in "${items[@]}"; do
				[ -f "$ROOT/test/http/test_${item%%.*}.py" ] ||
					problems+=("$name: test/http/test_${item%%.*}.py does not exist")
			done
		fi
	done
	if ! out=$(cd "$ROOT" && git apply --check "$f" 2>&1); then
		problems+=("$name: DOES NOT APPLY to the working tree: ${out//$'\n'/ }")
	fi
done
if [ ${#problems[@]} -gt 0 ]; then
	printf 'FAIL: %s\n' "${problems[@]}" >&2
	echo "run-mutants: the catalogue is out of step with the code (${#problems[@]} problems); nothing was run" >&2
	exit 2
fi

# -------------------------------------------------------- scratch and build

# Copies the files git would see (tracked and untracked, ignored ones left
# out: build products, clusters) into $1, uncommitted changes included.
copy_tree() {
	mkdir -p "$1"
	(cd "$ROOT" && git ls-files -z -co --exclude-standard |
		while IFS= read -r -d '' f; do
			[ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"
		done | tar --null -T - -cf -) | tar -xf - -C "$1"
}

# build DIR PG_CONFIG: the extension and the gateway, then "make install" into
# the PostgreSQL copy PG_CONFIG belongs to.
build_tree() {
	(cd "$1" && make -s PG_CONFIG="$2" -o gateway && make -s -C gateway &&
		make -s PG_CONFIG="$2" -o gateway -o gateway-install install)
}

# Stops the clusters a run left (interrupted, or now ending) under WORK.
stop_all_clusters() {
	local pid_file
	for pid_file in "$WORK"/slot*/run-*/pgdata/postmaster.pid; do
		[ -f "$pid_file" ] || continue
		as_postgres "$FYNN_PGBIN/pg_ctl" -D "$(dirname "$pid_file")" -m immediate -w stop >/dev/null 2>&1
	done
	return 0
}

# The work directory is emptied: refuse one that is not ours.
if [ -e "$WORK" ] && [ ! -f "$WORK/.fynn-mutation" ]; then
	die "$WORK exists and is not a work directory of run-mutants.sh (no .fynn-mutation in it)"
fi
[ -d "$WORK" ] && stop_all_clusters
rm -rf "$WORK"
mkdir -p "$WORK/logs" "$WORK/results"
touch "$WORK/.fynn-mutation"
log "preparing $WORK: private PostgreSQL 15 copies and the unmutated build"
for ((s = 0; s < JOBS; s++)); do
	"$ROOT/scripts/pg-versions.sh" private-install 15 "$WORK/pg-slot$s" >"$WORK/pg-slot$s.path" 2>"$WORK/logs/private-install.log" ||
		{ cat "$WORK/logs/private-install.log"; die "cannot copy PostgreSQL 15"; }
done
copy_tree "$WORK/base" || die "cannot copy the working tree"
# The scratch copies start from this build (timestamps kept), so a mutant
# recompiles only what it changes; the copy itself is a clean build.
build_tree "$WORK/base" "$(cat "$WORK/pg-slot0.path")" >"$WORK/logs/base-build.log" 2>&1 ||
	{ tail -n 40 "$WORK/logs/base-build.log"; die "the unmutated tree does not build"; }

# ------------------------------------------------------------------ suites

# A fresh cluster for one suite of one slot: initdb on the first free port
# of the slot's ten; exports what scripts/env.sh derives from it.
start_cluster() {
	local slot=$1 dir=$2 port
	for ((port = PORT_BASE + 10 * slot; port < PORT_BASE + 10 * slot + 10; port++)); do
		stop_cluster "$dir"
		rm -rf "$dir"
		export FYNN_RUN=$dir FYNN_PGPORT=$port
		unset FYNN_PGDATA FYNN_PGSOCK
		. "$FYNN_ROOT/scripts/env.sh"
		"$FYNN_ROOT/scripts/pg-cluster.sh" start >>"$dir.cluster.log" 2>&1 && return 0
		grep -q 'Address already in use' "$dir/postgresql.log" 2>/dev/null || break
	done
	return 1
}

stop_cluster() {
	[ -f "$1/pgdata/postmaster.pid" ] &&
		as_postgres "$FYNN_PGBIN/pg_ctl" -D "$1/pgdata" -m immediate -w stop >/dev/null 2>&1
	return 0
}

# The first failing test in a suite's log, by the format of its runner.
first_failure() {
	local suite=$1 log=$2 hit=
	case $suite in
		regress | isolation)
			hit=$(grep -E '\.\.\. FAILED|^not ok [0-9]+ +- ' "$log" | head -n 1 |
				sed -E 's/^(test +|not ok [0-9]+ +- +)?[[:space:]]*//; s/[[:space:]].*//') ;;
		unit | upgrade | dump | fuzz)
			hit=$(grep -m 1 -E '^not ok ' "$log" | sed -E 's/^not ok [0-9]* *- *//; s/: expected .*//' | cut -c1-90) ;;
		replay)
			hit=$(grep -m 1 -E '^FAIL: ' "$log" | sed -E 's/^FAIL: ([^ ]+).*/\1/') ;;
		parity)
			hit=$(grep -m 1 -E '^(FAIL|ERROR): ' "$log" | sed -E 's/^(FAIL|ERROR): ([^ ]+) \(([^)]*)\).*/\3/; s/^__main__\.//') ;;
		http)
			hit=$(grep -m 1 -E '^first failure: ' "$log" | sed -E 's/^first failure: (test_)?//')
			[ -n "$hit" ] || hit=$(grep -m 1 -E '^FAIL: ' "$log" | sed -E 's/^FAIL: //') ;;
	esac
	[ -n "$hit" ] || hit=$(grep -m 1 -E '^(error|FAIL|timeout):' "$log" | cut -c1-90)
	echo "${hit:-exit status}"
}

suite_timeout() {
	case $1 in
		http) echo 1200 ;;
		unit | dump | upgrade) echo 300 ;;
		*) echo 600 ;;
	esac
}

# The pg_regress files and isolation specs a selector names, as make
# arguments (setup always first: the other files need its helpers).
regress_args() {
	local tests=() t regress=setup isolation=
	IFS=, read -r -a tests <<<"$1"
	for t in "${tests[@]}"; do
		if [ -f "$FYNN_ROOT/test/specs/$t.spec" ]; then
			isolation+=" $t"
		elif [ "$t" != setup ]; then
			regress+=" $t"
		fi
	done
	regress_make_args=("REGRESS=$regress" "ISOLATION=${isolation# }")
}

# The http suite: the mutated gateway against the named modules of
# test/http, each module with a gateway of its own, as scripts/test-http.sh
# runs them (same environment), but stopping at the first failure and
# without its valgrind and secret scans.
suite_http() {
	local selector=$1 pw secret port pid rc=0 gw_log items=() modules=() m
	pw=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
	secret=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
	export FYNN_DB=fynn_mutation_http
	psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $FYNN_DB" || return 1
	FYNN_GATEWAY_DB_PASSWORD=$pw "$FYNN_ROOT/scripts/gateway-role.sh" "$FYNN_DB" >/dev/null || return 1
	psql -X -q -d postgres -c "ALTER SYSTEM SET log_statement = 'all'" -c "SELECT pg_reload_conf()" >/dev/null
	export GATEWAY_DB_URI="postgresql://fynn_gateway:$pw@127.0.0.1:$FYNN_PGPORT/$FYNN_DB"
	if [ -z "$selector" ]; then
		for m in "$FYNN_ROOT"/test/http/test_*.py; do m=$(basename "$m" .py); modules+=("${m#test_}"); done
	else
		IFS=, read -r -a items <<<"$selector"
		for m in "${items[@]}"; do [[ " ${modules[*]} " == *" ${m%%.*} "* ]] || modules+=("${m%%.*}"); done
	fi
	gw_log=$FYNN_RUN/gateway.log
	for m in "${modules[@]}"; do
		local wanted=()
		if [ -z "$selector" ]; then wanted=("$m"); else
			for item in "${items[@]}"; do [ "${item%%.*}" = "$m" ] && wanted+=("$item"); done
		fi
		port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
		echo "==> test_$m.py against fynn-gateway on 127.0.0.1:$port"
		env PGRST_DB_URI="$GATEWAY_DB_URI" PGRST_JWT_SECRET="$secret" PGRST_SERVER_HOST=127.0.0.1 \
			PGRST_SERVER_PORT="$port" PGRST_DB_POOL=4 FYNN_LOG_LEVEL=debug \
			"$FYNN_ROOT/gateway/fynn-gateway" >>"$gw_log" 2>&1 &
		pid=$!
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			curl -sf -o /dev/null "http://127.0.0.1:$port/health" && break
			sleep 0.1
		done
		if ! curl -sf -o /dev/null "http://127.0.0.1:$port/health"; then
			echo "FAIL: fynn-gateway did not start"; tail -n 20 "$gw_log"; rc=1
		else
			env GATEWAY_PORT="$port" GATEWAY_JWT_SECRET="$secret" GATEWAY_SECRETS_FILE="$FYNN_RUN/secrets.txt" \
				GATEWAY_BIN="$FYNN_ROOT/gateway/fynn-gateway" GATEWAY_LOG="$gw_log" GATEWAY_AUD_LOG="$gw_log" \
				GATEWAY_PG_LOG="$FYNN_RUN/postgresql.log" GATEWAY_PIDS_FILE="$FYNN_RUN/gateway-pids" \
				python3 "$FYNN_ROOT/test/mutation/http_tests.py" "${wanted[@]}" || rc=1
		fi
		kill -TERM "$pid" 2>/dev/null
		if ! wait "$pid" && [ $rc = 0 ]; then
			echo "first failure: test_$m: the gateway's exit status on SIGTERM"; rc=1
		fi
		[ $rc = 0 ] || return 1
	done
	return 0
}

# run_suite SPEC: one suite in the current scratch tree and cluster.
run_suite() {
	local spec=$1 suite=${1%%:*} selector= pgc
	[ "$spec" != "$suite" ] && selector=${spec#*:}
	pgc=$FYNN_PGBIN/pg_config
	case $suite in
		unit) make -s check-unit ;;
		regress)
			regress_make_args=()
			[ -n "$selector" ] && regress_args "$selector"
			make -s installcheck PG_CONFIG="$pgc" -o gateway "${regress_make_args[@]}" ;;
		isolation) make -s installcheck PG_CONFIG="$pgc" -o gateway REGRESS= ${selector:+ISOLATION="${selector//,/ }"} ;;
		upgrade) bash test/upgrade/test-upgrade.sh ;;
		dump) bash test/dump/test-dump-restore.sh ;;
		replay) bash test/postgrest/run-replay.sh ;;
		parity) bash test/nginx/run-postgrest-routes.sh ;;
		http) suite_http "$selector" ;;
		fuzz) sh test/fuzz/run-fuzz.sh "${FYNN_MUTATION_FUZZ_SECONDS:-10}" ${selector//,/ } ;;
	esac
}

# Ends the processes of this slot's scratch tree a suite left behind (a
# gateway a killed test had started), by pid.
end_leftovers() {
	local tree=$1 pid exe
	for pid in $(ls /proc | grep -E '^[0-9]+$'); do
		exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
		[[ $exe == "$tree/"* ]] && kill -KILL "$pid" 2>/dev/null
	done
	return 0
}

export -f run_suite suite_http regress_args

# ------------------------------------------------------------- one mutant

# test_mutant SLOT FILE: writes "name<TAB>killed|survived<TAB>seconds<TAB>by" to results/.
test_mutant() {
	local slot=$1 file=$2 name tree logs t0 spec suite by= status=survived out pg
	name=$(basename "$file" .patch)
	tree=$WORK/slot$slot/src
	logs=$WORK/logs/$name
	t0=$SECONDS
	rm -rf "$WORK/slot$slot" "$logs"
	mkdir -p "$WORK/slot$slot" "$logs"
	cp -a "$WORK/base" "$tree"
	pg=$(cat "$WORK/pg-slot$slot.path")
	(
		export FYNN_ROOT=$tree FYNN_PGBIN
		FYNN_PGBIN=$(dirname "$pg")
		export PATH=$FYNN_PGBIN:$PATH
		cd "$tree" || exit 1
		if [ "$name" != 000-baseline ] &&
			! GIT_CEILING_DIRECTORIES=$WORK git apply "$file" >"$logs/apply.log" 2>&1; then
			echo "apply"$'\t'"$(head -n 1 "$logs/apply.log")" >"$logs/verdict"
			exit 0
		fi
		if ! build_tree "$tree" "$pg" >"$logs/build.log" 2>&1; then
			echo "build"$'\t'"$(grep -m 1 -E 'error' "$logs/build.log" | sed "s|$tree/||" | cut -c1-90)" >"$logs/verdict"
			exit 0
		fi
		for spec in $(mutant_suites "$file"); do
			suite=${spec%%:*}
			run=$WORK/slot$slot/run-$suite
			if [ "$suite" != unit ] && [ "$suite" != fuzz ] && ! start_cluster "$slot" "$run"; then
				echo "cluster"$'\t'"could not start a cluster for $suite" >"$logs/verdict"
				exit 0
			fi
			echo "==> $spec" >"$logs/$suite.log"
			timeout -k 10 "$(suite_timeout "$suite")" bash -c 'run_suite "$1"' run_suite "$spec" \
				>>"$logs/$suite.log" 2>&1
			rc=$?
			[ $rc = 124 ] && echo "timeout: $spec did not finish in $(suite_timeout "$suite") s" >>"$logs/$suite.log"
			stop_cluster "$run"
			end_leftovers "$tree"
			# pg_regress leaves what differed in the tree, which goes with the slot.
			for d in regression.diffs output_iso/regression.diffs; do
				[ -s "$d" ] && cp "$d" "$logs/$suite.${d//\//-}"
			done
			if [ $rc != 0 ]; then
				echo "$suite"$'\t'"$(first_failure "$suite" "$logs/$suite.log")" >"$logs/verdict"
				exit 0
			fi
		done
		: >"$logs/verdict"
	)
	if [ -s "$logs/verdict" ]; then
		status=killed
		by="$(cut -f1 "$logs/verdict"): $(cut -f2- "$logs/verdict")"
	fi
	printf '%s\t%s\t%s\t%s\n' "$name" "$status" "$((SECONDS - t0))" "$by" >"$WORK/results/$name"
	[ "${FYNN_MUTATION_KEEP:-0}" = 1 ] && mv "$tree" "$logs/tree"
	rm -rf "$WORK/slot$slot"
}

# ---------------------------------------------------------------- baseline

if [ "${FYNN_MUTATION_BASELINE:-1}" != 0 ]; then
	# The union of the suites the mutants name, in the catalogue's order.
	declare -A selectors=()
	order=()
	for f in "${files[@]}"; do
		for spec in $(mutant_suites "$f"); do
			suite=${spec%%:*}
			[[ " ${order[*]} " == *" $suite "* ]] || order+=("$suite")
			if [ "$spec" = "$suite" ]; then
				selectors[$suite]="*"
			elif [ "${selectors[$suite]:-}" != "*" ]; then
				selectors[$suite]="${selectors[$suite]:+${selectors[$suite]},}${spec#*:}"
			fi
		done
	done
	baseline_suites=
	for suite in "${order[@]}"; do
		if [ "${selectors[$suite]}" = "*" ]; then
			baseline_suites+=" $suite"
		else
			baseline_suites+=" $suite:$(tr ',' '\n' <<<"${selectors[$suite]}" | awk '!seen[$0]++' | paste -sd,)"
		fi
	done
	baseline=$WORK/000-baseline.patch
	printf '# bug: none: the unmutated tree\n# suites:%s\n' "$baseline_suites" >"$baseline"
	log "baseline: the unmutated tree against$baseline_suites"
	test_mutant 0 "$baseline"
	IFS=$'\t' read -r _ status secs by <"$WORK/results/000-baseline"
	if [ "$status" != survived ]; then
		echo "FAIL: the unmutated tree fails its own tests ($by; see $WORK/logs/000-baseline/)" >&2
		echo "run-mutants: fix the tests first: every kill would be meaningless" >&2
		exit 2
	fi
	log "baseline passed in $secs s"
	rm -f "$WORK/results/000-baseline"
fi

# ----------------------------------------------------------------- mutants

printf '%s\n' "${files[@]}" >"$WORK/queue"
echo 0 >"$WORK/queue.next"
# worker SLOT: takes the next mutant off the queue until it is empty.
worker() {
	local slot=$1 i file
	while :; do
		exec {lock}>"$WORK/queue.lock"
		flock "$lock"
		read -r i <"$WORK/queue.next"
		echo $((i + 1)) >"$WORK/queue.next"
		exec {lock}>&-
		file=$(sed -n "$((i + 1))p" "$WORK/queue")
		[ -n "$file" ] || return 0
		test_mutant "$slot" "$file"
		IFS=$'\t' read -r name status secs by <"$WORK/results/$(basename "$file" .patch)"
		printf '%-44s %-9s %4ss  %s\n' "$name" "$status" "$secs" "$by" >&2
	done
}
log "${#files[@]} mutants, $JOBS at a time"
workers=()
for ((s = 0; s < JOBS; s++)); do
	worker "$s" &
	workers+=($!)
done
trap 'kill "${workers[@]}" 2>/dev/null; stop_all_clusters; exit 130' INT TERM
wait "${workers[@]}"

# ------------------------------------------------------------------ report

total=${#files[@]}
echo
printf '%-44s %-9s %s\n' mutant result "killed by"
for f in "${files[@]}"; do
	name=$(basename "$f" .patch)
	if [ ! -f "$WORK/results/$name" ]; then
		printf '%-44s %-9s %s\n' "$name" "not run" ""
		continue
	fi
	IFS=$'\t' read -r _ status _ by <"$WORK/results/$name"
	printf '%-44s %-9s %s\n' "$name" "$status" "$by"
done | tee "$WORK/table.txt"
killed=$(awk '$2 == "killed"' "$WORK/table.txt" | wc -l)
echo
echo "wall time: $(((SECONDS - started_at) / 60)) min $(((SECONDS - started_at) % 60)) s"
echo "score: $killed of $total killed ($(awk -v k="$killed" -v n="$total" 'BEGIN { printf "%.1f", 100 * k / n }') %)"
