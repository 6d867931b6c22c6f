#!/usr/bin/env bash
# stack.sh: the local stack of one instance, "run" (make run) or "test"
# (make test): PostgreSQL, signing keys, the embedded Kafka broker, FastCGI
# pools, workers and lighttpd. All state lives in var/INSTANCE/ of the working
# tree (gitignored): pg/ (data), sock/ (FastCGI and PostgreSQL sockets), log/,
# keys/, secrets/, pid files, env (what programs and tests need).
#
#   scripts/stack.sh start|stop|status|restart-pg|broker-down|broker-up|env run|test
#   scripts/stack.sh rotate-keys|retire-keys run|test
#   scripts/stack.sh kafka-stop|kafka-kill|kafka-start|kafka-pause|kafka-resume run|test NODE
#
# Kafka: ESM_KAFKA=embedded (default) or apache (Apache Kafka, KRaft, from
# scripts/kafka.sh; ESM_KAFKA_NODES=3 for a three-node cluster), or a
# caller's ESM_KAFKA_BOOTSTRAP (the user's own cluster, nothing started).
# ESM_LIBRDKAFKA=bundled runs every program on the newer librdkafka of
# scripts/librdkafka.sh instead of Debian's (system, the default).
#
# Started as root, every long-running process runs as the service user
# ESM_RUN_USER (default esm, a system account without login made here when
# missing; ESM_RUN_USER=root keeps everything as root) and PostgreSQL as
# postgres; started by anyone else, everything runs as that user.
#
# start is idempotent (starts only what does not run; data survives stop and
# start). Programs that are not built yet are skipped with a note. Ports:
# run: gateway 8080, users 5001, tasks 5002, notifications 5003, logmonitor
# 5004, auth 5005, internal 9090, PostgreSQL 55432; test: the same + 10000,
# PostgreSQL 55433. Overrides: ESM_<LISTENER>_PORT, ESM_PG_PORT, ESM_BIND,
# ESM_INTERNAL_BIND, ESM_PROCS_<SVC>, ESM_FCGI_TIMEOUT, ESM_HEADER_IDLE_S,
# ESM_CONN_PER_ADDR, ESM_KAFKA_BOOTSTRAP
# (a real cluster: no broker is started).
set -euo pipefail

usage() {
	echo "usage: $0 {start|stop|status|restart-pg|broker-down|broker-up|env|rotate-keys|retire-keys} {run|test}" >&2
	echo "       $0 {kafka-stop|kafka-kill|kafka-start|kafka-pause|kafka-resume} {run|test} NODE" >&2
	exit 2
}
[ $# -eq 2 ] || [ $# -eq 3 ] || usage
CMD=$1 INST=$2 NODE=${3:-}
# Other instance names (for parallel work on one machine) take their ports
# from ESM_PORT_OFFSET, a multiple of 1000 up to 50000. PostgreSQL: 55432 +
# OFFSET/10000 for a multiple of 10000 (as always), else 55440 + OFFSET/1000.
# No two offsets share a port: the base ports below differ by no multiple of
# 1000, and 55433-55489 is no other port of any offset.
pg_port_of() { if [ $(($1 % 10000)) -eq 0 ]; then echo $((55432 + $1 / 10000)); else echo $((55440 + $1 / 1000)); fi; }
case $INST in
run) OFF=0 PG_DEFAULT=55432 ;;
*)
	[[ $INST =~ ^[a-z][a-z0-9]{0,15}$ ]] || usage
	OFF=${ESM_PORT_OFFSET:-}
	[ "$INST" != test ] || OFF=${OFF:-10000}
	if ! [[ $OFF =~ ^[1-9][0-9]?000$ ]] || [ "$OFF" -gt 50000 ]; then
		echo "instance $INST needs ESM_PORT_OFFSET, a multiple of 1000 from 1000 to 50000" >&2
		exit 2
	fi
	PG_DEFAULT=$(pg_port_of "$OFF")
	;;
esac

ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
VAR=$ROOT/var/$INST
SOCK=$VAR/sock
LOG=$VAR/log
BIN=$ROOT/build/bin
ENVF=$VAR/env

# FastCGI services: name, port variable, default port, database, role.
# A new service is one line here plus its lighttpd/conf.d file.
SERVICES="users ESM_USERS_PORT 5001 registrations esm_users
auth ESM_AUTH_PORT 5005 auth esm_auth
tasks ESM_TASKS_PORT 5002 tasks esm_tasks
notifications ESM_NOTIFICATIONS_PORT 5003 notifications esm_notifications
logmonitor ESM_LOGMONITOR_PORT 5004 logmonitor esm_logmonitor"
# Workers: instance name, program, database, role (one relay per outbox DB).
WORKERS="relay-registrations relay registrations esm_relay
relay-tasks relay tasks esm_relay
notifier notifier notifications esm_notifier
logcollector logcollector logmonitor esm_logcollector
taskrunner taskrunner tasks esm_taskrunner"
DATABASES="registrations auth tasks notifications logmonitor"

: "${ESM_BIND:=127.0.0.1}"
# The internal listener (credential checks, revocations, /metrics) stays on
# loopback unless told otherwise, whatever the public bind.
: "${ESM_INTERNAL_BIND:=127.0.0.1}"
: "${ESM_GATEWAY_PORT:=$((8080 + OFF))}"
: "${ESM_INTERNAL_PORT:=$((9090 + OFF))}"
: "${ESM_PG_PORT:=$PG_DEFAULT}"
: "${ESM_FCGI_TIMEOUT:=30}"
# The services' body cap, which lighttpd enforces too (in KiB, rounded up).
: "${ESM_BODY_MAX:=65536}"
ESM_BODY_KIB=$(((ESM_BODY_MAX + 1023) / 1024))
# Slow clients (lighttpd/lighttpd.conf): seconds without a byte of a
# request's headers before lighttpd closes the connection, and connections
# of one client address served at a time (0: no cap).
: "${ESM_HEADER_IDLE_S:=10}"
: "${ESM_CONN_PER_ADDR:=64}"
: "${ESM_SMTP_PORT:=$((2525 + OFF))}"
while read -r svc pvar pdef _; do
	[ -n "${!pvar:-}" ] || printf -v "$pvar" '%s' $((pdef + OFF))
done <<<"$SERVICES"
export ESM_BIND ESM_INTERNAL_BIND ESM_GATEWAY_PORT ESM_INTERNAL_PORT \
	ESM_USERS_PORT ESM_AUTH_PORT ESM_TASKS_PORT ESM_NOTIFICATIONS_PORT \
	ESM_LOGMONITOR_PORT ESM_FCGI_TIMEOUT ESM_BODY_MAX ESM_BODY_KIB \
	ESM_HEADER_IDLE_S ESM_CONN_PER_ADDR
# Clients reach a wildcard bind through loopback.
HOST=$ESM_BIND
[ "$HOST" = 0.0.0.0 ] && HOST=127.0.0.1
IHOST=$ESM_INTERNAL_BIND
[ "$IHOST" = 0.0.0.0 ] && IHOST=127.0.0.1

say() { echo "stack[$INST]: $*"; }
warn() { echo "stack[$INST]: warning: $*" >&2; }
die() {
	echo "stack[$INST]: error: $*" >&2
	exit 1
}
upper() { echo "$1" | tr 'a-z-' 'A-Z_'; }

# ---- processes -------------------------------------------------------------

# alive PID PROGRAM: 1 when PID runs PROGRAM (a recycled pid is not ours).
alive() {
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null &&
		tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2"
}
# pids_alive FILE PROGRAM: the pids listed in FILE that still run PROGRAM.
pids_alive() {
	local p
	[ -f "$1" ] || return 0
	# shellcheck disable=SC2013 # one pid per word
	for p in $(cat "$1"); do alive "$p" "$2" && echo "$p"; done
	return 0
}
# stop_pids FILE PROGRAM NAME: SIGTERM, wait up to 10 s, then SIGKILL.
stop_pids() {
	local pids
	pids=$(pids_alive "$1" "$2")
	if [ -n "$pids" ]; then
		say "stopping $3"
		# shellcheck disable=SC2086 # a list of pids
		kill $pids 2>/dev/null || true
		for _ in $(seq 100); do
			pids=$(for p in $pids; do alive "$p" "$2" && echo "$p"; done; true)
			[ -z "$pids" ] && break
			sleep 0.1
		done
		if [ -n "$pids" ]; then
			warn "$3 did not stop in 10 s, killing $pids"
			# shellcheck disable=SC2086
			kill -KILL $pids 2>/dev/null || true
			# Gone before its pid file: a start right after must not
			# meet it still holding its ports or data.
			for _ in $(seq 100); do
				pids=$(for p in $pids; do kill -0 "$p" 2>/dev/null && echo "$p"; done; true)
				[ -z "$pids" ] && break
				sleep 0.05
			done
		fi
	fi
	rm -f "$1"
}

