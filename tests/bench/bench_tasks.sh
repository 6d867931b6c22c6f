#!/usr/bin/env bash
# bench_tasks.sh: the task service and the notifier, each next to a ceiling
# measured in the same run (run by tests/bench/run.sh with the stack up and
# its environment exported; runs alone too: set -a; . var/INST/env; set +a).
#   - GET /tasks/{id}, GET /tasks?limit=20, POST /tasks against the bare
#     FastCGI responder on the tasks socket, same process count, same
#     lighttpd; targets 0.5, 0.4, 0.35 (alternating rounds, median shown).
#   - POST /tasks also against pgbench running the same create statement
#     with as many clients as the pool has processes: the commit rate the
#     database allows on this machine; target 0.5.
#   - Notifier throughput: 100,000 queued events turned into rows, in events
#     per second, next to pgbench running the notifier's transaction (BEGIN,
#     the same INSERT ... ON CONFLICT, COMMIT) with one client for the same
#     database; target 0.5.
#   - Event latency from the API's 201 to the notification row at 500
#     requests per second: p99 under 200 ms (task created_at to notification
#     created_at, one PostgreSQL clock).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)
cd "$ROOT"
. tests/bench/lib.sh

INST=${ESM_INSTANCE:-${ESM_TEST_INSTANCE:-bench}}
VAR=$ROOT/var/$INST
: "${ESM_URL_GATEWAY:?the stack environment is not loaded}"
API=$ESM_URL_GATEWAY/api/v1/eventstreammonitor
SECS=${BENCH_SECONDS:-10}
# The embedded broker (librdkafka's mock cluster) keeps only a few MB per
# partition and silently drops the oldest messages beyond that, so 100,000
# queued events do not survive in it: a smaller batch there, the full one
# against a real cluster. The rate is events per second either way.
if [ "${ESM_KAFKA_EMBEDDED:-0}" = 1 ]; then
	EVENTS=${BENCH_NOTIFIER_EVENTS:-20000}
else
	EVENTS=${BENCH_NOTIFIER_EVENTS:-100000}
fi
PGBIN=$(printf '%s\n' /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -n1)
PSQL() { psql -X -q -tA "$ESM_PG_SUPER_DSN dbname=$1" -c "$2"; }
PW="benchmark password 3"

NAME=btask$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')
curl -fsS -o /dev/null -XPOST "$API/users/register" -H 'Content-Type: application/json' \
	-H "X-Forwarded-For: 10.9.$((RANDOM % 250)).$((RANDOM % 250))" \
	-d "{\"username\":\"$NAME\",\"email\":\"$NAME@bench.example\",\"password\":\"$PW\"}"
TOKEN=$(curl -fsS -XPOST "$API/auth/login" -H 'Content-Type: application/json' \
	-d "{\"username\":\"$NAME\",\"password\":\"$PW\"}" | sed 's/.*"accessToken":"\([^"]*\)".*/\1/')
AUTH_LUA="wrk.headers[\"Authorization\"] = \"Bearer $TOKEN\""
# A few tasks to read and list.
for _ in $(seq 25); do
	TID=$(curl -fsS -XPOST "$API/tasks" -H 'Content-Type: application/json' \
		-H "Authorization: Bearer $TOKEN" -d '{"parameters":{"bench":true}}' |
		sed 's/.*"taskId":\([0-9]*\).*/\1/')
