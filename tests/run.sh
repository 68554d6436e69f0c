#!/bin/sh
# run.sh BUILD - every test: the cmocka unit tests, then the integration
# cases against the real qemu tools. Ends with "N passed, M failed" and
# exits non-zero when anything failed.
BUILD=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
results=$(mktemp "${TMPDIR:-/tmp}/imgsh-results.XXXXXX")
trap 'rm -f "$results" "$results.tap"' EXIT INT TERM

for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    CMOCKA_MESSAGE_OUTPUT=TAP timeout 600 "$t" >"$results.tap" 2>&1
    rc=$?
    grep -E '^ok [0-9]+' "$results.tap" | sed "s/^ok [0-9]* - /PASS $name: /" >>"$results"
    grep -E '^not ok [0-9]+' "$results.tap" | sed "s/^not ok [0-9]* - /FAIL $name: /" >>"$results"
    if grep -Eq '^not ok' "$results.tap"; then
        echo "FAIL in $name:"; sed 's/^/    /' "$results.tap" | grep -v '^    ok' | head -60
    elif [ $rc -ne 0 ]; then
        echo "FAIL $name: exited with $rc" >>"$results"
        echo "FAIL $name: exited with $rc"; sed 's/^/    /' "$results.tap" | tail -40
    fi
done

sh "$here/integration/run.sh" "$BUILD" "$results"

grep '^SKIP' "$results"
passed=$(grep -c '^PASS' "$results")
failed=$(grep -c '^FAIL' "$results")
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
