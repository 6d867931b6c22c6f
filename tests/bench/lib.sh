# lib.sh: helpers shared by the benchmark scripts (sourced, not run).
# Every figure is printed next to a ceiling measured in the same run, because
# this machine is shared and absolute numbers drift.

# wrk_run URL LUA_BODY [CONNECTIONS] [SECONDS] -> "rps p50_ms p95_ms p99_ms errors"
# LUA_BODY is wrk Lua that may set wrk.method/body/headers or a request()
# function; a done() hook that prints the figures is appended here.
wrk_run() {
	local url=$1 body=$2 conns=${3:-8} secs=${4:-${BENCH_SECONDS:-10}} script
	script=$(mktemp --suffix=.lua)
	cat >"$script" <<LUA
$body
done = function(summary, latency, requests)
  local e = summary.errors
  local errs = e.connect + e.read + e.write + e.status + e.timeout
  io.write(string.format("BENCH %.1f %.2f %.2f %.2f %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, errs))
end
LUA
	wrk -t 2 -c "$conns" -d "${secs}s" -s "$script" "$url" 2>&1 | awk '/^BENCH/ {print $2, $3, $4, $5, $6}'
	rm -f "$script"
}

# ratio A B -> A/B with two decimals
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# row NAME RPS P50 P95 P99 ERRORS CEILING TARGET -> one table line, and a verdict
# kept in BENCH_FAILS when the ratio is under the target or errors occurred.
BENCH_FAILS=0
row() {
	local r verdict=ok
	r=$(ratio "$2" "$7")
	if [ "$6" != 0 ] || awk -v r="$r" -v t="$8" 'BEGIN { exit !(r == "n/a" || r < t) }'; then
		verdict=BELOW
		BENCH_FAILS=$((BENCH_FAILS + 1))
	fi
	printf '| %-28s | %9s | %8s | %8s | %8s | %6s | %9s | %5s | >= %-4s | %-5s |\n' \
		"$1" "$2" "$3" "$4" "$5" "$6" "$7" "$r" "$8" "$verdict"
}

table_head() {
	printf '| %-28s | %9s | %8s | %8s | %8s | %6s | %9s | %5s | %-7s | %-5s |\n' \
		endpoint "req/s" "p50 ms" "p95 ms" "p99 ms" errors ceiling ratio target ""
	printf '|%s|\n' "------------------------------|-----------|----------|----------|----------|--------|-----------|-------|---------|-------"
}

# rss_kib PIDFILE -> largest VmRSS (KiB) among the pids in the file
rss_kib() {
	local max=0 pid v
	for pid in $(cat "$1" 2>/dev/null); do
		v=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
		[ "${v:-0}" -gt "$max" ] && max=$v
	done
	echo "$max"
}

# mem_detail PIDFILE -> "rss/pss/private_dirty/shared_clean/threads" per pid
# (KiB, from /proc/PID/smaps_rollup), separated by spaces
mem_detail() {
	local pid out=""
	for pid in $(cat "$1" 2>/dev/null); do
		[ -r "/proc/$pid/smaps_rollup" ] || continue
		out+=$(awk -v t="$(ls "/proc/$pid/task" | wc -l)" '
			/^Rss:/ { r = $2 } /^Pss:/ { p = $2 } /^Private_Dirty:/ { d = $2 }
			/^Shared_Clean:/ { c = $2 } END { printf "%d/%d/%d/%d/%d ", r, p, d, c, t }' \
			"/proc/$pid/smaps_rollup")
	done
	echo "${out% }"
}

# cpu_ticks PIDFILE -> user + system CPU time of the pids in the file so far,
# in clock ticks (getconf CLK_TCK per second), from /proc/PID/stat: fields 14
# and 15, counted after the ")" that ends the command name.
cpu_ticks() {
	local pid sum=0 t
	for pid in $(cat "$1" 2>/dev/null); do
		t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || echo 0)
		sum=$((sum + ${t:-0}))
	done
	echo "$sum"
}
