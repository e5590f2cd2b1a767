#!/usr/bin/env bash
# Benchmarks the extension against PostgreSQL's own floor, in one run on one
# cluster, and prints each figure beside its baseline with the ratio:
#   1. create_user_api_token: us per call (100,000 calls in one transaction)
#      vs us per row inserting the same rows, precomputed, into the same table
#   2. verify_api_token TPS vs SELECT 1 (pgbench -c 2 -j 2 -M prepared)
#   3. backend private memory before and after 1,000,000 calls
# Usage: bench/extension.sh [calls=100000] [pgbench seconds=10] [memory calls=1000000]
set -euo pipefail
export FYNN_RUN=${FYNN_BENCH_RUN:-$(cd "$(dirname "$0")/.." && pwd)/.run-bench-ext} FYNN_PGPORT=${FYNN_BENCH_PGPORT:-54349}
. "$(dirname "$0")/../scripts/env.sh"
calls=${1:-100000}
seconds=${2:-10}
memory_calls=${3:-1000000}
rounds=3
db=fynn_bench

"$FYNN_ROOT/scripts/pg-cluster.sh" start >/dev/null 2>&1
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
q() { psql -X -q -v ON_ERROR_STOP=1 -tA -d $db "$@"; }
q -c "CREATE EXTENSION fynn_tokens CASCADE" 2>/dev/null
# Autovacuum waking mid-measurement (on the 100,000-row tables) would only add noise.
psql -X -q -d postgres -c "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null
claims='{"sub":"bench-user","tenant_id":"bench-tenant","permissions":["user:api-token:read","user:api-token:write"]}'

# One round: create $calls tokens, keep the rows, then re-insert them into the emptied table.
create_vs_floor() {
	q <<SQL
SET synchronous_commit = off;
TRUNCATE fynn_tokens.api_token;
CHECKPOINT;
BEGIN;
SELECT set_config('request.jwt.claims', '$claims', true) \g /dev/null
SELECT clock_timestamp() AS t0 \gset
SELECT count(fynn_tokens.create_user_api_token('benchmark token', '2099-01-01T00:00:00Z'))
	FROM generate_series(1, $calls) \g /dev/null
SELECT extract(epoch FROM clock_timestamp() - :'t0') * 1e6 / $calls AS create_us \gset
COMMIT;
DROP TABLE IF EXISTS precomputed;
CREATE TABLE precomputed AS SELECT * FROM fynn_tokens.api_token;
TRUNCATE fynn_tokens.api_token;
CHECKPOINT;
BEGIN;
SELECT clock_timestamp() AS t0 \gset
INSERT INTO fynn_tokens.api_token SELECT * FROM precomputed;
SELECT extract(epoch FROM clock_timestamp() - :'t0') * 1e6 / $calls AS floor_us \gset
COMMIT;
TRUNCATE fynn_tokens.api_token;
BEGIN;
SELECT clock_timestamp() AS t0 \gset
DO \$\$
DECLARE r fynn_tokens.api_token;
BEGIN
	FOR r IN SELECT * FROM precomputed LOOP
		INSERT INTO fynn_tokens.api_token VALUES (r.*);
	END LOOP;
END \$\$;
SELECT extract(epoch FROM clock_timestamp() - :'t0') * 1e6 / $calls AS per_row_us \gset
COMMIT;
SELECT round(:create_us, 2) || ' ' || round(:floor_us, 2) || ' ' || round(:per_row_us, 2);
SQL
}

echo "== create_user_api_token: $calls calls in one transaction, $rounds rounds (median)"
results=()
for _ in $(seq $rounds); do results+=("$(create_vs_floor)"); done
read -r create_us floor_us per_row_us < <(printf '%s\n' "${results[@]}" | sort -n -k1 | sed -n "$(( (rounds + 1) / 2 ))p")
printf '%-44s %10s us\n' "create_user_api_token, per call" "$create_us"
printf '%-44s %10s us\n' "floor: INSERT of the same rows, per row" "$floor_us"
printf '%-44s %10s x   (target <= 1.3)\n' "ratio" "$(echo "scale=2; $create_us / $floor_us" | bc)"
printf '%-44s %10s us (%s x)\n' "perspective: one INSERT statement per row" "$per_row_us" \
	"$(echo "scale=2; $create_us / $per_row_us" | bc)"