# ---- the service user -----------------------------------------------------------

# As root the stack's processes run as RUNAS; AS is the command prefix that
# does it (empty otherwise). The user owns what they write (log/, metrics/,
# tmp/, keys/, mail/, Kafka's data) and the secrets they read; var/INST
# itself, the env file and the pid files stay root's, so a compromised
# service cannot change what root later runs or kills.
RUNAS='' AS=()
if [ "$(id -u)" -eq 0 ] && [ "${ESM_RUN_USER:-esm}" != root ]; then RUNAS=${ESM_RUN_USER:-esm}; fi
# LOGEXEC LOGFILE PROG ARGS...: execs PROG (same pid) with stdout and stderr
# appended to LOGFILE, opened by whoever runs it (after AS: the service user).
# shellcheck disable=SC2016 # $1 and $@ are the inner shell's
LOGEXEC=(/bin/sh -c 'l=$1; shift; exec "$@" >>"$l" 2>&1' logexec)

# runas_setup: creates the service user once (a system account, no login,
# no home) and sets AS; dies when that user cannot reach the working tree.
runas_setup() {
	[ -n "$RUNAS" ] || return 0
	if ! getent passwd "$RUNAS" >/dev/null; then
		say "creating the system user $RUNAS (no login) for the stack's processes"
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin "$RUNAS" || die "useradd $RUNAS failed"
	fi
	AS=(setpriv --reuid="$(id -u "$RUNAS")" --regid="$(id -g "$RUNAS")" --init-groups --)
	"${AS[@]}" test -x "$BIN/." -a -r "$ROOT/lighttpd/lighttpd.conf" || runas_reach
	"${AS[@]}" test -x "$BIN/." -a -r "$ROOT/lighttpd/lighttpd.conf" ||
		die "the service user $RUNAS cannot reach $ROOT (move the clone, or ESM_RUN_USER=root)"
}
# runas_reach: a clone in a private directory (root's home, 0700) is out of
# the service user's way; it is given the right to pass through (x, not to
# list) each directory above the tree that stops it: by an ACL entry for
# that user alone when setfacl works there, else by o+x. Said as done.
runas_reach() {
	local d=$ROOT dirs=()
	while [ "$d" != / ]; do
		d=$(dirname "$d")
		"${AS[@]}" test -x "$d" || dirs=("$d" "${dirs[@]}")
	done
	for d in "${dirs[@]}"; do
		if command -v setfacl >/dev/null && setfacl -m "u:$RUNAS:x" "$d" 2>/dev/null; then
			say "$RUNAS may now pass through $d (ACL u:$RUNAS:x; it cannot list it)"
		else
			chmod o+x "$d" && say "$RUNAS may now pass through $d (o+x; nobody can list it)"
		fi
	done
}
# svc_own FILE...: hands files to the service user (not through symlinks).
svc_own() { [ -z "$RUNAS" ] || chown -h "$RUNAS:" "$@"; }
# svc_log FILE...: log files, made here when missing, that the service user
# appends to.
svc_log() {
	local f
	[ -n "$RUNAS" ] || return 0
	for f in "$@"; do
		[ -L "$f" ] || : >>"$f"
		chown -h "$RUNAS:" "$f"
	done
}

# svc_readable DIR: DIR when the service user can read it, else a copy it
# can read, made once under /var/cache/esm-shared (root's cache of Kafka and
# the bundled librdkafka lives in /root, which no one else may enter).
svc_readable() {
	local src=$1 dst
	if [ -z "$RUNAS" ] || "${AS[@]}" test -r "$src/." -a -x "$src/."; then
		echo "$src"
		return
	fi
	dst=/var/cache/esm-shared/$(printf '%s' "$src" | sha256sum | cut -c1-12)
	if [ ! -f "$dst/.copied" ] || [ -n "$(find "$src" -newer "$dst/.copied" -print -quit)" ]; then
		rm -rf "$dst.tmp"
		mkdir -p /var/cache/esm-shared
		chmod 0755 /var/cache/esm-shared
		if ! { cp -a "$src" "$dst.tmp" && chmod -R go+rX,go-w "$dst.tmp" && touch "$dst.tmp/.copied"; }; then
			die "copying $src for $RUNAS failed"
		fi
		rm -rf "$dst"
		mv "$dst.tmp" "$dst"
	fi
	echo "$dst"
}

# ---- PostgreSQL --------------------------------------------------------------

