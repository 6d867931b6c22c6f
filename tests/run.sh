#!/usr/bin/env bash
# tests/run.sh: every test of the project (make test), against a private
# stack (var/test, ports 1xxxx, PostgreSQL 55433) started here and stopped at
# the end, also on failure or interrupt.
#
# Runs, in order: the CUnit unit binary, the CUnit integration binary (against
# the running stack, with var/test/env exported), then every executable
# tests/*/run.sh suite (tests/bench is `make bench`, not a test). Each runner
# must print a line "... N passed, N failed"; its last such line counts. A
# runner that prints none, crashes or exits non-zero with no failure counted
# counts as one failure. Ends with exactly one line "N passed, N failed"
# summed over everything; exits non-zero when anything failed.
#
# Knobs: ESM_PROCS_<SVC> (default 2 here), ESM_TEST_TIMEOUT (seconds per
# runner, default 2400), any ESM_* setting the programs read.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$ROOT"

# Small pools: the tests need concurrency, not throughput.
for svc in USERS AUTH TASKS NOTIFICATIONS LOGMONITOR; do
	v=ESM_PROCS_$svc
	export "$v=${!v:-2}"
done
# Every guarantee is tested on Apache Kafka (scripts/kafka.sh fetches it):
# one broker for the suites, a three-node cluster for the fault suite; the
# embedded broker of make run gets a short smoke run of its own at the end.
# ESM_KAFKA_VERSION picks the Kafka line (CI's second pass takes the 3.9 one).
export ESM_KAFKA=${ESM_KAFKA:-apache}
FAULT_NODES=${ESM_TEST_FAULT_NODES:-3}
# Tasks stay as the suites leave them: the runner suite starts the task
# runner it tests itself.
export ESM_TASKRUNNER=${ESM_TASKRUNNER:-off}
# Workers report their counters every second, so /metrics shows them soon.
export ESM_WORKER_METRICS_S=${ESM_WORKER_METRICS_S:-1}
# Tests make every request look like a new client with X-Forwarded-For, so
# per-address rate limits bite only the tests aimed at them: lighttpd, the
# services' peer, is trusted as a proxy.
export ESM_TRUSTED_PROXIES=${ESM_TRUSTED_PROXIES:-127.0.0.1}
# One browser origin may call the API (the cors suite checks it and that
# others may not).
export ESM_CORS_ORIGINS=${ESM_CORS_ORIGINS:-https://app.example.test}
# Every suite's client is 127.0.0.1 to lighttpd's connection cap per
# address, the services' calls back through the internal listener too: the
# cap is raised above what the busiest suite holds at once (50 racing
# registrations and the pools' keep-alive connections); slow_clients tests
# it at this value.
export ESM_CONN_PER_ADDR=${ESM_CONN_PER_ADDR:-200}
# Task limits: on in the suites' stack, low enough that the tasks suite
# reaches them in a moment (it reads them from this environment) and above
# what any other suite's user creates (the runner suite's 100 tasks); off
# on the fault suite's stack, whose load creates thousands for one user.
export ESM_RATE_TASK_CREATE=${ESM_RATE_TASK_CREATE:-150/60}
export ESM_TASKS_PENDING_MAX=${ESM_TASKS_PENDING_MAX:-200}
FAULT_LIMITS=(ESM_RATE_TASK_CREATE=off ESM_TASKS_PENDING_MAX=0)
# A notification whose user stays unknown ends undeliverable after this
# many seconds (an hour by default): a few here, so the notifications suite
# sees it, and still well above how late a user event arrives in any suite.
export ESM_NOTIFIER_RECIPIENT_WAIT_S=${ESM_NOTIFIER_RECIPIENT_WAIT_S:-5}
TIMEOUT=${ESM_TEST_TIMEOUT:-2400}
# ESM_TEST_INSTANCE (with ESM_PORT_OFFSET) runs the suite on a stack of its
# own, so two runs on one machine do not meet.
INST=${ESM_TEST_INSTANCE:-test}
export ESM_TEST_INSTANCE=$INST

OUT=$(mktemp -d "${TMPDIR:-/tmp}/esm-tests.XXXXXX")
PASSED=0 FAILED=0 STACK_UP=0
SUMMARY=()

stop_stack() {
	[ "$STACK_UP" = 1 ] || return 0
	STACK_UP=0
	scripts/stack.sh stop "$INST" >"$OUT/stop.log" 2>&1 ||
		{ echo "tests: stopping the test stack failed:"; cat "$OUT/stop.log"; }
}
# Whatever happens, the test stack does not outlive the run.
trap 'stop_stack; rm -rf "$OUT"' EXIT
trap 'exit 130' INT TERM

# count NAME P F: adds a runner's result.
count() {
	PASSED=$((PASSED + $2)) FAILED=$((FAILED + $3))
	SUMMARY+=("$(printf '  %-28s %s passed, %s failed%s' "$1" "$2" "$3" "${4:-}")")
}

# run NAME CMD...: runs one runner, output passed through, counts parsed.
run() {
	local name=$1 log=$OUT/${1//\//_}.out rc line
	shift
	echo
	echo "==== $name"
	set +e
	timeout -k 10 "$TIMEOUT" "$@" </dev/null 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	set -e
	line=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)
	if [ -z "$line" ]; then
		count "$name" 0 1 " (no counts printed, exit $rc)"
	else
		# shellcheck disable=SC2086 # split "P passed, F failed" into words
		set -- $line
		if [ "$rc" -ne 0 ] && [ "$3" -eq 0 ]; then
			count "$name" "$1" 1 " (+1: exit $rc with no failure counted)"
		else
			count "$name" "$1" "$3" "$([ "$rc" -eq 0 ] || echo " (exit $rc)")"
		fi
	fi
	# What failed, by name (CUnit runners print "FAILED suite/test: ...").
	while IFS= read -r line; do
		SUMMARY+=("      $line")
	done < <(grep -E '^FAILED ' "$log" | head -n 12 || true)
}

# first executable among the candidates (the binary was renamed once)
bin() {
	local f
	for f in "$@"; do [ -f "$f" ] && [ -x "$f" ] && { echo "$f"; return; }; done
	echo "$1"
}

# start_stack [VAR=VALUE...]: a stack with these settings, its env exported.
start_stack() {
	STACK_UP=1
	if env "$@" scripts/stack.sh start "$INST"; then
		set -a
		# shellcheck disable=SC1090
		. "$(scripts/stack.sh env "$INST")"
		set +a
		# The suites' own calls of stack.sh (broker-down, start) keep to
		# the broker this stack runs.
		case ${ESM_KAFKA_KIND:-} in embedded | apache) export ESM_KAFKA=$ESM_KAFKA_KIND ;; esac
		return 0
	fi
	count "test stack ($*)" 0 1 " (did not start)"
	return 1
}

