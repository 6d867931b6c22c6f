#!/usr/bin/env bash
# tests/browser/run.sh: drives the log monitor dashboard in headless
# Chromium (Debian's chromium, through the Chrome DevTools protocol over a
# pipe: no npm package needed) against the already running stack, whose
# environment tests/run.sh exports (var/<instance>/env). Starts nothing
# itself. Prints "N passed, N failed".
#
# ESM_BROWSER_SCREENSHOT=FILE also saves a screenshot of the dashboard
# (docs/dashboard.png is made that way).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd -P)
for v in ESM_URL_LOGMONITOR ESM_URL_GATEWAY ESM_OPERATOR_USER ESM_OPERATOR_PASSWORD_FILE \
	ESM_KAFKA_BOOTSTRAP ESM_ROOT; do
	if [ -z "${!v:-}" ]; then
		echo "browser: $v is not set (run through tests/run.sh, or source var/<instance>/env)"
		echo "browser: 0 passed, 1 failed"
		exit 1
	fi
done
CHROMIUM=${ESM_CHROMIUM:-/usr/bin/chromium}
if ! command -v node >/dev/null || [ ! -x "$CHROMIUM" ]; then
	echo "browser: node or $CHROMIUM missing (run make deps)"
	echo "browser: 0 passed, 1 failed"
	exit 1
fi
export ESM_CHROMIUM=$CHROMIUM
exec node "$HERE/dashboard.test.js"
