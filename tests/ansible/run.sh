#!/usr/bin/env bash
# tests/ansible/run.sh: the Ansible tests, runnable by CI with no input.
#
#  1. ansible-lint (production profile) over ansible/, and --syntax-check of
#     every playbook against both example inventories.
#  2. The kafka role's templates rendered for ZooKeeper mode and KRaft mode
#     (render-kafka.yml) and the settings checked against expected/*.expect.
#  3. A real apply: a Debian 12 root filesystem made with debootstrap (cached
#     under $ESM_ANSIBLE_CACHE, keyed on the package list), booted with
#     systemd-nspawn on a private network, reached by Ansible through the
#     community.general.chroot connection whose chroot executable enters the
#     booted container's namespaces. site.yml runs with the Kafka group empty
#     (no Kafka tarball can be fetched here: the kafka role is checked by
#     rendering only) and the app pointed at $ESM_TEST_KAFKA_BOOTSTRAP.
#     Then: PostgreSQL answers with the databases and roles (password login
#     through pg_hba), ZooKeeper answers ruok/srvr and refuses other
#     four-letter words, lighttpd serves /health of every service, every unit
#     of esm.target is active, the task runner completes a task row, and a
#     second run of site.yml reports changed=0.
#
# Ends with one line "N passed, N failed"; exits non-zero on any failure.
# Environment knobs (all optional):
#   ESM_ANSIBLE_CACHE        cache directory      (/var/cache/esm-ansible-test)
#   ESM_ANSIBLE_KEEP=1       leave the container running and the work dir in place
#   ESM_ANSIBLE_LOGS=DIR     copy the run's logs (lint, apply1.log, apply2.log, ...) to DIR
#   ESM_ANSIBLE_SKIP_APPLY=1 lint, syntax and rendering only (counts as a failure)
#   ESM_TEST_KAFKA_BOOTSTRAP bootstrap list given to the app (127.0.0.1:9092)
#   ESM_TEST_BROKER_CMD      a command that runs a Kafka-protocol broker inside
#                            the container on $ESM_TEST_KAFKA_BOOTSTRAP; when
#                            set, /health must say kafka "ok" and deploy waits
#                            for /readyz; when unset, /health must answer with
#                            database "ok" and the run waits for /livez.
set -uo pipefail
# The whole script is one group, read before it runs: editing this file
# while it runs cannot change what it does.
{

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
ANS="$ROOT/ansible"
CACHE=${ESM_ANSIBLE_CACHE:-/var/cache/esm-ansible-test}
KAFKA_BOOTSTRAP=${ESM_TEST_KAFKA_BOOTSTRAP:-127.0.0.1:9092}
BROKER_CMD=${ESM_TEST_BROKER_CMD:-}
T0=$(date +%s)

PASSED=0
FAILED=0
FAILURES=()

say()  { printf '%s\n' "$*"; }
pass() { PASSED=$((PASSED + 1)); say "PASS: $1"; }
fail() { FAILED=$((FAILED + 1)); FAILURES+=("$1"); say "FAIL: $1"; }
# check NAME CMD...: runs CMD, records pass or fail.
check() { local n=$1; shift; if "$@"; then pass "$n"; else fail "$n"; fi; }
elapsed() { echo $(( $(date +%s) - $1 ))s; }
# timed NAME CMD...: like check, with the time taken in the name.
timed() {
    local n=$1 t0; t0=$(date +%s); shift
    if "$@"; then pass "$n ($(elapsed "$t0"))"; else fail "$n ($(elapsed "$t0"))"; fi
}

finish() {
    say ""
    say "ansible tests: $(elapsed "$T0") total"
    if [ "${#FAILURES[@]}" -gt 0 ]; then
        say "failed:"
        printf '  - %s\n' "${FAILURES[@]}"
    fi
    say "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
    exit $?
}

if [ "$(id -u)" -ne 0 ]; then
    fail "the Ansible tests need root (debootstrap, systemd-nspawn, overlay mounts)"
    finish
fi

# ---------------------------------------------------------------- tools
need_pkgs=()
command -v ansible-playbook >/dev/null || need_pkgs+=(ansible)
command -v ansible-lint     >/dev/null || need_pkgs+=(ansible-lint)
command -v debootstrap      >/dev/null || need_pkgs+=(debootstrap)
command -v systemd-nspawn   >/dev/null || need_pkgs+=(systemd-container)
command -v nsenter          >/dev/null || need_pkgs+=(util-linux)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
    say "installing ${need_pkgs[*]} from Debian"
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need_pkgs[@]}"; } \
        >/tmp/esm-ansible-apt.log 2>&1 || { tail -20 /tmp/esm-ansible-apt.log; }
fi
check "tools present (ansible-playbook ansible-lint debootstrap systemd-nspawn nsenter)" \
    bash -c 'command -v ansible-playbook && command -v ansible-lint && command -v debootstrap && command -v systemd-nspawn && command -v nsenter' >/dev/null

