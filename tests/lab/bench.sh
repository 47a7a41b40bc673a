#!/usr/bin/env bash
# The benchmark of issue 15: pgconverge against the floor, on labs of several
# sizes (1 primary, N-1 standbys).
#
#   sudo tests/lab/bench.sh [--runs R] [SIZES...]    (default sizes 16 64 100;
#                                                     R from RUNS, default 7)
#
# For each size it brings the lab up (replacing any running lab), converges it
# once (timed), then measures R times, interleaved so both see the same machine:
#   floor    tests/lab/floor.sh: one fresh ssh per host, in parallel, one round
#            trip doing the reads of a no-op plan
#   dry run  pgconverge apply --dry-run --detailed-exitcode, which must exit 0
#   warm     the same with --persist, right after another such run: it reuses
#            that run's master connections (the first run of a size, which
#            only connects, is not counted); `pgconverge disconnect` at the end
# The order alternates from one run to the next (floor first, then dry run
# first). One more dry run, untimed, runs under strace to count the ssh
# processes pgconverge starts per host (skipped without strace).
#
# It prints one figure a line, `SIZE NAME VALUE...` (times in seconds, memory in
# MB), and asserts nothing about speed; it fails loudly (exit 1, keeping its logs)
# when a converge fails or a dry run after it plans a change. The lab is down at
# the end (PGCONVERGE_LAB_KEEP_ON_FAILURE=1 keeps it after a failure).
# Memory is the machine's in use (MemTotal - MemAvailable), measured once it
# settles: before the lab, then its growth after up and after the first
# converge; disk is the lab directory's size once converged. A controller's peak
# memory is its maximum resident set size (GNU time, package `time`). It refuses
# to start without the disk the largest lab needs: every host keeps about one WAL
# segment per standby cloned after it (16MB up to 32 hosts, 1MB beyond; see
# lab.sh), plus about 100 MB of its own (a converged 100-host lab took 13 GB).
#
# It holds the lab's lock for its whole run. pgconverge is built in release mode
# (cargo's target directory), or taken from PGCONVERGE_BIN.
set -euo pipefail
cd "$(dirname "$0")/../.."

runs=${RUNS:-7}
sizes=()
while (($# > 0)); do
    case $1 in
        --runs) runs=${2:-}; shift 2 || { echo "bench: --runs needs a number" >&2; exit 2; } ;;
        --runs=*) runs=${1#--runs=}; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
        *) sizes+=("$1"); shift ;;
    esac
