#!/bin/sh
# run.sh BUILD [ASAN_BUILD] - every test: the cmocka unit tests, then the
# integration cases against the real qemu tools. With ASAN_BUILD (a build made
# by `make asan`), the unit tests, the hostile-input cases and the session
# cases run again on it, so that `make check` catches memory errors where they are likeliest.
# Ends with "N passed, M failed" and exits non-zero when anything failed.
BUILD=${1:-build}
ASAN_BUILD=$2
here=$(cd "$(dirname "$0")" && pwd)
results=$(mktemp "${TMPDIR:-/tmp}/imgsh-results.XXXXXX")
trap 'rm -f "$results" "$results.tap"' EXIT INT TERM

# unit BUILD LABEL: the cmocka tests of BUILD
unit() {
    for t in "$1"/tests/test_*; do
        [ -x "$t" ] || continue
        name=$2$(basename "$t")
        CMOCKA_MESSAGE_OUTPUT=TAP timeout 600 "$t" >"$results.tap" 2>&1
        rc=$?
        grep -E '^ok [0-9]+' "$results.tap" | sed "s|^ok [0-9]* - |PASS $name: |" >>"$results"
        grep -E '^not ok [0-9]+' "$results.tap" | sed "s|^not ok [0-9]* - |FAIL $name: |" >>"$results"
        if grep -Eq '^not ok' "$results.tap"; then
            echo "FAIL in $name:"; sed 's/^/    /' "$results.tap" | grep -v '^    ok' | head -60
        elif [ $rc -ne 0 ]; then
            echo "FAIL $name: exited with $rc" >>"$results"
            echo "FAIL $name: exited with $rc"; sed 's/^/    /' "$results.tap" | tail -40
        fi
    done
}

unit "$BUILD" ""
sh "$here/integration/run.sh" "$BUILD" "$results"
if [ -n "$ASAN_BUILD" ]; then
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
    unit "$ASAN_BUILD" "asan/"
    SANITIZED=1 LABEL=asan/ CASES=${ASAN_CASES:-4[12]-* 8[0-6]-*} sh "$here/integration/run.sh" "$ASAN_BUILD" "$results"
fi

grep '^SKIP' "$results"
passed=$(grep -c '^PASS' "$results")
failed=$(grep -c '^FAIL' "$results")
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
