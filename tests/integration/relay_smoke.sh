#!/usr/bin/env bash
# relay_smoke.sh: the outbox relay end to end, on a throwaway PostgreSQL and
# the embedded broker. Nothing here trusts delivery reports: it compares the
# set of outbox rows with the set of messages a fresh consumer reads.
#
#   1. 1000 rows inserted, relay started: exactly 1000 messages with the
#      right keys and headers arrive, and every row has sent_at.
#   2. 1000 more rows inserted over ~10 s while the broker is down for
#      DOWN_S (10) seconds (SIGUSR1 ... SIGUSR2): every row is delivered (duplicates are counted
#      and allowed, losses are not), per-key order holds, all rows sent.
#   3. PostgreSQL restarts (fast shutdown, 3 s away): 200 more rows arrive.
#   4. SIGTERM: relays and broker exit 0, the bootstrap file is removed.
# Two relays run throughout, as in production, so the advisory lock is tested
# too: phase 1 must see no duplicate at all.
#
# Needs: build/bin/esm-broker and esm-relay (or ESM_BIN), kcat, PostgreSQL 15
# server binaries (PG_BIN), python3 or a free port 5xxxx. Run as root (the
# cluster then runs as the postgres user) or as an ordinary user.
# Exit status 0 when every check passed; any failed check fails loudly.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${ESM_BIN:-$ROOT/build/bin}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
N1=1000
N2=1000
DOWN_S=${DOWN_S:-10}	# how long the brokers stay down in phase 2
TOPIC=task-events

T=$(mktemp -d /tmp/esm-relay-smoke.XXXXXX)
chmod 755 "$T"
mkdir -p "$T/pg" "$T/run"
BROKER_PID= RELAY_PID= RELAY2_PID= INSERT_PID= PG_STARTED=0
FAILED=0

as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" = 0 ]; then chown postgres: "$T/pg" "$T/run"; fi

cleanup() {
	set +e
	[ -n "$INSERT_PID" ] && kill "$INSERT_PID" 2>/dev/null
	[ -n "$RELAY_PID" ] && kill "$RELAY_PID" 2>/dev/null && wait "$RELAY_PID" 2>/dev/null
	[ -n "$RELAY2_PID" ] && kill "$RELAY2_PID" 2>/dev/null && wait "$RELAY2_PID" 2>/dev/null
	[ -n "$BROKER_PID" ] && kill "$BROKER_PID" 2>/dev/null && wait "$BROKER_PID" 2>/dev/null
	[ "$PG_STARTED" = 1 ] && as_pg "$PG_BIN/pg_ctl" -D "$T/pg" -m immediate stop >/dev/null 2>&1
	if [ "$FAILED" = 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$T"; else echo "relay_smoke: logs kept in $T"; fi
}
trap cleanup EXIT

fail() { echo "relay_smoke: FAIL: $*" >&2; FAILED=1; exit 1; }
ok() { echo "relay_smoke: ok: $*"; }

for f in "$BIN/esm-broker" "$BIN/esm-relay" "$PG_BIN/initdb" "$PG_BIN/pg_ctl"; do
	[ -x "$f" ] || fail "missing $f (build first: make)"
done
command -v kcat >/dev/null || fail "kcat is not installed"

if command -v python3 >/dev/null; then
	PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
else
	PORT=$((50000 + RANDOM % 10000))
fi

# ---- PostgreSQL on a unix socket in $T/run ---------------------------------
as_pg "$PG_BIN/initdb" -D "$T/pg" -A trust -U postgres -E UTF8 >"$T/initdb.log" 2>&1 ||
	fail "initdb (see $T/initdb.log)"
as_pg "$PG_BIN/pg_ctl" -D "$T/pg" -l "$T/run/pg.log" -w \
	-o "-k $T/run -p $PORT -c listen_addresses=''" start >/dev/null || fail "pg_ctl start"
PG_STARTED=1
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h "$T/run" -p "$PORT" -U postgres)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE relaytest" || fail "createdb"
PSQL+=(-d relaytest)
sql() { "${PSQL[@]}" -At -c "$1"; }
sql "CREATE TABLE outbox (id bigserial PRIMARY KEY, event_id uuid NOT NULL UNIQUE,
	topic text NOT NULL, msg_key text NOT NULL, payload text NOT NULL, request_id text,
	created_at timestamptz NOT NULL DEFAULT now(), sent_at timestamptz,
	attempts int NOT NULL DEFAULT 0, last_error text);
	CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;" >/dev/null