PGBIN=$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n1)
PGBIN=${PGBIN%/initdb}
[ -x "$PGBIN/initdb" ] || PGBIN=
# As root the cluster runs as the unprivileged postgres user (PostgreSQL
# refuses root); otherwise as the invoking user.
if [ "$(id -u)" -eq 0 ]; then PGOS=postgres; else PGOS=; fi
asdb() {
	# from / : the postgres user may not be able to enter the current dir
	if [ -n "$PGOS" ]; then (cd / && runuser -u "$PGOS" -- "$@"); else "$@"; fi
}
# Where the data dir, its socket and its log really are. Normally in var/;
# when the postgres user cannot reach the working tree (e.g. under /root) or
# the socket path would be too long, in /var/tmp/esm-INST-HASH, with
# var/INST/pg a symlink to it.
pg_locate() {
	PG_DATA=$VAR/pg PG_SOCK=$SOCK PG_LOG=$LOG/postgresql.log FALLBACK=
	local fb
	fb=/var/tmp/esm-$INST-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)
	[ ! -L "$VAR/pg" ] || fb=$(dirname "$(readlink "$VAR/pg")")
	if [ -L "$VAR/pg" ] || { [ ! -e "$VAR/pg" ] && ! pg_tree_ok; }; then
		PG_DATA=$fb/pg PG_SOCK=$fb/sock PG_LOG=$fb/postgresql.log
		FALLBACK=$fb
	fi
}
pg_tree_ok() {
	[ ${#SOCK} -le 90 ] || return 1
	[ -z "$PGOS" ] || runuser -u "$PGOS" -- test -x "$VAR"
}
# The socket's mode: open to the service user's group directory, or 0700.
pg_sockmode() { if [ -n "$RUNAS" ]; then echo 777; else echo 700; fi; }
pg_ctl() { asdb "$PGBIN/pg_ctl" -D "$PG_DATA" "$@"; }
pg_running() { [ -f "$PG_DATA/postmaster.pid" ] && pg_ctl status >/dev/null 2>&1; }
psql_super() {
	PGHOST=$PG_SOCK PGPORT=$ESM_PG_PORT PGUSER=postgres \
		"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"
}

pg_init() {
	[ -n "$PGBIN" ] || die "no PostgreSQL server binaries in /usr/lib/postgresql (run make deps)"
	if [ -n "${FALLBACK:-}" ] && [ ! -e "$VAR/pg" ]; then
		say "postgres cannot use $VAR (path not traversable or too long):"
		say "  data dir and socket in $FALLBACK, $VAR/pg links to it"
		mkdir -p "$FALLBACK/pg" "$FALLBACK/sock"
		chmod 0711 "$FALLBACK"
		ln -s "$FALLBACK/pg" "$VAR/pg"
		[ -z "$PGOS" ] || chown "$PGOS:" "$FALLBACK/pg" "$FALLBACK/sock"
	fi
	mkdir -p "$PG_DATA" "$PG_SOCK"
	touch "$PG_LOG"
	if [ -n "$PGOS" ]; then
		chown "$PGOS:" "$PG_DATA" "$PG_LOG"
		# PostgreSQL puts its socket beside the FastCGI ones. The service
		# user reaches them through the directory's group; no one else.
		chown "$PGOS:$RUNAS" "$PG_SOCK"
		[ -z "$RUNAS" ] || chmod 0750 "$PG_SOCK"
	fi
	chmod 0700 "$PG_DATA"
	[ "$PG_LOG" = "$LOG/postgresql.log" ] || ln -sfn "$PG_LOG" "$LOG/postgresql.log"
	if [ ! -f "$PG_DATA/PG_VERSION" ]; then
		say "initdb $PG_DATA"
		asdb "$PGBIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
			--auth-local=trust --auth-host=scram-sha-256 --no-instructions >>"$PG_LOG" 2>&1 ||
			die "initdb failed, see $PG_LOG"
		echo "include_if_exists = 'esm.conf'" | asdb tee -a "$PG_DATA/postgresql.conf" >/dev/null
	fi
	# Rewritten at every start: ports and paths may be overridden. With a
	# service user, which can reach the socket, the superuser is allowed
	# only to the OS users root and postgres (peer); without one, only the
	# invoking user (and root) can open the socket (mode 0700).
	local super=trust
	if [ -n "$RUNAS" ]; then
		super="peer map=super"
		printf '# Written by scripts/stack.sh.\nsuper root postgres\nsuper postgres postgres\n' |
			asdb tee "$PG_DATA/pg_ident.conf" >/dev/null
	fi
	asdb tee "$PG_DATA/pg_hba.conf" >/dev/null <<-EOF
		# Written by scripts/stack.sh. The superuser without password over the
		# unix socket only; every service role with its scram-sha-256 password.
		local all postgres              $super
		local all all                   scram-sha-256
		host  all all      127.0.0.1/32 scram-sha-256
		host  all all      ::1/128      scram-sha-256
	EOF
	local maxconn=$((PROCS_TOTAL + 60)) fsync=on
	[ "$maxconn" -ge 100 ] || maxconn=100
	[ "$INST" = test ] && fsync=off # a crashed test host loses nothing of value
	asdb tee "$PG_DATA/esm.conf" >/dev/null <<-EOF
		# Written by scripts/stack.sh at every start.
		listen_addresses = '127.0.0.1'
		port = $ESM_PG_PORT
		unix_socket_directories = '$PG_SOCK'
		unix_socket_permissions = 0$(pg_sockmode)
		max_connections = $maxconn
		password_encryption = 'scram-sha-256'
		fsync = $fsync
		log_min_messages = warning
		log_line_prefix = '%m [%p] %q%u@%d '
	EOF
}

pg_start() {
	pg_locate
	pg_init
	if pg_running && [ "$(stat -c %a "$PG_SOCK/.s.PGSQL.$ESM_PG_PORT" 2>/dev/null)" != "$(pg_sockmode)" ]; then
		say "restarting postgresql (its socket's mode changes to $(pg_sockmode))"
		pg_ctl restart -m fast -w -t 60 -l "$PG_LOG" >/dev/null || die "postgresql did not restart, see $PG_LOG"
	elif pg_running; then
		say "postgresql already running"
		pg_ctl reload >/dev/null # pg_hba.conf and pg_ident.conf as just written
	else
		say "starting postgresql on 127.0.0.1:$ESM_PG_PORT"
		pg_ctl start -w -t 60 -l "$PG_LOG" >/dev/null ||
			{ tail -n 20 "$PG_LOG" >&2; die "postgresql did not start, see $PG_LOG"; }
	fi
	local db role pw
	for db in $DATABASES; do
		[ "$(psql_super -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" = 1 ] ||
			{ say "creating database $db"; psql_super -d postgres -c "CREATE DATABASE $db"; }
	done
	psql_super -d postgres -f "$ROOT/sql/roles.sql"
	# Passwords: generated once into secrets/ (0600), set at every start so the
	# files are the truth. Sent on stdin, never in argv; hex needs no quoting.
	for role in $(roles); do
		if [ ! -s "$VAR/secrets/$role" ]; then
			(umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$VAR/secrets/$role")
		fi
		pw=$(cat "$VAR/secrets/$role")
		echo "ALTER ROLE $role PASSWORD '$pw';"
	done | psql_super -d postgres
	for db in $DATABASES; do
		PGHOST=$PG_SOCK PGPORT=$ESM_PG_PORT PGUSER=postgres "$ROOT/sql/migrate.sh" "$db"
	done
}
roles() {
	{
		echo "$SERVICES" | awk '{print $5}'
		echo "$WORKERS" | awk '{print $4}'
	} | sort -u
}

# ---- Kafka -------------------------------------------------------------------

# Which broker serves this instance: ESM_KAFKA=embedded (the default of
# make run: esm-broker, librdkafka's mock cluster, in memory) or apache
# (Apache Kafka from scripts/kafka.sh, KRaft, data in var/INST/kafka);
# ESM_KAFKA_NODES=3 makes that a three-node cluster. A caller's
# ESM_KAFKA_BOOTSTRAP that this script did not write names the user's own
# cluster: nothing is started. The env file records ESM_KAFKA_KIND
# (embedded, apache, external) so that sourcing it changes nothing.
KAFKA_MODE=${ESM_KAFKA:-}
if [ -z "$KAFKA_MODE" ]; then
	case ${ESM_KAFKA_KIND:-} in apache) KAFKA_MODE=apache ;; *) KAFKA_MODE=embedded ;; esac
fi
case $KAFKA_MODE in embedded | apache) ;; *) die "ESM_KAFKA must be embedded or apache" ;; esac
KAFKA_NODES=${ESM_KAFKA_NODES:-1}
# ESM_KAFKA_SECURITY=sasl_ssl (Apache Kafka only): the client listener
# speaks SASL_SSL with SCRAM-SHA-512 alone, certificates from a CA made
# here, one principal per program with the rights of scripts/kafka/acls,
# and an admin principal for esm-topics and the tests.
KAFKA_SECURITY=${ESM_KAFKA_SECURITY:-plaintext}
case $KAFKA_SECURITY in plaintext | sasl_ssl) ;; *) die "ESM_KAFKA_SECURITY must be plaintext or sasl_ssl" ;; esac
[[ $KAFKA_NODES =~ ^[1-9]$ ]] || die "ESM_KAFKA_NODES must be 1 to 9"
# Node i (0-based) listens for clients on KAFKA_PORT + 2i and for the
# controller quorum on KAFKA_PORT + 2i + 1.
: "${ESM_KAFKA_PORT:=$((9192 + OFF))}"
KAFKA_DIR=$VAR/kafka

kafka_external() {
	[ -n "${ESM_KAFKA_BOOTSTRAP:-}" ] && [ "${ESM_KAFKA_EMBEDDED:-}" != 1 ] &&
		case ${ESM_KAFKA_KIND:-} in embedded | apache) false ;; *) true ;; esac
}

broker_start() {
	KAFKA_CHANGED=${KAFKA_CHANGED:-0}
	if kafka_external; then
		say "using Kafka at $ESM_KAFKA_BOOTSTRAP (no broker started)"
		KAFKA=$ESM_KAFKA_BOOTSTRAP KAFKA_KIND=external
		topics_create "$KAFKA" || warn "esm-topics found differences, see above"
		return
	fi
	if [ "$KAFKA_MODE" = apache ]; then
		stop_pids "$VAR/broker.pid" esm-broker "embedded broker (ESM_KAFKA=apache)"
		KAFKA_KIND=apache
		apache_start
		KAFKA=$(apache_bootstrap)
		topics_create "$KAFKA" || die "the topics of the system could not be declared"
		return
	fi
	apache_stop
	KAFKA_KIND=embedded KAFKA=
	if [ -n "$(pids_alive "$VAR/broker.pid" esm-broker)" ] && [ -s "$VAR/broker.bootstrap" ]; then
		say "broker already running"
	elif [ ! -x "$BIN/esm-broker" ]; then
		warn "build/bin/esm-broker not built: no Kafka broker"
		return
	else
		say "starting the embedded Kafka broker"
		KAFKA_CHANGED=1
		rm -f "$VAR/broker.bootstrap" "$VAR/tmp/broker.bootstrap"
		# It writes its address into tmp/, which the service user owns; the
		# pid is the one started here (setsid, setpriv and sh exec).
		setsid "${AS[@]}" "${LOGEXEC[@]}" "$LOG/broker.log" "$BIN/esm-broker" \
			-f "$VAR/tmp/broker.bootstrap" </dev/null &
		echo $! >"$VAR/broker.pid"
		for _ in $(seq 150); do
			[ -s "$VAR/tmp/broker.bootstrap" ] && break
			kill -0 $! 2>/dev/null || { tail -n 20 "$LOG/broker.log" >&2; die "broker exited"; }
			sleep 0.1
		done
		[ -s "$VAR/tmp/broker.bootstrap" ] || die "broker wrote no bootstrap address in 15 s, see $LOG/broker.log"
		cat "$VAR/tmp/broker.bootstrap" >"$VAR/broker.bootstrap"
		# A new embedded broker starts every partition at offset 0.
		forget_log_offsets
	fi
	KAFKA=$(cat "$VAR/broker.bootstrap")
}

# The log collector keeps its Kafka offsets in its own database; against a
# new, empty cluster they would make it skip everything as already seen.
forget_log_offsets() {
	pg_locate
	pg_running || return 0
	if [ "$(psql_super -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'logmonitor'")" = 1 ] &&
		[ "$(psql_super -d logmonitor -tAc "SELECT to_regclass('log_offsets') IS NOT NULL")" = t ]; then
		psql_super -d logmonitor -qc "DELETE FROM log_offsets" >/dev/null
	fi
}

