#!/usr/bin/env bash
# Benchmarks the extension against PostgreSQL's own floor, in one run on one
# cluster, and prints each figure beside its baseline with the ratio:
#   1. create_user_api_token: us per call (100,000 calls in one transaction)
#      vs us per row inserting the same rows (token and event), precomputed,
#      into the same tables
#   2. verify_api_token TPS vs SELECT 1 (pgbench -c 2 -j 2 -M prepared), vs
#      a query that takes the token and answers the same bytes computing
#      nothing (the floor for this signature), vs the same lookup and answer
#      written in plain SQL, and with the verify cache off
#   3. listing a page of 30 out of 10,000 tokens vs the plain SELECT of the
#      same page (pgbench -c 2 -j 2 -M prepared), and vs plain SQL giving
#      the same answer (page and total)
#   4. backend private memory before, halfway and after 1,000,000 calls of
#      each: create, verify of a new token (the verify cache turning over),
#      verify of a remembered one
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
trap 'psql -X -q -d postgres -c "ALTER SYSTEM RESET autovacuum" -c "SELECT pg_reload_conf()" >/dev/null; rm -rf "${work:-/nonexistent}"' EXIT
claims='{"sub":"bench-user","tenant_id":"bench-tenant","permissions":["user:api-token:read","user:api-token:write"]}'
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }

# One round: create $calls tokens, keep the rows, then re-insert them (and
# their events) into the emptied tables: the floor does the same writes.
create_vs_floor() {
	q <<SQL
SET synchronous_commit = off;
TRUNCATE fynn_tokens.api_token;
SELECT set_config('session_replication_role', 'replica', false) \g /dev/null
DELETE FROM fynn_tokens.api_token_event;
RESET session_replication_role;
CHECKPOINT;
BEGIN;
SELECT set_config('request.jwt.claims', '$claims', true) \g /dev/null
SELECT clock_timestamp() AS t0 \gset
SELECT count(fynn_tokens.create_user_api_token('benchmark token', '2099-01-01T00:00:00Z'))
	FROM generate_series(1, $calls) \g /dev/null
SELECT extract(epoch FROM clock_timestamp() - :'t0') * 1e6 / $calls AS create_us \gset
COMMIT;
DROP TABLE IF EXISTS precomputed, precomputed_events;
CREATE TABLE precomputed AS SELECT * FROM fynn_tokens.api_token;
CREATE TABLE precomputed_events AS SELECT * FROM fynn_tokens.api_token_event;
TRUNCATE fynn_tokens.api_token;
SET session_replication_role = replica;
DELETE FROM fynn_tokens.api_token_event;
RESET session_replication_role;
CHECKPOINT;
BEGIN;
SELECT clock_timestamp() AS t0 \gset
INSERT INTO fynn_tokens.api_token SELECT * FROM precomputed;
INSERT INTO fynn_tokens.api_token_event SELECT * FROM precomputed_events;
SELECT extract(epoch FROM clock_timestamp() - :'t0') * 1e6 / $calls AS floor_us \gset
COMMIT;
SELECT round(:create_us, 2) || ' ' || round(:floor_us, 2);
SQL
}

echo "== create_user_api_token: $calls calls in one transaction, $rounds rounds (median)"
results=()
for _ in $(seq $rounds); do results+=("$(create_vs_floor)"); done
read -r create_us floor_us < <(printf '%s\n' "${results[@]}" | sort -n -k1 | sed -n "$(( (rounds + 1) / 2 ))p")
printf '%-52s %10s us\n' "create_user_api_token, per call" "$create_us"
printf '%-52s %10s us\n' "floor: INSERT of the same token and event rows, per row" "$floor_us"
printf '%-52s %10s x\n' "ratio" "$(echo "scale=2; $create_us / $floor_us" | bc)"

echo
echo "== verify_api_token vs SELECT 1: pgbench -c 2 -j 2 -M prepared -T $seconds, $rounds alternating rounds (median)"
token=$(q -c "SELECT set_config('request.jwt.claims', '$claims', false)" \
	-c "SELECT fynn_tokens.create_user_api_token('pgbench token', NULL)->>'token'" | tail -n 1)
work=$(mktemp -d)
echo 'SELECT 1;' >"$work/select1.sql"
echo 'SELECT fynn_tokens.verify_api_token(:token);' >"$work/verify.sql"
# The floor: the token in, the same answer out (a bind parameter), nothing done.
echo 'SELECT CASE WHEN :token::text IS NOT NULL THEN :claims::text END;' >"$work/same_bytes.sql"
claims_json=$(q -c "SELECT fynn_tokens.verify_api_token('$token')")
# The same answer written as SQL over the same table: what a hand-rolled lookup costs.
cat >"$work/verify_sql.sql" <<'SQL'
SELECT json_build_object('sub', user_id, 'tenant_id', tenant_id, 'permissions', permissions, 'token_id', id,
	'exp', extract(epoch FROM expires_at)::bigint)