export ANSIBLE_CONFIG="$ANS/ansible.cfg"
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 ANSIBLE_LOCALHOST_WARNING=0
WORK=$(mktemp -d /var/tmp/esm-ansible-test.XXXXXX)
LOGS="$WORK/logs"
mkdir -p "$LOGS"
MACHINE="esm-aio-$$"
MERGED="$WORK/root"
NSPAWN_PID=
LEADER=
mounted=0
cleanup() {
    if [ -n "${ESM_ANSIBLE_LOGS:-}" ]; then
        mkdir -p "$ESM_ANSIBLE_LOGS" && cp -r "$LOGS/." "$ESM_ANSIBLE_LOGS/"
    fi
    if [ "${ESM_ANSIBLE_KEEP:-0}" = 1 ]; then
        say "kept: container leader pid ${LEADER:-?}, root $MERGED (umount and rm -rf $WORK when done)"
        return
    fi
    if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
        [ -n "$LEADER" ] && nsenter -t "$LEADER" -m -p -r -w systemctl poweroff >/dev/null 2>&1
        for _ in $(seq 1 60); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 1; done
        kill -0 "$NSPAWN_PID" 2>/dev/null && kill -KILL "$NSPAWN_PID" 2>/dev/null
        wait "$NSPAWN_PID" 2>/dev/null
    fi
    if [ "$mounted" = 1 ] && ! umount "$MERGED" 2>/dev/null; then
        umount -l "$MERGED" 2>/dev/null || { say "could not unmount $MERGED; left $WORK"; return; }
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
say "work dir: $WORK"

# ---------------------------------------------------------------- 1. lint and syntax
t=$(date +%s)
if (cd "$ANS" && ansible-lint --offline --profile production --nocolor) >"$LOGS/lint.log" 2>&1; then
    pass "ansible-lint --profile production ($(elapsed "$t"))"
else
    sed 's/^/    /' "$LOGS/lint.log" | tail -60
    fail "ansible-lint --profile production"
fi
tail -3 "$LOGS/lint.log" | sed 's/^/    lint: /'

for inv in all-in-one multi-host; do
    for pb in site.yml infra.yml deploy.yml; do
        if (cd "$ANS" && ansible-playbook -i "inventories/$inv/hosts.yml" --syntax-check "$pb") \
            >"$LOGS/syntax-$inv-$pb.log" 2>&1; then
            pass "syntax-check $pb with inventories/$inv"
        else
            sed 's/^/    /' "$LOGS/syntax-$inv-$pb.log" | tail -20
            fail "syntax-check $pb with inventories/$inv"
        fi
    done
done

# Every role default is documented: in ansible/README.md and in the reference
# part of both example inventories' group_vars.
check_documented() {
    local ok=0 var where
    for var in $(grep -hoE '^[a-z][a-z0-9_]*:' "$ANS"/roles/*/defaults/main.yml | tr -d :); do
        grep -q "\`$var\`" "$ANS/README.md" || { say "    $var not in ansible/README.md"; ok=1; }
        for where in all-in-one multi-host; do
            grep -rqE "^#? ?$var:" "$ANS/inventories/$where/group_vars" ||
                { say "    $var not in inventories/$where/group_vars"; ok=1; }
        done
    done
    return $ok
}
check "every role variable documented in README.md and both inventories' group_vars" check_documented

# ---------------------------------------------------------------- 2. kafka rendering
# expect_file RENDERED EXPECT: every "key=value" line of EXPECT must be a line of
# RENDERED exactly once; a "!key" line means no setting of key may appear.
expect_file() {
    local rendered=$1 expect=$2 ok=0 line key
    while IFS= read -r line; do
        case "$line" in ''|'#'*) continue ;; esac
        if [ "${line#!}" != "$line" ]; then
            key=${line#!}
            if grep -Eq "^[[:space:]]*${key//./\\.}[[:space:]]*=" "$rendered"; then
                say "    $(basename "$rendered"): $key must not be set"; ok=1
            fi
        else
            key=${line%%=*}
            local n
            # A property may be set once; a unit's Environment= may repeat.
            n=$(grep -Ec "^[[:space:]]*${key//./\\.}[[:space:]]*=" "$rendered")
            case "$key" in [A-Z]*) [ "$(grep -Fxc -- "$line" "$rendered")" -eq 1 ] && n=1 ;; esac
            if [ "$n" -ne 1 ] || ! grep -Fxq -- "$line" "$rendered"; then
                say "    $(basename "$rendered"): want '$line', have: $(grep -E "^${key//./\\.}=" "$rendered" | tr '\n' ' ')"; ok=1
            fi
        fi
    done <"$expect"
    return $ok
}

t=$(date +%s)
RENDER="$WORK/render"
if ansible-playbook -i "$HERE/render-inventory.yml" "$HERE/render-kafka.yml" \
        -e "render_dir=$RENDER" -e "esm_ansible_dir=$ANS" >"$LOGS/render.log" 2>&1; then
    pass "kafka templates render in both modes ($(elapsed "$t"))"
    # expected/<mode>-<host>.expect: server.properties; <mode>-unit.expect: kafka.service
    for exp in "$HERE"/expected/*.expect; do
        name=$(basename "$exp" .expect); mode=${name%%-*}; what=${name#*-}
        if [ "$what" = unit ]; then
            check "kafka $mode: kafka1's kafka.service has the expected settings" \
                expect_file "$RENDER/$mode/kafka1/kafka.service" "$exp"
        else
            check "kafka $mode: $what's server.properties has the expected settings" \
                expect_file "$RENDER/$mode/$what/server.properties" "$exp"
        fi
    done
else
    sed 's/^/    /' "$LOGS/render.log" | tail -40
    fail "kafka templates render in both modes"
fi
if ansible-playbook -i "$HERE/render-inventory.yml" "$HERE/render-kafka.yml" \
        -e "render_dir=$WORK/render-bad" -e "esm_ansible_dir=$ANS" \
        -e kafka_mode=zookeeper -e kafka_version=4.0.0 >"$LOGS/render-bad.log" 2>&1; then
    fail "kafka role refuses ZooKeeper mode with Kafka 4"
else
    if grep -q 'ZooKeeper mode needs Kafka 3' "$LOGS/render-bad.log"; then
        pass "kafka role refuses ZooKeeper mode with Kafka 4"
    else
        sed 's/^/    /' "$LOGS/render-bad.log" | tail -20
        fail "kafka role refuses ZooKeeper mode with Kafka 4"
    fi
fi

if [ "${ESM_ANSIBLE_SKIP_APPLY:-0}" = 1 ]; then
    fail "real apply not run (ESM_ANSIBLE_SKIP_APPLY=1)"
    finish
fi

# ---------------------------------------------------------------- 3. real apply
# 3a. the app binaries: built by the project's Makefile, never faked.
APP_BINS=(esm-users esm-auth esm-tasks esm-notifications esm-logmonitor esm-relay esm-notifier esm-logcollector
          esm-taskrunner)
BIN_DIR="$ROOT/build/bin"
HAVE_APP=1
t=$(date +%s)
if [ -n "${ESM_TEST_APP_BIN_DIR:-}" ]; then
    # Only for working on the roles before every program exists: such a run
    # can never pass as a whole.
    BIN_DIR=$ESM_TEST_APP_BIN_DIR
    fail "app binaries from make all (this run uses ESM_TEST_APP_BIN_DIR=$BIN_DIR instead)"
elif make -C "$ROOT" all >"$LOGS/make.log" 2>&1; then
    :
else
    tail -15 "$LOGS/make.log" | sed 's/^/    make: /'
    HAVE_APP=0
fi
for b in "${APP_BINS[@]}"; do
    [ -x "$BIN_DIR/$b" ] || { say "    $BIN_DIR/$b missing"; HAVE_APP=0; }
done
if [ -z "${ESM_TEST_APP_BIN_DIR:-}" ]; then
    if [ "$HAVE_APP" = 1 ]; then
        pass "make all builds the nine app programs ($(elapsed "$t"))"
    else
        fail "make all builds the nine app programs (without them only infra.yml is applied)"
    fi
fi
SQL_DIR="$ROOT/sql"
if [ -n "${ESM_TEST_SQL_DIR:-}" ]; then
    SQL_DIR=$ESM_TEST_SQL_DIR
    fail "sql/ of the repository used (this run uses ESM_TEST_SQL_DIR=$SQL_DIR instead)"
fi
SQL_OK=1
for f in roles.sql migrate.sh; do
    [ -f "$SQL_DIR/$f" ] || { say "    $SQL_DIR/$f is missing"; SQL_OK=0; }
done
if [ "$SQL_OK" = 1 ]; then pass "$SQL_DIR has roles.sql and migrate.sh"; else fail "$SQL_DIR has roles.sql and migrate.sh"; fi

# 3b. the root filesystem, cached and keyed on what goes into it.
MIRROR=$(awk '/^URIs:/ {print $2}' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | grep '/debian/*$' | head -1)
[ -n "$MIRROR" ] || MIRROR=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
[ -n "$MIRROR" ] || MIRROR=http://deb.debian.org/debian
SECURITY=$(awk '/^URIs:/ {print $2}' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep security | head -1)
[ -n "$SECURITY" ] || SECURITY=$(awk '$1 == "deb" && $3 == "bookworm-security" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
[ -n "$SECURITY" ] || SECURITY=http://deb.debian.org/debian-security
# Installed by debootstrap: what the test harness itself needs in the target.
BASE_PKGS=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,ca-certificates,curl,netcat-openbsd,procps,iproute2,less
# Installed in the cached tree (services not started): the heavy packages the
# roles install (PostgreSQL, ZooKeeper with its JRE, lighttpd), so each run
# does not spend minutes unpacking them; the roles' apt tasks find them.
PREINSTALL_PKGS="postgresql-15 postgresql-client-15 zookeeperd lighttpd"
# Downloaded only (the container has no network): the other packages the
# roles install on an all-in-one host, so site.yml's apt tasks really install
# them, offline, from the tree's apt cache.
OFFLINE_PKGS="python3-psycopg2 acl lighttpd-modules-lua spawn-fcgi
    libfcgi0ldbl librdkafka1 libcjson1 libpq5 libsodium23 libcurl4"
KEY=$(printf '%s\n' v4 bookworm "$MIRROR" "$SECURITY" "$BASE_PKGS" $PREINSTALL_PKGS $OFFLINE_PKGS | sha256sum | cut -c1-16)
ROOTFS="$CACHE/rootfs-$KEY"

build_rootfs() {
    local tmp="$CACHE/rootfs-$KEY.partial"
    rm -rf "$tmp"
    debootstrap --variant=minbase --include="$BASE_PKGS" bookworm "$tmp" "$MIRROR" \
        >"$LOGS/debootstrap.log" 2>&1 || { tail -20 "$LOGS/debootstrap.log"; return 1; }
    rm -f "$tmp/etc/apt/sources.list"
    cat >"$tmp/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: $SECURITY
Suites: bookworm-security
Components: main
EOF
    # A throwaway test system: dpkg need not fsync, nor unpack documentation.
    echo force-unsafe-io >"$tmp/etc/dpkg/dpkg.cfg.d/esm-test-unsafe-io"
    printf '%s\n' 'path-exclude=/usr/share/doc/*' 'path-include=/usr/share/doc/*/copyright' \
        'path-exclude=/usr/share/man/*' 'path-exclude=/usr/share/info/*' >"$tmp/etc/dpkg/dpkg.cfg.d/esm-test-nodoc"
    echo esm-aio >"$tmp/etc/hostname"
    printf '127.0.0.1\tlocalhost\n127.0.1.1\tesm-aio\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$tmp/etc/hosts"
    # No daily apt jobs racing the playbook inside the test container.
    ln -sf /dev/null "$tmp/etc/systemd/system/apt-daily.timer"
    ln -sf /dev/null "$tmp/etc/systemd/system/apt-daily-upgrade.timer"
    # No service starts while packages are installed into the tree.
    printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
    chmod 0755 "$tmp/usr/sbin/policy-rc.d"
    # shellcheck disable=SC2086
    systemd-nspawn -q -D "$tmp" --register=no --keep-unit --pipe -E DEBIAN_FRONTEND=noninteractive -E LANG=C.UTF-8 \
        sh -c "apt-get update -q && apt-get -y -q dist-upgrade &&
               apt-get install -y -q --no-install-recommends $(echo $PREINSTALL_PKGS) && apt-get clean &&
               apt-get install -y -q --no-install-recommends --download-only $(echo $OFFLINE_PKGS)" \
        >"$LOGS/rootfs-packages.log" 2>&1 || { tail -20 "$LOGS/rootfs-packages.log"; return 1; }
    rm -f "$tmp/usr/sbin/policy-rc.d"
    mv "$tmp" "$ROOTFS"
}

t=$(date +%s)
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
if [ -d "$ROOTFS" ]; then
    pass "root filesystem from cache ($ROOTFS)"
else
    say "building the root filesystem (debootstrap from $MIRROR); later runs reuse it"
    # Keep one root filesystem only: older keys are stale.
    find "$CACHE" -maxdepth 1 -name 'rootfs-*' -exec rm -rf {} +
    timed "debootstrap Debian 12 root filesystem with the packages" build_rootfs
fi
# From here on the tree is only read (the overlay's lower layer): other runs
# may use it at the same time, but none may replace it (a build needs the
# lock alone).
flock -s 9

# 3c. boot it: overlay on the cached tree, systemd-nspawn on a private network.

boot() {
    mkdir -p "$WORK/upper" "$WORK/ovwork" "$MERGED"
    mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$WORK/upper,workdir=$WORK/ovwork" "$MERGED" || return 1
    mounted=1
    systemd-nspawn -q -D "$MERGED" --boot --private-network --register=no --keep-unit \
        --machine="$MACHINE" --hostname=esm-aio --console=passive >"$LOGS/nspawn.log" 2>&1 &
    NSPAWN_PID=$!
    # The container's init is the child of systemd-nspawn running systemd in
    # a mount namespace of its own (before that the child is nspawn's helper).
    local i p
    for i in $(seq 1 150); do
        for p in $(pgrep -P "$NSPAWN_PID"); do
            if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = systemd ] &&
               [ "$(readlink "/proc/$p/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ]; then
                LEADER=$p
            fi
        done
        [ -n "$LEADER" ] && break
        kill -0 "$NSPAWN_PID" 2>/dev/null || break
        sleep 0.2
    done
    [ -n "$LEADER" ] || { tail "$LOGS/nspawn.log"; return 1; }
    # Until systemd listens on its private socket, systemctl cannot connect.
    local state
    for i in $(seq 1 120); do
        state=$(timeout 120 nsenter -t "$LEADER" -m -u -i -n -p -C -r -w systemctl is-system-running --wait 2>&1)
        case "$state" in *"connect to bus"*) sleep 0.5 ;; *) break ;; esac
    done
    say "    container $MACHINE leader $LEADER: $state"
    [ "$state" = running ] || [ "$state" = degraded ]
}
# in_ct CMD...: run CMD inside the booted container.
in_ct() {
    nsenter -t "$LEADER" -m -u -i -n -p -C -r -w -- \
        env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root "$@"
}

BOOTED=0
if [ -d "$ROOTFS" ]; then
    t=$(date +%s)
    if boot; then BOOTED=1; pass "systemd-nspawn boots the target on a private network ($(elapsed "$t"))"
    else fail "systemd-nspawn boots the target on a private network"; fi
fi
if [ "$BOOTED" = 0 ]; then
    fail "real apply not run: no booted target"
    finish
fi

# The connection: community.general.chroot with a chroot executable that
# enters the booted container.
cat >"$WORK/chroot-exe" <<EOF
#!/bin/sh
# Called by community.general.chroot as: chroot-exe DIR SHELL -c CMD.
# Runs SHELL -c CMD inside the booted container instead of a bare chroot.
shift
exec nsenter -t $LEADER -m -u -i -n -p -C -r -w -- env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root "\$@"
EOF
chmod 0755 "$WORK/chroot-exe"

# 3d. a Kafka-protocol broker for the app: the project's own embedded one
# (esm-broker, librdkafka's mock cluster) inside the container, or the
# command in ESM_TEST_BROKER_CMD. Without one the app cannot be ready, so
# the run waits for /livez and /health may only fail on its kafka check.
HAVE_BROKER=0
if [ -n "$BROKER_CMD" ]; then
    say "    starting the test broker in the container: $BROKER_CMD"
    if in_ct systemd-run --unit=esm-test-broker --collect sh -c "$BROKER_CMD" >/dev/null 2>&1; then HAVE_BROKER=1
    else fail "start the test broker ($BROKER_CMD)"; fi
elif [ -x "$BIN_DIR/esm-broker" ]; then
    start_broker() {
        cp "$BIN_DIR/esm-broker" "$MERGED/usr/local/bin/esm-test-broker" || return 1
        # Its one shared library, from the root filesystem's package cache.
        in_ct env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends librdkafka1 \
            >"$LOGS/broker-deps.log" 2>&1 || { tail -5 "$LOGS/broker-deps.log"; return 1; }
        in_ct systemd-run --unit=esm-test-broker --collect \
            /usr/local/bin/esm-test-broker -b 1 -f /run/esm-test-broker.bootstrap >/dev/null 2>&1 || return 1
        local i
        for i in $(seq 1 50); do
            KAFKA_BOOTSTRAP=$(in_ct cat /run/esm-test-broker.bootstrap 2>/dev/null)
            [ -n "$KAFKA_BOOTSTRAP" ] && return 0
            sleep 0.2
        done
        return 1
    }
    if start_broker; then
        HAVE_BROKER=1
        pass "the embedded broker (esm-broker) runs in the container at $KAFKA_BOOTSTRAP"
    else
        fail "the embedded broker (esm-broker) runs in the container"
    fi
else
    fail "a Kafka-protocol broker for the app: no $BIN_DIR/esm-broker and no ESM_TEST_BROKER_CMD"
fi

# 3e. the inventory for this target, and stand-in secrets (never real ones).
PW_PREFIX=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
READY_PATH=/readyz
[ "$HAVE_BROKER" = 1 ] || READY_PATH=/livez
APPLY_PLAYBOOK=site.yml
{ [ "$HAVE_APP" = 1 ] && [ "$SQL_OK" = 1 ]; } || APPLY_PLAYBOOK=infra.yml
cat >"$WORK/inventory.yml" <<EOF
# Generated by tests/ansible/run.sh: the all-in-one layout on a test container.
all:
  vars:
    ansible_connection: community.general.chroot
    ansible_host: $MERGED
    ansible_chroot_exe: $WORK/chroot-exe
    ansible_python_interpreter: /usr/bin/python3
    esm_private_address: 127.0.0.1
    # The container has no network: packages come from the apt cache of the
    # root filesystem, so the package lists must not be refreshed.
    esm_apt_update_cache: false
    esm_kafka_bootstrap_servers: "$KAFKA_BOOTSTRAP"
    esm_sql_dir: "$SQL_DIR"
    app_binaries_dir: "$BIN_DIR"
    app_ready_path: "$READY_PATH"
    postgresql_shared_buffers_ratio: 0.05
    zookeeper_heap_mb: 128
    app_fcgi_children: 2
    app_argon2_memlimit_kib: 19456
    # A file_upload's nominal 1.5 s of work takes 0.15 s.
    app_taskrunner_settings: {WORK_PCT: 10}
    app_operator_users:
      - {name: ops, password: "${PW_PREFIX}op"}
    app_internal_secret: "${PW_PREFIX}internal-secret-9"
    esm_db_passwords:
      esm_users: "${PW_PREFIX}u1"
      esm_auth: "${PW_PREFIX}a2"
      esm_tasks: "${PW_PREFIX}t3"
      esm_notifications: "${PW_PREFIX}n4"
      esm_logmonitor: "${PW_PREFIX}l5"
      esm_relay: "${PW_PREFIX}r6"
      esm_notifier: "${PW_PREFIX}n7"
      esm_logcollector: "${PW_PREFIX}c8"
      esm_taskrunner: "${PW_PREFIX}k9"
  children:
    db:
      hosts:
        esm-aio:
    zookeeper:
      hosts:
        esm-aio:
          zookeeper_myid: 1
    kafka:
      hosts: {}
    app:
      hosts:
        esm-aio:
EOF

# run_playbook LOG PLAYBOOK: runs it against the test inventory, with the
# time of each task in the log (profile_tasks). The facts go to a cache in
# the work dir, so the second run (the same container) does not gather them
# again; ansible.cfg's smart gathering reads the cache.
run_playbook() {
    (cd "$ANS" && ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks \
        ANSIBLE_CACHE_PLUGIN=jsonfile ANSIBLE_CACHE_PLUGIN_CONNECTION="$WORK/facts" ANSIBLE_CACHE_PLUGIN_TIMEOUT=7200 \
        ansible-playbook -i "$WORK/inventory.yml" "$2") >"$LOGS/$1" 2>&1
}
recap() {
    sed -n '/PLAY RECAP/,$p' "$LOGS/$1" | grep -E 'ok=' | sed 's/^/    /'
    sed -n '/^=====/,$p' "$LOGS/$1" | grep -- '---' | head -5 | sed 's/^/    slowest: /'
}

t=$(date +%s)
if run_playbook apply1.log "$APPLY_PLAYBOOK"; then
    pass "first apply of $APPLY_PLAYBOOK ($(elapsed "$t"))"
else
    grep -E '^(fatal|failed):|FAILED!|msg' "$LOGS/apply1.log" | tail -20 | sed 's/^/    /'
    fail "first apply of $APPLY_PLAYBOOK ($(elapsed "$t"))"
fi
recap apply1.log

# 3f. what the hosts now serve.
pg() { in_ct runuser -u postgres -- psql -XAtq -d postgres -c "$1"; }
check_pg_databases() {
    local have want=("registrations" "auth" "tasks" "notifications" "logmonitor") d ok=0
    have=$(pg "SELECT datname FROM pg_database WHERE encoding = pg_char_to_encoding('UTF8')") || return 1
    for d in "${want[@]}"; do grep -Fxq "$d" <<<"$have" || { say "    database $d missing"; ok=1; }; done
    return $ok
}
check_pg_roles() {
    local have r ok=0
    have=$(pg "SELECT rolname FROM pg_roles WHERE rolcanlogin AND NOT rolsuper AND NOT rolcreatedb AND NOT rolcreaterole") || return 1
    for r in esm_users esm_auth esm_tasks esm_notifications esm_logmonitor esm_relay esm_notifier esm_logcollector \
             esm_taskrunner; do
        grep -Fxq "$r" <<<"$have" || { say "    login role $r missing or too privileged"; ok=1; }
    done
    return $ok
}
check_pg_login() {
    # Each role logs in with its password over TCP (scram-sha-256 via pg_hba)
    # to its own database, and is refused by a database that is not its own.
    local ok=0 pair db role
    for pair in registrations:esm_users:u1 auth:esm_auth:a2 tasks:esm_tasks:t3 notifications:esm_notifications:n4 \
                logmonitor:esm_logmonitor:l5 registrations:esm_relay:r6 tasks:esm_relay:r6 \
                notifications:esm_notifier:n7 logmonitor:esm_logcollector:c8 tasks:esm_taskrunner:k9; do
        IFS=: read -r db role sfx <<<"$pair"
        if ! in_ct env PGPASSWORD="${PW_PREFIX}${sfx}" psql -XAtq "host=127.0.0.1 dbname=$db user=$role" -c 'SELECT 1' >/dev/null 2>&1; then
            say "    $role cannot log in to $db"; ok=1
        fi
    done
    if in_ct env PGPASSWORD="${PW_PREFIX}u1" psql -XAtq "host=127.0.0.1 dbname=auth user=esm_users" -c 'SELECT 1' >/dev/null 2>&1; then
        say "    esm_users may connect to auth"; ok=1
    fi
    if in_ct env PGPASSWORD="wrong" psql -XAtq "host=127.0.0.1 dbname=auth user=esm_auth" -c 'SELECT 1' >/dev/null 2>&1; then
        say "    a wrong password is accepted"; ok=1
    fi
    return $ok
}
check_pg_migrations() {
    local db n
    for db in registrations auth tasks notifications logmonitor; do
        [ -d "$SQL_DIR/$db" ] || continue
        n=$(in_ct runuser -u postgres -- psql -XAtq -d "$db" -c 'SELECT count(*) FROM schema_migrations') || { say "    $db: no schema_migrations"; return 1; }
        [ "$n" -ge "$(find "$SQL_DIR/$db" -maxdepth 1 -name '[0-9][0-9][0-9][0-9]_*.sql' | wc -l)" ] || { say "    $db: $n migrations recorded"; return 1; }
    done
}
check "postgresql: the five databases exist in UTF8" check_pg_databases
check "postgresql: the nine login roles exist without superuser, createdb or createrole" check_pg_roles
check "postgresql: each role logs in to its databases only, with scram-sha-256 over TCP" check_pg_login
check_pg_privs() {
    local out
    out=$(pg "SELECT has_database_privilege('public', 'auth', 'CONNECT'), has_database_privilege('esm_users', 'auth', 'CONNECT'),
              has_database_privilege('esm_relay', 'tasks', 'CONNECT'), has_database_privilege('public', 'registrations', 'TEMPORARY'),
              has_database_privilege('esm_taskrunner', 'tasks', 'CONNECT'), has_database_privilege('esm_taskrunner', 'registrations', 'CONNECT')")
    [ "$out" = "f|f|t|f|t|f" ] || {
        say "    PUBLIC/auth, esm_users/auth, esm_relay/tasks CONNECT, PUBLIC TEMPORARY, esm_taskrunner/tasks, esm_taskrunner/registrations: $out (want f|f|t|f|t|f)"
        return 1
    }
}
check "postgresql: CONNECT only for each database's roles, nothing for PUBLIC" check_pg_privs
if [ "$SQL_OK" = 1 ]; then
    check "postgresql: every migration of sql/ recorded in schema_migrations" check_pg_migrations
fi

zk4() { in_ct sh -c "printf '%s' '$1' | nc -q 2 127.0.0.1 2181"; }
check_zk() {
    local out
    out=$(zk4 ruok) && [ "$out" = imok ] || { say "    ruok -> '$out'"; return 1; }
    out=$(zk4 srvr) && grep -q '^Mode: standalone' <<<"$out" || { say "    srvr -> '$out'"; return 1; }
}
check_zk_whitelist() {
    local out
    out=$(zk4 envi)
    grep -q 'not in the whitelist' <<<"$out" || { say "    envi -> '$(head -c 200 <<<"$out")'"; return 1; }
}
check "zookeeper: answers ruok (imok) and srvr (standalone)" check_zk
check "zookeeper: four-letter words outside the whitelist are refused" check_zk_whitelist

declare -A SVC_NAME=([5001]=usermanagement [5002]=taskprocessing [5003]=notification [5004]=log-monitor [5005]=auth)
check_health() {
    local port=$1 want=${SVC_NAME[$1]} out code body
    out=$(in_ct curl -sS -m 10 -w '\n%{http_code} %{content_type}' "http://127.0.0.1:$port/health" 2>&1) || { say "    :$port/health: $out"; return 1; }
    body=$(head -n -1 <<<"$out"); code=$(tail -n 1 <<<"$out")
    python3 - "$port" "$want" "$code" "$body" "$([ "$HAVE_BROKER" = 1 ] && echo kafka)" <<'PY'
import json, sys
port, want, code, body, need_kafka = sys.argv[1:6]
status, ctype = (code.split(" ", 1) + [""])[:2]
try:
    doc = json.loads(body)
except ValueError:
    print(f"    :{port}/health {status} {ctype}: not JSON: {body[:200]!r}")
    sys.exit(1)
checks = doc.get("checks", {})
problems = []
if doc.get("service") != want:
    problems.append(f"service {doc.get('service')!r} != {want!r}")
if not ctype.startswith("application/json"):
    problems.append(f"content type {ctype!r}")
if checks.get("database") != "ok":
    problems.append(f"database check {checks.get('database')!r}")
if need_kafka:
    if status != "200" or doc.get("status") != "healthy":
        problems.append(f"status {status} {doc.get('status')!r} with a broker running")
elif status not in ("200", "503"):
    problems.append(f"HTTP {status}")
print(f"    :{port}/health -> {status} {json.dumps(doc)[:160]}")
if problems:
    print("    " + "; ".join(problems))
    sys.exit(1)
PY
}
if [ "$APPLY_PLAYBOOK" = site.yml ]; then
    for port in 5001 5002 5003 5004 5005; do
        check "lighttpd :$port serves /health of ${SVC_NAME[$port]}" check_health "$port"
    done
    check_gateway() {
        local code
        code=$(in_ct curl -s -m 10 -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/.well-known/jwks.json)
        [ "$code" = 200 ] || { say "    gateway /.well-known/jwks.json -> $code"; return 1; }
    }
    check "lighttpd gateway :8080 routes /.well-known/jwks.json to auth" check_gateway
    # The internal listener reaches the users service's internal route (and
    # the service knows it by ESM_INTERNAL_PORT); the gateway does not.
    check_internal() {
        local out code
        code=$(in_ct curl -s -m 10 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
            -d '{"username":"nobody_here","password":"not-a-password"}' http://127.0.0.1:9090/internal/v1/users/validate)
        [ "$code" = 401 ] || { say "    :9090 validate without the internal secret -> $code (want 401)"; return 1; }
        out=$(in_ct curl -s -m 10 -H 'Content-Type: application/json' -H "X-Internal-Secret: ${PW_PREFIX}internal-secret-9" -w '\n%{http_code}' \
            -d '{"username":"nobody_here","password":"not-a-password"}' http://127.0.0.1:9090/internal/v1/users/validate)
        code=$(tail -n 1 <<<"$out")
        { [ "$code" = 200 ] && grep -Eq '"isValid": *false' <<<"$out"; } || { say "    :9090 validate -> $(tr '\n' ' ' <<<"$out")"; return 1; }
        code=$(in_ct curl -s -m 10 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
            -d '{"username":"nobody_here","password":"not-a-password"}' http://127.0.0.1:8080/internal/v1/users/validate)
        [ "$code" = 404 ] || { say "    :8080/internal/v1/users/validate -> $code (want 404)"; return 1; }
        code=$(in_ct curl -s -m 10 -o /dev/null -w '%{http_code}' http://127.0.0.1:9090/metrics/users)
        [ "$code" = 200 ] || { say "    :9090/metrics/users -> $code"; return 1; }
    }
    check "lighttpd internal :9090 routes /internal/v1/users/ (with the internal secret only) and /metrics/users; the gateway refuses /internal" check_internal
    # lighttpd's own errors in the contract's shape, and the operators' dashboard.
    check_lighttpd_pages() {
        local out
        out=$(in_ct curl -s -m 10 -o /dev/null -w '%{http_code} %{content_type}' http://127.0.0.1:9090/no/such/path)
        [ "$out" = "404 application/problem+json" ] || { say "    :9090/no/such/path -> $out"; return 1; }
        out=$(in_ct curl -s -m 10 -o /dev/null -w '%{http_code}' http://127.0.0.1:5004/)
        [ "$out" = 401 ] || { say "    :5004/ without credentials -> $out (want 401)"; return 1; }
        out=$(in_ct curl -s -m 10 -o /dev/null -w '%{http_code} %{content_type}' -u "ops:${PW_PREFIX}op" http://127.0.0.1:8080/logmonitor/)
        case "$out" in "200 text/html"*) ;; *) say "    :8080/logmonitor/ as an operator -> $out"; return 1 ;; esac
    }
    check "lighttpd: its own 404 is problem+json; the dashboard wants an operator and serves one" check_lighttpd_pages
    # Every pool and worker esm.target wants is running and has not been
    # restarted by systemd (a crash loop can look active between restarts).
    check_units() {
        local units u state restarts ok=0
        units=$(in_ct systemctl show -p Wants --value esm.target) || return 1
        for u in $units; do
            state=$(in_ct systemctl is-active "$u"); restarts=$(in_ct systemctl show -p NRestarts --value "$u")
            if [ "$state" != active ] || [ "$restarts" != 0 ]; then
                say "    $u: $state, restarted $restarts times"
                in_ct journalctl -q -u "$u" -n 5 --no-pager | sed 's/^/      /'
                ok=1
            fi
        done
        [ "$(wc -w <<<"$units")" -eq 10 ] || { say "    esm.target wants $(wc -w <<<"$units") units (want 10): $units"; ok=1; }
        return $ok
    }
    check "systemd: the 10 units of esm.target (5 pools, 5 workers) are active, none restarted" check_units
    # The task runner as deployed (esm_taskrunner's grants, its environment,
    # the sandbox) takes a pending task and completes it, with its
    # task_status_changed event in the outbox: file_upload's 1.5 s of nominal
    # work at WORK_PCT 10 (app_taskrunner_settings).
    check_taskrunner() {
        local unit=esm-worker@taskrunner.service state ref row t0
        state=$(in_ct systemctl is-active "$unit")
        [ "$state" = active ] || { say "    $unit: $state"; in_ct journalctl -q -u "$unit" -n 10 --no-pager | sed 's/^/      /'; return 1; }
        ref=TASK20261202$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)
        in_ct runuser -u postgres -- psql -XAtq -v ON_ERROR_STOP=1 -d tasks -c \
            "INSERT INTO tasks (reference, task_type, user_id, priority) VALUES ('$ref', 'file_upload', 1, 'low')" >/dev/null ||
            { say "    cannot insert task $ref"; return 1; }
        t0=$(date +%s)
        while [ "$(date +%s)" -lt $((t0 + 30)) ]; do
            row=$(in_ct runuser -u postgres -- psql -XAtq -d tasks -c \
                "SELECT status, progress, attempts, (SELECT count(*) FROM outbox o
                   WHERE o.payload::jsonb ->> 'taskReference' = t.reference AND o.payload::jsonb ->> 'status' = 'completed')
                 FROM tasks t WHERE reference = '$ref'")
            case "$row" in completed\|*|failed\|*|cancelled\|*) break ;; esac
            sleep 0.5
        done
        say "    task $ref after $(elapsed "$t0"): status|progress|attempts|completed events = $row"
        case "$row" in 'completed|100|1|1') ;; *)
            in_ct journalctl -q -u "$unit" -n 10 --no-pager | sed 's/^/      /'; return 1 ;;
        esac
    }
    check "esm-worker@taskrunner is active and completes a pending task in the tasks database" check_taskrunner
else
    fail "lighttpd serves /health of every service: not run (app binaries or sql/ missing, see above)"
fi

# 3g. idempotence: the second run changes nothing.
t=$(date +%s)
if run_playbook apply2.log "$APPLY_PLAYBOOK"; then
    recap apply2.log
    if sed -n '/PLAY RECAP/,$p' "$LOGS/apply2.log" | grep -E 'ok=' | grep -vq 'changed=0 '; then
        grep -E '^changed:' "$LOGS/apply2.log" | sed 's/^/    /' | head -20
        fail "second apply of $APPLY_PLAYBOOK reports changed=0"
    else
        pass "second apply of $APPLY_PLAYBOOK reports changed=0 ($(elapsed "$t"))"
    fi
else
    grep -E '^(fatal|failed):|FAILED!' "$LOGS/apply2.log" | tail -10 | sed 's/^/    /'
    fail "second apply of $APPLY_PLAYBOOK ($(elapsed "$t"))"
fi

# 3h. disk: the cache and this run stay modest.
cache_mb=$(du -sm "$CACHE" | cut -f1)
run_mb=$(du -sm "$WORK/upper" 2>/dev/null | cut -f1)
say "    disk: cache ${cache_mb} MiB, this run's overlay ${run_mb:-0} MiB"
check "disk: cache under 1500 MiB and this run under 1500 MiB" test "$cache_mb" -lt 1500 -a "${run_mb:-0}" -lt 1500

finish
exit
}
