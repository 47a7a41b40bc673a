#!/usr/bin/env bash
# The demo: bring up a lab of 3 hosts and converge it with inventory.example.yaml.
# Run as root from anywhere: it installs the lab's packages when they are missing.
# The lab stays up afterwards (tests/lab/lab.sh down ends it).
set -euo pipefail
cd "$(dirname "$0")/../.."

# The lab's packages (sshd, PostgreSQL 15, tini, ...), installed when missing.
bash tests/install-requirements.sh tests/lab/requirements-apt.txt
cargo build --release --quiet
tests/lab/lab.sh up 3
ssh_config="${PGCONVERGE_LAB_DIR:-/var/tmp/pgconverge-lab}/ssh_config"
# A password for the demo only, made fresh each time and never written to disk here.
PG_REPLICATION_PASSWORD="demo-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export PG_REPLICATION_PASSWORD

echo "== the plan (dry run: nothing changes)"
target/release/pgconverge apply -i inventory.example.yaml --ssh-config "$ssh_config" --dry-run || true
echo "== apply"
target/release/pgconverge apply -i inventory.example.yaml --ssh-config "$ssh_config"
echo "== apply again: nothing to do"
target/release/pgconverge apply -i inventory.example.yaml --ssh-config "$ssh_config" --detailed-exitcode
echo
echo "The lab is up: ssh -F $ssh_config h1; tests/lab/lab.sh down to end it."