# topics_create BOOTSTRAP: declares the system's topics (esm-topics, one
# table in shared/topics.c) and checks them; retried while a new cluster
# elects its controllers. 0 when every topic is as declared.
topics_create() {
	local i
	[ -x "$BIN/esm-topics" ] || { warn "build/bin/esm-topics not built: topics not declared"; return 0; }
	local -a acl=() envs=("ESM_KAFKA_BOOTSTRAP=$1")
	if [ "${KAFKA_KIND:-}" = apache ] && [ "$KAFKA_SECURITY" = sasl_ssl ]; then
		envs+=(ESM_KAFKA_SECURITY_PROTOCOL=sasl_ssl "ESM_KAFKA_SSL_CA_FILE=$KAFKA_DIR/tls/ca.crt"
			$(kafka_creds admin))
		acl=(--acls "$ROOT/scripts/kafka/acls")
	fi
	# A refusal (wrong credentials) is final: no retry.
	for i in $(seq 30); do
		env "${envs[@]}" ESM_KAFKA_ADMIN_TIMEOUT_MS=5000 "$BIN/esm-topics" --create "${acl[@]}" --check >"$VAR/topics.check" 2>>"$LOG/topics.log" &&
			{ say "topics declared and checked ($(grep -c ': ok' "$VAR/topics.check") ok)"; return 0; }
		tail -n 1 "$LOG/topics.log" | grep -q 'refuses this client' && break
		[ "$i" -lt 30 ] && sleep 1
	done
	cat "$VAR/topics.check" >&2 2>/dev/null || true
	return 1
}

# ---- librdkafka ------------------------------------------------------------------

# ESM_LIBRDKAFKA=system (default) runs the programs on Debian's librdkafka;
# bundled on the newer one of scripts/librdkafka.sh (built once into the
# cache), whose SCRAM works against Kafka 4.x. It has the same soname and
# ABI, so the binaries built against Debian's headers load it through
# LD_LIBRARY_PATH, set here for everything this script starts and written
# into the env file (with ESM_LIBRDKAFKA_LIB, the folder added), so the
# tests and what they spawn (kcat) run on it too.
LIBRDKAFKA=${ESM_LIBRDKAFKA:-system}
case $LIBRDKAFKA in system | bundled) ;; *) die "ESM_LIBRDKAFKA must be system or bundled" ;; esac
RDK_LIB=
LIB_CHANGED=0

# libpath DIR: LD_LIBRARY_PATH with DIR (may be empty) first and without
# the folder a sourced env file added (ESM_LIBRDKAFKA_LIB).
libpath() {
	local d out=$1
	local IFS=:
	for d in ${LD_LIBRARY_PATH:-}; do
		case $d in '' | "${ESM_LIBRDKAFKA_LIB:-}" | "$1") continue ;; esac
		out=$out${out:+:}$d
	done
	echo "$out"
}

# librdkafka_setup: RDK_LIB and LD_LIBRARY_PATH for the chosen library;
# LIB_CHANGED=1 when the running programs were started on another one.
librdkafka_setup() {
	if [ "$LIBRDKAFKA" = bundled ]; then
		RDK_LIB=$("$ROOT/scripts/librdkafka.sh" home)/lib ||
			die "the bundled librdkafka could not be built (scripts/librdkafka.sh)"
		RDK_LIB=$(svc_readable "$RDK_LIB") || exit 1
		say "librdkafka: bundled $("$ROOT/scripts/librdkafka.sh" version) from $RDK_LIB"
	else
		RDK_LIB=
		say "librdkafka: the system's ($(pkg-config --modversion rdkafka 2>/dev/null || echo unknown))"
	fi
	LD_LIBRARY_PATH=$(libpath "$RDK_LIB")
	if [ -n "$LD_LIBRARY_PATH" ]; then export LD_LIBRARY_PATH; else unset LD_LIBRARY_PATH; fi
	[ "$(cat "$VAR/librdkafka" 2>/dev/null)" = "$LIBRDKAFKA $RDK_LIB" ] || LIB_CHANGED=1
}

# ---- Apache Kafka (KRaft) ------------------------------------------------------

apache_node_dir() { echo "$KAFKA_DIR/node$1"; }
apache_port() { echo $((ESM_KAFKA_PORT + 2 * $1)); }
apache_cport() { echo $((ESM_KAFKA_PORT + 2 * $1 + 1)); }
apache_nodes() { seq 0 $((KAFKA_NODES - 1)); }
apache_bootstrap() {
	local i out=
	for i in $(apache_nodes); do out=$out${out:+,}127.0.0.1:$(apache_port "$i"); done
	echo "$out"
}
apache_voters() {
	local i out=
	for i in $(apache_nodes); do out=$out${out:+,}$((i + 1))@127.0.0.1:$(apache_cport "$i"); done
	echo "$out"
}
# What identifies a node's java process: its own configuration file.
apache_tag() { echo "$(apache_node_dir "$1")/server.properties"; }
apache_pid() { pids_alive "$VAR/kafka-$1.pid" "$(apache_tag "$1")"; }
apache_home() { "$ROOT/scripts/kafka.sh" home; }

# apache_conf I: the node's server.properties. Replication and min ISR
# follow the node count: a three-node cluster keeps 3 copies and needs 2 in
# sync to acknowledge; no unclean elections, no auto-created topics.
apache_conf() {
	local i=$1 rf=1 isr=1
	[ "$KAFKA_NODES" -ge 3 ] && rf=3 isr=2
	cat <<-EOF
		# Written by scripts/stack.sh at every start.
		process.roles=broker,controller
		node.id=$((i + 1))
		controller.quorum.voters=$(apache_voters)
		controller.listener.names=CONTROLLER
		log.dirs=$(apache_node_dir "$i")/data
		auto.create.topics.enable=false
		unclean.leader.election.enable=false
		default.replication.factor=$rf
		min.insync.replicas=$isr
		offsets.topic.replication.factor=$rf
		offsets.topic.num.partitions=10
		transaction.state.log.replication.factor=$rf
		transaction.state.log.min.isr=$isr
		transaction.state.log.num.partitions=4
		group.initial.rebalance.delay.ms=${ESM_KAFKA_REBALANCE_DELAY_MS:-0}
		num.network.threads=2
		num.io.threads=4
		background.threads=4
		log.cleaner.threads=1
		num.recovery.threads.per.data.dir=1
		controlled.shutdown.enable=true
	EOF
	apache_listeners "$i"
}

# apache_listeners I: plain listeners, or SASL_SSL for clients and brokers
# with TLS client certificates on the controller quorum (only holders of
# the broker key reach it), an authorizer that denies what no ACL allows.
apache_listeners() {
	local i=$1 p c t=$KAFKA_DIR/tls
	p=$(apache_port "$i") c=$(apache_cport "$i")
	if [ "$KAFKA_SECURITY" = plaintext ]; then
		cat <<-EOF
			listeners=PLAINTEXT://127.0.0.1:$p,CONTROLLER://127.0.0.1:$c
			advertised.listeners=PLAINTEXT://127.0.0.1:$p
			inter.broker.listener.name=PLAINTEXT
			listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
		EOF
		return
	fi
	cat <<-EOF
		listeners=SASL_SSL://127.0.0.1:$p,CONTROLLER://127.0.0.1:$c
		advertised.listeners=SASL_SSL://127.0.0.1:$p
		inter.broker.listener.name=SASL_SSL
		listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL
		sasl.enabled.mechanisms=SCRAM-SHA-512
		sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
		listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(kafka_password admin)";
		ssl.keystore.type=PEM
		ssl.keystore.location=$t/broker.pem
		ssl.truststore.type=PEM
		ssl.truststore.location=$t/ca.crt
		listener.name.controller.ssl.client.auth=required
		authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
		super.users=User:admin;User:CN=esm-kafka-broker
		allow.everyone.if.no.acl.found=false
	EOF
}

# ---- Kafka principals (ESM_KAFKA_SECURITY=sasl_ssl) -----------------------------

