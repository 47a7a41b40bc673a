#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh machine, then runs
# `cargo fmt --check`, clippy and every test, the end-to-end ones against labs
# of real hosts on this machine. CI runs it through .ci/run.
#
# Needs:
# - Debian 12 (bookworm): the lab's default hosts run the machine's own Debian
#   and its PostgreSQL 15 (tests/lab/requirements-apt.txt); Debian 13 and
#   testing hosts run in roots this script builds;
# - root: the lab is made of network namespaces, and the packages are
#   installed with apt-get (sudo is not needed, and is installed as a package
#   the lab's hosts use);
# - Rust, no older than `rust-version` in Cargo.toml (rustup adds rustfmt and
#   clippy when they are missing);
# - network access to Debian's archive, PyPI (ansible-core) and crates.io;
# - time: about 30 minutes on 2 cores once the packages, roots and cargo-deb
#   are there (CI), about 36 to 40 minutes the first time on a fresh machine.
#
# Usage: tests/run.sh [ARGS...]   (ARGS go to `cargo test`, e.g. `--test offline`)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "tests/run.sh: run as root: the lab builds network namespaces and the packages are installed with apt-get" >&2
  exit 1
fi
# shellcheck source=/dev/null
release=$(. /etc/os-release && echo "${ID:-unknown} ${VERSION_ID:-}")
if [ "$release" != "debian 12" ]; then
  echo "tests/run.sh: the tests need Debian 12 (bookworm), whose PostgreSQL 15 the lab's hosts run; this is ${release}" >&2
  exit 1
fi
if ! command -v cargo >/dev/null; then
  echo "tests/run.sh: cargo is missing: install Rust (for example with rustup, https://rustup.rs), then run this again" >&2
  exit 1
fi
echo "tests/run.sh: installing what the tests need, then fmt, clippy and cargo test (about 30 minutes; 36 to 40 the first time on a fresh machine)"

# Installs, with apt-get, every listed package that is missing (on a fresh
# machine: sshd, PostgreSQL 15, tini, sudo, shellcheck, Graphviz, ...).
bash tests/install-requirements.sh tests/lab/requirements-apt.txt tests/requirements-apt.txt
# ansible-core 2.19 in a virtualenv, the reference tests/offline/ansible_compat.rs compares with.
bash tests/install-ansible.sh
# What the tests run, present now or the run stops here, naming it.
for tool in /usr/sbin/sshd pg_createcluster pg_ctlcluster psql tini sudo openssl ssh ssh-keygen \
  unshare nsenter ip shellcheck dot pgbackrest script debootstrap dpkg-deb dpkg-shlibdeps strip; do
  command -v "$tool" >/dev/null || { echo "missing after installing the packages: $tool" >&2; exit 1; }
done
ansible_inventory="${PGCONVERGE_ANSIBLE_VENV:-/var/tmp/pgconverge-ansible}/bin/ansible-inventory"
[ -x "$ansible_inventory" ] || { echo "missing after installing: $ansible_inventory" >&2; exit 1; }

# The Debian 13 root the lab's `--release trixie` hosts run in (debootstrap and
# Debian's packages: about a minute and a half the first time, then cached).
time bash tests/lab/release-root.sh ensure trixie
# The Debian testing (forky) root the lab's `--release forky` hosts run in, with
# PostgreSQL 18, trixie's 17 and bookworm's 15 beside it (about 100 s the first
# time on 2 cores, debootstrap 33 to 53 s of it; then cached). The lab tests of
# PostgreSQL 18 run on it (converge, failover, archiving, pgBackRest, failover
# slots, the upgrades to 18), and the settings catalog's 18 rows can be read
# again from its server (src/pg_settings.tsv).
time bash tests/lab/release-root.sh ensure forky

cargo --version
# rustfmt and clippy, which the style checks below need: a toolchain from
# rustup may lack them (a minimal profile), and rustup adds them; without
# rustup the run stops here, naming what to install.
for tool in rustfmt:fmt clippy:clippy; do
  component=${tool%%:*}
  subcommand=${tool#*:}
  if ! cargo "$subcommand" --version >/dev/null 2>&1; then
    if command -v rustup >/dev/null; then
      rustup component add "$component" || { echo "cannot add the $component component with rustup" >&2; exit 1; }
    else
      echo "missing: $component (cargo $subcommand); install it, for example with rustup component add $component" >&2
      exit 1
    fi
  fi
done
cargo fetch --locked
# The style the code keeps (STYLE.md): formatted, and no clippy warning in any target.
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
# cargo-deb for tests/offline/package.rs, which packages the tests' binary with
# packaging/build-deb.sh (about a minute and a half to build the first time; a
# second install of the same version does nothing).
cargo install cargo-deb --locked --version 3.8.0
cargo build --locked --all-targets
# Every test: the unit tests, the offline ones and the lab's.
cargo test --locked "$@"
