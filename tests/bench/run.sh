#!/usr/bin/env bash
# tests/bench/run.sh (make bench): throughput and latency of each endpoint
# through lighttpd with wrk, each next to a ceiling measured in the same run:
#   - GET endpoints and token validation: a bare FastCGI responder
#     (build/bench/esm-bare) put on the same socket behind the same lighttpd,
#     with the same process count;
#   - register and login: the argon2id hash rate on all cores at the same
#     cost (build/bench/hashrate), since each of them is one hash.
# Then the steady RSS of every FastCGI process. Runs on a private stack
# instance ("bench", ports 4xxxx) that it starts and stops. Further
# bench_*.sh files beside this one are run afterwards with the stack up;
# bench_events.sh starts a second instance beside it (the name with a 2,
# the port offset + 2000) for the other Kafka broker, and stops it.
# Exits non-zero when a ratio is under its target or a request failed.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)
cd "$ROOT"
. tests/bench/lib.sh

# ESM_BENCH_INSTANCE and ESM_BENCH_OFFSET put a second run on other ports.
INST=${ESM_BENCH_INSTANCE:-bench}
export ESM_PORT_OFFSET=${ESM_BENCH_OFFSET:-40000} ESM_TEST_INSTANCE=$INST
# Rate limits would measure themselves; logging at warning keeps the disk out.
export ESM_RATE_REGISTER=off ESM_RATE_LOGIN_ADDR=off ESM_RATE_LOGIN_USER=off ESM_RATE_VALIDATE=off
# One user creates tasks as fast as it can, more than any user should.
export ESM_RATE_TASK_CREATE=off ESM_TASKS_PENDING_MAX=0
export ESM_LOG_LEVEL=${ESM_LOG_LEVEL:-warning}
NPROC=$(nproc)
export ESM_PROCS_USERS=${ESM_PROCS_USERS:-$NPROC} ESM_PROCS_AUTH=${ESM_PROCS_AUTH:-$NPROC}
export BENCH_SECONDS=${BENCH_SECONDS:-10}

stop_stack() { scripts/stack.sh stop "$INST" >/dev/null 2>&1 || true; }
trap stop_stack EXIT
scripts/stack.sh start "$INST" >/dev/null
set -a
. "$(scripts/stack.sh env "$INST")"
set +a
VAR=$ROOT/var/$INST
GW=$ESM_URL_GATEWAY
API=$GW/api/v1/eventstreammonitor
PW="benchmark password 1"

# One user to read and log in as.
NAME=bench$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')
curl -fsS -o /dev/null -XPOST "$API/users/register" -H 'Content-Type: application/json' \
	-d "{\"username\":\"$NAME\",\"email\":\"$NAME@bench.example\",\"password\":\"$PW\"}"
LOGIN=$(curl -fsS -XPOST "$API/auth/login" -H 'Content-Type: application/json' \
	-d "{\"username\":\"$NAME\",\"password\":\"$PW\"}")
TOKEN=$(echo "$LOGIN" | sed 's/.*"accessToken":"\([^"]*\)".*/\1/')
UID_=$(curl -fsS "$API/auth/validate" -H "Authorization: Bearer $TOKEN" | sed 's/.*"userId":\([0-9]*\).*/\1/')
AUTH_LUA="wrk.headers[\"Authorization\"] = \"Bearer $TOKEN\""

echo "bench: $NPROC cores, $ESM_PROCS_USERS users and $ESM_PROCS_AUTH auth processes, ${BENCH_SECONDS}s per run"

# Warm up both pools (connections, prepared statements, page cache).
wrk_run "$API/users/$UID_" "$AUTH_LUA" 4 2 >/dev/null

# Ceiling: the bare responder on the users socket, same process count. The
# machine is shared, so ceiling and service are measured in alternating
# rounds and each ratio is taken within a round; the median round is shown.
bare_on() {
	kill $(cat "$VAR/users.pids") 2>/dev/null || true
	sleep 0.5
	rm -f "$VAR/sock/users.sock"
	spawn-fcgi -s "$VAR/sock/users.sock" -M 0600 -F "$ESM_PROCS_USERS" -P "$VAR/bare.pids" \
		-- build/bench/esm-bare >/dev/null
}
bare_off() {
	kill $(cat "$VAR/bare.pids") 2>/dev/null || true
	sleep 0.5
	scripts/stack.sh start "$INST" >/dev/null	# brings the real users pool back
}
ROUNDS=${BENCH_ROUNDS:-3}
RSECS=$(( (BENCH_SECONDS + ROUNDS - 1) / ROUNDS ))
: >"$VAR/rounds"
for round in $(seq "$ROUNDS"); do
	bare_on
	c=$(wrk_run "$API/users/$UID_" "$AUTH_LUA" 8 "$RSECS")
	bare_off
	g=$(wrk_run "$API/users/$UID_" "$AUTH_LUA" 8 "$RSECS")
	v=$(wrk_run "$API/auth/validate" "$AUTH_LUA" 8 "$RSECS")
	echo "$c $g $v" >>"$VAR/rounds"
