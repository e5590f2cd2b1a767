#!/usr/bin/env bash
# Forward-auth throughput: GET /auth with a valid API token answered from
# the verify cache, the same with the cache off (a second gateway with
# FYNN_CACHE_SIZE=0, so every request is a database call), and GET /health
# (no credential, no database) as the ceiling of the HTTP layer itself.
#
#   bench/auth.sh                   2 and 16 connections, 3 alternating rounds of 8 s
#   FYNN_BENCH_CONNS="2 16 32" FYNN_BENCH_SECONDS=5 FYNN_BENCH_ROUNDS=3 bench/auth.sh
#
# Prints the median req/s and p99 of each, the ratio cached/health (target
# >= 0.8), and the database verify calls per cached request at steady state
# (calls of fynn_tokens.verify_api_token_hash in pg_stat_user_functions,
# track_functions = all; target < 0.01).  The uncached gateway uses a
# database of its own so its calls do not count there.  Own cluster:
# .run-bench-auth, port 54376 unless FYNN_RUN/FYNN_PGPORT say otherwise.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
use_bench_cluster "$ROOT/.run-bench-auth" 54376 "${FYNN_BENCH_DB:-fynn_bench_auth}"

CONNS=${FYNN_BENCH_CONNS:-2 16}
SECONDS_EACH=${FYNN_BENCH_SECONDS:-8}
ROUNDS=${FYNN_BENCH_ROUNDS:-3}
NOCACHE_DB=${FYNN_DB}_nocache
WORK=$FYNN_RUN/bench-auth
mkdir -p "$WORK"
trap cleanup_bench EXIT

require_tools wrk curl
build_gateway
start_bench_cluster
new_gateway_secrets
recreate_databases "$FYNN_DB" "$NOCACHE_DB"
alter_system "SET track_functions = 'all'" "RESET log_statement"
grant_gateway_role "$FYNN_DB" "$NOCACHE_DB"
max_conns=$(largest $CONNS)

# start_ready_gateway PORT DB [VAR=VALUE...]: one gateway in the background, ready on return.
start_ready_gateway() {
	local port=$1 db=$2
	shift 2
	start_gateway "$port" "$db" "$max_conns" "$WORK/gateway-$port.log" "$@"
	wait_for_gateway "$port" || die "gateway on $port not ready (see $WORK/gateway-$port.log)"
}

# issue PORT: a new API token, created through that gateway with a JWT.
issue() {
	local jwt
	jwt=$(sign_jwt "$jwt_secret" \
		'{"sub": "bench-user", "tenant_id": "bench-tenant", "permissions": ["user:api-token:write"], "exp": 4102444800}')
	curl -sf -X POST "http://127.0.0.1:$1/user/api-tokens" -H "Authorization: Bearer $jwt" \
		-H 'Content-Type: application/json' -d '{"description":"bench auth"}' |
		"$PY" -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}

metric() { curl -sf "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m {print $2}'; }
verify_calls() {
	psql -X -tA -d "$FYNN_DB" -c "SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions
		WHERE schemaname = 'fynn_tokens' AND funcname = 'verify_api_token_hash'"
}

cached_port=$(free_port)
nocache_port=$(free_port)
start_ready_gateway "$cached_port" "$FYNN_DB"
start_ready_gateway "$nocache_port" "$NOCACHE_DB" FYNN_CACHE_SIZE=0
cached_token=$(issue "$cached_port")
nocache_token=$(issue "$nocache_port")
[ -n "$cached_token" ] && [ -n "$nocache_token" ] || die "could not issue the bench tokens"
for _ in $(seq 50); do [ "$(metric "$cached_port" fynn_gateway_listener_up)" = 1 ] && break; sleep 0.1; done
[ "$(metric "$cached_port" fynn_gateway_listener_up)" = 1 ] || die "the cached gateway's listener is not up"

# run_wrk NAME PORT PATH TOKEN CONNS ROUND: one wrk run, output kept in a file.
run_wrk() {
	local out="$WORK/wrk.$1.$5.$6.txt"
	FYNN_BENCH_TOKEN=$4 wrk -t2 -c"$5" -d"${SECONDS_EACH}s" --latency -s "$ROOT/bench/auth.lua" \
		"http://127.0.0.1:$2$3" >"$out"
	grep -q '^errors_status=0$' "$out" || die "$1: error statuses in $out"
	grep -q 'Non-2xx' "$out" && die "$1: non-2xx answers in $out"
	return 0
}

log "warm-up"
for name in cached nocache health; do
	case $name in
		cached) run_args=("$cached_port" /auth "$cached_token") ;;
		nocache) run_args=("$nocache_port" /auth "$nocache_token") ;;
		health) run_args=("$cached_port" /health "") ;;
	esac
	FYNN_BENCH_TOKEN=${run_args[2]} wrk -t1 -c2 -d1s -s "$ROOT/bench/auth.lua" "http://127.0.0.1:${run_args[0]}${run_args[1]}" >/dev/null