# Every program is a principal of its own name; admin declares topics and
# ACLs and reads topics for the tests.
kafka_principals() {
	echo admin
	echo "$SERVICES" | awk '{print $1}'
	echo "$WORKERS" | awk '{print $1}'
}
# kafka_password NAME: generated once into secrets/kafka-NAME (0600).
kafka_password() {
	local f=$VAR/secrets/kafka-$1
	[ -s "$f" ] || (umask 077 && head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$f")
	cat "$f"
}
# kafka_creds NAME: the settings a program adds to its environment.
kafka_creds() {
	[ "${KAFKA_KIND:-}" = apache ] && [ "$KAFKA_SECURITY" = sasl_ssl ] || return 0
	kafka_password "$1" >/dev/null
	svc_own "$VAR/secrets/kafka-$1"
	echo "ESM_KAFKA_SASL_USERNAME=$1"
	echo "ESM_KAFKA_SASL_PASSWORD_FILE=$VAR/secrets/kafka-$1"
}
# kafka_tls: a CA and the brokers' key and certificate (for 127.0.0.1 and
# localhost), made once.
kafka_tls() {
	local t=$KAFKA_DIR/tls
	[ -s "$t/broker.pem" ] && return 0
	command -v openssl >/dev/null || die "openssl is not installed (make deps)"
	mkdir -p "$t"
	(
		umask 077
		cd "$t"
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
			-subj "/CN=esm-kafka-ca" -keyout ca.key -out ca.crt
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out broker.key
		openssl req -new -key broker.key -subj "/CN=esm-kafka-broker" -out broker.csr
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >ext
		openssl x509 -req -in broker.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
			-extfile ext -out broker.crt
		cat broker.key broker.crt >broker.pem
		rm -f broker.csr ext
	) >>"$LOG/kafka-tls.log" 2>&1 || die "making the Kafka certificates failed, see $LOG/kafka-tls.log"
	chmod 0644 "$t/ca.crt"
}
# kafka_scram_args: kafka-storage format arguments that create every
# principal's SCRAM credential with the cluster.
kafka_scram_args() {
	local n
	[ "$KAFKA_SECURITY" = sasl_ssl ] || return 0
	for n in $(kafka_principals); do
		printf -- '--add-scram\nSCRAM-SHA-512=[name=%s,password=%s]\n' "$n" "$(kafka_password "$n")"
	done
}
# kafka_client_conf: librdkafka properties of the admin principal, for kcat
# (KCAT_CONFIG) and the Java tools (--command-config).
kafka_client_conf() {
	local f=$KAFKA_DIR/admin.properties
	if [ "$KAFKA_SECURITY" = plaintext ]; then rm -f "$f"; return 0; fi
	(umask 077 && cat >"$f") <<-EOF
		security.protocol=SASL_SSL
		sasl.mechanism=SCRAM-SHA-512
		sasl.username=admin
		sasl.password=$(kafka_password admin)
		ssl.ca.location=$KAFKA_DIR/tls/ca.crt
	EOF
	(umask 077 && cat >"$KAFKA_DIR/admin-java.properties") <<-EOF
		security.protocol=SASL_SSL
		sasl.mechanism=SCRAM-SHA-512
		sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(kafka_password admin)";
		ssl.truststore.type=PEM
		ssl.truststore.location=$KAFKA_DIR/tls/ca.crt
	EOF
}

# The cluster is laid out anew when the version or the node count changed;
# otherwise its data survives stop and start like the database's.
apache_layout() {
	local want="$("$ROOT/scripts/kafka.sh" version) $KAFKA_NODES $ESM_KAFKA_PORT $KAFKA_SECURITY" i id kh
	local -a scram
	if [ "$(cat "$KAFKA_DIR/layout" 2>/dev/null)" != "$want" ]; then
		[ ! -d "$KAFKA_DIR" ] || say "Kafka layout changed ($want): new cluster data"
		apache_stop
		rm -rf "$KAFKA_DIR"
		forget_log_offsets
		KAFKA_CHANGED=1
	fi
	mkdir -p "$KAFKA_DIR"
	kh=$(apache_home) || die "Apache Kafka could not be fetched (scripts/kafka.sh)"
	[ -s "$KAFKA_DIR/cluster.id" ] || "$kh/bin/kafka-storage.sh" random-uuid 2>/dev/null |
		tail -n 1 >"$KAFKA_DIR/cluster.id"
	id=$(cat "$KAFKA_DIR/cluster.id")
	[ "$KAFKA_SECURITY" = plaintext ] || kafka_tls
	mapfile -t scram < <(kafka_scram_args)
	kafka_client_conf
	for i in $(apache_nodes); do
		mkdir -p "$(apache_node_dir "$i")/data"
		apache_conf "$i" >"$(apache_tag "$i")"
		if [ ! -f "$(apache_node_dir "$i")/data/meta.properties" ]; then
			"$kh/bin/kafka-storage.sh" format -t "$id" -c "$(apache_tag "$i")" "${scram[@]}" \
				>>"$LOG/kafka-$i.log" 2>&1 || die "formatting Kafka node $i failed, see $LOG/kafka-$i.log"
		fi
		# The node's data and log are the service user's; its configuration root's.
		[ -z "$RUNAS" ] || chown -hR "$RUNAS:" "$(apache_node_dir "$i")/data"
		svc_log "$LOG/kafka-$i.log"
	done
	[ ! -f "$KAFKA_DIR/tls/broker.pem" ] || svc_own "$KAFKA_DIR/tls/broker.pem"
	echo "$want" >"$KAFKA_DIR/layout"
}

# Heap: a broker of this stack holds a few hundred MB of messages at most.
apache_heap() { if [ "$KAFKA_NODES" -ge 3 ]; then echo -Xmx384m -Xms384m; else echo -Xmx512m -Xms512m; fi; }

apache_node_start() {
	local i=$1 kh
	[ -z "$(apache_pid "$i")" ] || return 0
	kh=$(svc_readable "$(apache_home)") || exit 1
	KAFKA_HEAP_OPTS=$(apache_heap) KAFKA_LOG_DIR=$LOG setsid "${AS[@]}" "${LOGEXEC[@]}" \
		"$LOG/kafka-$i.log" "$kh/bin/kafka-server-start.sh" "$(apache_tag "$i")" </dev/null &
	echo $! >"$VAR/kafka-$i.pid"
}

# apache_wait I: until node I accepts connections (60 s). The process is
# ours and just started: kill -0 tells whether it lives (its command line
# reads empty while it execs from launcher to launcher to java, which made
# a starting node look gone).
apache_wait() {
	local i=$1 port pid
	port=$(apache_port "$i")
	pid=$(cat "$VAR/kafka-$i.pid" 2>/dev/null)
	for _ in $(seq 600); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
		[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null ||
			{ tail -n 20 "$LOG/kafka-$i.log" >&2; die "Kafka node $i exited"; }
		sleep 0.1
	done
	die "Kafka node $i did not listen on 127.0.0.1:$port in 60 s, see $LOG/kafka-$i.log"
}

apache_start() {
	local i started=0
	apache_layout
	for i in $(apache_nodes); do
		if [ -n "$(apache_pid "$i")" ]; then continue; fi
		say "starting Apache Kafka $("$ROOT/scripts/kafka.sh" version) node $i on 127.0.0.1:$(apache_port "$i")"
		apache_node_start "$i"
		started=1
	done
	for i in $(apache_nodes); do apache_wait "$i"; done
	[ "$started" = 1 ] || say "Kafka already running ($(apache_bootstrap))"
}

# apache_node_stop I [SIGNAL]: a clean stop by default (the broker hands
# its partitions over first), or kill -9 with KILL.
apache_node_stop() {
	local i=$1 sig=${2:-TERM} p
	p=$(apache_pid "$i")
	[ -n "$p" ] || return 0
	if [ "$sig" = KILL ]; then
		kill -KILL "$p" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
		rm -f "$VAR/kafka-$i.pid"
	else
		stop_pids "$VAR/kafka-$i.pid" "$(apache_tag "$i")" "Kafka node $i"
	fi
}

apache_stop() {
	local i
	[ -d "$KAFKA_DIR" ] || return 0
	for i in $(seq 0 8); do [ -f "$VAR/kafka-$i.pid" ] && apache_node_stop "$i"; done
	return 0
}

# ---- env file ----------------------------------------------------------------

# libpq conninfo value, quoted only when it must be.
cq() {
	case $1 in
	*[\ \'\\]* | '') printf "'%s'" "$(printf '%s' "$1" | sed "s/[\\\\']/\\\\&/g")" ;;
	*) printf '%s' "$1" ;;
	esac
}
dsn() { # database role
	echo "host=$(cq "$PG_SOCK") port=$ESM_PG_PORT dbname=$1 user=$2 password=$(cat "$VAR/secrets/$2")"
}
# shell single-quoted value
sq() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

write_env() {
	local tmp=$ENVF.tmp name svc db role
	(umask 077 && : >"$tmp")
	{
		echo "# Written by scripts/stack.sh start $INST; source it (set -a; . $ENVF)."
		# Extra ESM_* settings of the caller (rate limits, ...) come first so the
		# computed ones below win; the stack's own inputs are not recorded, so
		# sourcing this file never moves another instance's ports.
		for name in $(compgen -e | grep '^ESM_' | sort); do
			case $name in
			ESM_*_PORT | ESM_BIND | ESM_INTERNAL_BIND | ESM_PROCS_* | ESM_FCGI_TIMEOUT) continue ;;
			ESM_DB_DSN | ESM_DSN_* | ESM_URL_* | ESM_PG_SUPER_DSN | ESM_*INTERNAL_URL) continue ;;
			ESM_METRICS_DIR) continue ;;
			ESM_KAFKA_BOOTSTRAP | ESM_KAFKA_EMBEDDED | ESM_KAFKA | ESM_KAFKA_KIND) continue ;;
			ESM_KAFKA_NODES | ESM_KAFKA_SECURITY | ESM_ROOT | ESM_VAR | ESM_INSTANCE) continue ;;
			ESM_LIBRDKAFKA | ESM_LIBRDKAFKA_LIB) continue ;;
			ESM_KAFKA_SECURITY_PROTOCOL | ESM_KAFKA_SSL_CA_FILE | ESM_KAFKA_SASL_*) [ "$KAFKA_KIND" = external ] || continue ;;
			ESM_JWT_PUBLIC_KEY_FILE | ESM_JWT_PRIVATE_KEY_FILE | ESM_JWT_PREVIOUS_KEY_FILES | ESM_WORKER_NAME) continue ;;
			ESM_SMTP_URL | ESM_SMTP_EMBEDDED | ESM_MAILDIR) continue ;;
			esac
			echo "export $name=$(sq "${!name}")"
		done
		echo "export ESM_INSTANCE=$INST"
		echo "export ESM_ROOT=$(sq "$ROOT")"
		echo "export ESM_VAR=$(sq "$VAR")"
		echo "export ESM_KAFKA_BOOTSTRAP=$(sq "$KAFKA")"
		echo "export ESM_KAFKA_KIND=$KAFKA_KIND"
		# What the programs run on, exactly: sourcing this file gives the
		# tests the same librdkafka.
		echo "export ESM_LIBRDKAFKA=$LIBRDKAFKA"
		if [ -n "$RDK_LIB" ]; then echo "export ESM_LIBRDKAFKA_LIB=$(sq "$RDK_LIB")"; else echo "unset ESM_LIBRDKAFKA_LIB"; fi
		if [ -n "${LD_LIBRARY_PATH:-}" ]; then echo "export LD_LIBRARY_PATH=$(sq "$LD_LIBRARY_PATH")"; else echo "unset LD_LIBRARY_PATH"; fi
		if [ "$KAFKA_KIND" = apache ]; then
			echo "export ESM_KAFKA_SECURITY=$KAFKA_SECURITY"
			if [ "$KAFKA_SECURITY" = sasl_ssl ]; then
				# The admin principal, for the tests and esm-loggen; every
				# program gets its own in its environment (kafka_creds).
				echo "export ESM_KAFKA_SECURITY_PROTOCOL=sasl_ssl"
				echo "export ESM_KAFKA_SSL_CA_FILE=$(sq "$KAFKA_DIR/tls/ca.crt")"
				echo "export ESM_KAFKA_SASL_USERNAME=admin"
				echo "export ESM_KAFKA_SASL_PASSWORD_FILE=$(sq "$VAR/secrets/kafka-admin")"
				echo "export KCAT_CONFIG=$(sq "$KAFKA_DIR/admin.properties")"
				echo "export ESM_KAFKA_TOOLS_CONFIG=$(sq "$KAFKA_DIR/admin-java.properties")"
			fi
		fi
		[ "$KAFKA_KIND" != embedded ] || echo "export ESM_KAFKA_EMBEDDED=1"
		[ "$KAFKA_KIND" != apache ] || echo "export ESM_KAFKA_NODES=$KAFKA_NODES"
		echo "export ESM_PG_SUPER_DSN=$(sq "host=$(cq "$PG_SOCK") port=$ESM_PG_PORT user=postgres")"
		echo "export ESM_URL_GATEWAY=http://$HOST:$ESM_GATEWAY_PORT"
		while read -r svc pvar _ db role; do
			echo "export ESM_URL_$(upper "$svc")=http://$HOST:${!pvar}"
			echo "export ESM_DSN_$(upper "$svc")=$(sq "$(dsn "$db" "$role")")"
		done <<<"$SERVICES"
		echo "export ESM_URL_INTERNAL=http://$IHOST:$ESM_INTERNAL_PORT"
		echo "export ESM_USERS_INTERNAL_URL=http://$IHOST:$ESM_INTERNAL_PORT"
		echo "export ESM_INTERNAL_URL=http://$IHOST:$ESM_INTERNAL_PORT"
		echo "export ESM_METRICS_DIR=$(sq "$VAR/metrics")"
		while read -r name _ db role; do
			echo "export ESM_DSN_$(upper "$name")=$(sq "$(dsn "$db" "$role")")"
		done <<<"$WORKERS"
		echo "export ESM_JWT_PUBLIC_KEY_FILE=$(sq "$VAR/keys/ed25519.pub")"
		if [ -f "$VAR/keys/previous.pub" ]; then echo "export ESM_JWT_PREVIOUS_KEY_FILES=$(sq "$VAR/keys/previous.pub")"; else echo "unset ESM_JWT_PREVIOUS_KEY_FILES"; fi
		[ -z "$SMTP_URL" ] || echo "export ESM_SMTP_URL=$(sq "$SMTP_URL")"
		[ -z "$MAILDIR" ] || echo "export ESM_MAILDIR=$(sq "$MAILDIR")"
		[ -z "$MAILDIR" ] || echo "export ESM_SMTP_EMBEDDED=1"
		[ -n "${ESM_MAIL_FROM:-}" ] || echo "export ESM_MAIL_FROM=notifications@eventstreammonitor.local"
		echo "export ESM_OPERATOR_USER=$OPERATOR_USER"
		echo "export ESM_OPERATOR_PASSWORD_FILE=$(sq "$VAR/secrets/operator.password")"
		echo "export ESM_INTERNAL_SECRET_FILE=$(sq "$VAR/secrets/internal.secret")"
	} >>"$tmp"
	mv "$tmp" "$ENVF"
}