done
# Median round by the GET ratio (a round's line: three wrk_run results of
# five fields each).
read -r C_RPS C_P50 C_P95 C_P99 C_ERR G_RPS G_P50 G_P95 G_P99 G_ERR V_RPS V_P50 V_P95 V_P99 V_ERR < <(
	awk '{ print $6 / $1, $0 }' "$VAR/rounds" | sort -n | awk -v m=$(( (ROUNDS + 1) / 2 )) 'NR == m { $1 = ""; print }')
# Errors of every round count.
read -r C_ERR G_ERR V_ERR < <(awk '{ c += $5; g += $10; v += $15 } END { print c, g, v }' "$VAR/rounds")
echo "bench: $ROUNDS rounds of ${RSECS}s; GET ratios per round: $(awk '{ printf "%.2f ", $6 / $1 }' "$VAR/rounds")"

REG_LUA='
local n, prefix = 0, ""
init = function(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
  prefix = string.format("r%06x", math.random(0, 0xffffff))
end
request = function()
  n = n + 1
  local u = prefix .. n
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"},
    "{\"username\":\"" .. u .. "\",\"email\":\"" .. u .. "@bench.example\",\"password\":\"benchmark password 2\"}")
end'
LOGIN_LUA="wrk.method = \"POST\"
wrk.headers[\"Content-Type\"] = \"application/json\"
wrk.body = '{\"username\":\"$NAME\",\"password\":\"$PW\"}'"
# The hash rate swings with whatever else the machine runs, so it too is
# measured in rounds alternating with register and login; each ratio is
# taken within its round and the median round (by the register ratio) is
# shown.
: >"$VAR/hash-rounds"
for round in $(seq "$ROUNDS"); do
	h=$(build/bench/hashrate "$RSECS" "$NPROC")
	reg=$(wrk_run "$API/users/register" "$REG_LUA" 4 "$RSECS")
	log=$(wrk_run "$API/auth/login" "$LOGIN_LUA" 4 "$RSECS")
	echo "$h $reg $log" >>"$VAR/hash-rounds"
done
read -r HASH R_RPS R_P50 R_P95 R_P99 _ L_RPS L_P50 L_P95 L_P99 _ < <(
	awk '{ print $2 / $1, $0 }' "$VAR/hash-rounds" | sort -n |
		awk -v m=$(( (ROUNDS + 1) / 2 )) 'NR == m { $1 = ""; print }')
read -r R_ERR L_ERR < <(awk '{ r += $6; l += $11 } END { print r, l }' "$VAR/hash-rounds")
echo "bench: register/login against the hash rate, per round: $(awk '{ printf "%.2f/%.2f ", $2 / $1, $7 / $1 }' "$VAR/hash-rounds")"

echo
table_head
row "bare responder (ceiling)" "$C_RPS" "$C_P50" "$C_P95" "$C_P99" "$C_ERR" "$C_RPS" 1
row "GET /users/{id}" "$G_RPS" "$G_P50" "$G_P95" "$G_P99" "$G_ERR" "$C_RPS" 0.5
row "GET /auth/validate" "$V_RPS" "$V_P50" "$V_P95" "$V_P99" "$V_ERR" "$C_RPS" 0.5
row "argon2id hashes/s (ceiling)" "$HASH" - - - 0 "$HASH" 1
row "POST /users/register" "$R_RPS" "$R_P50" "$R_P95" "$R_P99" "$R_ERR" "$HASH" 0.8
row "POST /auth/login" "$L_RPS" "$L_P50" "$L_P95" "$L_P99" "$L_ERR" "$HASH" 0.8

# Steady memory: argon2id's buffer (ESM_ARGON2_MEMLIMIT_KIB) stays mapped
# after the first hash; the budget is 8 MiB above it.
ARGON=${ESM_ARGON2_MEMLIMIT_KIB:-19456}
echo
for svc in users auth; do
	rss=$(rss_kib "$VAR/$svc.pids")
	budget=$((ARGON + 8192))
	verdict=ok
	[ "$rss" -le "$budget" ] || { verdict=OVER; BENCH_FAILS=$((BENCH_FAILS + 1)); }
	printf 'RSS %-6s largest process %6d KiB, budget %6d KiB: %s\n' "$svc" "$rss" "$budget" "$verdict"
	# RSS counts every shared library page a process touched; PSS divides
	# them among the processes mapping them, Private_Dirty is its own.
	printf '    %-6s per process (KiB, rss pss private_dirty shared_clean threads): %s\n' "$svc" \
		"$(mem_detail "$VAR/$svc.pids")"
done

# BENCH_EXTRAS=0 stops after the identity figures and memory.
extras=(tests/bench/bench_*.sh)
[ "${BENCH_EXTRAS:-1}" != 0 ] || extras=()
for extra in "${extras[@]}"; do
	[ -x "$extra" ] || continue
	echo
	echo "==== $extra"
	"$extra" || BENCH_FAILS=$((BENCH_FAILS + 1))
done

echo
if [ "$BENCH_FAILS" -eq 0 ]; then
	echo "bench: every target met"
else
	echo "bench: $BENCH_FAILS figure(s) below target"
	exit 1
fi
