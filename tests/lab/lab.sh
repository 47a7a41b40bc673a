#!/usr/bin/env bash
# pgconverge local test lab: N fake "hosts" (h1..hN) on one Linux machine, each
# with its own network, mount, UTS, IPC and PID namespaces, a real OpenSSH
# sshd and a fresh Debian PostgreSQL cluster (pg_createcluster V main): 15 on
# the machine's own Debian 12, or 17 or 15 on Debian 13 (--release trixie).
#
# Required Debian packages (keep in sync with lab_requirements below and
# tests/lab/requirements-apt.txt; `lab.sh requirements` prints the list):
#   iproute2 util-linux mount openssh-client openssh-server postgresql-15
#   postgresql-client-15 tini sudo openssl debootstrap
#
# ---------------------------------------------------------------------------
# Usage (run as root):
#   tests/lab/lab.sh up N [--release R] [--pg V]
#                                  bring up hosts h1..hN (1 <= N <= 100); always
#                                  tears down a running lab first; waits until
#                                  every host accepts ssh with the lab key and
#                                  PostgreSQL answers `select 1`. R is the Debian
#                                  release the hosts run: bookworm (the machine's
#                                  own, Debian 12, PostgreSQL 15: the default) or
#                                  trixie (Debian 13, PostgreSQL 17 and 15 side by
#                                  side, in a root that release-root.sh builds once
#                                  and caches; about 1 minute the first time) or
#                                  forky (Debian testing, PostgreSQL 18, 17 and
#                                  15, a root built the same way).
#                                  V is the major each host's cluster is made
#                                  with: 15 on bookworm, 17 (default) or 15 on
#                                  trixie, 18 (default), 17 or 15 on forky
#   tests/lab/lab.sh down          tear everything down (safe when nothing is up)
#   tests/lab/lab.sh status        per host: address, PID 1, sshd, PostgreSQL
#                                  (exit 0 only if the lab is up and all healthy)
#   tests/lab/lab.sh exec HOST CMD...   run CMD inside HOST's namespaces (debug)
#   tests/lab/lab.sh kill HOST     SIGKILL HOST's PID 1: every process of the host
#                                  dies at once (simulated crash); its disks and
#                                  network stay
#   tests/lab/lab.sh start HOST    boot a killed HOST again (like a reboot: sshd,
#                                  then every cluster whose start.conf is "auto");
#                                  does not wait for ssh if HOST is cut
#   tests/lab/lab.sh cut HOST      take HOST off the network (its veth's end on the
#                                  bridge goes down) without stopping any of its
#                                  processes; survives kill/start of HOST. New
#                                  connections to or from HOST fail after ~3 s
#                                  with "No route to host" (ARP gets no answer),
#                                  established ones stall (nothing is reset)
#   tests/lab/lab.sh heal HOST     put a cut HOST back on the network; returns once
#                                  the bridge forwards to it again (and, if HOST
#                                  is running, its sshd accepts TCP connections)
#   tests/lab/lab.sh paths         print lab_dir, lock, ssh_config, known_hosts,
#                                  identity, inventory as key=value lines
#   tests/lab/lab.sh requirements  print the apt packages the lab needs
#   tests/lab/lab.sh application HOST   make HOST's server one that serves an
#                                  application (see "Servers" below); once per up
#
# Servers: every host's cluster is made as an operator's would be, not bare:
# pg_createcluster's TLS (ssl = on, Debian's snakeoil certificate), tuning
# appended to its postgresql.conf (shared_buffers, effective_cache_size,
# work_mem, log_line_prefix) and a conf.d file (maintenance_work_mem,
# random_page_cost, log_min_duration_statement). `application HOST` adds what
# a server in use has: listen_addresses = '*' (conf.d), the role `app` (password
# lab-app-password), its database `appdb` with a table `orders` of 3 rows, the
# rule `hostssl appdb app 10.77.0.0/24 scram-sha-256`, and two settings made
# with ALTER SYSTEM: wal_keep_size = '512MB' (a setting pgconverge manages) and
# log_lock_waits = on (one it does not); then restarts the server.
# Sizes: up to 32 hosts each server has shared_buffers = 64MB and PostgreSQL's
# 16MB WAL segments; in a bigger lab shared_buffers = 16MB and 1MB segments
# (initdb --wal-segsize=1), so that 100 hosts fit in one machine's memory and
# disk: every base backup ends with a switch to a new segment, which each
# standby cloned before it then keeps, so a first converge of 100 hosts would
# leave 1.6 GB of WAL on every host with 16MB segments (about 0.13 GB with 1MB).
# Hosts make and first start their clusters a few at a time
# (PGCONVERGE_LAB_BOOT_JOBS, default twice the CPUs): all at once, on 2 cores,
# one host's pg_createcluster and start took up to 55 s of pg_ctl's 60.
# Seen on 2 cores (24 GB of memory): 100 hosts come up in 160-180 s and take
# 1.7 GB of memory; converged (1 primary, 99 standbys) 4.4 GB and 13 GB of disk.
# sshd keeps its default MaxSessions (10 sessions at once on one connection), as
# on a stock server.
# Hosts: hI has address 10.77.0.(10+I) on bridge pgcbr0 (10.77.0.1/24) and
# resolves every other lab host by name through its own /etc/hosts.
# From the machine:  ssh -F /var/tmp/pgconverge-lab/ssh_config h1 hostname
# Files (default LAB_DIR=/var/tmp/pgconverge-lab, override with
# PGCONVERGE_LAB_DIR=/abs/path):
#   $LAB_DIR/ssh_config     Host hI / 10.77.0.x entries, User root, BatchMode
#   $LAB_DIR/known_hosts    every host's ed25519 key, under name and address
#   $LAB_DIR/id_ed25519     the lab's client key (no passphrase)
#   $LAB_DIR/inventory      one "hI ADDRESS" line per host
#   $LAB_DIR/hosts/hI/      the host's private directories, boot.log, pid
#   $LAB_DIR/shared/        one directory shared by all hosts (postgres:postgres,
#                           0750, empty after up, removed by down), bind-mounted
#                           read-write at /srv/wal_shared in every host, on top of
#                           the host's private /srv (models an NFS share for a
#                           WAL archive; mounted again when a host is started)
# Locking: up/down/kill/start/cut/heal take an exclusive flock on $LAB_DIR.lock
# (bounded wait, PGCONVERGE_LAB_LOCK_TIMEOUT seconds, default 300). A test run
# that uses the lab should hold that same lock for its whole run and call
# lab.sh with PGCONVERGE_LAB_LOCK_HELD=1 so lab.sh does not wait on its caller.
# When the lab is down, a root-namespace route "unreachable 10.77.0.0/24
# metric 4000" (installed by up and kept by down) stops any traffic to lab
# addresses from leaving the machine.
# Notes: only one lab per machine (bridge and namespace names are global);
# bookworm hosts share /usr and the rest of /etc with the machine, trixie hosts
# the same of the release root (bound read-only), so never apt-get or useradd
# inside a host; run `su postgres` from `/`.
# Another release: each host's PID 1 binds the release root read-only over
# itself in the host's own mount namespace, binds the host's private
# directories into it, then chroots into it and execs tini there, so that
# `lab.sh exec` and every ssh login see that release (nsenter -r enters PID 1's
# root). The postgres account may have another uid in the root than on the
# machine: the private directories are owned by the root's uid. The release and
# version of the running lab are in $LAB_DIR/release.
# Each host has private /etc/passwd, /etc/group, /etc/sudoers.d and /home with
# the lab's logins deploy (sudo without a password), opsadmin (sudo with the
# password lab-sudo-password) and visitor (no sudo; su to root with root's lab
# password lab-root-password), each reached with the lab's
# key; PGCONVERGE_LAB_ROOT_LOGIN=no makes sshd refuse root (PermitRootLogin), and
# PGCONVERGE_LAB_ONLY_THROUGH=hX=hY puts hX behind hY as behind a bastion.
# Each host has a private /etc/shadow (hosts/hI/etc-shadow, bind-mounted): a
# copy of the machine's, made by up, in which the postgres account is not
# locked (password field "*": no password, so sshd with UsePAM no accepts it).
# ssh -l postgres into a host therefore works once a key is in that host's
# /var/lib/postgresql/.ssh/authorized_keys (home private per host; none by
# default). The machine's own /etc/shadow is never changed.
# ---------------------------------------------------------------------------
set -euo pipefail