# Environment of one program: ours minus every credential it must not see
# (other services' DSNs, the superuser DSN). Sets the array RUNENV, a command
# prefix: "${RUNENV[@]}" prog ... ; DSN_VAR (may be empty) names the variable
# whose value becomes ESM_DB_DSN; NAME=VALUE extras follow.
runenv() {
	local own=$1 name
	shift
	RUNENV=(env -u ESM_PG_SUPER_DSN -u ESM_DB_DSN)
	for name in $(compgen -e | grep '^ESM_DSN_' || true); do RUNENV+=(-u "$name"); done
	[ -z "$own" ] || RUNENV+=("ESM_DB_DSN=${!own}")
	RUNENV+=("$@")
}

# ---- FastCGI pools and workers -------------------------------------------------

# rebuilt PIDFILE FILE...: 1 when a FILE changed after the process started,
# so `make run` after a rebuild runs the new code (start stays idempotent).
rebuilt() {
	local pidf=$1 f
	shift
	for f in "$@"; do [ "$f" -nt "$pidf" ] && return 0; done
	return 1
}
# stale PIDFILE BINARY: a running Kafka client to restart: rebuilt, it
# knows only the address of a broker this start replaced (the embedded
# broker listens on a new port each time), or it runs on another librdkafka.
stale() { [ "$KAFKA_CHANGED" = 1 ] || [ "$LIB_CHANGED" = 1 ] || rebuilt "$@"; }
KAFKA_CHANGED=0

NCPU=$(nproc 2>/dev/null || echo 2)
[ "$NCPU" -ge 2 ] || NCPU=2
# One process per core, but two for tasks: its writes wait on the WAL
# flush, and processes waiting together share one flush (group commit).
# Four per core made its reads slower (more processes and database
# backends than the cores can run) without committing more.
procs() {
	local v d=$NCPU
	v=ESM_PROCS_$(upper "$1")
	[ "$1" = tasks ] && d=$((2 * NCPU))
	echo "${!v:-$d}"
}
PROCS_TOTAL=0
while read -r svc _; do PROCS_TOTAL=$((PROCS_TOTAL + $(procs "$svc"))); done <<<"$SERVICES"
PROCS_TOTAL=$((PROCS_TOTAL + $(echo "$WORKERS" | wc -l)))

pools_start() {
	local svc n pidf up extra user
	while read -r svc _; do
		[ -x "$BIN/esm-$svc" ] || { say "esm-$svc not built, skipped"; continue; }
		pidf=$VAR/$svc.pids n=$(procs "$svc")
		up=$(pids_alive "$pidf" "esm-$svc" | wc -l)
		# keys/ changes when a key file comes or goes (rotate-keys, retire-keys).
		if [ "$up" -gt 0 ] && [ "$up" -eq "$(wc -w <"$pidf")" ] && ! stale "$pidf" "$BIN/esm-$svc" "$VAR/keys"; then
			say "$svc pool already running ($up processes)"
			continue
		fi
		# A pool with dead members, an older build or the old broker's address
		# is restarted whole: its socket is taken while any member lives.
		[ "$up" -eq 0 ] || stop_pids "$pidf" "esm-$svc" "$svc pool (incomplete, rebuilt or new broker)"
		rm -f "$SOCK/$svc.sock"
		extra=()
		[ "$svc" = auth ] && extra=("ESM_JWT_PRIVATE_KEY_FILE=$VAR/keys/ed25519.key")
		say "starting $svc pool: $n processes on $SOCK/$svc.sock"
		# spawn-fcgi sends the children's stdout and stderr to /dev/null; the
		# sh wrapper execs the program (same pid) with both appended to its log.
		# As root it binds the socket, gives it to the service user (lighttpd
		# connects as that user) and forks the children as that user.
		runenv "ESM_DSN_$(upper "$svc")" "${extra[@]}" $(kafka_creds "$svc")
		user=()
		[ -z "$RUNAS" ] || user=(-u "$RUNAS" -g "$RUNAS" -U "$RUNAS" -G "$RUNAS")
		"${RUNENV[@]}" spawn-fcgi -s "$SOCK/$svc.sock" -M 0600 "${user[@]}" -F "$n" -P "$pidf" -- \
			"${LOGEXEC[@]}" "$LOG/$svc.log" "$BIN/esm-$svc" \
			>>"$LOG/spawn-fcgi.log" 2>&1 ||
			die "spawn-fcgi failed for $svc, see $LOG/spawn-fcgi.log"
	done <<<"$SERVICES"
}