# Rows g in [a, b]: 50 keys, every tenth row without a request id.
insert_rows() {
	sql "INSERT INTO outbox (event_id, topic, msg_key, payload, request_id)
	     SELECT gen_random_uuid(), '$TOPIC', 'user-' || (g % 50),
	            '{\"eventType\":\"task_created\",\"seq\":' || g || '}',
	            CASE WHEN g % 10 = 0 THEN NULL ELSE 'req-' || g END
	     FROM generate_series($1, $2) AS g" >/dev/null
}

# ---- broker ----------------------------------------------------------------
"$BIN/esm-broker" -p 3 -f "$T/bootstrap" -P "$T/broker.pid" 2>"$T/broker.log" &
BROKER_PID=$!
for _ in $(seq 100); do [ -s "$T/bootstrap" ] && break; sleep 0.1; done
[ -s "$T/bootstrap" ] || fail "broker wrote no bootstrap file"
BOOT=$(cat "$T/bootstrap")
[ "$(cat "$T/broker.pid")" = "$BROKER_PID" ] || fail "pid file does not hold the broker's pid"
ok "broker at $BOOT, PostgreSQL on $T/run port $PORT"

# Waits up to $1 seconds until no row is unsent.
wait_drained() {
	local left
	for _ in $(seq $(($1 * 10))); do
		left=$(sql "SELECT count(*) FROM outbox WHERE sent_at IS NULL")
		[ "$left" = 0 ] && return 0
		sleep 0.1
	done
	fail "$left rows still unsent after $1 s"
}

# Everything in the topic as "key|headers|payload", from a fresh reader.
consume() {
	kcat -b "$BOOT" -C -t "$TOPIC" -o beginning -e -q -f '%k|%h|%s\n' >"$T/consumed" 2>"$T/kcat.err" ||
		fail "kcat consume (see $T/kcat.err)"
}

# What the messages must be, from the outbox: "key|headers|payload".
expected() {
	sql "SELECT msg_key || '|eventId=' || event_id ||
	            CASE WHEN request_id IS NULL THEN '' ELSE ',requestId=' || request_id END ||
	            '|' || payload FROM outbox" | sort >"$T/expected"
}

# ---- 1: a backlog of N1 rows -------------------------------------------------
insert_rows 1 "$N1"
START=$(date +%s.%N)
# Two relays on one database: the advisory lock lets one work at a time, so
# the count below also proves that no row went out twice.
export ESM_DB_DSN="host=$T/run port=$PORT dbname=relaytest user=postgres"
export ESM_KAFKA_BOOTSTRAP="$BOOT" ESM_RELAY_STATS_S=5
"$BIN/esm-relay" 2>"$T/relay.log" &
RELAY_PID=$!
"$BIN/esm-relay" 2>"$T/relay2.log" &
RELAY2_PID=$!
wait_drained 30
END=$(date +%s.%N)
consume
expected
GOT=$(wc -l <"$T/consumed")
[ "$GOT" = "$N1" ] || fail "phase 1: $GOT messages in $TOPIC, want $N1"
sort "$T/consumed" | diff -q - "$T/expected" >/dev/null ||
	fail "phase 1: messages differ from the outbox (diff $T/consumed $T/expected)"
ok "phase 1: $GOT messages, keys and headers match the outbox, all rows sent ($(echo "$END - $START" | bc) s)"