# A fresh stack: processes of an earlier run may be older binaries.
echo "==== test stack"
STACK_UP=1
scripts/stack.sh stop "$INST" >/dev/null 2>&1 || true
if [[ ${ESM_TEST_ONLY:-} == *faults* ]] && [ "$ESM_KAFKA" = apache ]; then
	start_stack ESM_KAFKA_NODES="$FAULT_NODES" "${FAULT_LIMITS[@]}" || true
else
	start_stack ESM_KAFKA_NODES=1 || true
fi

# A sanitizer build (make SANITIZE=address,undefined test): every program
# writes its reports to var/INST/log/sanitizer.*, and each report is a
# failure. The unit and integration suites run; the other runners build
# their own instrumented binaries (fuzz) or test no C of ours.
SAN_DIR=
if [ -n "${ESM_SANITIZE:-}" ]; then
	SAN_DIR=$ROOT/var/$INST/log
	export ASAN_OPTIONS="log_path=$SAN_DIR/sanitizer:detect_leaks=1:abort_on_error=0:strict_string_checks=1"
	export UBSAN_OPTIONS="log_path=$SAN_DIR/sanitizer:print_stacktrace=1:halt_on_error=0"
	export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0"
fi

# ESM_TEST_ONLY=SUITE runs just that integration suite (make test-faults).
if [ -n "${ESM_TEST_ONLY:-}" ]; then
	run "integration $ESM_TEST_ONLY" "$(bin build/tests/integration-tests build/tests/integration)" $ESM_TEST_ONLY
	SUITES=()