done
CREATE_LUA="$AUTH_LUA
wrk.method = \"POST\"
wrk.headers[\"Content-Type\"] = \"application/json\"
wrk.body = '{\"taskType\":\"data_export\",\"priority\":\"high\",\"parameters\":{\"rows\":100}}'"

# ---- HTTP: service against the bare responder on the same socket ----------
# The pool as it runs (ESM_PROCS_TASKS, default two per core); restarts
# below keep that count. Creating is bound by the WAL flush, so more
# processes than cores help it (group commit); reads do not need them.
NPROCS=${ESM_PROCS_TASKS:-$(wc -w <"$VAR/tasks.pids")}
export ESM_PROCS_TASKS=$NPROCS
bare_on() {
	kill $(cat "$VAR/tasks.pids") 2>/dev/null || true
	sleep 0.5
	rm -f "$VAR/sock/tasks.sock"
	spawn-fcgi -s "$VAR/sock/tasks.sock" -M 0600 -F "$NPROCS" -P "$VAR/bare-tasks.pids" \
		-- build/bench/esm-bare >/dev/null
}
bare_off() {
	kill $(cat "$VAR/bare-tasks.pids") 2>/dev/null || true
	sleep 0.5
	scripts/stack.sh start "$INST" >/dev/null	# the real tasks pool again
}
[ -x build/bench/esm-bare ] || make -s build/bench/esm-bare
wrk_run "$API/tasks/$TID" "$AUTH_LUA" 4 2 >/dev/null	# warm up
ROUNDS=${BENCH_ROUNDS:-3}
RSECS=$(( (SECS + ROUNDS - 1) / ROUNDS ))
: >"$VAR/task-rounds.r"
: >"$VAR/task-rounds.p"
for _ in $(seq "$ROUNDS"); do
	bare_on
	c=$(wrk_run "$API/tasks/$TID" "$AUTH_LUA" 8 "$RSECS")
	bare_off
	g=$(wrk_run "$API/tasks/$TID" "$AUTH_LUA" 8 "$RSECS")
	l=$(wrk_run "$API/tasks?limit=20" "$AUTH_LUA" 8 "$RSECS")
	echo "$c $g $l" >>"$VAR/task-rounds.r"
done
# The creates after all the reads: each create sets off a relay publish, a
# notification and a mail to the local SMTP sink, which keep the cores
# busy for a while after the round; a read round right after would be
# measured against that backlog, and its ceiling round before it not.
for _ in $(seq "$ROUNDS"); do
	wrk_run "$API/tasks" "$CREATE_LUA" 8 "$RSECS" >>"$VAR/task-rounds.p"
done
paste -d ' ' "$VAR/task-rounds.r" "$VAR/task-rounds.p" >"$VAR/task-rounds"
rm -f "$VAR/task-rounds.r" "$VAR/task-rounds.p"
# A round's line: four wrk_run results of five fields each.
read -r C_RPS C_P50 C_P95 C_P99 _ G_RPS G_P50 G_P95 G_P99 _ L_RPS L_P50 L_P95 L_P99 _ \
	P_RPS P_P50 P_P95 P_P99 _ < <(
	awk '{ print $6 / $1, $0 }' "$VAR/task-rounds" | sort -n |
		awk -v m=$(( (ROUNDS + 1) / 2 )) 'NR == m { $1 = ""; print }')
read -r C_ERR G_ERR L_ERR P_ERR < <(awk '{ c += $5; g += $10; l += $15; p += $20 } END { print c, g, l, p }' \
	"$VAR/task-rounds")
echo "bench tasks: $NPROCS processes, $ROUNDS rounds of ${RSECS}s; GET ratios per round:" \
	"$(awk '{ printf "%.2f ", $6 / $1 }' "$VAR/task-rounds")"

# ---- the database's own ceiling for a create -----------------------------------
# A create is one statement and one commit; on a small machine the commit
# rate bounds it long before the HTTP path does. pgbench runs the create
# statement of fcgi/tasks/routes.c (TS_CREATE, the same CTE and returned
# columns, prepared, with as many clients as the pool has processes) for a
# round's length.
PGC=$(mktemp --suffix=.sql)
BUID=$(PSQL tasks "SELECT user_id FROM tasks WHERE id = $TID")
TSF() { echo "$1 AT TIME ZONE 'UTC'"; }
cat >"$PGC" <<SQL
\\set d random(20000101, 20991231)
\\set h random(0, 4294967295)
WITH t AS (INSERT INTO tasks (reference, task_type, user_id, priority, parameters, request_id) VALUES ('TASK' || :d::text || lpad(upper(to_hex(:h::bigint)), 8, '0'), 'data_export', $BUID::bigint, 'high', '{"rows":100}'::jsonb, gen_random_uuid()::text) RETURNING *), o AS (INSERT INTO outbox (event_id, topic, msg_key, payload, request_id) SELECT gen_random_uuid(), 'task-events', '$BUID', '{"taskId":' || t.id || ',' || substr('{"eventType":"bench_pgbench"}', 2), t.request_id FROM t) SELECT id, reference, task_type, user_id, status, priority, progress, parameters::text, result::text, error_message, processing_time, $(TSF created_at), $(TSF started_at), $(TSF completed_at), $(TSF updated_at) FROM t;
SQL
PC_TPS=$(PGOPTIONS='-c client_min_messages=warning' "$PGBIN" -n -M prepared -c "$NPROCS" -j 2 \
	-T "$RSECS" -f "$PGC" "$ESM_PG_SUPER_DSN dbname=tasks" 2>/dev/null | awk '/^tps/ {printf "%.1f", $3; exit}')
rm -f "$PGC"
# Its rows are the bench user's; the relay publishes their events, which
# the notifier turns into generic notifications.
PC_TPS=${PC_TPS:-0}

# ---- notifier throughput against pgbench -------------------------------------
# pgbench: the notifier's transaction, one client, as long as the run.
PGB=$(mktemp --suffix=.sql)
cat >"$PGB" <<'SQL'
BEGIN;
INSERT INTO notifications (event_id, event_type, user_id, recipient_email, subject, message, channel, status, sent_at, source_topic) VALUES (gen_random_uuid(), 'bench_pgbench', NULL, COALESCE(NULL, (SELECT email FROM notifier_users WHERE user_id = NULL::bigint AND NOT deleted)), 'Notification: bench_pgbench', 'Event bench_pgbench received from bench.', 'log', 'sent', now(), 'flight-updates') ON CONFLICT (event_id) DO NOTHING;
COMMIT;
SQL
PG_TPS=$(PGOPTIONS='-c client_min_messages=warning' "$PGBIN" -n -c 1 -T "$SECS" -f "$PGB" \
	"$ESM_PG_SUPER_DSN dbname=notifications" 2>/dev/null | awk '/^tps/ {printf "%.1f", $3; exit}')
rm -f "$PGB"
PSQL notifications "DELETE FROM notifications WHERE event_type = 'bench_pgbench'" >/dev/null

# The notifier stopped (SIGTERM: it commits and leaves the group), the
# events queued, then the notifier started and timed until the last row.
NPID=$(cat "$VAR/notifier.pid")
kill -TERM "$NPID"
for _ in $(seq 300); do kill -0 "$NPID" 2>/dev/null || break; sleep 0.1; done
RUN=n$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')
EVF=$(mktemp)
awk -v n="$EVENTS" -v run="$RUN" 'BEGIN { srand(); pfx = substr(sprintf("%08x", int(rand() * 4294967295)), 1, 8)
	for (i = 0; i < n; i++)
		printf "k%d\t{\"eventId\":\"%s-0000-4000-8000-%012d\",\"eventType\":\"bench_%s\",\"source\":\"bench\",\"seq\":%d}\n",
			i % 16, pfx, i, run, i }' >"$EVF"
