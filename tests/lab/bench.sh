#!/usr/bin/env bash
# Measures pgconverge on a lab of N hosts (1 primary, N-1 standbys): the time of
# the first converge, of a no-op dry run (the floor of every plan), and the SSH
# round trips per host. It prints figures; it asserts nothing about speed.
#
#   sudo tests/lab/bench.sh [N] [RUNS]      (default N=16, RUNS=5)
#
# It builds pgconverge in release mode, brings the lab up (replacing any running
# lab) and leaves it down at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."

hosts=${1:-16}
runs=${2:-5}
lab_dir=${PGCONVERGE_LAB_DIR:-/var/tmp/pgconverge-lab}
work=$(mktemp -d)
trap 'rm -rf "$work"; tests/lab/lab.sh down >/dev/null 2>&1 || true' EXIT

cargo build --release --quiet
tests/lab/lab.sh up "$hosts" >/dev/null

{
  printf 'all:\n  vars:\n    pg_version: 15\n    ansible_user: root\n'
  printf "    replication_password: \"{{ env('PG_REPLICATION_PASSWORD') }}\"\n"
  printf '  children:\n    primary:\n      hosts:\n        h1: { ansible_host: 10.77.0.11 }\n'
  printf '    standby:\n      hosts:\n'
  for i in $(seq 2 "$hosts"); do printf '        h%d: { ansible_host: 10.77.0.%d }\n' "$i" $((10 + i)); done
} > "$work/inventory.yaml"

PG_REPLICATION_PASSWORD="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export PG_REPLICATION_PASSWORD
pgconverge() { target/release/pgconverge apply -i "$work/inventory.yaml" --ssh-config "$lab_dir/ssh_config" "$@"; }
seconds() { date +%s.%N; }
elapsed() { awk -v from="$1" -v to="$2" 'BEGIN { printf "%.3f", to - from }'; }

start=$(seconds)
pgconverge > /dev/null 2> "$work/converge.err"
converged=$(seconds)
printf 'hosts: %d\nfirst converge: %.2f s\n' "$hosts" "$(elapsed "$start" "$converged")"
grep -E '^SSH round trips' "$work/converge.err" | sed 's/^/converge /'

times=()
for run in $(seq 1 "$runs"); do
  start=$(seconds)
  pgconverge --dry-run --detailed-exitcode > /dev/null 2> "$work/dry.err" || { echo "run $run: the dry run did not report no changes" >&2; exit 1; }
  times+=("$(elapsed "$start" "$(seconds)")")
done
printf 'no-op dry run (%d runs): %s s\n' "$runs" "$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "min %.2f, median %.2f, max %.2f", a[1], a[int((NR+1)/2)], a[NR]}')"
grep -E '^Gathered facts' "$work/dry.err" | sed 's/^/last dry run: /'
