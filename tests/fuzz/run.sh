#!/usr/bin/env bash
# tests/fuzz/run.sh: runs every libFuzzer harness in build/fuzz for
# FUZZ_SECONDS each (default 30, the floor `make test` uses), starting from
# the seed corpus in tests/fuzz/corpus/<name> and a working corpus under
# build/fuzz/corpus-<name>. A crash, leak or sanitizer report fails that
# fuzzer; its reproducer is kept in build/fuzz/. Ends "N passed, N failed".
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)
cd "$ROOT"
SECS=${FUZZ_SECONDS:-30}
[ "$SECS" -ge 1 ] 2>/dev/null || SECS=30
make -s fuzz-build >/dev/null || { echo "fuzz: build failed"; echo "0 passed, 1 failed"; exit 1; }

pass=0 fail=0
for bin in build/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=${bin##*/fuzz_}
	work=build/fuzz/corpus-$name
	mkdir -p "$work"
	log=build/fuzz/$name.log
	# Quiet programs: the harnesses drive code that logs every refusal.
	if ESM_LOG_LEVEL=critical "$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="build/fuzz/$name-" -print_final_stats=1 \
		"$work" "tests/fuzz/corpus/$name" >"$log" 2>&1; then
		runs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
		echo "fuzz $name: ${runs:-?} inputs in ${SECS}s, no crash, leak or sanitizer report"
		pass=$((pass + 1))
	else
		echo "fuzz $name: FAILED"
		grep -E 'ERROR|SUMMARY|artifact|==[0-9]+==' "$log" | head -20
		fail=$((fail + 1))
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