kcat -b "$ESM_KAFKA_BOOTSTRAP" -P -t flight-updates -K $'\t' -l "$EVF" 2>/dev/null
rm -f "$EVF"
T0=$(date +%s.%N)
scripts/stack.sh start "$INST" >/dev/null
ROWS=0 LAST=-1 SAME=0
T1=$T0
while :; do
	ROWS=$(PSQL notifications "SELECT count(*) FROM notifications WHERE event_type = 'bench_$RUN'")
	if [ "$ROWS" != "$LAST" ]; then T1=$(date +%s.%N) LAST=$ROWS SAME=0; else SAME=$((SAME + 1)); fi
	[ "$ROWS" -ge "$EVENTS" ] && break
	[ "$SAME" -ge 150 ] && break	# 15 s without progress: some events never came
	sleep 0.1
done
N_RATE=$(awk -v n="$ROWS" -v a="$T0" -v b="$T1" 'BEGIN { printf "%.1f", n / (b - a) }')
N_ERR=$((EVENTS - ROWS))
PSQL notifications "DELETE FROM notifications WHERE event_type = 'bench_$RUN'" >/dev/null

# ---- event latency at 500 requests per second ---------------------------------
RATE=${BENCH_EVENT_RATE:-500}
# Each connection waits its delay after every response, so the achieved rate
# is CONNS / (delay + response time): with 10 connections a 20 ms response
# halved it. 50 connections with a 100 ms delay stay close to the offer.
CONNS=${BENCH_EVENT_CONNS:-50}
LAT_LUA="$CREATE_LUA
delay = function() return $((CONNS * 1000 / RATE)) end"
LAT_FROM=$(PSQL tasks "SELECT coalesce(max(id), 0) FROM tasks")
read -r E_RPS _ _ _ E_ERR < <(wrk_run "$API/tasks" "$LAT_LUA" "$CONNS" "$SECS")
sleep 3
LAT=$(mktemp)
PSQL tasks "SELECT reference, extract(epoch FROM created_at) FROM tasks WHERE id > $LAT_FROM" |
	sort >"$LAT.t"