FROM fynn_tokens.api_token
WHERE token_hash = sha256(convert_to(:token, 'UTF8')) AND revoked_at IS NULL
	AND (expires_at IS NULL OR expires_at > clock_timestamp());
SQL
tps() { pgbench -n -c 2 -j 2 -M prepared -T "$seconds" "${@:2}" -f "$1" $db 2>/dev/null |
	awk '/^tps/ {print int($3)}'; }
select1_runs=() verify_runs=() same_bytes_runs=() verify_sql_runs=() uncached_runs=()
for _ in $(seq $rounds); do
	select1_runs+=("$(tps "$work/select1.sql")")
	verify_runs+=("$(tps "$work/verify.sql" -D "token=$token")")
	same_bytes_runs+=("$(tps "$work/same_bytes.sql" -D "token=$token" -D "claims=$claims_json")")
	verify_sql_runs+=("$(tps "$work/verify_sql.sql" -D "token=$token")")
	uncached_runs+=("$(PGOPTIONS="-c fynn_tokens.verify_cache_size=0" tps "$work/verify.sql" -D "token=$token")")
done
select1_tps=$(median "${select1_runs[@]}")
verify_tps=$(median "${verify_runs[@]}")
same_bytes_tps=$(median "${same_bytes_runs[@]}")
verify_sql_tps=$(median "${verify_sql_runs[@]}")
uncached_tps=$(median "${uncached_runs[@]}")
percent_of() { echo "scale=1; 100 * $1 / $2" | bc; }
printf '%-52s %10s tps\n' "verify_api_token" "$verify_tps"
printf '%-52s %10s tps\n' "baseline: SELECT 1" "$select1_tps"
printf '%-52s %10s %%\n' "ratio" "$(percent_of "$verify_tps" "$select1_tps")"
printf '%-52s %10s tps (%s %%)\n' "baseline: token in, same answer out, nothing done" "$same_bytes_tps" \
	"$(percent_of "$verify_tps" "$same_bytes_tps")"
printf '%-52s %10s tps (%s %%)\n' "baseline: the same lookup and answer in plain SQL" "$verify_sql_tps" \
	"$(percent_of "$verify_tps" "$verify_sql_tps")"
printf '%-52s %10s tps (%s %% of SELECT 1)\n' "diagnostic: verify_api_token, verify cache off" "$uncached_tps" \
	"$(percent_of "$uncached_tps" "$select1_tps")"

echo
echo "== list_user_api_tokens: page 2 of 30 out of 10,000 tokens, pgbench -c 2 -j 2 -M prepared -T $seconds, $rounds alternating rounds (median)"
q <<SQL
SET synchronous_commit = off;
SELECT set_config('request.jwt.claims', '{"sub":"list-user","tenant_id":"bench-tenant","permissions":["user:api-token:read","user:api-token:write"]}', false) \g /dev/null
SELECT count(fynn_tokens.create_user_api_token('listed ' || i, NULL)) FROM generate_series(1, 10000) i \g /dev/null
VACUUM ANALYZE fynn_tokens.api_token;
ALTER DATABASE $db SET request.jwt.claims = '{"sub":"list-user","tenant_id":"bench-tenant","permissions":["user:api-token:read"]}';
SQL
echo 'SELECT fynn_tokens.list_user_api_tokens(2, 30);' >"$work/list.sql"
# The same page, plain: the rows the listing shows, by the same index.
cat >"$work/page.sql" <<'SQL'
SELECT id, description, expires_at, created_at, updated_at, last_used_at, permissions
FROM fynn_tokens.api_token
WHERE tenant_id = 'bench-tenant' AND user_id = 'list-user' AND revoked_at IS NULL
ORDER BY created_at DESC, id DESC LIMIT 30 OFFSET 30;
SQL
# The same answer, plain: the page and the total the listing's meta carries.
cat >"$work/page_and_total.sql" <<'SQL'
SELECT id, description, expires_at, created_at, updated_at, last_used_at, permissions,
	(SELECT count(*) FROM fynn_tokens.api_token
	 WHERE tenant_id = 'bench-tenant' AND user_id = 'list-user' AND revoked_at IS NULL) AS total
FROM fynn_tokens.api_token
WHERE tenant_id = 'bench-tenant' AND user_id = 'list-user' AND revoked_at IS NULL
ORDER BY created_at DESC, id DESC LIMIT 30 OFFSET 30;
SQL
list_runs=() page_runs=() total_runs=()
for _ in $(seq $rounds); do
	list_runs+=("$(tps "$work/list.sql")")
	page_runs+=("$(tps "$work/page.sql")")
	total_runs+=("$(tps "$work/page_and_total.sql")")
