#!/usr/bin/env bash
# tests/soak/soak.sh (make soak): SOAK_MINUTES (default 10) of paced mixed
# load at half the measured capacity on a private stack ("soak", ports 5xxxx),
# loopback only. Every minute: requests, errors, p50/p99 and the resident
# memory of every process. Writes the report to docs/soak.md and fails when
# anything errs, memory grows beyond noise or p99 drifts.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)
cd "$ROOT"
INST=soak
export ESM_PORT_OFFSET=50000 ESM_TEST_INSTANCE=$INST
export ESM_RATE_REGISTER=off ESM_RATE_LOGIN_ADDR=off ESM_RATE_LOGIN_USER=off ESM_RATE_VALIDATE=off
# One user creates tasks as fast as it can, more than any user should.
export ESM_RATE_TASK_CREATE=off ESM_TASKS_PENDING_MAX=0
export ESM_LOG_LEVEL=${ESM_LOG_LEVEL:-warning}
MINUTES=${SOAK_MINUTES:-10}
trap 'scripts/stack.sh stop "$INST" >/dev/null 2>&1 || true' EXIT
scripts/stack.sh start "$INST" >/dev/null
set -a
. "$(scripts/stack.sh env "$INST")"
set +a
VAR=$ROOT/var/$INST
API=$ESM_URL_GATEWAY/api/v1/eventstreammonitor
NAME=soak$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n') PW="soak password 1"
curl -fsS -o /dev/null -XPOST "$API/users/register" -H 'Content-Type: application/json' \
	-d "{\"username\":\"$NAME\",\"email\":\"$NAME@soak.example\",\"password\":\"$PW\"}"
TOKEN=$(curl -fsS -XPOST "$API/auth/login" -H 'Content-Type: application/json' \
	-d "{\"username\":\"$NAME\",\"password\":\"$PW\"}" | sed 's/.*"accessToken":"\([^"]*\)".*/\1/')
export SOAK_UID=$(curl -fsS "$API/auth/validate" -H "Authorization: Bearer $TOKEN" | sed 's/.*"userId":\([0-9]*\).*/\1/')

# Capacity of the mix: every fifth request is an argon2id hash (login or
# register), so the hash rate bounds it; half of that is the soak rate.
HASH=$(build/bench/hashrate 5 "$(nproc)")
RATE=$(awk -v h="$HASH" 'BEGIN { printf "%.1f", h / 0.2 / 2 }')
echo "soak: hash rate $HASH/s, mixed capacity about $(awk -v h="$HASH" 'BEGIN { printf "%.0f", h / 0.2 }') req/s, soaking at $RATE req/s for $MINUTES min"
# Token lifetime: 15 min; longer soaks would need a refresh in the loop.
[ "$MINUTES" -le 14 ] || { echo "soak: at most 14 minutes per token"; exit 2; }

PIDFILES=$(ls "$VAR"/*.pid "$VAR"/*.pids 2>/dev/null | grep -v bare)
# The machine may be shared: the load average before and after goes into
# the report, so a reader can tell a busy neighbour from a drift of ours.
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
OUT=$(mktemp)
build/bench/soak "$ESM_URL_GATEWAY" "$TOKEN" "$NAME" "$PW" "$RATE" "$MINUTES" $PIDFILES | tee "$OUT"

# Verdict: no errors; memory of the last minute within 10% (or 4 MiB) of the
# highest of the first half after warm-up (minute 1 is warm-up; argon2id's
# 19 MiB buffer comes and goes, which is noise, not growth); p99 of the last
# minute within 1.5x (or 5 ms) of the highest of the first half.
VERDICT=$(awk 'NR == 1 { next }
	{ m = NR - 1; err += $3; p99[m] = $5; for (i = 6; i <= NF; i++) { split($i, kv, "="); rss[m, kv[1]] = kv[2]; names[kv[1]] = 1 } last = m }
	END {
		bad = ""
		if (err > 0) bad = bad " errors=" err
		from = last > 1 ? 2 : 1; to = int(last / 2); if (to < from) to = from
		for (n in names) {
			a = 0; for (k = from; k <= to; k++) if (rss[k, n] > a) a = rss[k, n]
			b = rss[last, n]
			if (b > a * 1.10 && b - a > 4096) bad = bad " rss-growth:" n "=" a "->" b
		}
		p = 0; for (k = from; k <= to; k++) if (p99[k] > p) p = p99[k]
		if (p99[last] > p * 1.5 && p99[last] - p > 5) bad = bad " p99-drift=" p "->" p99[last]
		print (bad == "" ? "steady: no errors, no memory growth beyond noise, p99 steady" : "NOT STEADY:" bad)
	}' "$OUT")
{
	echo "# Soak report"
	echo
	echo "\`make soak\` on $(date -u +%Y-%m-%d), $(nproc) cores: $MINUTES minutes of paced mixed load"
	echo "(profile reads, token validations, logins, registrations 6:2:1:1) at $RATE req/s,"
	echo "half the measured capacity (argon2id hash rate $HASH/s). Resident memory in KiB of the"
	echo "largest process behind each pid file. Load average (1, 5, 15 min) before: $LOAD0;"
	echo "after: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo
	echo '```'
	cat "$OUT"
	echo '```'
	echo
	echo "Verdict: $VERDICT"
} >docs/soak.md
rm -f "$OUT"
echo "soak: $VERDICT (report in docs/soak.md)"
case $VERDICT in steady*) ;; *) exit 1 ;; esac
