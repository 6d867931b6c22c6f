#!/usr/bin/env bash
# bench_json.sh: what the costliest JSON body a client may send without a
# token costs the service that reads it, next to an ordinary request (run by
# tests/bench/run.sh with the stack up and its environment exported; runs
# alone too: set -a; . var/INST/env; set +a; tests/bench/bench_json.sh).
#   - Bodies of up to ESM_BODY_MAX bytes (64 KiB) shaped to cost the most:
#     many distinct keys in one object (refused by a cap), and bodies that
#     pass the caps of shared/json.h and are parsed whole: hard-to-round
#     numbers, escaped surrogate pairs, objects of long names, many strings,
#     numbers and escapes together. Each is sent to POST /auth/login, which
#     needs no token, with wrk for a while; the auth pool's CPU time over the
#     run (utime + stime from /proc/PID/stat of the pids in
#     var/INST/auth.pids) divided by the requests answered is its cost.
#     Alternating rounds, median per body.
#   - Target: the worst of them within 3x an ordinary login's cost in the
#     same pool (the argon2id hash of a login runs in the users pool and is
#     not counted). The auth pool also serves /.well-known/jwks.json.
#   - For reference, without a target: an ordinary logout (an unknown
#     refresh token: one statement, 204), the cheapest ordinary body of any
#     route; next to it a 64 KiB body's cost is mostly its bytes.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)
cd "$ROOT"
. tests/bench/lib.sh

INST=${ESM_INSTANCE:-${ESM_TEST_INSTANCE:-bench}}
VAR=$ROOT/var/$INST
: "${ESM_URL_GATEWAY:?the stack environment is not loaded}"
API=$ESM_URL_GATEWAY/api/v1/eventstreammonitor
PIDS=$VAR/auth.pids
MAX=${ESM_BODY_MAX:-65536}
SECS=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
RSECS=$(( (SECS + ROUNDS - 1) / ROUNDS ))
TARGET=3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# ---- bodies: each generator prints one body of at most MAX bytes ------------
# A user to log in as.
NAME=bjson$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')
PW="benchmark password 4"
curl -fsS -o /dev/null -XPOST "$API/users/register" -H 'Content-Type: application/json' \
	-H "X-Forwarded-For: 10.8.$((RANDOM % 250)).$((RANDOM % 250))" \
	-d "{\"username\":\"$NAME\",\"email\":\"$NAME@bench.example\",\"password\":\"$PW\"}"