workers_start() {
	local name prog
	while read -r name prog db _; do
		[ -x "$BIN/esm-$prog" ] || { say "esm-$prog not built, $name skipped"; continue; }
		[ -d "$ROOT/sql/$db" ] || { say "no sql/$db yet, $name skipped"; continue; }
		# ESM_TASKRUNNER=off: tasks stay pending (the test stack: its suites
		# set task states themselves; tests/integration/test_runner.c runs
		# the runner it needs).
		if [ "$name" = taskrunner ] && [ "${ESM_TASKRUNNER:-on}" = off ]; then
			stop_pids "$VAR/$name.pid" "esm-$prog" "$name (ESM_TASKRUNNER=off)"
			continue
		fi
		if [ -n "$(pids_alive "$VAR/$name.pid" "esm-$prog")" ]; then
			if ! stale "$VAR/$name.pid" "$BIN/esm-$prog"; then
				say "$name already running"
				continue
			fi
			stop_pids "$VAR/$name.pid" "esm-$prog" "$name (rebuilt or new broker)"
		fi
		say "starting $name"
		# setsid: own session, so a terminal's ^C or hangup does not reach it.
		runenv "ESM_DSN_$(upper "$name")" "ESM_WORKER_NAME=$name" $(kafka_creds "$name")
		"${RUNENV[@]}" setsid "${AS[@]}" "${LOGEXEC[@]}" "$LOG/$name.log" "$BIN/esm-$prog" </dev/null &
		echo $! >"$VAR/$name.pid"
	done <<<"$WORKERS"
}

# ---- SMTP sink -----------------------------------------------------------------

# A local SMTP server from Debian's python3-aiosmtpd that stores every mail
# in the Maildir var/INST/mail (new/), so the notifier's delivery works out
# of the box and tests read what arrived. A caller's ESM_SMTP_URL names a
# real server instead: then no sink is started.
SMTP_PY=/usr/bin/python3
smtp_start() {
	SMTP_URL= MAILDIR=
	# A URL we did not write ourselves (env file: ESM_SMTP_EMBEDDED=1) is a real server.
	if [ -n "${ESM_SMTP_URL:-}" ] && [ "${ESM_SMTP_EMBEDDED:-}" != 1 ]; then
		say "using SMTP at $ESM_SMTP_URL (no local sink)"
		SMTP_URL=$ESM_SMTP_URL
		return
	fi
	if ! "$SMTP_PY" -c 'import aiosmtpd' 2>/dev/null; then
		warn "python3-aiosmtpd not installed (make deps): no SMTP sink, mail delivery off"
		return
	fi
	MAILDIR=$VAR/mail SMTP_URL=smtp://127.0.0.1:$ESM_SMTP_PORT
	# Python's Maildir makes new/ cur/ tmp/ only when the folder itself is new.
	mkdir -p "$MAILDIR/new" "$MAILDIR/cur" "$MAILDIR/tmp"
	if [ -n "$(pids_alive "$VAR/smtp.pid" aiosmtpd)" ]; then
		say "smtp sink already running"
		return
	fi
	say "starting the SMTP sink on 127.0.0.1:$ESM_SMTP_PORT (mail in $MAILDIR)"
	[ -z "$RUNAS" ] || chown -hR "$RUNAS:" "$MAILDIR"
	# scripts/smtp_sink.py: the Maildir handler, refusing the tests' reject550
	# and tempfail451 addresses as a real server would.
	PYTHONPATH="$ROOT/scripts" setsid "${AS[@]}" "${LOGEXEC[@]}" "$LOG/smtp.log" "$SMTP_PY" \
		-m aiosmtpd -n -l "127.0.0.1:$ESM_SMTP_PORT" -c smtp_sink.Sink "$MAILDIR" </dev/null &
	echo $! >"$VAR/smtp.pid"
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$ESM_SMTP_PORT") 2>/dev/null && return
		kill -0 "$(cat "$VAR/smtp.pid")" 2>/dev/null || { tail -n 5 "$LOG/smtp.log" >&2; die "smtp sink exited"; }
		sleep 0.1
	done
	die "smtp sink did not listen on 127.0.0.1:$ESM_SMTP_PORT in 10 s, see $LOG/smtp.log"
}

# ---- lighttpd ------------------------------------------------------------------