done
((${#sizes[@]} > 0)) || sizes=(16 64 100)
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench: RUNS must be a positive number, not '$runs'" >&2; exit 2; }
for n in "${sizes[@]}"; do
    if ! [[ $n =~ ^[1-9][0-9]{0,2}$ ]] || ((n < 2 || n > 100)); then
        echo "bench: a size is a number of hosts from 2 to 100, not '$n'" >&2
        exit 2
    fi
done
[[ $(id -u) == 0 ]] || { echo "bench: must run as root (it brings the lab up)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "bench: needs GNU time (/usr/bin/time, package time)" >&2; exit 1; }

lab=tests/lab/lab.sh
# disk_needed N: MB a converged lab of N hosts needs, about
disk_needed() { if (($1 > 32)); then echo $(($1 * ($1 + 100))); else echo $(($1 * ($1 * 16 + 100))); fi; }
needed=0
for n in "${sizes[@]}"; do
    (($(disk_needed "$n") > needed)) && needed=$(disk_needed "$n")
done
lab_dir=$($lab paths | sed -n 's/^lab_dir=//p')
ssh_config=$($lab paths | sed -n 's/^ssh_config=//p')
lock=$($lab paths | sed -n 's/^lock=//p')
disk_free=$(df -Pm "$(dirname "$lab_dir")" | awk 'NR == 2 { print $4 }')
((disk_free >= needed)) ||
    { echo "bench: the labs need about $needed MB of free disk below $(dirname "$lab_dir"), $disk_free MB are free" >&2; exit 1; }
work=$(mktemp -d /var/tmp/pgconverge-bench.XXXXXX)
failed=0
finish() {
    local rc=$?
    ((rc == 0)) || failed=1
    if ((failed)) && [[ ${PGCONVERGE_LAB_KEEP_ON_FAILURE:-} == 1 ]]; then
        echo "bench: the lab is left up (PGCONVERGE_LAB_KEEP_ON_FAILURE=1): $lab down when done" >&2
    else
        PGCONVERGE_LAB_LOCK_HELD=1 $lab down >/dev/null 2>&1 || echo "bench: lab.sh down failed" >&2
    fi
    if ((failed)); then echo "bench: logs kept in $work" >&2; else rm -rf "$work"; fi
}
fail() {
    failed=1
    echo "bench: FAILED: $*" >&2
    exit 1
}

# The lab is ours for the whole run: nothing else brings it up or down meanwhile.
exec 9>>"$lock"
flock -w "${PGCONVERGE_LAB_LOCK_TIMEOUT:-300}" 9 || { echo "bench: the lab's lock $lock is held by another run" >&2; exit 1; }
export PGCONVERGE_LAB_LOCK_HELD=1
trap finish EXIT

if [[ -n ${PGCONVERGE_BIN:-} ]]; then
    bin=$PGCONVERGE_BIN
else
    cargo build --release --quiet 9>&-
    target_dir=$(cargo metadata --format-version 1 --no-deps 9>&- | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
    bin=$target_dir/release/pgconverge
fi
[[ -x $bin ]] || fail "no pgconverge at $bin"

PG_REPLICATION_PASSWORD="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export PG_REPLICATION_PASSWORD

now() { printf '%s' "$EPOCHREALTIME"; }
since() { awk -v from="$1" -v to="$(now)" 'BEGIN { printf "%.3f", to - from }'; }
memory_in_use() { awk '/^MemTotal:/ { t = $2 } /^MemAvailable:/ { a = $2 } END { printf "%d", (t - a) / 1024 }' /proc/meminfo; }
# settle: write back what is dirty, then wait (at most 60 s) until the memory in
# use moves by less than 20 MB in 2 s: a lab just taken down is still being
# freed, one just converged still being written.
settle() {
    local k before after
    sync
    after=$(memory_in_use)
    for ((k = 0; k < 30; k++)); do
        before=$after
        sleep 2
        after=$(memory_in_use)
        ((after - before < 20 && before - after < 20)) && break
    done
}
# stats FILE: median, min and max of the numbers in FILE, one a line
stats() { sort -n "$1" | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "median=%.3f min=%.3f max=%.3f runs=%d", m, v[1], v[NR], NR }'; }
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# round_trips FILE: per host, from pgconverge's "SSH round trips: h1 3, h2 1." line
round_trips() {
    sed -n 's/^SSH round trips: \(.*\)\.$/\1/p' "$1" | tr ',' '\n' |
        awk 'NF == 2 { if (NR == 1) { first = $1 "=" $2 } else { if (!n || $2 < lo) lo = $2; if ($2 > hi) hi = $2; n++ } }
            END { if (first == "") print "n/a"; else printf "%s others=%s..%s\n", first, lo, hi }'
}
apply=("$bin" apply -i "$work/inventory.yaml" --ssh-config "$ssh_config")
# timed NAME COMMAND...: runs it under GNU time; appends its seconds to NAME.times
# and its maximum resident set (kB) to NAME.rss; its output goes to NAME.out/.err
timed() {
    local name=$1 start rc=0
    shift
    start=$(now)
    /usr/bin/time -o "$work/$name.time" -f '%M' "$@" >"$work/$name.out" 2>"$work/$name.err" 9>&- || rc=$?
    since "$start" >>"$work/$name.times"
    echo >>"$work/$name.times"
    tail -n 1 "$work/$name.time" >>"$work/$name.rss"
    return "$rc"
}
figure() { printf '%s %s\n' "$n" "$*"; }

printf 'bench pgconverge=%s cores=%s runs=%s sizes=%s\n' \
    "$(git describe --always --dirty 2>/dev/null || echo unknown)" "$(nproc)" "$runs" "${sizes[*]}"
bench_start=$(now)
for n in "${sizes[@]}"; do
    rm -f "$work"/*.times "$work"/*.rss
    $lab down >/dev/null 2>&1 || fail "lab.sh down failed"
    settle
    memory_before=$(memory_in_use)
    start=$(now)
    $lab up "$n" >"$work/lab-up.log" 2>&1 9>&- || { tail -n 30 "$work/lab-up.log" >&2; fail "lab.sh up $n failed"; }
    figure lab_up_s "$(since "$start")"
    settle
    figure memory_before_mb "$memory_before"
    figure lab_memory_mb "$(($(memory_in_use) - memory_before))"

    {
        printf 'all:\n  vars:\n    pg_version: 15\n    ansible_user: root\n'
        printf "    replication_password: \"{{ env('PG_REPLICATION_PASSWORD') }}\"\n"
        printf '  children:\n    primary:\n      hosts:\n        h1: { ansible_host: 10.77.0.11 }\n'
        printf '    standby:\n      hosts:\n'
        for i in $(seq 2 "$n"); do printf '        h%d: { ansible_host: 10.77.0.%d }\n' "$i" $((10 + i)); done
    } >"$work/inventory.yaml"

    if ! timed converge "${apply[@]}"; then
        grep -E '^(failed|skipped) ' "$work/converge.err" | head -n 20 >&2 || true
        tail -n 5 "$work/converge.err" >&2
        fail "$n hosts: the first converge failed"
    fi
    figure converge_s "$(cat "$work/converge.times")"
    figure converge_max_rss_mb "$(awk '{ printf "%.1f", $1 / 1024 }' "$work/converge.rss")"
    figure converge_round_trips "$(round_trips "$work/converge.err")"
    settle
    figure converged_memory_mb "$(($(memory_in_use) - memory_before))"
    figure converged_disk_mb "$(du -sm "$lab_dir" | cut -f1)"

    for ((run = 1; run <= runs; run++)); do
        order=(floor dry_run)
        ((run % 2 == 0)) && order=(dry_run floor)
        for what in "${order[@]}"; do
            case $what in
                floor)
                    timed floor tests/lab/floor.sh || { cat "$work/floor.err" >&2; fail "$n hosts, run $run: the floor failed"; }
                    ;;
                dry_run)
                    if ! timed dry_run "${apply[@]}" --dry-run --detailed-exitcode; then
                        cat "$work/dry_run.out" >&2
                        tail -n 5 "$work/dry_run.err" >&2
                        fail "$n hosts, run $run: the dry run after the converge did not exit 0 (changes planned, or an error)"
                    fi
                    ;;
            esac
        done
        # (c) warm: a dry run right after another with --persist, reusing its
        # master connections (the first warm run of a size only connects).
        if ! PGCONVERGE_CONTROL_DIR=$work/control timed warm "${apply[@]}" --persist --dry-run --detailed-exitcode; then
            tail -n 5 "$work/warm.err" >&2
            fail "$n hosts, run $run: the warm dry run did not exit 0"
        fi
        ((run > 1)) || : >"$work/warm.times"
    done
    figure floor_s "$(stats "$work/floor.times")"
    figure dry_run_s "$(stats "$work/dry_run.times")"
    figure ratio_dry_run_to_floor "$(awk -v d="$(median "$work/dry_run.times")" -v f="$(median "$work/floor.times")" 'BEGIN { printf "%.2f", d / f }')"
    if ((runs > 1)); then
        figure warm_dry_run_s "$(stats "$work/warm.times")"
        figure ratio_warm_to_floor "$(awk -v d="$(median "$work/warm.times")" -v f="$(median "$work/floor.times")" 'BEGIN { printf "%.2f", d / f }')"
        figure warm_reused "$(grep -o '[0-9]* persisted connections reused' "$work/warm.err" || echo none)"
    fi
    PGCONVERGE_CONTROL_DIR=$work/control "$bin" disconnect 2>/dev/null 9>&- || fail "$n hosts: pgconverge disconnect failed"
    figure dry_run_max_rss_mb "$(sort -n "$work/dry_run.rss" | tail -n 1 | awk '{ printf "%.1f", $1 / 1024 }')"
    gathered=$(sed -n 's/^Gathered facts from \([0-9]*\) of [0-9]* hosts in .* (\([0-9]*\) SSH round trips).*/\1 \2/p' "$work/dry_run.err")
    per_host=$(round_trips "$work/dry_run.err")
    if [[ $per_host == n/a && -n $gathered ]]; then
        per_host=$(awk -v g="$gathered" 'BEGIN { split(g, f, " "); printf "%.2f (of %d hosts)", f[2] / f[1], f[1] }')
    fi
    figure dry_run_round_trips_per_host "$per_host"
    if command -v strace >/dev/null; then
        ssh_path=$(command -v ssh)
        strace -f -qq -e trace=execve -e signal=none -o "$work/strace" \
            "${apply[@]}" --dry-run --detailed-exitcode >/dev/null 2>"$work/strace.err" 9>&- || fail "$n hosts: the dry run under strace did not exit 0"
        figure dry_run_ssh_processes_per_host "$(grep -cF "execve(\"$ssh_path\"," "$work/strace" | awk -v n="$n" '{ printf "%.2f", $1 / n }')"
    else
        figure dry_run_ssh_processes_per_host "n/a (strace not installed)"
    fi
done
n=all
figure bench_wall_s "$(since "$bench_start")"
