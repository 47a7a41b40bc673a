#!/usr/bin/env bash
# The chaos suite's long form: COUNT seeded sequences (default 100) of role
# changes and faults on the 3-host lab, under a real client's writes; see
# tests/lab/chaos_lab.rs for what runs and what is checked. As root, like every lab
# test; it holds the lab's lock for its whole run.
#
#   bash tests/chaos.sh [COUNT] [SEED] [OPERATIONS] [FIRST]
#
# FIRST (default 0) is the index of the first sequence: a long run stopped
# after sequence N goes on with the same SEED and FIRST = N + 1.
# A failure prints the sequence's seed and its operations: run that one alone
# with `bash tests/chaos.sh 1 SEED`.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-100}
seed=${2:-$(date +%s)}
operations=${3:-5}
first=${4:-0}
[[ $count =~ ^[0-9]+$ && $seed =~ ^[0-9]+$ && $operations =~ ^[0-9]+$ && $first =~ ^[0-9]+$ ]] ||
  { echo "usage: tests/chaos.sh [COUNT] [SEED] [OPERATIONS] [FIRST] (whole numbers)" >&2; exit 64; }
echo "chaos: $count sequences of $operations operations from seed $seed, from sequence $first" >&2
PGCONVERGE_CHAOS_SEQUENCES=$count PGCONVERGE_CHAOS_SEED=$seed PGCONVERGE_CHAOS_OPERATIONS=$operations \
  PGCONVERGE_CHAOS_FIRST=$first \
  exec cargo test --locked --test lab chaos_lab:: -- --nocapture