lighttpd_start() {
	local conf=$ROOT/lighttpd/lighttpd.conf
	if [ -n "$(pids_alive "$VAR/lighttpd.pid" lighttpd)" ]; then
		if ! rebuilt "$VAR/lighttpd.pid" "$conf" "$ROOT"/lighttpd/conf.d/*.conf; then
			say "lighttpd already running"
			return
		fi
		stop_pids "$VAR/lighttpd.pid" lighttpd "lighttpd (configuration changed)"
	fi
	# As root it binds its listeners and then becomes the service user
	# (server.username); otherwise both are empty and nothing changes.
	export ESM_ROOT=$ROOT ESM_VAR=$VAR ESM_RUN_USER=$RUNAS ESM_RUN_GROUP=$RUNAS
	runenv ""
	LIGHTTPD=$(command -v lighttpd) || die "lighttpd is not installed"
	svc_log "$LOG/lighttpd-error.log" "$LOG/access.log"
	"${RUNENV[@]}" "$LIGHTTPD" -tt -f "$conf" >>"$LOG/lighttpd-error.log" 2>&1 ||
		{ tail -n 5 "$LOG/lighttpd-error.log" >&2; die "lighttpd config test failed"; }
	say "starting lighttpd"
	# Daemonizes once its listeners are bound; a busy port fails here. Started
	# by absolute path: only then does a graceful restart (SIGUSR1) run in the
	# background (server.graceful-restart-bg), the new process accepting on
	# the inherited listeners at once while the old one finishes its requests.
	# Started by bare name, lighttpd stops accepting until every request in
	# flight is done, and a request that calls back through lighttpd (a login's
	# credential check) waits on itself.
	"${RUNENV[@]}" "$LIGHTTPD" -f "$conf" >>"$LOG/lighttpd-error.log" 2>&1 ||
		{ tail -n 5 "$LOG/lighttpd-error.log" >&2; die "lighttpd did not start (port in use?)"; }
	# It writes its pid file as root; a graceful restart re-executes it as
	# the service user, which rewrites the file, so the file is that user's
	# (var/INST stays root's: the file can be rewritten, not replaced; a
	# rewritten pid is still checked against lighttpd's command line).
	for _ in $(seq 50); do [ -s "$VAR/lighttpd.pid" ] && break; sleep 0.1; done
	[ ! -f "$VAR/lighttpd.pid" ] || svc_own "$VAR/lighttpd.pid"
}

# ---- operators (log monitor dashboard) ----------------------------------------

# The operator login of the dashboard and log APIs (lighttpd basic auth):
# user "operator", password generated once into secrets/operator.password,
# htpasswd file (bcrypt) rewritten at every start so the password file is the
# truth. The password goes to htpasswd on stdin, never in argv.
OPERATOR_USER=operator
operators_setup() {
	local pwf=$VAR/secrets/operator.password
	if [ ! -s "$pwf" ]; then
		(umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=\n' >"$pwf")
	fi
	command -v htpasswd >/dev/null || die "htpasswd not found (run make deps: apache2-utils)"
	(umask 077 && htpasswd -ciB "$VAR/secrets/operators.htpasswd.tmp" "$OPERATOR_USER" \
		<"$pwf" >/dev/null 2>&1) || die "htpasswd failed"
	mv "$VAR/secrets/operators.htpasswd.tmp" "$VAR/secrets/operators.htpasswd"
}

# The shared secret the services send their internal calls with
# (X-Internal-Secret), generated once into secrets/internal.secret (0600).
internal_secret_setup() {
	local f=$VAR/secrets/internal.secret
	[ -s "$f" ] || (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$f")
}
export ESM_INTERNAL_SECRET_FILE=$VAR/secrets/internal.secret

# ---- signing keys --------------------------------------------------------------

# keys/ed25519.key and .pub sign and verify; keys/previous.pub, while it
# exists, is the key before them, which only verifies
# (ESM_JWT_PREVIOUS_KEY_FILES). rotate-keys makes a new pair the signing
# one and keeps the old public key as previous.pub (replacing an older
# one); retire-keys removes previous.pub once the old key's tokens have
# expired (ESM_ACCESS_TTL_S + 30 s). Both are followed by a start, which
# rewrites the env file and restarts the pools, as keys/ changed.
keys_rotate() {
	local k=$VAR/keys
	[ -s "$k/ed25519.key" ] || die "no signing key in $k yet: start the stack first"
	[ -x "$BIN/esm-auth" ] || die "build/bin/esm-auth not built"
	rm -rf "$k/new"
	mkdir -m 0700 "$k/new"
	"$BIN/esm-auth" --keygen "$k/new" >>"$LOG/auth.log" 2>&1 ||
		die "esm-auth --keygen failed, see $LOG/auth.log"
	cp "$k/ed25519.pub" "$k/previous.pub.tmp"
	mv "$k/previous.pub.tmp" "$k/previous.pub"
	mv "$k/new/ed25519.pub" "$k/ed25519.pub"
	mv "$k/new/ed25519.key" "$k/ed25519.key"
	rmdir "$k/new"
	say "keys rotated: a new signing key, the old public key verifies until retire-keys"
}
keys_retire() {
	[ -f "$VAR/keys/previous.pub" ] || { say "no previous key to retire"; return 0; }
	rm -f "$VAR/keys/previous.pub"
	say "previous key retired: its tokens are refused"
}

# ---- commands ------------------------------------------------------------------

start() {
	mkdir -p "$VAR" "$SOCK" "$LOG" "$VAR/tmp" "$VAR/metrics"
	mkdir -p "$VAR/keys" "$VAR/secrets"
	chmod 0700 "$VAR/keys" "$VAR/secrets"
	operators_setup
	internal_secret_setup
	chmod 0755 "$VAR" "$SOCK"
	svc_dirs
	pg_start
	if [ -x "$BIN/esm-auth" ]; then
		"${AS[@]}" "${LOGEXEC[@]}" "$LOG/auth.log" "$BIN/esm-auth" --keygen "$VAR/keys" ||
			die "esm-auth --keygen failed, see $LOG/auth.log"
	else
		warn "build/bin/esm-auth not built: no signing keys yet"
	fi
	librdkafka_setup
	broker_start
	smtp_start
	write_env
	set -a
	# shellcheck disable=SC1090
	. "$ENVF"
	set +a
	pools_start
	workers_start
	lighttpd_start
	echo "$LIBRDKAFKA $RDK_LIB" >"$VAR/librdkafka"
	summary
}

# svc_dirs: with a service user, it owns what its processes write (log/
# but PostgreSQL's log, metrics/, tmp/, keys/ with the signing key, which
# only the token service reads), and reads the secrets it needs (secrets/ is
# root's, group-searchable; the database passwords and the operator's stay
# root's).
svc_dirs() {
	[ -n "$RUNAS" ] || return 0
	find "$LOG" "$VAR/metrics" "$VAR/tmp" "$VAR/keys" -xdev ! -name postgresql.log \
		-exec chown -h "$RUNAS:" {} +
	chown root:"$RUNAS" "$VAR/secrets"
	chmod 0710 "$VAR/secrets"
	svc_own "$VAR/secrets/internal.secret" "$VAR/secrets/operators.htpasswd"
}

summary() {
	local svc pvar
	cat <<-EOF

		EventStreamMonitor ($INST) is up:
		  gateway        http://$HOST:$ESM_GATEWAY_PORT
	EOF
	while read -r svc pvar _; do
		printf '  %-14s http://%s:%s\n' "$svc" "$HOST" "${!pvar}"
	done <<<"$SERVICES"
	cat <<-EOF
		  internal       http://$IHOST:$ESM_INTERNAL_PORT
		  postgresql     127.0.0.1:$ESM_PG_PORT, socket in $PG_SOCK (superuser postgres)
		  kafka          ${KAFKA:-none}
		  librdkafka     $LIBRDKAFKA${RDK_LIB:+ ($RDK_LIB)}
		  logs           $LOG/
		  log monitor    http://$HOST:$ESM_LOGMONITOR_PORT/ and http://$HOST:$ESM_GATEWAY_PORT/logmonitor/
		                 user $OPERATOR_USER, password in $VAR/secrets/operator.password
		  environment    $ENVF
		Stop with: make stop$([ "$INST" = run ] || echo " (test: scripts/stack.sh stop test)")
	EOF
}

stop() {
	local svc name prog
	stop_pids "$VAR/lighttpd.pid" lighttpd lighttpd
	while read -r name prog _; do stop_pids "$VAR/$name.pid" "esm-$prog" "$name"; done <<<"$WORKERS"
	stop_pids "$VAR/smtp.pid" aiosmtpd "smtp sink"
	while read -r svc _; do
		stop_pids "$VAR/$svc.pids" "esm-$svc" "$svc pool"
		rm -f "$SOCK/$svc.sock"
	done <<<"$SERVICES"
	stop_pids "$VAR/broker.pid" esm-broker broker
	apache_stop
	pg_locate
	if pg_running; then
		say "stopping postgresql"
		pg_ctl stop -m fast -w >/dev/null
	fi
}

status() {
	local svc name prog p
	line() { printf '%-22s %s\n' "$1" "$2"; }
	pg_locate
	if pg_running; then line postgresql "running, 127.0.0.1:$ESM_PG_PORT, data $PG_DATA"; else line postgresql stopped; fi
	p=$(pids_alive "$VAR/broker.pid" esm-broker)
	if [ -n "$p" ]; then line broker "running, pid $p, $(cat "$VAR/broker.bootstrap" 2>/dev/null)"; else line broker stopped; fi
	for p in $(seq 0 8); do
		[ -f "$KAFKA_DIR/node$p/server.properties" ] || continue
		if [ -n "$(apache_pid "$p")" ]; then line "kafka node $p" "running, pid $(apache_pid "$p"), 127.0.0.1:$(apache_port "$p")"
		else line "kafka node $p" stopped; fi
	done
	while read -r svc _; do
		p=$(pids_alive "$VAR/$svc.pids" "esm-$svc" | tr '\n' ' ')
		if [ -n "$p" ]; then line "$svc pool" "running, pids $p"; else line "$svc pool" stopped; fi
	done <<<"$SERVICES"
	while read -r name prog _; do
		p=$(pids_alive "$VAR/$name.pid" "esm-$prog")
		if [ -n "$p" ]; then line "$name" "running, pid $p"; else line "$name" stopped; fi
	done <<<"$WORKERS"
	p=$(pids_alive "$VAR/smtp.pid" aiosmtpd)
	if [ -n "$p" ]; then line "smtp sink" "running, pid $p, 127.0.0.1:$ESM_SMTP_PORT"; else line "smtp sink" stopped; fi
	p=$(pids_alive "$VAR/lighttpd.pid" lighttpd)
	if [ -n "$p" ]; then line lighttpd "running, pid $p, gateway http://$HOST:$ESM_GATEWAY_PORT"; else line lighttpd stopped; fi
}

# broker_signal SIG WHAT: the embedded broker's fault switch (USR1 down,
# USR2 up); for Apache Kafka, down stops every node cleanly and up starts
# them and waits until they listen.
broker_signal() {
	local p
	if [ "$KAFKA_MODE" = apache ]; then
		if [ "$1" = USR1 ]; then apache_stop; else apache_start; fi
		say "kafka: $2"
		return
	fi
	p=$(pids_alive "$VAR/broker.pid" esm-broker)
	[ -n "$p" ] || die "the embedded broker is not running"
	kill "-$1" "$p"
	say "broker: sent SIG$1 ($2)"
}

case $CMD in
start) runas_setup; start ;;
stop) stop ;;
status) status ;;
restart-pg)
	pg_locate
	pg_running || die "postgresql is not running"
	pg_ctl restart -m fast -w -t 60 -l "$PG_LOG" >/dev/null
	say "postgresql restarted"
	;;
broker-down) runas_setup; broker_signal USR1 "brokers down" ;;
broker-up) runas_setup; broker_signal USR2 "brokers up" ;;
# One node of an Apache Kafka cluster (make test's fault suite): a clean
# stop, kill -9, start (and wait until it listens), SIGSTOP and SIGCONT.
kafka-stop | kafka-kill | kafka-start | kafka-pause | kafka-resume)
	[[ $NODE =~ ^[0-9]$ ]] && [ "$NODE" -lt "$KAFKA_NODES" ] || die "$CMD needs a node number below $KAFKA_NODES"
	runas_setup
	case $CMD in
	kafka-stop) apache_node_stop "$NODE" ;;
	kafka-kill) apache_node_stop "$NODE" KILL ;;
	kafka-start) apache_node_start "$NODE" && apache_wait "$NODE" ;;
	kafka-pause) kill -STOP "$(apache_pid "$NODE")" ;;
	kafka-resume) kill -CONT "$(apache_pid "$NODE")" ;;
	esac
	say "kafka node $NODE: ${CMD#kafka-}"
	;;
env) echo "$ENVF" ;;
rotate-keys) keys_rotate && start ;;
retire-keys) keys_retire && start ;;
*) usage ;;
esac