done
list_tps=$(median "${list_runs[@]}")
page_tps=$(median "${page_runs[@]}")
total_tps=$(median "${total_runs[@]}")
printf '%-52s %10s tps\n' "list_user_api_tokens(2, 30) of 10,000" "$list_tps"
printf '%-52s %10s tps (%s x the time)\n' "baseline: plain SELECT of the page" "$page_tps" \
	"$(echo "scale=2; $page_tps / $list_tps" | bc)"
printf '%-52s %10s tps (%s x the time)\n' "baseline: plain SELECT of the page and total" "$total_tps" \
	"$(echo "scale=2; $total_tps / $list_tps" | bc)"

# The function's own cost, where counting the total is cheap: a user with 30 tokens.
q <<SQL
SET synchronous_commit = off;
SELECT set_config('request.jwt.claims', '{"sub":"small-user","tenant_id":"bench-tenant","permissions":["user:api-token:read","user:api-token:write"]}', false) \g /dev/null
SELECT count(fynn_tokens.create_user_api_token('listed ' || i, NULL)) FROM generate_series(1, 30) i \g /dev/null
VACUUM ANALYZE fynn_tokens.api_token;
ALTER DATABASE $db SET request.jwt.claims = '{"sub":"small-user","tenant_id":"bench-tenant","permissions":["user:api-token:read"]}';
SQL
echo 'SELECT fynn_tokens.list_user_api_tokens(1, 30);' >"$work/list_small.sql"
sed -e "s/'list-user'/'small-user'/g" -e 's/OFFSET 30/OFFSET 0/' "$work/page_and_total.sql" >"$work/small_page_and_total.sql"
sed -e "s/'list-user'/'small-user'/g" -e 's/OFFSET 30/OFFSET 0/' "$work/page.sql" >"$work/small_page.sql"
small_runs=() small_page_runs=() small_total_runs=()
for _ in $(seq $rounds); do
	small_runs+=("$(tps "$work/list_small.sql")")
	small_page_runs+=("$(tps "$work/small_page.sql")")
	small_total_runs+=("$(tps "$work/small_page_and_total.sql")")
done
small_tps=$(median "${small_runs[@]}")
small_page_tps=$(median "${small_page_runs[@]}")
small_total_tps=$(median "${small_total_runs[@]}")
printf '%-52s %10s tps\n' "list_user_api_tokens(1, 30) of 30" "$small_tps"
printf '%-52s %10s tps (%s x the time)\n' "baseline: plain SELECT of the page" "$small_page_tps" \
	"$(echo "scale=2; $small_page_tps / $small_tps" | bc)"
printf '%-52s %10s tps (%s x the time)\n' "baseline: plain SELECT of the page and total" "$small_total_tps" \
	"$(echo "scale=2; $small_total_tps / $small_tps" | bc)"
psql -X -q -d $db -c "ALTER DATABASE $db RESET request.jwt.claims" >/dev/null

echo
echo "== backend memory around $memory_calls creations, verifications of new tokens and of a remembered one (one session)"
batches=$((memory_calls / 100000))
# Prints the session's private resident set (kB) and the sum of its memory contexts (bytes).
memory_probe() {
	echo "SELECT (regexp_match(pg_read_file('/proc/self/status'), 'RssAnon:\\s+(\\d+)'))[1],"
	echo "	sum(total_bytes) FROM pg_backend_memory_contexts;"
}
# The batch's tokens live in a shared table: a temporary one's local buffers would count as the session's memory.
q -c "SET client_min_messages = warning" -c "DROP TABLE IF EXISTS batch" -c "CREATE UNLOGGED TABLE batch (token text)"
memory=$({
	echo "SELECT set_config('request.jwt.claims', '$claims', false) \\g /dev/null"
	echo "SET synchronous_commit = off;"
	memory_probe
	for i in $(seq "$batches"); do
		echo "INSERT INTO batch SELECT fynn_tokens.create_user_api_token('memory', NULL)->>'token' FROM generate_series(1, 100000);"
		echo "SELECT count(fynn_tokens.verify_api_token(token)) FROM batch \\g /dev/null"
		echo "SELECT count(fynn_tokens.verify_api_token(token)) FROM (SELECT token FROM batch LIMIT 1) t, generate_series(1, 100000) \\g /dev/null"
		echo "TRUNCATE batch;"
		if [ "$i" = $(( (batches + 1) / 2 )) ]; then memory_probe; fi
	done
	memory_probe
} | q -F ' ')
read -r rss0 ctx0 rss1 ctx1 rss2 ctx2 <<<"$(echo $memory)"
half=$(( (batches + 1) / 2 * 100000 ))
printf '%-40s %9s kB, after %s calls %s kB, after %s %s kB\n' "private resident memory (RssAnon): start" "$rss0" "$half" "$rss1" "$memory_calls" "$rss2"
printf '%-40s %9s B,  after %s calls %s B,  after %s %s B\n' "memory contexts (total_bytes): start" "$ctx0" "$half" "$ctx1" "$memory_calls" "$ctx2"
