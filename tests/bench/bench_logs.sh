#!/usr/bin/env bash
# bench_logs.sh: log shipping, the log collector and the log monitor API,
# each next to a ceiling measured in the same run (run by tests/bench/run.sh
# with the stack up and its environment exported; runs alone too:
# set -a; . var/INST/env; set +a; ESM_PORT_OFFSET=... tests/bench/bench_logs.sh).
#   - Collector throughput: 100,000 ERROR records (esm-loggen) into
#     error_logs, in records per second, fed in chunks of 10,000 so the
#     embedded broker (which keeps a few MB per partition) never drops a
#     backlog; next to pgbench running the same INSERT into error_logs as the
#     same role, 100 single-row INSERTs per transaction, one client (the
#     collector is one connection). Target 0.5.
#   - GET /api/v1/logs/stats and /api/v1/logs/errors?limit=100 against the
#     bare FastCGI responder on the logmonitor socket, same process count,
#     same lighttpd and basic authentication; target 0.3 (alternating
#     rounds, median shown).
#   - The cost of log shipping on a request: GET /users/{id} with the user
#     pool shipping its logs and with ESM_LOG_SHIP=0, alternating rounds;
#     target 0.9.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)
cd "$ROOT"
. tests/bench/lib.sh

INST=${ESM_INSTANCE:-${ESM_TEST_INSTANCE:-bench}}
VAR=$ROOT/var/$INST
: "${ESM_URL_GATEWAY:?the stack environment is not loaded}"
: "${ESM_DSN_LOGCOLLECTOR:?the stack environment is not loaded}"
SECS=${BENCH_SECONDS:-10}
RECORDS=${BENCH_LOG_RECORDS:-100000}
CHUNK=10000
ROUNDS=${BENCH_ROUNDS:-3}
RSECS=$(( (SECS + ROUNDS - 1) / ROUNDS ))
PGBIN=$(printf '%s\n' /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -n1)
PSQL() { psql -X -q -tA "$ESM_PG_SUPER_DSN dbname=$1" -c "$2"; }
OPW=$(cat "$ESM_OPERATOR_PASSWORD_FILE")
BASIC=$(printf '%s:%s' "$ESM_OPERATOR_USER" "$OPW" | base64 -w0)
BASIC_LUA="wrk.headers[\"Authorization\"] = \"Basic $BASIC\""
LM=$ESM_URL_LOGMONITOR/api/v1/logs

# ---- collector throughput against pgbench ------------------------------------
count() { PSQL logmonitor "SELECT count(*) FROM error_logs"; }
# Let earlier traffic settle: the count stops moving.
prev=-1
for _ in $(seq 50); do n=$(count); [ "$n" = "$prev" ] && break; prev=$n; sleep 0.2; done
total_ms=0
done_n=0
while [ "$done_n" -lt "$RECORDS" ]; do
	n=$(( RECORDS - done_n < CHUNK ? RECORDS - done_n : CHUNK ))
	base=$(count)
	t0=$(date +%s%N)
	build/bin/esm-loggen -q -r 0 -n "$n" -e 100 -s bench1,bench2,bench3,bench4,bench5
	deadline=$(( $(date +%s) + 120 ))
	while [ "$(count)" -lt $((base + n)) ]; do
		[ "$(date +%s)" -lt "$deadline" ] || { echo "bench_logs: the collector stored too little in 120 s"; exit 1; }
		sleep 0.02
	done
	t1=$(date +%s%N)
	total_ms=$(( total_ms + (t1 - t0) / 1000000 ))
	done_n=$(( done_n + n ))
done
COL_RPS=$(awk -v n="$RECORDS" -v ms="$total_ms" 'BEGIN { printf "%.1f", n * 1000 / ms }')