body_login() { printf '{"username":"%s","password":"%s"}' "$NAME" "$PW"; }
body_logout() {
	printf '{"refreshToken":"%s"}' "$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
}
# The body of the report: about 8,000 distinct keys in one object.
body_keys() {
	awk -v max="$MAX" 'BEGIN { n = 1; printf "{"
		for (i = 0; ; i++) { m = (i ? "," : "") "\"" sprintf("%x", i) "\":0"
			if (n + length(m) + 1 > max) break; printf "%s", m; n += length(m) }
		printf "}" }'
}
cap() { awk -v n="$1" '$1 == "#define" && $2 == n { print $3 }' shared/json.h; }
TOKENS=$(cap JSON_TOKENS_MAX) MEMBERS=$(cap JSON_MEMBERS_MAX)
# fill MAX PREFIX ITEM SUFFIX SEP COUNT: PREFIX, ITEM repeated (SEP between)
# at most COUNT times while the whole stays within MAX bytes, SUFFIX.
fill() {
	awk -v max="$1" -v pre="$2" -v item="$3" -v suf="$4" -v sep="$5" -v count="$6" 'BEGIN {
		n = length(pre) + length(suf); printf "%s", pre
		for (i = 0; i < count; i++) { m = (i ? sep : "") item
			if (n + length(m) > max) break; printf "%s", m; n += length(m) }
		printf "%s", suf }'
}
# Each body below passes the caps and is parsed whole. An object, a name
# and an array take three tokens.
# Numbers strtod works hardest on (63 characters is what cJSON reads).
NUM=1.00000000000000011102230246251565404236316680908203125e-300
body_numbers() { fill "$MAX" '{"n":[' "$NUM" ']}' , $((TOKENS - 3)); }
# One string of escapes that decode to surrogate pairs.
body_escapes() { fill "$MAX" '{"s":"' '\\ud83d\\ude00' '"}' '' "$MAX"; }
# As many strings as the cap allows, as long as the body allows.
body_strings() {
	fill "$MAX" '{"s":[' "\"$(printf "%0$((MAX / (TOKENS - 3) - 3))d" 0 | tr 0 a)\"" ']}' , $((TOKENS - 3))
}
# Objects as large as the caps allow, names sharing a long prefix (sorting
# them compares the whole prefix), as many as the token cap lets pass.
body_objects() {
	awk -v max="$MAX" -v members="$MEMBERS" -v tokens="$TOKENS" 'BEGIN {
		n = 7; t = 3; printf "{\"o\":["
		for (o = 0; ; o++) {
			m = int((tokens - t - 1) / 2); if (m > members) m = members
			s = (o ? "," : "") "{"
			for (k = 0; k < m; k++)
				s = s (k ? "," : "") "\"" sprintf("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa%04x", k) "\":0"
			s = s "}"
			if (m < 1 || n + length(s) + 2 > max) break
			printf "%s", s; n += length(s); t += 1 + 2 * m }
		printf "]}" }'
}
# The worst of both: the tokens spent on hard numbers, the bytes left on
# escapes (two more tokens: the name and the string).
body_mixed() {
	local head
	head=$(fill "$MAX" '{"n":[' "$NUM" '],"s":"' , $((TOKENS - 5)))
	printf '%s' "$head"
	fill $((MAX - ${#head})) '' '\\ud83d\\ude00' '"}' '' "$MAX"
}

# name, path, generator, what it is; the first is the baseline.
BODIES="login auth/login body_login an ordinary login
logout auth/logout body_logout an ordinary logout (reference)
keys auth/login body_keys distinct keys in one object
numbers auth/login body_numbers hard-to-round numbers
escapes auth/login body_escapes escaped surrogate pairs in one string
objects auth/login body_objects objects of long names at the caps
strings auth/login body_strings strings in one array
mixed auth/login body_mixed hard numbers, then escapes"

# ---- measurement -------------------------------------------------------------
# cpu_us_per_req NAME PATH SECS -> "rps us_per_request" for one wrk run of a body
cpu_us_per_req() {
	local lua t0 t1 out
	lua="local f = assert(io.open(\"$TMP/$1.json\", \"rb\"))
wrk.method = \"POST\"
wrk.headers[\"Content-Type\"] = \"application/json\"
wrk.body = f:read(\"*a\")
f:close()"
	t0=$(cpu_ticks "$PIDS")
	out=$(wrk_run "$API/$2" "$lua" 4 "$3")
	t1=$(cpu_ticks "$PIDS")
	awk -v rps="${out%% *}" -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v s="$3" \
		'BEGIN { r = rps * s; printf "%s %.1f\n", rps, (r > 0 ? d / hz * 1e6 / r : 0) }'
}

echo "JSON bodies without a token: CPU of the auth pool ($(wc -w <"$PIDS") processes)" \
	"per request, $ROUNDS rounds of ${RSECS}s"
while read -r name path gen _; do
	"$gen" >"$TMP/$name.json"
	# What the service answers, once, so a body that stopped being refused
	# (or started to be) shows.
	curl -sS -o "$TMP/$name.reply" -w '%{http_code}' -XPOST "$API/$path" \
		-H 'Content-Type: application/json' --data-binary "@$TMP/$name.json" >"$TMP/$name.status"
done <<<"$BODIES"
cpu_us_per_req login auth/login 2 >/dev/null	# warm up
: >"$TMP/rounds"
for round in $(seq "$ROUNDS"); do
	while read -r name path _; do
		echo "$name $(cpu_us_per_req "$name" "$path" "$RSECS")" >>"$TMP/rounds"
	done <<<"$BODIES"
done

# median NAME -> the median round's "rps us" of a body
median() {
	awk -v b="$1" '$1 == b { print $3, $2 }' "$TMP/rounds" | sort -n |
		awk -v m=$(( (ROUNDS + 1) / 2 )) 'NR == m { print $2, $1 }'
}
read -r _ BASE < <(median login)
read -r _ REF < <(median logout)
printf '| %-8s | %-12s | %6s | %-46s | %8s | %10s | %5s |\n' \
	body path bytes reply "req/s" "CPU us/req" ratio
printf '|%s|\n' "----------|--------------|--------|------------------------------------------------|----------|------------|-------"
WORST=none WORST_US=0
while read -r name path _; do
	read -r rps us < <(median "$name")
	reply="$(cat "$TMP/$name.status") $(sed -n 's/.*"message":"\([^"]*\)".*/\1/p' "$TMP/$name.reply")"
	printf '| %-8s | %-12s | %6s | %-46.46s | %8s | %10s | %5s |\n' "$name" "$path" \
		"$(wc -c <"$TMP/$name.json")" "$reply" "$rps" "$us" "$(ratio "$us" "$BASE")"
	case $name in login | logout) continue ;; esac
	if awk -v a="$us" -v b="$WORST_US" 'BEGIN { exit !(a > b) }'; then
		WORST=$name WORST_US=$us
	fi
done <<<"$BODIES"
R=$(ratio "$WORST_US" "$BASE")
verdict=ok
awk -v r="$R" -v t="$TARGET" 'BEGIN { exit !(r == "n/a" || r > t) }' && verdict=OVER
echo "worst 64 KiB body ($WORST): $WORST_US us of CPU per request against $BASE us for an" \
	"ordinary login: ${R}x, target <= ${TARGET}x: $verdict"
echo "    (against an ordinary logout, $REF us: $(ratio "$WORST_US" "$REF")x; no target)"
[ "$verdict" = ok ]