else
	INTEG=$(bin build/tests/integration-tests build/tests/integration)
	run unit "$(bin build/tests/unit-tests build/tests/unit)"
	# The kafka_security suite needs a SASL_SSL stack (ESM_KAFKA_SECURITY).
	SEC=(-x kafka_security -x faults_cluster)
	[ "${ESM_KAFKA_SECURITY:-plaintext}" = sasl_ssl ] && SEC=(-x faults_cluster)
	LATE=0
	if [ "$ESM_KAFKA" = apache ]; then
		run "integration (kafka $(scripts/kafka.sh version), ${ESM_KAFKA_SECURITY:-plaintext})" "$INTEG" -x faults "${SEC[@]}"
		# The sanitizer pass leaves the fault suite to the first pass.
		[ -n "$SAN_DIR" ] || LATE=1
	else
		run integration "$INTEG" -x kafka_security -x faults_cluster
	fi
	SUITES=(tests/*/run.sh)
	[ -n "$SAN_DIR" ] && SUITES=()
fi
for suite in "${SUITES[@]}"; do
	case $suite in tests/bench/*) continue ;; esac
	[ -x "$suite" ] || continue
	run "${suite%/run.sh}" "$suite"
done

if [ "${LATE:-0}" = 1 ]; then
	# The embedded broker of make run: events and notifications.
	echo
	echo "==== test stack on the embedded broker"
	if start_stack ESM_KAFKA=embedded; then
		run "integration (embedded broker)" "$INTEG" events notify
	fi
	# The fault suite on a cluster: starting three nodes instead of one
	# lays out a new cluster.
	echo
	echo "==== test stack on a $FAULT_NODES-node Kafka cluster"
	if start_stack ESM_KAFKA=apache ESM_KAFKA_NODES="$FAULT_NODES" "${FAULT_LIMITS[@]}"; then
		run "integration faults (kafka $(scripts/kafka.sh version), $FAULT_NODES nodes)" "$INTEG" faults faults_cluster
	fi
	# SCRAM on Kafka 4.x needs librdkafka 2.6.1 or newer: the security
	# suite and the event flow on one SASL_SSL broker, every program (and
	# the kcat the suites spawn) on the bundled librdkafka of
	# scripts/librdkafka.sh (built once into the cache). Last, so the
	# settings its env file exports reach no other stage.
	echo
	echo "==== test stack on SASL_SSL with the bundled librdkafka"
	if start_stack ESM_KAFKA=apache ESM_KAFKA_NODES=1 ESM_KAFKA_SECURITY=sasl_ssl ESM_LIBRDKAFKA=bundled; then
		run "integration kafka_security (kafka $(scripts/kafka.sh version), librdkafka $(scripts/librdkafka.sh version), sasl_ssl)" \
			"$INTEG" kafka_security events notify
	fi
fi

stop_stack
# Processes report leaks when they exit, so this comes after the stop.
if [ -n "$SAN_DIR" ]; then
	reports=$(find "$SAN_DIR" -name 'sanitizer.*' -newer "$OUT" 2>/dev/null | wc -l)
	for f in $(find "$SAN_DIR" -name 'sanitizer.*' -newer "$OUT" 2>/dev/null | head -5); do
		echo "---- $f"
		head -n 40 "$f"
	done
	count "sanitizer reports" $((reports == 0 ? 1 : 0)) "$reports"
fi
echo
if [ "$FAILED" -gt 0 ]; then
	for f in var/"$INST"/log/*.log; do
		[ -s "$f" ] || continue
		echo "---- tail of $f"
		tail -n 15 "$f"
	done
	echo
fi
echo "==== summary"
printf '%s\n' "${SUMMARY[@]}"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