lab_requirements() {
    printf '%s\n' iproute2 util-linux mount openssh-client openssh-server \
        postgresql-15 postgresql-client-15 tini sudo openssl debootstrap
}

# The lab's logins besides root, name:uid (the group has the same id), in every
# host's private account files: deploy may run anything with sudo without a
# password, opsadmin with its password (LAB_SUDO_PASSWORD, a test value), and
# visitor has no sudo rights; narrow may run only what pgconverge runs through
# sudo (`true`, then `sh` with the script on standard input) and nothing else.
LAB_LOGINS=(deploy:62001 opsadmin:62002 visitor:62003 narrow:62004)
LAB_SUDO_PASSWORD=lab-sudo-password
# root's password inside the hosts (never the machine's), for `su`.
LAB_ROOT_PASSWORD=lab-root-password
# The application role's password, on a server `application` prepares.
LAB_APP_PASSWORD=lab-app-password

LAB_DIR=${PGCONVERGE_LAB_DIR:-/var/tmp/pgconverge-lab}
while [[ $LAB_DIR == */ && $LAB_DIR != / ]]; do LAB_DIR=${LAB_DIR%/}; done
LOCK=$LAB_DIR.lock
HOSTS_DIR=$LAB_DIR/hosts
MARKER=$LAB_DIR/.pgconverge-lab
SSH_CONFIG=$LAB_DIR/ssh_config
KNOWN_HOSTS=$LAB_DIR/known_hosts
IDENTITY=$LAB_DIR/id_ed25519
INVENTORY=$LAB_DIR/inventory
SHARED_DIR=$LAB_DIR/shared
SHARED_MOUNT=/srv/wal_shared
BOOT_SLOTS=$LAB_DIR/boot-slots
BRIDGE=pgcbr0
NET_PREFIX=10.77.0
NET_CIDR=10.77.0.0/24
BRIDGE_ADDR=10.77.0.1
MAX_HOSTS=100
RELEASE_FILE=$LAB_DIR/release
# The lab's release, its root ("" for the machine's own) and the major of its
# clusters: set by up, read back from $RELEASE_FILE by every other command.
LAB_RELEASE=bookworm
LAB_ROOTFS=""
PG_VERSION=15
SELF=$(readlink -f "${BASH_SOURCE[0]}")
HOST_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf 'lab: %s\n' "$*" >&2; }
die() { printf 'lab: error: %s\n' "$*" >&2; exit 1; }

# now -> microseconds; elapsed START -> seconds since START, one decimal
now() { local t=${EPOCHREALTIME/[.,]/}; printf '%s' "$((10#$t))"; }
elapsed() { local d=$((($(now) - $1) / 100000)); printf '%d.%d' "$((d / 10))" "$((d % 10))"; }

# indent: copy stdin to stderr, indented, always ending lines with a newline
indent() { local line; while IFS= read -r line || [[ -n $line ]]; do printf '    %s\n' "$line" >&2; done; }

