#!/usr/bin/env bash
# pgconverge lab: the root of another Debian release, which lab hosts run inside
# (`lab.sh up N --release trixie`). Built once from Debian's archive with
# debootstrap, then cached outside the repository and shared read-only by the
# hosts; each host binds its private directories over it (see lab.sh).
#
# Usage (as root):
#   tests/lab/release-root.sh path RELEASE    print where RELEASE's root is kept
#   tests/lab/release-root.sh ensure RELEASE  build it unless a root built from the
#                                             same recipe is there; print its path
#
# Releases:
#   trixie (Debian 13): PostgreSQL 17 from trixie and PostgreSQL 15 from bookworm
#     (Debian 12) side by side, the bookworm source pinned low so that it gives
#     only what trixie lacks.
#   forky (Debian testing): PostgreSQL 18 from forky, 17 from trixie and 15 from
#     bookworm side by side, the older releases pinned low the same way (an
#     upgrade to 18 from 15 and from 17). Debian 12's debootstrap has no
#     forky script: the sid one builds it. The mirror's forky release file is past
#     its validity date, so apt in this root does not check it (LAB-NOTES 17).
# Seen on 2 cores: trixie's first build takes about 1.5 minutes (debootstrap about
# 20 s, the packages the rest) and about 600 MB; forky's 95 s (debootstrap 53 s)
# and about 800 MB; later runs reuse a root at once.
# Files: ${PGCONVERGE_LAB_ROOTS:-/var/cache/pgconverge-lab}/RELEASE, with the
# recipe's digest in RELEASE/.pgconverge-root; RELEASE.lock serialises builds.
# Mirror: PGCONVERGE_DEBIAN_MIRROR, default http://deb.debian.org/debian.
set -euo pipefail

ROOTS=${PGCONVERGE_LAB_ROOTS:-/var/cache/pgconverge-lab}
MIRROR=${PGCONVERGE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SELF=$(readlink -f "${BASH_SOURCE[0]}")

log() { printf 'lab root: %s\n' "$*" >&2; }
die() { printf 'lab root: error: %s\n' "$*" >&2; exit 1; }

# What a host needs inside the root: sshd, sudo, tini as PID 1, the PostgreSQL
# versions, rsync (pg_upgrade's standbys), pgBackRest, TLS's snakeoil certificate.
packages_of() {
    case $1 in
        trixie)
            printf '%s\n' openssh-server openssh-client sudo tini procps iproute2 rsync \
                ssl-cert ca-certificates postgresql-17 postgresql-client-17 \
                postgresql-15 postgresql-client-15 pgbackrest
            ;;
        forky)
            printf '%s\n' openssh-server openssh-client sudo tini procps iproute2 rsync \
                ssl-cert ca-certificates postgresql-18 postgresql-client-18 \
                postgresql-17 postgresql-client-17 postgresql-15 postgresql-client-15 \
                pgbackrest pgbouncer iputils-arping
            ;;
        *) die "unknown release '$1' (known: trixie, forky)" ;;
    esac
}

# The older releases whose PostgreSQL the root gets too, pinned low, one per line.
older_of() {
    case $1 in
        trixie) printf 'bookworm\n' ;;
        forky) printf 'trixie\nbookworm\n' ;;
    esac
}

# The debootstrap script that knows RELEASE: Debian 12's has none for forky,
# whose layout is sid's.
debootstrap_script_of() {
    case $1 in
        forky) printf '/usr/share/debootstrap/scripts/sid' ;;
        *) printf '/usr/share/debootstrap/scripts/%s' "$1" ;;
    esac
}

# Whether apt in RELEASE's root must accept a release file past its validity
# date (Debian testing's on this mirror).
stale_release_file() {
    [[ $1 == forky ]]
}

root_path() { printf '%s/%s' "$ROOTS" "$1"; }

# The recipe's digest: the build's functions as bash reads them (comments
# aside) and the package list. A root built from another recipe is built again.
recipe_digest() {
    { declare -f build packages_of older_of debootstrap_script_of stale_release_file; packages_of "$1"; } | sha256sum | cut -d' ' -f1
}

