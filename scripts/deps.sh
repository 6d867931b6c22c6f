#!/usr/bin/env bash
# deps.sh: installs the Debian packages the build, the local stack and the
# tests need, only those missing (checked with dpkg-query), so a machine that
# has everything is left alone and the command stays quiet. Needs root or sudo
# only when something is missing. Does not build or start anything.
set -euo pipefail

# package|why. Real package names only: dpkg-query knows nothing of virtual
# ones (bookworm's lighttpd-mod-magnet is provided by lighttpd-modules-lua).
PKGS=(
	"build-essential|C compiler, make"
	"pkg-config|compiler flags of the libraries below"
	"libfcgi-dev|FastCGI library of the services"
	"spawn-fcgi|starts the local FastCGI pools"
	"lighttpd|HTTP front of every listener"
	"lighttpd-modules-lua|mod_magnet: JSON problem bodies for lighttpd's own errors"
	"librdkafka-dev|Kafka client of workers and services"
	"libssl-dev|TLS and SCRAM of the newer librdkafka (scripts/librdkafka.sh)"
	"libsasl2-dev|Cyrus SASL (GSSAPI) of the newer librdkafka (scripts/librdkafka.sh)"
	"zlib1g-dev|gzip compression of the newer librdkafka (scripts/librdkafka.sh)"
	"libzstd-dev|zstd compression of the newer librdkafka (scripts/librdkafka.sh)"
	"liblz4-dev|lz4 compression of the newer librdkafka (scripts/librdkafka.sh)"
	"libcjson-dev|JSON library"
	"libcunit1-dev|unit and integration test framework"
	"libpq-dev|PostgreSQL client library"
	"postgresql|local database cluster (run from the working tree)"
	"postgresql-contrib|PostgreSQL extensions"
	"libsodium-dev|argon2id, Ed25519, random"
	"libcurl4-openssl-dev|HTTP client of the auth service and the tests"
	"kcat|inspect Kafka topics by hand and in tests"
	"wrk|benchmarks"
	"apache2-utils|ab and htpasswd (operator pages)"
	"curl|smoke checks in scripts"
	"acl|setfacl: lets the stack's service user pass through a private directory above the clone"
	"clang|libFuzzer harnesses (make fuzz, part of make test)"
	"libclang-rt-14-dev|clang's sanitizer and fuzzer runtimes"
	"postgresql-client|pgbench, the database ceiling of the benchmarks"
	"python3-aiosmtpd|local SMTP sink (make run, tests): the notifier's mail lands in var/INST/mail"
	"ca-certificates|TLS trust store"
	"chromium|headless browser test of the log monitor dashboard"
	"default-jre-headless|Java for Apache Kafka (make test, make run KAFKA=apache)"
	"maven|fetches Apache Kafka's jars from Maven Central (scripts/kafka.sh)"
	"unzip|scripts/kafka.sh looks into the fetched jars"
	"openssl|certificates of the TLS test broker"
	"nodejs|drives Chromium in the browser test (DevTools protocol on a pipe, no npm packages)"
	"prometheus|promtool: make test checks every service's /metrics with it (the server is not used)"
)

missing=()
for entry in "${PKGS[@]}"; do
	pkg=${entry%%|*}
	st=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
	if [ "$st" != installed ]; then
		missing+=("$pkg")
		echo "deps: missing $pkg (${entry#*|})"
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	SUDO=()
elif command -v sudo >/dev/null 2>&1; then
	SUDO=(sudo)
else
	echo "deps: need root or sudo to install: ${missing[*]}" >&2
	echo "deps: run as root: apt-get install ${missing[*]}" >&2
	exit 1
fi

# We run our own cluster from the working tree (its own port, socket and data
# dir), so Debian's auto-created "main" cluster would only cost memory. When
# postgresql-common is about to be installed for the first time, ask it not to
# create one; an existing main cluster on 5432 is simply left alone.
if ! dpkg-query -W -f='${db:Status-Status}' postgresql-common 2>/dev/null | grep -qx installed; then
	echo "deps: telling postgresql-common not to create its default cluster (we run our own)"
	"${SUDO[@]}" mkdir -p /etc/postgresql-common/createcluster.d
	echo "create_main_cluster = false" |
		"${SUDO[@]}" tee /etc/postgresql-common/createcluster.d/50-esm-no-main-cluster.conf >/dev/null
fi

echo "deps: installing ${missing[*]}"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"

# Only promtool is wanted from the prometheus package. Where the package
# starts its server (systemd, or an init script that policy allows), it
# would listen on 9090, the port of the stack's internal listener: stop
# and disable the server we just installed. One installed before is left alone.
for pkg in "${missing[@]}"; do
	[ "$pkg" = prometheus ] || continue
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		echo "deps: stopping and disabling the prometheus server (only promtool is used)"
		"${SUDO[@]}" systemctl disable --now prometheus.service >/dev/null 2>&1 || true
	elif [ -x /etc/init.d/prometheus ] && command -v update-rc.d >/dev/null 2>&1; then
		echo "deps: stopping and disabling the prometheus server (only promtool is used)"
		"${SUDO[@]}" /etc/init.d/prometheus stop >/dev/null 2>&1 || true
		"${SUDO[@]}" update-rc.d prometheus disable >/dev/null 2>&1 || true
	fi
done