PGB=$(mktemp --suffix=.sql)
{
	echo "BEGIN;"
	for _ in $(seq 100); do
		echo "INSERT INTO error_logs (ts, level, service, logger, message, module, function, line, host, process, request_id) VALUES (to_timestamp(extract(epoch FROM now())), 'ERROR', 'bench_pgbench', 'bench_pgbench', 'database query failed: connection reset by peer (test record 1)', 'loggen', 'generate', 101, 'vm', 4242, '4371f2d3-b7ca-4596-9a03-24ea0c1d2e3f');"
	done
	echo "COMMIT;"
} >"$PGB"
PG_TPS=$("$PGBIN" -n -M prepared -c 1 -T "$SECS" -f "$PGB" "$ESM_DSN_LOGCOLLECTOR" 2>/dev/null |
	awk '/^tps/ { print $3; exit }')
rm -f "$PGB"
PG_RPS=$(awk -v t="$PG_TPS" 'BEGIN { printf "%.1f", t * 100 }')
PSQL logmonitor "DELETE FROM error_logs WHERE service = 'bench_pgbench'" >/dev/null
echo "bench_logs: error_logs holds $(count) records"

# ---- API against the bare responder -------------------------------------------
NPROCS=$(wc -w <"$VAR/logmonitor.pids")
bare_on() {
	# shellcheck disable=SC2046 # a list of pids
	kill $(cat "$VAR/logmonitor.pids") 2>/dev/null || true
	sleep 0.5
	rm -f "$VAR/sock/logmonitor.sock"
	spawn-fcgi -s "$VAR/sock/logmonitor.sock" -M 0600 -F "$NPROCS" -P "$VAR/bare-logmonitor.pids" \
		-- build/bench/esm-bare >/dev/null
}
bare_off() {
	# shellcheck disable=SC2046 # a list of pids
	kill $(cat "$VAR/bare-logmonitor.pids") 2>/dev/null || true
	sleep 0.5
	rm -f "$VAR/bare-logmonitor.pids"
	scripts/stack.sh start "$INST" >/dev/null	# the real logmonitor pool again
}
wrk_run "$LM/stats" "$BASIC_LUA" 4 2 >/dev/null	# warm up
: >"$VAR/rounds-logs"
for _ in $(seq "$ROUNDS"); do
	bare_on
	c=$(wrk_run "$LM/stats" "$BASIC_LUA" 8 "$RSECS")
	bare_off
	s=$(wrk_run "$LM/stats" "$BASIC_LUA" 8 "$RSECS")
	e=$(wrk_run "$LM/errors?limit=100" "$BASIC_LUA" 8 "$RSECS")
	echo "$c $s $e" >>"$VAR/rounds-logs"
done
# A round's line: three wrk_run results of five fields each.
read -r C_RPS C_P50 C_P95 C_P99 _ S_RPS S_P50 S_P95 S_P99 _ E_RPS E_P50 E_P95 E_P99 _ < <(
	awk '{ print $6 / $1, $0 }' "$VAR/rounds-logs" | sort -n |
	awk -v m=$(( (ROUNDS + 1) / 2 )) 'NR == m { $1 = ""; print }')
read -r C_ERR S_ERR E_ERR < <(awk '{ c += $5; s += $10; e += $15 } END { print c, s, e }' "$VAR/rounds-logs")

# ---- shipping on versus off ------------------------------------------------------
API=$ESM_URL_GATEWAY/api/v1/eventstreammonitor
PW="benchmark password 4"
NAME=blog$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')
curl -fsS -o /dev/null -XPOST "$API/users/register" -H 'Content-Type: application/json' \
	-H "X-Forwarded-For: 10.8.$((RANDOM % 250)).$((RANDOM % 250))" \
	-d "{\"username\":\"$NAME\",\"email\":\"$NAME@bench.example\",\"password\":\"$PW\"}"
TOKEN=$(curl -fsS -XPOST "$API/auth/login" -H 'Content-Type: application/json' \
	-d "{\"username\":\"$NAME\",\"password\":\"$PW\"}" | sed 's/.*"accessToken":"\([^"]*\)".*/\1/')