# ---- 2: broker down for 10 s while N2 rows arrive ----------------------------
# The inserter spreads N2 rows over about DOWN_S seconds, starting one second
# before the brokers go down, so batches are cut in flight.
(
	per=25
	gap=$(echo "scale=3; $DOWN_S / ($N2 / $per) - 0.03" | bc)
	for i in $(seq 0 $((N2 / per - 1))); do
		insert_rows $((N1 + 1 + i * per)) $((N1 + (i + 1) * per))
		sleep "$gap"
	done
) &
INSERT_PID=$!
sleep 1
kill -USR1 "$BROKER_PID"
DOWN_AT=$(date +%s.%N)
sleep "$DOWN_S"
UNSENT_AT_UP=$(sql "SELECT count(*) FROM outbox WHERE sent_at IS NULL")
kill -USR2 "$BROKER_PID"
UP_AT=$(date +%s.%N)
wait "$INSERT_PID" || fail "inserter"
INSERT_PID=
wait_drained 60
DRAINED_AT=$(date +%s.%N)
consume
expected
TOTAL=$(wc -l <"$T/consumed")
UNIQUE=$(sort -u "$T/consumed" | wc -l)
WANT=$((N1 + N2))
MISSING=$(sort -u "$T/consumed" | comm -13 - "$T/expected" | wc -l)
EXTRA=$(sort -u "$T/consumed" | comm -23 - "$T/expected" | wc -l)
[ "$MISSING" = 0 ] || fail "phase 2: $MISSING outbox rows never arrived"
[ "$EXTRA" = 0 ] || fail "phase 2: $EXTRA messages not in the outbox"
[ "$UNIQUE" = "$WANT" ] || fail "phase 2: $UNIQUE distinct messages, want $WANT"
# Per key, first appearances must come in seq order (one key, one partition).
BAD_ORDER=$(awk -F'|' '{ s = $3; sub(/.*"seq":/, "", s); sub(/}.*/, "", s); s += 0
	if (seen[s]++) next; if (s < last[$1]) bad++; last[$1] = s } END { print bad + 0 }' "$T/consumed")
[ "$BAD_ORDER" = 0 ] || fail "phase 2: $BAD_ORDER messages out of per-key order"
ATTEMPTED=$(sql "SELECT count(*) FROM outbox WHERE attempts > 0")
ok "phase 2: $WANT rows, $TOTAL messages ($((TOTAL - UNIQUE)) duplicates, 0 missing), per-key order kept"
ok "phase 2: $UNSENT_AT_UP rows unsent when the broker came back, drained $(echo "$DRAINED_AT - $UP_AT" | bc) s later (down $(echo "$UP_AT - $DOWN_AT" | bc) s); $ATTEMPTED rows needed retries"

# ---- 3: PostgreSQL restarts under the relays ----------------------------------
as_pg "$PG_BIN/pg_ctl" -D "$T/pg" -m fast -w stop >/dev/null || fail "pg_ctl stop"
sleep 3
as_pg "$PG_BIN/pg_ctl" -D "$T/pg" -l "$T/run/pg.log" -w \
	-o "-k $T/run -p $PORT -c listen_addresses=''" start >/dev/null || fail "pg_ctl restart"
N3=200
insert_rows $((N1 + N2 + 1)) $((N1 + N2 + N3))
wait_drained 30
consume
expected
WANT=$((N1 + N2 + N3))
UNIQUE=$(sort -u "$T/consumed" | wc -l)
MISSING=$(sort -u "$T/consumed" | comm -13 - "$T/expected" | wc -l)
[ "$MISSING" = 0 ] && [ "$UNIQUE" = "$WANT" ] ||
	fail "phase 3: $UNIQUE distinct messages, want $WANT ($MISSING missing)"
ok "phase 3: after a PostgreSQL restart $N3 more rows delivered ($UNIQUE distinct of $WANT)"

# ---- 4: clean shutdown ---------------------------------------------------------
for pid in "$RELAY_PID" "$RELAY2_PID"; do
	RC=0; kill -TERM "$pid"; wait "$pid" || RC=$?
	[ "$RC" = 0 ] || fail "relay $pid exited $RC on SIGTERM"
done
RELAY_PID= RELAY2_PID=
kill -TERM "$BROKER_PID"
RC=0; wait "$BROKER_PID" || RC=$?
BROKER_PID=
[ "$RC" = 0 ] || fail "broker exited $RC on SIGTERM"
[ ! -e "$T/bootstrap" ] || fail "broker left its bootstrap file"
for log in relay relay2; do
	grep -q '"message":"relay stopping' "$T/$log.log" || fail "$log logged no final counters"
	ok "shutdown: $log: $(grep -o 'relay stopping: [^"]*' "$T/$log.log")"
done
ok "shutdown: relays and broker exit 0, bootstrap file removed"
echo "relay_smoke: PASS"