# build RELEASE DIR: a fresh root in DIR (which must not exist).
build() {
    local release=$1 dir=$2 older
    local -a olders
    mapfile -t olders < <(older_of "$release")
    local t0=$SECONDS
    log "$release: debootstrap into $dir (from $MIRROR)"
    debootstrap --variant=minbase "$release" "$dir" "$MIRROR" "$(debootstrap_script_of "$release")" \
        >"$dir.debootstrap.log" 2>&1 ||
        { tail -n 20 "$dir.debootstrap.log" >&2; die "$release: debootstrap failed (log above)"; }
    log "$release: debootstrap done in $((SECONDS - t0)) s"
    printf 'deb %s %s main\n' "$MIRROR" "$release" >"$dir/etc/apt/sources.list"
    : >"$dir/etc/apt/preferences.d/pgconverge-lab"
    for older in "${olders[@]}"; do
        printf 'deb %s %s main\n' "$MIRROR" "$older" >>"$dir/etc/apt/sources.list"
        cat >>"$dir/etc/apt/preferences.d/pgconverge-lab" <<EOF
# Packages of $older only where $release has none (PostgreSQL $older's major).
Package: *
Pin: release n=$older
Pin-Priority: 100

EOF
    done
    if stale_release_file "$release"; then
        printf 'Acquire::Check-Valid-Until "false";\n' >"$dir/etc/apt/apt.conf.d/99pgconverge-lab-valid-until"
    fi
    # Packages never start services in the root, and postgresql-common makes no
    # cluster of its own: each lab host makes its cluster at boot.
    printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
    chmod 0755 "$dir/usr/sbin/policy-rc.d"
    install -d "$dir/etc/postgresql-common/createcluster.d"
    printf 'create_main_cluster = false\n' >"$dir/etc/postgresql-common/createcluster.d/pgconverge-lab.conf"
    local -a packages
    mapfile -t packages < <(packages_of "$release")
    # The build's own mounts live in a private mount namespace and end with it.
    # shellcheck disable=SC2016 # the inner script's own variables
    unshare --mount --propagation private env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 bash -euo pipefail -c '
            dir=$1; shift
            mount -t proc proc "$dir/proc"
            mount --rbind /dev "$dir/dev"
            chroot "$dir" apt-get update -q
            chroot "$dir" apt-get install -y -q --no-install-recommends "$@"
            chroot "$dir" apt-get clean
        ' build "$dir" "${packages[@]}" >"$dir.packages.log" 2>&1 ||
        { tail -n 30 "$dir.packages.log" >&2; die "$release: installing packages failed (log above)"; }
    # Mount points of the hosts' private directories.
    install -d -m 0755 "$dir/etc/pgbackrest" "$dir/var/lib/pgbackrest" "$dir/var/spool/pgbackrest" \
        "$dir/srv" "$dir/home" "$dir/etc/sudoers.d"
    rm -f "$dir.debootstrap.log" "$dir.packages.log"
    log "$release: built in $((SECONDS - t0)) s, $(du -sh "$dir" | cut -f1)"
}

cmd_ensure() {
    local release=${1:-} dir digest
    [[ -n $release ]] || die "usage: release-root.sh ensure RELEASE"
    [[ $(id -u) == 0 ]] || die "must run as root"
    packages_of "$release" >/dev/null
    dir=$(root_path "$release")
    digest=$(recipe_digest "$release")
    install -d -m 0755 "$ROOTS"
    exec 7>>"$dir.lock"
    flock -w 900 7 || die "$release: another build holds $dir.lock"
    if [[ -f $dir/.pgconverge-root && $(<"$dir/.pgconverge-root") == "$digest" ]]; then
        printf '%s\n' "$dir"
        return 0
    fi
    command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
    local fresh=$dir.building
    rm -rf "$fresh" "$dir.old"
    build "$release" "$fresh"
    printf '%s\n' "$digest" >"$fresh/.pgconverge-root"
    # A root of another recipe goes only once the new one is complete.
    if [[ -e $dir ]]; then mv "$dir" "$dir.old"; fi
    mv "$fresh" "$dir"
    rm -rf "$dir.old"
    printf '%s\n' "$dir"
}

case ${1:-} in
    path) packages_of "${2:-}" >/dev/null; root_path "$2"; printf '\n' ;;
    ensure) cmd_ensure "${2:-}" ;;
    *) sed -n '/^# Usage/,/^# Releases/p' "$SELF" >&2; exit 2 ;;
esac