check_lab_dir() {
    [[ $LAB_DIR == /* ]] || die "PGCONVERGE_LAB_DIR must be an absolute path (got '$LAB_DIR')"
    [[ $LAB_DIR != / ]] || die "PGCONVERGE_LAB_DIR must not be /"
    [[ $LAB_DIR != *[[:space:]]* ]] || die "PGCONVERGE_LAB_DIR must not contain whitespace"
    case $LAB_DIR in
        /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) die "PGCONVERGE_LAB_DIR must not be under /proc, /sys or /dev" ;;
    esac
}

need_root() { [[ $(id -u) == 0 ]] || die "must run as root"; }

need_tools() {
    local t missing=()
    for t in ip bridge awk unshare nsenter flock setsid runuser mount ssh ssh-keygen tini \
        /usr/sbin/sshd pg_createcluster pg_ctlcluster psql; do
        command -v "$t" >/dev/null 2>&1 || missing+=("$t")
    done
    ((${#missing[@]} == 0)) ||
        die "missing tools: ${missing[*]} (install: apt-get install -y $(lab_requirements | tr '\n' ' '))"
}

# ---- releases ----------------------------------------------------------------

# choose_release RELEASE [VERSION]: the release the hosts run and the major
# their clusters are made with; builds (once) the release's root if it is not
# the machine's own. Sets LAB_RELEASE, LAB_ROOTFS, PG_VERSION, PG_UID, PG_GID.
choose_release() {
    local release=$1 pg=$2
    case $release in
        bookworm)
            pg=${pg:-15}
            [[ $pg == 15 ]] || die "--release bookworm has PostgreSQL 15 only (got --pg $pg)"
            LAB_ROOTFS=""
            ;;
        trixie)
            pg=${pg:-17}
            [[ $pg == 15 || $pg == 17 ]] || die "--release trixie has PostgreSQL 15 and 17 (got --pg $pg)"
            LAB_ROOTFS=$(bash "$(dirname "$SELF")/release-root.sh" ensure trixie) ||
                die "could not build the trixie root (see above)"
            ;;
        forky)
            pg=${pg:-18}
            [[ $pg == 15 || $pg == 17 || $pg == 18 ]] || die "--release forky has PostgreSQL 15, 17 and 18 (got --pg $pg)"
            LAB_ROOTFS=$(bash "$(dirname "$SELF")/release-root.sh" ensure forky) ||
                die "could not build the forky root (see above)"
            ;;
        *) die "unknown release '$release' (bookworm, the machine's own, trixie or forky)" ;;
    esac
    LAB_RELEASE=$release
    PG_VERSION=$pg
    set_postgres_ids
}

# The postgres account's uid and gid in the hosts' root, which may differ from
# the machine's.
set_postgres_ids() {
    local entry
    entry=$(grep '^postgres:' "$LAB_ROOTFS/etc/passwd") || die "no postgres account in ${LAB_ROOTFS:-/}etc/passwd"
    IFS=: read -r _ _ PG_UID PG_GID _ <<<"$entry"
}

# The running lab's release, read back from $RELEASE_FILE (the machine's own
# when there is none: a lab brought up before releases existed).
read_release() {
    local rootfs
    [[ -f $RELEASE_FILE ]] || { set_postgres_ids; return 0; }
    read -r LAB_RELEASE PG_VERSION rootfs <"$RELEASE_FILE"
    [[ $rootfs == - ]] && rootfs=""
    LAB_ROOTFS=$rootfs
    set_postgres_ids
}

# ---- host names --------------------------------------------------------------

# host_index hI -> I (validated)
host_index() {
    local h=$1
    [[ $h =~ ^h([1-9][0-9]{0,2})$ ]] || die "bad host name '$h' (expected h1..h$MAX_HOSTS)"
    local i=${BASH_REMATCH[1]}
    ((i <= MAX_HOSTS)) || die "bad host name '$h' (expected h1..h$MAX_HOSTS)"
    printf '%s' "$i"
}
host_addr() { printf '%s.%s' "$NET_PREFIX" "$((10 + $1))"; }

# ---- locking -----------------------------------------------------------------

lab_lock() {
    mkdir -p "$(dirname "$LOCK")"
    exec 9>>"$LOCK"
    if [[ ${PGCONVERGE_LAB_LOCK_HELD:-} == 1 ]]; then
        # The caller says it holds the lock. If nobody does, take it anyway.
        flock -n 9 || true
        return 0
    fi
    local t=${PGCONVERGE_LAB_LOCK_TIMEOUT:-300}
    flock -w "$t" 9 ||
        die "could not lock $LOCK within ${t}s: another lab up/down or test run holds it (tests that hold it must set PGCONVERGE_LAB_LOCK_HELD=1)"
}

# ---- recorded PIDs -----------------------------------------------------------

# starttime (field 22 of /proc/PID/stat), empty if no such process
proc_starttime() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }
    local -a f
    read -r -a f <<<"$stat"
    printf '%s' "${f[19]}"
}

# recorded_pid HOSTDIR -> prints PID if the recorded PID 1 of the host is still
# the very process the lab started (same start time); returns 1 otherwise.
recorded_pid() {
    local d=$1 pid start
    [[ -f $d/pid && -f $d/pid.start ]] || return 1
    pid=$(<"$d/pid")
    start=$(<"$d/pid.start")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -n $start && $(proc_starttime "$pid") == "$start" ]] || return 1
    printf '%s' "$pid"
}

# kill_host_pid HOST: SIGKILL the recorded PID 1 of HOST (only if it is still
# the recorded process), wait (bounded) until it and every process of its
# network namespace are gone. Returns 1 on timeout.
kill_host_pid() {
    local h=$1 d=$HOSTS_DIR/$1 pid i
    if pid=$(recorded_pid "$d"); then
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            recorded_pid "$d" >/dev/null || break
            sleep 0.1
        done
        if recorded_pid "$d" >/dev/null; then
            log "$h: PID 1 ($pid) still alive 10 s after SIGKILL"
            return 1
        fi
    fi
    rm -f "$d/pid" "$d/pid.start"
    # Every other process of the host dies with its PID namespace; wait for them.
    if ip netns list 2>/dev/null | grep -qw "^pgc-$h"; then
        for ((i = 0; i < 100; i++)); do
            [[ -z $(ip netns pids "pgc-$h" 2>/dev/null) ]] && break
            sleep 0.1
        done
        if [[ -n $(ip netns pids "pgc-$h" 2>/dev/null) ]]; then
            log "$h: processes not started by the lab remain in netns pgc-$h: $(ip netns pids "pgc-$h" | tr '\n' ' ') (left alone)"
        fi
    fi
    return 0
}

# ---- network -----------------------------------------------------------------

ensure_unreachable_route() {
    if ! ip route show table main exact "$NET_CIDR" | grep -q '^unreachable'; then
        ip route add unreachable "$NET_CIDR" metric 4000
    fi
}

bridge_owner() { ip -o link show "$BRIDGE" 2>/dev/null | sed -n 's/.* alias pgconverge-lab:\([^ ]*\).*/\1/p'; }

check_bridge_owner() {
    local owner
    ip link show "$BRIDGE" >/dev/null 2>&1 || return 0
    owner=$(bridge_owner)
    if [[ -n $owner && $owner != "$LAB_DIR" ]]; then
        die "bridge $BRIDGE belongs to the lab in $owner; run: PGCONVERGE_LAB_DIR=$owner $SELF down"
    fi
}

setup_bridge() {
    ip link add "$BRIDGE" type bridge stp_state 0 forward_delay 0
    ip link set "$BRIDGE" alias "pgconverge-lab:$LAB_DIR"
    # The root namespace never routes lab traffic elsewhere, even on a machine
    # with net.ipv4.ip_forward=1: IPv4 forwarding is decided per input device.
    echo 0 >"/proc/sys/net/ipv4/conf/$BRIDGE/forwarding"
    if [[ -w /proc/sys/net/ipv6/conf/$BRIDGE/disable_ipv6 ]]; then
        echo 1 >"/proc/sys/net/ipv6/conf/$BRIDGE/disable_ipv6"
    fi
    ip addr add "$BRIDGE_ADDR/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up
    # Bridged frames go through iptables' FORWARD chain when br_netfilter is
    # loaded with bridge-nf-call-iptables=1; make sure they are accepted.
    if [[ -r /proc/sys/net/bridge/bridge-nf-call-iptables ]] &&
        [[ $(</proc/sys/net/bridge/bridge-nf-call-iptables) == 1 ]] &&
        command -v iptables >/dev/null 2>&1; then
        if ! iptables -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null; then
            iptables -I FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT &&
                : >"$LAB_DIR/iptables-rule"
        fi
    fi
}

setup_host_net() {
    local i=$1 h=h$1 addr
    addr=$(host_addr "$i")
    ip netns add "pgc-$h" || die "$h: ip netns add pgc-$h failed"
    ip link add "pgcv-$h" type veth peer name eth0 netns "pgc-$h" || die "$h: creating veth pgcv-$h failed"
    ip link set "pgcv-$h" master "$BRIDGE" up || die "$h: attaching pgcv-$h to $BRIDGE failed"
    ip -n "pgc-$h" link set lo up || die "$h: lo up failed"
    ip -n "pgc-$h" addr add "$addr/24" dev eth0 || die "$h: adding $addr failed"
    ip -n "pgc-$h" link set eth0 up || die "$h: eth0 up failed"
    ip -n "pgc-$h" route add default via "$BRIDGE_ADDR" || die "$h: default route failed"
}

# host_is_cut hI: its veth's end on the bridge exists and is administratively down
host_is_cut() {
    local flags
    flags=$(ip -o link show dev "pgcv-$1" 2>/dev/null) || return 1
    flags=${flags#*<}
    flags=${flags%%>*}
    [[ ,$flags, != *,UP,* ]]
}

# forget_neigh ADDR: drop the MAC address cached for ADDR in the root namespace
# and in every host, so that the next packet to ADDR asks ARP again (a cut host
# then fails with "No route to host" after the ARP probes, ~3 s, every time).
forget_neigh() {
    local addr=$1 ns
    ip neigh flush to "$addr" dev "$BRIDGE" 2>/dev/null || true
    while read -r ns _; do
        [[ $ns == pgc-h* ]] || continue
        ip -n "$ns" neigh flush to "$addr" 2>/dev/null || true
    done < <(ip netns list 2>/dev/null)
}

# ---- host directories --------------------------------------------------------

# prepare_host_dir I N: private directories of host hI (fresh)
prepare_host_dir() {
    local i=$1 n=$2 h=h$1 d j
    d=$HOSTS_DIR/$h
    mkdir -p "$d"
    install -d -m 0755 -o "$PG_UID" -g "$PG_GID" "$d/etc-postgresql" "$d/var-lib-postgresql"
    install -d -m 0755 "$d/etc-ssh" "$d/var-log" "$d/srv" "$d/srv/wal_shared" \
        "$d/shared-stage"
    install -d -m 1775 -o root -g "$PG_GID" "$d/var-log/postgresql"
    # pgBackRest's directories as its package makes them, private per host: its
    # configuration, repository, spool and log.
    install -d -m 0755 "$d/etc-pgbackrest"
    install -d -m 0750 -o "$PG_UID" -g "$PG_GID" "$d/var-lib-pgbackrest" \
        "$d/var-spool-pgbackrest" "$d/var-log/pgbackrest"
    # PgBouncer's configuration, private per host where the release has the
    # package: its files as the package leaves them (owners kept), which
    # pgconverge adopts; the machine's or the root's own are never written.
    if [[ -d $LAB_ROOTFS/etc/pgbouncer ]]; then
        cp -a "$LAB_ROOTFS/etc/pgbouncer" "$d/etc-pgbouncer"
    fi
    install -d -m 0700 "$d/root" "$d/root/.ssh"
    # apt's configuration, which postgresql-common writes when a cluster is made
    # or dropped (pg_updateaptconfig): private, as the hosts' /usr and /etc are
    # the machine's or a read-only root.
    cp -a "$LAB_ROOTFS/etc/apt/apt.conf.d" "$d/etc-apt-conf.d"
    install -d -m 1777 "$d/tmp" "$d/var-tmp"
    # pgconverge's own state on the host (an upgrade's marker), root's alone, as
    # /var/lib/pgconverge is on a real host; bound in only over a release root.
    install -d -m 0700 "$d/var-lib-pgconverge"
    install -m 0600 "$IDENTITY.pub" "$d/root/.ssh/authorized_keys"
    cp "$LAB_ROOTFS/etc/skel/.bashrc" "$LAB_ROOTFS/etc/skel/.profile" "$d/root/" 2>/dev/null || true
    # client side of OpenSSH as the release ships it, then the lab's sshd_config
    [[ -f $LAB_ROOTFS/etc/ssh/ssh_config ]] && cp "$LAB_ROOTFS/etc/ssh/ssh_config" "$d/etc-ssh/"
    [[ -f $LAB_ROOTFS/etc/ssh/moduli ]] && cp "$LAB_ROOTFS/etc/ssh/moduli" "$d/etc-ssh/"
    install -d -m 0755 "$d/etc-ssh/ssh_config.d" "$d/etc-ssh/sshd_config.d"
    ssh-keygen -q -t ed25519 -N '' -C "root@$h" -f "$d/etc-ssh/ssh_host_ed25519_key"
    cat >"$d/etc-ssh/sshd_config" <<EOF
# pgconverge lab: sshd of $h
ListenAddress $(host_addr "$i"):22
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
PermitRootLogin ${PGCONVERGE_LAB_ROOT_LOGIN:-prohibit-password}
$(only_through_rule "$h")
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
MaxStartups 64:30:128
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
    {
        printf '127.0.0.1\tlocalhost\n'
        printf '::1\t\tlocalhost ip6-localhost ip6-loopback\n'
        for ((j = 1; j <= n; j++)); do
            printf '%s\th%s\n' "$(host_addr "$j")" "$j"
        done
    } >"$d/etc-hosts"
    printf '%s\n' "$h" >"$d/etc-hostname"
    chmod 0644 "$d/etc-hosts" "$d/etc-hostname"
    # Private /etc/shadow: the release's, with postgres's password field "*"
    # (no password, not locked: sshd with UsePAM no refuses locked accounts).
    # Same owner and mode as the machine's, never readable by others.
    # root gets the lab's su password (LAB_ROOT_PASSWORD), for logins that
    # become root with su; sshd never takes a password.
    local root_hash
    root_hash=$(openssl passwd -6 "$LAB_ROOT_PASSWORD")
    (
        umask 077
        awk -F: -v OFS=: -v root_hash="$root_hash" \
            '$1 == "postgres" { $2 = "*" } $1 == "root" { $2 = root_hash } { print }' "$LAB_ROOTFS/etc/shadow" >"$d/etc-shadow"
    )
    chown --reference="$LAB_ROOTFS/etc/shadow" "$d/etc-shadow"
    chmod --reference="$LAB_ROOTFS/etc/shadow" "$d/etc-shadow"
    lab_accounts "$d"
}

# PGCONVERGE_LAB_ONLY_THROUGH=hX=hY: hX accepts logins only from hY's address, as
# a host behind a bastion does (ProxyJump through hY reaches it; a direct login is
# refused). only_through_rule HOST prints the sshd rule for HOST, if any.
only_through_rule() {
    local h=$1 spec=${PGCONVERGE_LAB_ONLY_THROUGH:-}
    [[ -n $spec && ${spec%%=*} == "$h" ]] || return 0
    printf 'AllowUsers *@%s\n' "$(host_addr "$(host_index "${spec#*=}")")"
}

# bastion_of HOST: the host HOST is reached through, if any.
bastion_of() {
    local h=$1 spec=${PGCONVERGE_LAB_ONLY_THROUGH:-}
    [[ -n $spec && ${spec%%=*} == "$h" ]] && printf '%s\n' "${spec#*=}"
    return 0
}

# lab_accounts DIR: private /etc/passwd, /etc/group, /etc/sudoers.d and /home of
# a host: the release's, plus the lab's logins (LAB_LOGINS), each reached with
# the lab's key. The machine's own files are never changed.
lab_accounts() {
    local d=$1 entry name id password hash
    cp "$LAB_ROOTFS/etc/passwd" "$d/etc-passwd"
    cp "$LAB_ROOTFS/etc/group" "$d/etc-group"
    chmod 0644 "$d/etc-passwd" "$d/etc-group"
    install -d -m 0755 "$d/home"
    install -d -m 0750 "$d/etc-sudoers.d"
    if [[ -d $LAB_ROOTFS/etc/sudoers.d ]]; then cp -a "$LAB_ROOTFS/etc/sudoers.d/." "$d/etc-sudoers.d/"; fi
    hash=$(openssl passwd -6 "$LAB_SUDO_PASSWORD")
    for entry in "${LAB_LOGINS[@]}"; do
        name=${entry%%:*}
        id=${entry##*:}
        printf '%s:x:%s:%s:pgconverge lab %s:/home/%s:/bin/bash\n' "$name" "$id" "$id" "$name" "$name" >>"$d/etc-passwd"
        printf '%s:x:%s:\n' "$name" "$id" >>"$d/etc-group"
        # "*": no password but not locked, so sshd takes the key (UsePAM no).
        password='*'
        [[ $name == opsadmin ]] && password=$hash
        printf '%s:%s:19000:0:99999:7:::\n' "$name" "$password" >>"$d/etc-shadow"
        install -d -m 0700 -o "$id" -g "$id" "$d/home/$name" "$d/home/$name/.ssh"
        install -m 0600 -o "$id" -g "$id" "$IDENTITY.pub" "$d/home/$name/.ssh/authorized_keys"
    done
    printf 'deploy ALL=(ALL:ALL) NOPASSWD: ALL\n' >"$d/etc-sudoers.d/pgconverge-lab-deploy"
    printf 'opsadmin ALL=(ALL:ALL) ALL\n' >"$d/etc-sudoers.d/pgconverge-lab-opsadmin"
    printf 'narrow ALL=(root) NOPASSWD: /usr/bin/true, /usr/bin/sh\n' >"$d/etc-sudoers.d/pgconverge-lab-narrow"
    chmod 0440 "$d/etc-sudoers.d/"pgconverge-lab-*
}

write_client_files() {
    local n=$1 i h addr key
    : >"$KNOWN_HOSTS.tmp"
    : >"$SSH_CONFIG.tmp"
    : >"$INVENTORY.tmp"
    printf '# pgconverge lab: generated by %s up %s\n' "$SELF" "$n" >>"$SSH_CONFIG.tmp"
    for ((i = 1; i <= n; i++)); do
        h=h$i
        addr=$(host_addr "$i")
        key=$(cut -d' ' -f1,2 "$HOSTS_DIR/$h/etc-ssh/ssh_host_ed25519_key.pub")
        printf '%s,%s %s\n' "$h" "$addr" "$key" >>"$KNOWN_HOSTS.tmp"
        printf '%s %s\n' "$h" "$addr" >>"$INVENTORY.tmp"
        cat >>"$SSH_CONFIG.tmp" <<EOF

Host $h $addr
    HostName $addr
    Port 22
    User root
    IdentityFile $IDENTITY
    IdentitiesOnly yes
    UserKnownHostsFile $KNOWN_HOSTS
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    CheckHostIP no
    UpdateHostKeys no
    HashKnownHosts no
    BatchMode yes
    ConnectTimeout 5
    LogLevel ERROR
EOF
    done
    mv "$KNOWN_HOSTS.tmp" "$KNOWN_HOSTS"
    mv "$SSH_CONFIG.tmp" "$SSH_CONFIG"
    mv "$INVENTORY.tmp" "$INVENTORY"
}

# ---- booting a host ----------------------------------------------------------

# How many hosts make and first start their cluster at once (PGCONVERGE_LAB_BOOT_JOBS,
# default twice the CPUs). initdb and a first start are CPU-bound: a hundred at
# once on 2 cores each take minutes and come near pg_ctl's 60 s wait for the
# start, so they take turns. Host hI takes boot slot (I-1) mod JOBS, an flock on
# $BOOT_SLOTS/K; sshd starts before, so a host waiting for its slot is reachable.
boot_jobs() {
    local jobs=${PGCONVERGE_LAB_BOOT_JOBS:-$((2 * $(nproc)))}
    [[ $jobs =~ ^[1-9][0-9]*$ ]] || die "PGCONVERGE_LAB_BOOT_JOBS must be a positive number (got '$jobs')"
    printf '%s' "$jobs"
}

# A lab of more than 32 hosts shares one machine's memory and disk among more
# servers, so each is made smaller, as a smaller machine's would be.
# shared_buffers of the operator's tuning: 64MB up to 32 hosts, 16MB beyond.
shared_buffers_for() {
    if (($1 > 32)); then printf '16MB'; else printf '64MB'; fi
}

# initdb's WAL segment size, in MB: PostgreSQL's 16 up to 32 hosts, 1 beyond.
# Every base backup ends with a switch to a new segment, and a standby receives
# and keeps the segments written after its own backup began (until a
# restartpoint, then wal_keep_size of them), so cloning N-1 standbys leaves
# about N-1 segments on each of N hosts: with 16MB segments, 1.6 GB on each of
# 100 hosts, more disk than the lab's machine has.
wal_segment_mb_for() {
    if (($1 > 32)); then printf '1'; else printf '16'; fi
}

# launch_host hI MODE [SLOT N]: start the host's PID 1 ("$SELF __boot", which
# becomes tini) in fresh namespaces, and record the PID 1 in
# hosts/hI/pid. A first boot makes its cluster, sized for a lab of N hosts,
# while it holds the boot slot SLOT (a file to flock).
launch_host() {
    local h=$1 mode=$2 slot=${3:-} size=${4:-} i d addr launcher pid="" k children fd
    i=$(host_index "$h")
    d=$HOSTS_DIR/$h
    addr=$(host_addr "$i")
    rm -f "$d/pid" "$d/pid.start" "$d/launcher"
    # setsid: not in the caller's session. Close every inherited descriptor
    # above 2 (the lock on fd 9, a caller's pipes), so a caller reading our
    # output sees EOF and no host process ever holds the lab lock.
    (
        cd /
        for fd in /proc/self/fd/*; do
            fd=${fd##*/}
            if ((fd > 2)); then eval "exec $fd>&-"; fi
        done
        exec setsid env -i PATH="$HOST_PATH" LANG=C.UTF-8 HOME=/root TERM=dumb \
            ip netns exec "pgc-$h" \
            unshare --mount --uts --ipc --pid --fork --mount-proc --propagation private \
            bash "$SELF" __boot "$h" "$addr" "$d" "$LAB_DIR" "$mode" "$slot" "$size" "$LAB_ROOTFS" "$PG_VERSION"
    ) </dev/null >"$d/boot.log" 2>&1 &
    launcher=$!
    printf '%s\n' "$launcher" >"$d/launcher"
    # PID 1 of the host = the child of unshare (setsid, ip and unshare exec).
    for ((k = 0; k < 200; k++)); do
        children=$(cat "/proc/$launcher/task/$launcher/children" 2>/dev/null || true)
        if [[ $(cat "/proc/$launcher/comm" 2>/dev/null) == unshare && -n $children ]]; then
            pid=${children%% *}
            pid=${pid// /}
            if grep -qE '^NSpid:.*[[:space:]]1$' "/proc/$pid/status" 2>/dev/null; then
                break
            fi
        fi
        pid=""
        if ! kill -0 "$launcher" 2>/dev/null; then break; fi
        sleep 0.02
    done
    if [[ -z $pid ]]; then
        log "$h: boot log:"
        indent <"$d/boot.log" || true
        die "$h: could not start the host's PID 1 (launcher $launcher)"
    fi
    printf '%s\n' "$(proc_starttime "$pid")" >"$d/pid.start"
    printf '%s\n' "$pid" >"$d/pid"
}

host_failure_details() {
    local h=$1 d=$HOSTS_DIR/$1
    log "$h: last lines of $d/boot.log:"
    tail -n 25 "$d/boot.log" 2>/dev/null | indent || true
    if [[ -f $d/var-log/postgresql/postgresql-$PG_VERSION-main.log ]]; then
        log "$h: last lines of its PostgreSQL log:"
        tail -n 10 "$d/var-log/postgresql/postgresql-$PG_VERSION-main.log" | indent || true
    fi
    if [[ -f $d/var-log/sshd.log ]]; then
        log "$h: last lines of its sshd log:"
        tail -n 10 "$d/var-log/sshd.log" | indent || true
    fi
}

up_failed() {
    local rc=$?
    trap - EXIT ERR
    if [[ ${PGCONVERGE_LAB_KEEP_ON_FAILURE:-} == 1 ]]; then
        log "up failed; lab left as it is (PGCONVERGE_LAB_KEEP_ON_FAILURE=1): run '$SELF down' when done"
    else
        log "up failed; tearing the partial lab down (set PGCONVERGE_LAB_KEEP_ON_FAILURE=1 to keep it)"
        do_down || true
    fi
    exit "$rc"
}

# wait_booted TIMEOUT HOST...: wait until each host's boot script says
# LAB-BOOT-OK (sshd started, PostgreSQL answers inside). Dies naming the host.
wait_booted() {
    local limit=$1 start h left
    shift
    start=$SECONDS
    local -a pending=("$@")
    while ((${#pending[@]} > 0)); do
        left=()
        for h in "${pending[@]}"; do
            if grep -q '^LAB-BOOT-OK' "$HOSTS_DIR/$h/boot.log" 2>/dev/null; then
                continue
            fi
            if ! recorded_pid "$HOSTS_DIR/$h" >/dev/null; then
                host_failure_details "$h"
                die "$h: host died while booting (see above)"
            fi
            left+=("$h")
        done
        pending=("${left[@]}")
        ((${#pending[@]} == 0)) && break
        if ((SECONDS - start >= limit)); then
            for h in "${pending[@]}"; do host_failure_details "$h"; done
            die "host(s) ${pending[*]}: not booted within ${limit}s (see above)"
        fi
        sleep 0.1
    done
}

# probe_ssh_pg HOST TIMEOUT: a real ssh login with the lab key (as deploy with
# sudo when root may not log in), and psql as postgres inside the host, until it
# prints 1. Bounded. Writes errors to hosts/HOST/probe.err.
probe_ssh_pg() {
    local h=$1 limit=$2 start out login=root escalate="" bastion jump=()
    if [[ ${PGCONVERGE_LAB_ROOT_LOGIN:-} == no ]]; then
        login=deploy
        escalate="sudo -n"
    fi
    bastion=$(bastion_of "$h")
    [[ -n $bastion ]] && jump=(-o "ProxyJump=$login@$bastion")
    start=$SECONDS
    while :; do
        if out=$(timeout 20 ssh -F "$SSH_CONFIG" -o ConnectTimeout=3 "${jump[@]}" -l "$login" "$h" \
            "cd / && $escalate runuser -u postgres -- psql -XAtqc 'select 1'" </dev/null 2>"$HOSTS_DIR/$h/probe.err") &&
            [[ $out == 1 ]]; then
            return 0
        fi
        if ((SECONDS - start >= limit)); then
            printf 'ssh/psql probe output: %s\n' "$out" >>"$HOSTS_DIR/$h/probe.err"
            return 1
        fi
        sleep 0.2
    done
}

# check that every host reaches the next one's sshd over the bridge
probe_cross() {
    local h=$1 target=$2 taddr pid
    taddr=$(host_addr "$(host_index "$target")")
    pid=$(recorded_pid "$HOSTS_DIR/$h") || return 1
    nsenter -t "$pid" -m -u -i -n -p -r -w timeout 5 \
        bash -c "exec 3<>/dev/tcp/$taddr/22" </dev/null >/dev/null 2>&1
}

# ---- inside a host -----------------------------------------------------------

# The host's PID 1, at first: its private directories bound over the release's
# root (the machine's own, or the release root bound read-only), then tini in
# that root, with `__services` as its child.
cmd_boot() {
    local h=$1 addr=$2 hd=$3 labdir=$4 mode=$5 slot=${6:-} size=${7:-1} rootfs=${8:-} pg=${9:-15}
    trap 'echo "LAB-BOOT-FAIL: $h: line $LINENO: $BASH_COMMAND" >&2' ERR
    cd /
    # The boot slot, opened on fd 8 while the lab directory is still in sight.
    # tini and __services inherit it; __services takes the lock, releases it and
    # closes it, so no process started below holds it (8<&-).
    if [[ $mode == first ]]; then exec 8<"$slot"; fi
    echo "lab boot of $h ($addr), mode $mode, release root ${rootfs:-/}, $(date -Is)"
    printf '%s\n' "$h" >/proc/sys/kernel/hostname
    local r=$rootfs
    if [[ -n $r ]]; then
        # Where /var/lib/pgconverge, writable per host, is bound: made in the
        # shared release root (empty there) before it is bound read-only.
        [[ -d $r/var/lib/pgconverge ]] || install -d -m 0755 "$r/var/lib/pgconverge"
        # The release root, read-only for this host; its kernel filesystems fresh
        # (this host's PID namespace in /proc, its network namespace in /sys).
        mount --bind "$r" "$r"
        mount -o remount,bind,ro "$r"
        mount -t proc -o nosuid,nodev,noexec proc "$r/proc"
        mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$r/sys"
        mount --rbind /dev "$r/dev"
    fi
    # Bind the host's directory on /mnt first, so the sources stay reachable
    # whatever LAB_DIR is; /tmp and /var/tmp go last (LAB_DIR may be below them).
    mount --bind "$hd" /mnt
    # The shared directory, staged below /mnt while $labdir is surely reachable
    # (it may be below a directory bound over next).
    mount --bind "$labdir/shared" /mnt/shared-stage
    mount --bind /mnt/etc-postgresql "$r/etc/postgresql"
    mount --bind /mnt/etc-ssh "$r/etc/ssh"
    mount --bind /mnt/var-lib-postgresql "$r/var/lib/postgresql"
    if [[ -n $r ]]; then
        # Not over the machine's own /var/lib (bookworm hosts share it).
        mount --bind /mnt/var-lib-pgconverge "$r/var/lib/pgconverge"
    fi
    mount --bind /mnt/var-log "$r/var/log"
    mount --bind /mnt/srv "$r/srv"
    mount --bind /mnt/etc-pgbackrest "$r/etc/pgbackrest"
    mount --bind /mnt/var-lib-pgbackrest "$r/var/lib/pgbackrest"
    mount --bind /mnt/var-spool-pgbackrest "$r/var/spool/pgbackrest"
    if [[ -d /mnt/etc-pgbouncer && -d $r/etc/pgbouncer ]]; then
        mount --bind /mnt/etc-pgbouncer "$r/etc/pgbouncer"
    fi
    install -d -m 0755 "$r$SHARED_MOUNT"
    mount --bind /mnt/shared-stage "$r$SHARED_MOUNT"
    mount --bind /mnt/root "$r/root"
    mount --bind /mnt/etc-hosts "$r/etc/hosts"
    mount --bind /mnt/etc-hostname "$r/etc/hostname"
    mount --bind /mnt/etc-shadow "$r/etc/shadow"
    mount --bind /mnt/etc-passwd "$r/etc/passwd"
    mount --bind /mnt/etc-group "$r/etc/group"
    mount --bind /mnt/etc-sudoers.d "$r/etc/sudoers.d"
    mount --bind /mnt/etc-apt-conf.d "$r/etc/apt/apt.conf.d"
    mount --bind /mnt/home "$r/home"
    mount -t tmpfs -o mode=0755,nosuid,nodev,size=64m tmpfs "$r/run"
    # lab.sh itself, for tini to run in the host's root: copied while it is in
    # sight (the repository may be below /tmp, which is bound over next).
    install -m 0755 "$SELF" "$r/run/pgconverge-lab.sh"
    mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$r/dev/shm"
    mount --bind /mnt/tmp "$r/tmp"
    mount --bind /mnt/var-tmp "$r/var/tmp"
    umount /mnt/shared-stage
    umount /mnt
    # Hide the lab directory (other hosts' files, the client key) if it is
    # still visible, i.e. not below /tmp or /var/tmp (a release root never
    # shows it).
    if [[ -z $r && -e $labdir ]]; then
        mount -t tmpfs -o ro,mode=0755,size=4k lab-hidden "$labdir"
    fi
    trap - ERR
    if [[ -n $r ]]; then
        exec chroot "$r" /usr/bin/tini -- /run/pgconverge-lab.sh __services "$h" "$mode" "$size" "$pg"
    fi
    exec tini -- /run/pgconverge-lab.sh __services "$h" "$mode" "$size" "$pg"
}

# The host's services, as tini's child in the host's root: sshd, then the
# cluster (made on a first boot, every "auto" one started on a reboot).
cmd_services() {
    local h=$1 mode=$2 size=${3:-1} pg=${4:-15} k out waited made
    trap 'echo "LAB-BOOT-FAIL: $h: line $LINENO: $BASH_COMMAND" >&2' ERR
    cd /
    install -d -m 0755 /run/sshd
    install -d -m 2775 -o postgres -g postgres /run/postgresql
    install -d -m 1777 /run/lock

    /usr/sbin/sshd -t 8<&-
    /usr/sbin/sshd -E /var/log/sshd.log 8<&-
    echo "sshd started"

    if [[ $mode == first ]]; then
        waited=$SECONDS
        flock -w 1800 8 || { echo "LAB-BOOT-FAIL: $h: boot slot not free after 1800 s"; exit 1; }
        made=$SECONDS
        waited=$((made - waited))
        pg_createcluster "$pg" main -- --wal-segsize="$(wal_segment_mb_for "$size")" 8<&-
        tune_cluster "/etc/postgresql/$pg/main" "$(shared_buffers_for "$size")"
        pg_ctlcluster "$pg" main start 8<&-
    else
        # Reboot after a kill: every process of the old boot is gone, so any
        # postmaster.pid is stale (and its PID may be reused in the new PID
        # namespace). Start clusters marked "auto", as the boot of a machine does.
        local ver name datadir startconf
        while read -r ver name _ _ _ datadir _; do
            startconf=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "/etc/postgresql/$ver/$name/start.conf" 2>/dev/null | head -n1 | tr -d '[:space:]')
            [[ ${startconf:-auto} == auto ]] || continue
            rm -f "$datadir/postmaster.pid"
            pg_ctlcluster "$ver" "$name" start || echo "pg_ctlcluster $ver $name start failed"
        done < <(pg_lsclusters -h 2>/dev/null || true)
    fi
    if [[ $mode == first ]]; then
        for ((k = 0; k < 300; k++)); do
            out=$(runuser -u postgres -- psql -XAtqc 'select 1' 2>&1) && [[ $out == 1 ]] && break
            sleep 0.1
        done
        [[ $out == 1 ]] || { echo "LAB-BOOT-FAIL: $h: PostgreSQL does not answer after 30 s: $out"; exit 1; }
        echo "cluster made and started in $((SECONDS - made)) s, after $waited s waiting for its boot slot"
        flock -u 8
        exec 8<&-
    fi
    echo "LAB-BOOT-OK $h"
    trap - ERR
    exec sleep infinity
}

# The tuning an operator gives a server: in its postgresql.conf and in conf.d.
tune_cluster() {
    local conf=$1 shared_buffers=$2
    cat >>"$conf/postgresql.conf" <<TUNING

# Tuning of this server, by its operator.
shared_buffers = $shared_buffers
effective_cache_size = 1GB
work_mem = 8MB
log_line_prefix = '%m [%p] %q%u@%d app=%a '
TUNING
    install -d -o postgres -g postgres -m 0755 "$conf/conf.d"
    install -o postgres -g postgres -m 0644 /dev/null "$conf/conf.d/50-tuning.conf"
    cat >"$conf/conf.d/50-tuning.conf" <<'TUNING'
# Tuning kept apart from postgresql.conf, by its operator.
maintenance_work_mem = 128MB
random_page_cost = 1.1
log_min_duration_statement = 500ms
TUNING
}

# ---- commands ----------------------------------------------------------------

# host names of the current lab (from host directories and namespaces)
current_hosts() {
    {
        if [[ -d $HOSTS_DIR ]]; then
            find "$HOSTS_DIR" -mindepth 1 -maxdepth 1 -type d -name 'h*' -printf '%f\n'
        fi
        ip netns list 2>/dev/null | sed -n 's/^pgc-\(h[0-9]\+\)\( .*\)\{0,1\}$/\1/p'
        ip -o link show 2>/dev/null | sed -n 's/^[0-9]*: pgcv-\(h[0-9]\+\)[@:].*/\1/p'
    } | sort -u -V
}

do_down() {
    local h pid failed=0
    check_bridge_owner
    local -a hosts
    mapfile -t hosts < <(current_hosts)
    # kill all hosts first (in parallel: SIGKILL, then the bounded waits)
    for h in "${hosts[@]}"; do
        if pid=$(recorded_pid "$HOSTS_DIR/$h" 2>/dev/null); then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    for h in "${hosts[@]}"; do
        kill_host_pid "$h" || failed=1
    done
    for h in "${hosts[@]}"; do
        ip link del "pgcv-$h" 2>/dev/null || true
        if ip netns list 2>/dev/null | grep -qw "^pgc-$h"; then
            ip netns del "pgc-$h" || { log "$h: could not delete netns pgc-$h"; failed=1; }
        fi
    done
    if [[ -f $LAB_DIR/iptables-rule ]] && command -v iptables >/dev/null 2>&1; then
        iptables -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null || true
    fi
    if ip link show "$BRIDGE" >/dev/null 2>&1; then
        ip link del "$BRIDGE" || { log "could not delete bridge $BRIDGE"; failed=1; }
    fi
    ensure_unreachable_route
    ((failed == 0)) || die "down: some hosts could not be stopped (see above); $LAB_DIR kept"
    if [[ -d $LAB_DIR ]]; then
        rm -rf "$HOSTS_DIR" "$SHARED_DIR" "$BOOT_SLOTS"
        rm -f "$SSH_CONFIG" "$KNOWN_HOSTS" "$INVENTORY" "$IDENTITY" "$IDENTITY.pub" "$RELEASE_FILE" \
            "$LAB_DIR/iptables-rule" "$LAB_DIR"/*.tmp
    fi
}

cmd_down() {
    need_root
    check_lab_dir
    lab_lock
    do_down
    log "down"
}

cmd_up() {
    local n=${1:-} release=bookworm pg=""
    if ! [[ $n =~ ^[1-9][0-9]{0,2}$ ]] || ((n > MAX_HOSTS)); then
        die "usage: lab.sh up N [--release bookworm|trixie|forky] [--pg VERSION] (1 <= N <= $MAX_HOSTS)"
    fi
    shift
    while (($# > 0)); do
        case $1 in
            --release) (($# >= 2)) || die "--release needs a value"; release=$2; shift 2 ;;
            --pg) (($# >= 2)) || die "--pg needs a value"; pg=$2; shift 2 ;;
            *) die "up: unknown option '$1'" ;;
        esac
    done
    need_root
    check_lab_dir
    need_tools
    choose_release "$release" "$pg"
    local t0 i h pid
    t0=$(now)
    lab_lock
    local lock_wait
    lock_wait=$(elapsed "$t0")
    if [[ -d $LAB_DIR && ! -f $MARKER ]] && [[ -n $(ls -A "$LAB_DIR") ]]; then
        die "$LAB_DIR exists, is not empty and is not a lab directory (no $MARKER)"
    fi
    do_down
    # A failed up leaves nothing running (its logs were printed before), unless
    # PGCONVERGE_LAB_KEEP_ON_FAILURE=1 (then inspect, and run lab.sh down).
    trap up_failed EXIT
    mkdir -p "$LAB_DIR" "$HOSTS_DIR"
    chmod 0755 "$LAB_DIR"
    : >"$MARKER"
    printf '%s %s %s\n' "$LAB_RELEASE" "$PG_VERSION" "${LAB_ROOTFS:--}" >"$RELEASE_FILE"
    ensure_unreachable_route
    ssh-keygen -q -t ed25519 -N '' -C pgconverge-lab -f "$IDENTITY"
    install -d -m 0750 -o "$PG_UID" -g "$PG_GID" "$SHARED_DIR"
    # Mount points of the hosts' private pgBackRest directories. Debian's package
    # ships /var/lib, /var/spool and /var/log/pgbackrest but no /etc/pgbackrest
    # (pgBackRest's own default place for its configuration): the one change to
    # the machine, an empty directory.
    install -d -m 0755 /etc/pgbackrest /var/lib/pgbackrest /var/spool/pgbackrest
    setup_bridge
    local -a hosts=() pids=()
    for ((i = 1; i <= n; i++)); do
        hosts+=("h$i")
        prepare_host_dir "$i" "$n" &
        pids+=($!)
    done
    for ((i = 1; i <= n; i++)); do
        wait "${pids[$((i - 1))]}" || die "h$i: preparing $HOSTS_DIR/h$i failed"
    done
    for ((i = 1; i <= n; i++)); do
        setup_host_net "$i"
    done
    write_client_files "$n"
    local jobs
    jobs=$(boot_jobs)
    install -d -m 0755 "$BOOT_SLOTS"
    for ((i = 0; i < jobs; i++)); do : >"$BOOT_SLOTS/$i"; done
    for ((i = 1; i <= n; i++)); do
        launch_host "h$i" first "$BOOT_SLOTS/$(((i - 1) % jobs))" "$n"
    done
    local boot_timeout=${PGCONVERGE_LAB_BOOT_TIMEOUT:-$((60 + 5 * n))}
    wait_booted "$boot_timeout" "${hosts[@]}"
    verify_hosts "${hosts[@]}"
    trap - EXIT
    log "$n host(s) up ($LAB_RELEASE, PostgreSQL $PG_VERSION) in $(elapsed "$t0") s (of which ${lock_wait} s waiting for the lock); ssh -F $SSH_CONFIG h1"
}

# verify_hosts HOST...: ssh + psql from outside, then cross-host TCP, in parallel
verify_hosts() {
    local h i rc=0 nxt n=$#
    local -a hosts=("$@") pids=()
    for h in "${hosts[@]}"; do
        probe_ssh_pg "$h" "${PGCONVERGE_LAB_SSH_TIMEOUT:-30}" &
        pids+=($!)
    done
    for i in "${!hosts[@]}"; do
        if ! wait "${pids[$i]}"; then
            h=${hosts[$i]}
            log "$h: ssh login + psql probe failed: $(tail -n 5 "$HOSTS_DIR/$h/probe.err" | tr '\n' ' ')"
            host_failure_details "$h"
            rc=1
        fi
    done
    ((rc == 0)) || die "ssh/psql probe failed for some host(s) (see above)"
    pids=()
    for i in "${!hosts[@]}"; do
        nxt=h$(($(host_index "${hosts[$i]}") % n + 1))
        [[ -d $HOSTS_DIR/$nxt ]] || nxt=${hosts[$i]}
        probe_cross "${hosts[$i]}" "$nxt" &
        pids+=($!)
    done
    for i in "${!hosts[@]}"; do
        if ! wait "${pids[$i]}"; then
            log "${hosts[$i]}: cannot reach the next host's sshd over $BRIDGE"
            rc=1
        fi
    done
    ((rc == 0)) || die "cross-host connectivity check failed (see above; check iptables/nftables FORWARD rules and net.bridge.bridge-nf-call-iptables)"
}

require_up_host() {
    local h=$1
    host_index "$h" >/dev/null
    [[ -d $HOSTS_DIR/$h ]] || die "$h: no such host in the lab at $LAB_DIR (is the lab up? see lab.sh status)"
}

# The PID 1 of a running HOST, whose namespaces a command enters.
running_host_pid() {
    need_root
    check_lab_dir
    require_up_host "$1"
    recorded_pid "$HOSTS_DIR/$1" || die "$1: host is not running (killed or crashed?)"
}

cmd_exec() {
    (($# >= 2)) || die "usage: lab.sh exec HOST CMD..."
    local pid
    pid=$(running_host_pid "$1")
    shift
    exec nsenter -t "$pid" -m -u -i -n -p -r -w "$@"
}

# What a server that serves an application has, made inside HOST.
cmd_application() {
    (($# == 1)) || die "usage: lab.sh application HOST"
    local h=$1 pid
    pid=$(running_host_pid "$h")
    read_release
    nsenter -t "$pid" -m -u -i -n -p -r -w \
        env LAB_APP_PASSWORD="$LAB_APP_PASSWORD" PG_VERSION="$PG_VERSION" bash -s \
        <"$(dirname "$SELF")/application.sh"
    log "$h: serves the application (appdb, role app)"
}

cmd_kill() {
    (($# == 1)) || die "usage: lab.sh kill HOST"
    need_root
    check_lab_dir
    local h=$1
    require_up_host "$h"
    lab_lock
    recorded_pid "$HOSTS_DIR/$h" >/dev/null || die "$h: host is not running"
    kill_host_pid "$h" || die "$h: could not kill the host"
    log "$h: killed"
}

cmd_start() {
    (($# == 1)) || die "usage: lab.sh start HOST"
    need_root
    check_lab_dir
    local h=$1 t0
    t0=$(now)
    require_up_host "$h"
    lab_lock
    ! recorded_pid "$HOSTS_DIR/$h" >/dev/null || die "$h: host is already running"
    read_release
    ip netns list | grep -qw "^pgc-$h" || die "$h: network namespace pgc-$h is gone; run lab.sh up again"
    launch_host "$h" reboot
    wait_booted "${PGCONVERGE_LAB_BOOT_TIMEOUT:-60}" "$h"
    if host_is_cut "$h"; then
        log "$h: started in $(elapsed "$t0") s; it is cut off the network, so ssh was not checked (lab.sh heal $h)"
        return 0
    fi
    # after a reboot only sshd is required; clusters may legitimately not start
    local k
    for ((k = 0; k < 150; k++)); do
        timeout 10 ssh -F "$SSH_CONFIG" -o ConnectTimeout=3 "$h" true </dev/null 2>/dev/null && break
        sleep 0.2
    done
    timeout 10 ssh -F "$SSH_CONFIG" -o ConnectTimeout=3 "$h" true </dev/null || die "$h: sshd does not accept the lab key after start"
    log "$h: started in $(elapsed "$t0") s"
}

cmd_cut() {
    (($# == 1)) || die "usage: lab.sh cut HOST"
    need_root
    check_lab_dir
    local h=$1 addr
    require_up_host "$h"
    addr=$(host_addr "$(host_index "$h")")
    lab_lock
    ip link show dev "pgcv-$h" >/dev/null 2>&1 || die "$h: its link pgcv-$h is gone; run lab.sh up again"
    if host_is_cut "$h"; then
        log "$h: already cut"
        return 0
    fi
    # The bridge disables the port (and forgets the MACs learnt on it); the
    # host's eth0 loses its carrier. No process of the host is touched.
    ip link set dev "pgcv-$h" down || die "$h: could not set pgcv-$h down"
    forget_neigh "$addr"
    log "$h: cut off the network ($addr unreachable)"
}

cmd_heal() {
    (($# == 1)) || die "usage: lab.sh heal HOST"
    need_root
    check_lab_dir
    local h=$1 addr k state=""
    require_up_host "$h"
    addr=$(host_addr "$(host_index "$h")")
    lab_lock
    ip link show dev "pgcv-$h" >/dev/null 2>&1 || die "$h: its link pgcv-$h is gone; run lab.sh up again"
    if ! host_is_cut "$h"; then
        log "$h: not cut"
        return 0
    fi
    ip link set dev "pgcv-$h" up || die "$h: could not set pgcv-$h up"
    # stp is off: the port forwards as soon as both ends of the veth are up
    for ((k = 0; k < 50; k++)); do
        state=$(bridge link show dev "pgcv-$h" 2>/dev/null || true)
        [[ $state == *"state forwarding"* ]] && break
        sleep 0.1
    done
    [[ $state == *"state forwarding"* ]] || die "$h: bridge port pgcv-$h does not forward 5 s after heal: $state"
    # entries that failed while the host was cut: resolve afresh
    forget_neigh "$addr"
    if recorded_pid "$HOSTS_DIR/$h" >/dev/null; then
        for ((k = 0; k < 20; k++)); do
            timeout 3 bash -c "exec 3<>/dev/tcp/$addr/22" </dev/null >/dev/null 2>&1 && break
            sleep 0.2
        done
        ((k < 20)) || log "$h: warning: healed, but its sshd ($addr:22) does not accept TCP connections"
    fi
    log "$h: back on the network"
}

cmd_status() {
    check_lab_dir
    if [[ ! -f $INVENTORY ]]; then
        echo "lab is down (no $INVENTORY)"
        ip link show "$BRIDGE" >/dev/null 2>&1 && echo "warning: bridge $BRIDGE exists"
        return 1
    fi
    local h addr pid sshs pgs rc=0
    printf '%-4s %-12s %-8s %-6s %s\n' HOST ADDRESS PID1 SSHD POSTGRES
    while read -r h addr; do
        if pid=$(recorded_pid "$HOSTS_DIR/$h"); then
            if host_is_cut "$h"; then
                sshs="cut"
                rc=1
            elif timeout 10 ssh -F "$SSH_CONFIG" -o ConnectTimeout=2 "$h" true </dev/null 2>/dev/null; then sshs=ok; else sshs=FAIL; rc=1; fi
            if [[ $(nsenter -t "$pid" -m -u -i -n -p -r -w timeout 5 \
                runuser -u postgres -- psql -XAtqc 'select 1' </dev/null 2>/dev/null) == 1 ]]; then
                pgs=ok
            else
                pgs=FAIL
                rc=1
            fi
        else
            pid=-
            sshs=down
            pgs=down
            rc=1
        fi
        printf '%-4s %-12s %-8s %-6s %s\n' "$h" "$addr" "$pid" "$sshs" "$pgs"
    done <"$INVENTORY"
    return "$rc"
}

cmd_paths() {
    check_lab_dir
    printf 'lab_dir=%s\n' "$LAB_DIR"
    printf 'lock=%s\n' "$LOCK"
    printf 'ssh_config=%s\n' "$SSH_CONFIG"
    printf 'known_hosts=%s\n' "$KNOWN_HOSTS"
    printf 'identity=%s\n' "$IDENTITY"
    printf 'inventory=%s\n' "$INVENTORY"
    printf 'hosts_dir=%s\n' "$HOSTS_DIR"
}

usage() {
    sed -n '/^# Usage/,/^# -----/p' "$SELF" | sed -e 's/^# \{0,1\}//' -e '/^-----/d' >&2
    exit 2
}

main() {
    local cmd=${1:-}
    if [[ $cmd != __boot && $cmd != __services ]]; then
        set -E
        trap 'log "command failed (line $LINENO): $BASH_COMMAND"' ERR
    fi
    (($# > 0)) && shift
    case $cmd in
        up) cmd_up "$@" ;;
        down) cmd_down "$@" ;;
        status) cmd_status "$@" || exit 1 ;;
        exec) cmd_exec "$@" ;;
        kill) cmd_kill "$@" ;;
        application) cmd_application "$@" ;;
        start) cmd_start "$@" ;;
        cut) cmd_cut "$@" ;;
        heal) cmd_heal "$@" ;;
        paths) cmd_paths "$@" ;;
        requirements) lab_requirements ;;
        __boot) cmd_boot "$@" ;;
        __services) cmd_services "$@" ;;
        -h | --help | help | "") usage ;;
        *) log "unknown command '$cmd'"; usage ;;
    esac
}

main "$@"