done
# pg_stat_user_functions shows a backend's calls once it flushes them: at
# most every second while busy, within 10 s once idle.  Wait that out
# before the first reading and after the last.
log "letting the warm-up's function statistics reach pg_stat_user_functions (11 s)"
sleep 11
calls_before=$(verify_calls)
gw_calls_before=$(metric "$cached_port" fynn_gateway_db_verify_calls_total)
cached_requests=0

order=(cached nocache health)
for round in $(seq "$ROUNDS"); do
	for c in $CONNS; do
		for name in "${order[@]}"; do
			log "round $round/$ROUNDS: $name, $c connections, ${SECONDS_EACH}s"
			case $name in
				cached) run_wrk cached "$cached_port" /auth "$cached_token" "$c" "$round" ;;
				nocache) run_wrk nocache "$nocache_port" /auth "$nocache_token" "$c" "$round" ;;
				health) run_wrk health "$cached_port" /health "" "$c" "$round" ;;
			esac
		done
		n=$(awk '/requests in/ {print $1}' "$WORK/wrk.cached.$c.$round.txt")
		cached_requests=$((cached_requests + n))
	done
	# The next round starts with the next target, so none always runs first.
	order=("${order[@]:1}" "${order[0]}")
done
gw_calls_after=$(metric "$cached_port" fynn_gateway_db_verify_calls_total)
log "letting the last function statistics reach pg_stat_user_functions (11 s)"
sleep 11
calls_after=$(verify_calls)

"$PY" - "$WORK" "$ROUNDS" "$SECONDS_EACH" "$calls_before" "$calls_after" "$cached_requests" \
	"$gw_calls_before" "$gw_calls_after" $CONNS <<'PYEOF'
import re, statistics, sys
work, rounds, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3]
calls_before, calls_after, requests = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
gw_before, gw_after = float(sys.argv[7]), float(sys.argv[8])
conns = [int(c) for c in sys.argv[9:]]
units = {"us": 0.001, "ms": 1.0, "s": 1000.0}

def run(name, c, r):
    text = open(f"{work}/wrk.{name}.{c}.{r}.txt").read()
    rps = float(re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M).group(1))
    v, u = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\b", text, re.M).groups()
    return rps, float(v) * units[u]

print()
print(f"GET /auth and /health, wrk -t2 -d{seconds}s, {rounds} alternating rounds, medians; "
      "2 cores shared by wrk, the gateways and postgres")
print("conns | target                | req/s    | p99 ms")
print("------+-----------------------+----------+-------")
ok = True
for c in conns:
    med = {}
    for name, label in (("cached", "/auth, cache"), ("nocache", "/auth, no cache"), ("health", "/health")):
        runs = [run(name, c, r) for r in range(1, rounds + 1)]
        med[name] = (statistics.median(x[0] for x in runs), statistics.median(x[1] for x in runs))
        print(f"{c:5d} | {label:21s} | {med[name][0]:8.0f} | {med[name][1]:6.2f}")
    ratio = med["cached"][0] / med["health"][0]
    speedup = med["cached"][0] / med["nocache"][0]
    ok &= ratio >= 0.8
    print(f"{c:5d} | cached/health {ratio:.2f} (target >= 0.8: {'met' if ratio >= 0.8 else 'MISSED'}); "
          f"cached/no cache {speedup:.1f}x")
per_request = (calls_after - calls_before) / requests if requests else float("nan")
ok &= per_request < 0.01
print(f"verify calls per cached /auth at steady state: {calls_after - calls_before} "
      f"(pg_stat_user_functions) / {requests} requests = {per_request:.6f} "
      f"(target < 0.01: {'met' if per_request < 0.01 else 'MISSED'}); "
      f"the gateway's own counter: {gw_after - gw_before:.0f}")
sys.exit(0 if ok else 3)
PYEOF