PSQL notifications "SELECT substring(message from 'TASK[0-9A-F]+'), extract(epoch FROM created_at)
	FROM notifications WHERE event_type = 'task_created' AND user_id = (SELECT user_id FROM
	notifier_users WHERE username = '$NAME')" | sort >"$LAT.n"
read -r E_N E_P50 E_P95 E_P99 E_MISS < <(join -t '|' "$LAT.t" "$LAT.n" |
	awk -F'|' '{ printf "%.3f\n", ($3 - $2) * 1000 }' | sort -n |
	awk -v total="$(wc -l <"$LAT.t")" '{ v[NR] = $1 } END {
		if (NR == 0) { print 0, "n/a", "n/a", "n/a", total; exit }
		p50 = v[int((NR - 1) * 0.50) + 1]; p95 = v[int((NR - 1) * 0.95) + 1]
		p99 = v[int((NR - 1) * 0.99) + 1]
		print NR, p50, p95, p99, total - NR }')
rm -f "$LAT" "$LAT.t" "$LAT.n"

echo
table_head
row "bare responder (ceiling)" "$C_RPS" "$C_P50" "$C_P95" "$C_P99" "$C_ERR" "$C_RPS" 1
row "GET /tasks/{id}" "$G_RPS" "$G_P50" "$G_P95" "$G_P99" "$G_ERR" "$C_RPS" 0.5
row "GET /tasks?limit=20" "$L_RPS" "$L_P50" "$L_P95" "$L_P99" "$L_ERR" "$C_RPS" 0.4
row "POST /tasks" "$P_RPS" "$P_P50" "$P_P95" "$P_P99" "$P_ERR" "$C_RPS" 0.35
row "pgbench create (ceiling)" "$PC_TPS" - - - 0 "$PC_TPS" 1
row "POST /tasks vs pgbench" "$P_RPS" - - - "$P_ERR" "$PC_TPS" 0.5
row "pgbench insert tx (ceiling)" "$PG_TPS" - - - 0 "$PG_TPS" 1
row "notifier events -> rows" "$N_RATE" - - - "$N_ERR" "$PG_TPS" 0.5
echo
verdict=ok
if [ "$E_MISS" != 0 ] || [ "$E_P99" = n/a ] || awk -v p="$E_P99" 'BEGIN { exit !(p >= 200) }'; then
	verdict=OVER
	BENCH_FAILS=$((BENCH_FAILS + 1))
fi
printf 'event latency 201 -> notification row at %s req/s offered (%s achieved): %s events, p50 %s ms, p95 %s ms, p99 %s ms (target < 200), %s missing: %s\n' \
	"$RATE" "$E_RPS" "$E_N" "$E_P50" "$E_P95" "$E_P99" "$E_MISS" "$verdict"
[ "$E_ERR" = 0 ] || { echo "event latency run: $E_ERR request errors"; BENCH_FAILS=$((BENCH_FAILS + 1)); }
echo "notifier: $ROWS of $EVENTS events in $(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.1f", b - a }') s"
[ "$BENCH_FAILS" -eq 0 ]