echo
echo "== verify_api_token vs SELECT 1: pgbench -c 2 -j 2 -M prepared -T $seconds, $rounds alternating rounds (median)"
token=$(q -c "SELECT set_config('request.jwt.claims', '$claims', false)" \
	-c "SELECT fynn_tokens.create_user_api_token('pgbench token', NULL)->>'token'" | tail -n 1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo 'SELECT 1;' >"$work/select1.sql"
echo 'SELECT fynn_tokens.verify_api_token(:token);' >"$work/verify.sql"
# Diagnostic only: the same C function without the SET search_path clause,
# to show what pinning the search path costs per call.
q -c "CREATE OR REPLACE FUNCTION public.verify_unpinned(text) RETURNS json
	AS '\$libdir/fynn_tokens', 'fynn_tokens_verify_api_token' LANGUAGE C STABLE STRICT SECURITY DEFINER"
echo 'SELECT public.verify_unpinned(:token);' >"$work/unpinned.sql"
tps() { pgbench -n -c 2 -j 2 -M prepared -T "$seconds" -D "token=$token" -f "$1" $db 2>/dev/null |
	awk '/^tps/ {print int($3)}'; }
# Alternating rounds, median of each: this machine's speed drifts between runs.
select1_runs=() verify_runs=() unpinned_runs=()
for _ in $(seq $rounds); do
	select1_runs+=("$(tps "$work/select1.sql")")
	verify_runs+=("$(tps "$work/verify.sql")")
	unpinned_runs+=("$(tps "$work/unpinned.sql")")
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
select1_tps=$(median "${select1_runs[@]}")
verify_tps=$(median "${verify_runs[@]}")
unpinned_tps=$(median "${unpinned_runs[@]}")
printf '%-44s %10s tps\n' "verify_api_token" "$verify_tps"
printf '%-44s %10s tps\n' "baseline: SELECT 1" "$select1_tps"
printf '%-44s %10s %%   (target >= 90)\n' "ratio" "$(echo "scale=1; 100 * $verify_tps / $select1_tps" | bc)"
printf '%-44s %10s tps (%s %% of SELECT 1)\n' "diagnostic: search_path not pinned" \
	"$unpinned_tps" "$(echo "scale=1; 100 * $unpinned_tps / $select1_tps" | bc)"

echo
echo "== backend memory around $memory_calls calls (one session)"
batches=$((memory_calls / 100000))
# Prints the session's private resident set (kB) and the sum of its memory contexts (bytes).
memory_probe() {
	echo "SELECT (regexp_match(pg_read_file('/proc/self/status'), 'RssAnon:\\s+(\\d+)'))[1],"
	echo "	sum(total_bytes) FROM pg_backend_memory_contexts;"
}
memory=$({
	echo "SELECT set_config('request.jwt.claims', '$claims', false) \\g /dev/null"
	memory_probe
	for i in $(seq "$batches"); do
		echo "SELECT count(fynn_tokens.create_user_api_token('memory', NULL)) FROM generate_series(1, 100000) \\g /dev/null"
		echo "SELECT count(fynn_tokens.verify_api_token('api_not_a_token')) \\g /dev/null"
		if [ "$i" = $(( (batches + 1) / 2 )) ]; then memory_probe; fi
	done
	memory_probe
} | q -F ' ')
read -r rss0 ctx0 rss1 ctx1 rss2 ctx2 <<<"$(echo $memory)"
half=$(( (batches + 1) / 2 * 100000 ))
printf '%-40s %9s kB, after %s calls %s kB, after %s %s kB\n' "private resident memory (RssAnon): start" "$rss0" "$half" "$rss1" "$memory_calls" "$rss2"
printf '%-40s %9s B,  after %s calls %s B,  after %s %s B\n' "memory contexts (total_bytes): start" "$ctx0" "$half" "$ctx1" "$memory_calls" "$ctx2"

psql -X -q -d postgres -c "ALTER SYSTEM RESET autovacuum" -c "SELECT pg_reload_conf()" >/dev/null
