#!/usr/bin/env bash
# Build the libFuzzer harnesses (tests/fuzz/fuzz_*.c) with clang, ASan and
# UBSan, and fuzz each for a bounded time.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 60; CI runs 20 (scripts/test.sh), a long
# campaign e.g. 3600. TARGET is a harness name (fuzz_json or json); default:
# every harness. Each target fuzzes a working corpus under
# $FUZZ_BUILD_DIR/corpus/<target> (default build-fuzz), seeded from
# tests/fuzz/corpus/<target> and kept between runs; the seed corpus in the
# repository is never written. Exits non-zero when any target crashes,
# leaks, times out, runs out of memory or breaks a property; the reproducer
# path and the command to replay it are printed.
#
# Environment: FUZZ_BUILD_DIR (build-fuzz), FUZZ_TIMEOUT (seconds one input
# may take, 20), FUZZ_RSS_MB (2048), CC (clang).
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
shift || true
if ! [[ $secs =~ ^[0-9]+$ ]] || ((secs < 1)); then
    echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
fi
BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
CC=${CC:-clang}
if ! command -v "$CC" >/dev/null; then
    echo "fuzz: $CC not found (scripts/install-deps.sh installs clang)" >&2
    exit 2
fi

# Largest input per target: enough for every seed, small enough that the
# fuzzer mutates structure rather than bulk.
max_len() {
    case $1 in
    fuzz_policy) echo 1024 ;;
    fuzz_headers) echo 4096 ;;
    fuzz_paginate | fuzz_contract | fuzz_jsonschema) echo 8192 ;;
    fuzz_json | fuzz_tabular | fuzz_config) echo 16384 ;;
    *) echo 4096 ;;
    esac
}

targets=()
if (($# == 0)); then
    for src in tests/fuzz/fuzz_*.c; do
        targets+=("$(basename "$src" .c)")
    done
else
    for t in "$@"; do
        t=fuzz_${t#fuzz_}
        if [[ ! -f tests/fuzz/$t.c ]]; then
            echo "fuzz: no harness tests/fuzz/$t.c" >&2
            exit 2
        fi
        targets+=("$t")
    done
fi

echo "== fuzz: building ${#targets[@]} harnesses with $CC into $BUILD_DIR"
CC=$CC cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCUSTODY_FUZZ=ON -DCUSTODY_SANITIZE=ON \
    >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target "${targets[@]}" >/dev/null

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
summary=()
for t in "${targets[@]}"; do
    name=${t#fuzz_}
    corpus=$BUILD_DIR/corpus/$name
    artifacts=$BUILD_DIR/artifacts/$name
    log=$BUILD_DIR/logs/$name.log
    mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
    # seed the working copy (new seeds join a corpus kept from earlier runs)
    if [[ -d tests/fuzz/corpus/$name ]]; then
        cp -n tests/fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null || true
    fi
    echo "== fuzz: $t for ${secs}s (max_len $(max_len "$t"), corpus $corpus)"
    rc=0
    "$BUILD_DIR/$t" "$corpus" -max_total_time="$secs" -max_len="$(max_len "$t")" \
        -timeout="${FUZZ_TIMEOUT:-20}" -rss_limit_mb="${FUZZ_RSS_MB:-2048}" \
        -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)
    units=$(ls "$corpus" | wc -l)
    line=$(printf '%-16s %12s execs %8s exec/s  %-22s corpus %5d  %s' "$t" "${execs:-?}" "${speed:-?}" \
        "${cov:-}" "$units" "$([[ $rc == 0 ]] && echo ok || echo "FAILED (exit $rc)")")
    echo "$line"
    summary+=("$line")
    if [[ $rc != 0 ]]; then
        failed+=("$t")
        # the report: the sanitizer / property message and its stack
        grep -E -A40 '^==[0-9]+==ERROR|runtime error|property violated|ERROR: libFuzzer|Test unit written' \
            "$log" | head -80 || tail -40 "$log"
        for a in $(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log"); do
            echo "REPRODUCER: $a"
            echo "  replay:   $BUILD_DIR/$t $a"
            echo "  minimise: $BUILD_DIR/$t -minimize_crash=1 -runs=10000 $a"
        done
        echo "full log: $log"
    fi
done

echo "== fuzz summary (${secs}s per target)"
printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
    echo "fuzz: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: all ${#targets[@]} targets clean"