UID_=$(curl -fsS "$API/auth/validate" -H "Authorization: Bearer $TOKEN" | sed 's/.*"userId":\([0-9]*\).*/\1/')
AUTH_LUA="wrk.headers[\"Authorization\"] = \"Bearer $TOKEN\""
UPROCS=$(wc -w <"$VAR/users.pids")
ship_off() {
	# shellcheck disable=SC2046 # a list of pids
	kill $(cat "$VAR/users.pids") 2>/dev/null || true
	sleep 0.5
	rm -f "$VAR/sock/users.sock"
	# The stack's own command line for the pool (its environment less the
	# other credentials), with shipping off.
	local unset=(-u ESM_PG_SUPER_DSN) v
	for v in $(compgen -e | grep '^ESM_DSN_'); do unset+=(-u "$v"); done
	# shellcheck disable=SC2016 # $0 and $1 are the inner shell's
	env "${unset[@]}" ESM_DB_DSN="$ESM_DSN_USERS" ESM_LOG_SHIP=0 \
		spawn-fcgi -s "$VAR/sock/users.sock" -M 0600 -F "$UPROCS" -P "$VAR/users.pids" -- \
		/bin/sh -c 'exec "$0" >>"$1" 2>&1' "$ROOT/build/bin/esm-users" "$VAR/log/users.log" >/dev/null
}
ship_on() {
	# shellcheck disable=SC2046 # a list of pids
	kill $(cat "$VAR/users.pids") 2>/dev/null || true
	sleep 0.5
	scripts/stack.sh start "$INST" >/dev/null	# the stack's pool, shipping on
}
wrk_run "$API/users/$UID_" "$AUTH_LUA" 4 2 >/dev/null
: >"$VAR/rounds-ship"
for _ in $(seq "$ROUNDS"); do
	on=$(wrk_run "$API/users/$UID_" "$AUTH_LUA" 8 "$RSECS")
	ship_off
	off=$(wrk_run "$API/users/$UID_" "$AUTH_LUA" 8 "$RSECS")
	ship_on
	echo "$off $on" >>"$VAR/rounds-ship"
done
read -r OFF_RPS OFF_P50 OFF_P95 OFF_P99 _ ON_RPS ON_P50 ON_P95 ON_P99 _ < <(
	awk '{ print $6 / $1, $0 }' "$VAR/rounds-ship" | sort -n |
	awk -v m=$(( (ROUNDS + 1) / 2 )) 'NR == m { $1 = ""; print }')
read -r OFF_ERR ON_ERR < <(awk '{ o += $5; n += $10 } END { print o, n }' "$VAR/rounds-ship")
echo "bench_logs: $ROUNDS rounds of ${RSECS}s; stats ratios: $(awk '{ printf "%.2f ", $6 / $1 }' "$VAR/rounds-logs");" \
	"shipping on/off: $(awk '{ printf "%.2f ", $6 / $1 }' "$VAR/rounds-ship")"

echo
table_head
row "pgbench error_logs INSERT/s" "$PG_RPS" - - - 0 "$PG_RPS" 1
row "collector records/s" "$COL_RPS" - - - 0 "$PG_RPS" 0.5
row "bare responder (ceiling)" "$C_RPS" "$C_P50" "$C_P95" "$C_P99" "$C_ERR" "$C_RPS" 1
row "GET /logs/stats" "$S_RPS" "$S_P50" "$S_P95" "$S_P99" "$S_ERR" "$C_RPS" 0.3
row "GET /logs/errors?limit=100" "$E_RPS" "$E_P50" "$E_P95" "$E_P99" "$E_ERR" "$C_RPS" 0.3
row "GET /users/{id} ship off" "$OFF_RPS" "$OFF_P50" "$OFF_P95" "$OFF_P99" "$OFF_ERR" "$OFF_RPS" 1
row "GET /users/{id} ship on" "$ON_RPS" "$ON_P50" "$ON_P95" "$ON_P99" "$ON_ERR" "$OFF_RPS" 0.9
[ "$BENCH_FAILS" -eq 0 ]
