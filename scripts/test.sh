#!/usr/bin/env bash
# One command on a fresh machine (the CI command): install what is missing,
# build, and run
#   1. every test (unit, fuzz corpus replay, end to end, kill -9 crash trials,
#      storage faults, the valgrind-clean poll) on the plain build;
#   2. the same whole suite once more on an ASan+UBSan build (leaks detected,
#      the first UBSan report fatal), end-to-end tests driving the sanitized
#      custody binary;
#   3. every libFuzzer harness for $FUZZ_SECONDS (default 20) seconds each
#      (scripts/fuzz.sh; needs clang, which install-deps provides).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

scripts/install-deps.sh
BUILD_DIR=build scripts/build.sh
echo "== all tests (plain build)"
(cd build && ctest --output-on-failure -j2 --timeout 900)
plain=$SECONDS

echo "== all tests under ASan+UBSan"
# -O1: the level ASan is designed for; the suite starts its
# binaries thousands of times (-O0 costs ~15 % more).
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_C_FLAGS_DEBUG=-g -O1" -DCUSTODY_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$(nproc)"
# verify_asan_link_order=0: tests/faults preloads its failing-I/O shim
# (LD_PRELOAD) ahead of libasan; the shim forwards to the next definition, so
# ASan still sees every call. e2e.valgrind_poll is not registered in this
# build (valgrind cannot run an ASan binary); it ran in the plain pass.
(cd build-asan &&
   ASAN_OPTIONS=detect_leaks=1:verify_asan_link_order=0:detect_stack_use_after_return=1 \
   UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
   ctest --output-on-failure -j2 --timeout 1800)
asan=$SECONDS

# a compiler that links -fsanitize=fuzzer (clang with libclang-rt-dev)
fuzz_ok() {
    local d
    command -v clang >/dev/null || return 1
    d=$(mktemp -d)
    printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' >"$d/t.c"
    clang -fsanitize=fuzzer "$d/t.c" -o "$d/t" >/dev/null 2>&1
    local rc=$?
    rm -rf "$d"
    return $rc
}
if fuzz_ok; then
    echo "== fuzzing every harness for ${FUZZ_SECONDS:-20} s"
    scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
else
    echo "== fuzzing SKIPPED: clang with libFuzzer not available (scripts/install-deps.sh installs clang libclang-rt-dev)"
fi
echo "== test.sh: plain $((plain - start)) s, ASan+UBSan $((asan - plain)) s, fuzz $((SECONDS - asan)) s, total $((SECONDS - start)) s"
