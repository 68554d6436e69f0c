#!/bin/sh
# run.sh BUILD RESULTS - run every integration case against the real qemu-img.
# Appends PASS/FAIL/SKIP lines to RESULTS. VERBOSE=1 prints passes too;
# CASES='40-*' runs only the matching case files (several patterns: CASES='41-* 8*').
# Cases run JOBS at a time (default: one per core), each in its own work
# directory: much of their time is spent waiting for the disk (qemu-img and
# imgsh flush what they write), so they overlap well. Results and failure
# reports come out in case order.
here=$(cd "$(dirname "$0")" && pwd)

# run.sh --one CASE (internal): one case in $TOP/NAME/, results in
# $TOP/NAME.results, its report in $TOP/NAME.log
if [ "$1" = --one ]; then
    name=$(basename "$2" .sh)
    mkdir -p "$TOP/$name/work"
    WORK=$TOP/$name/work RESULTS=$TOP/$name.results CASE=$LABEL$name \
        bash -c '. "$1"/lib.sh; . "$2"' _ "$here" "$2" >"$TOP/$name.log" 2>&1 ||
        echo "FAIL $LABEL$name: case script exited with $?" >>"$TOP/$name.results"
    rm -rf "$TOP/$name/work"
    exit 0
fi

BUILD=${1:-build}
RESULTS=${2:-/dev/stdout}
if ! command -v qemu-img >/dev/null 2>&1 || ! command -v qemu-io >/dev/null 2>&1; then
    echo "SKIP integration: qemu-img/qemu-io not installed (make deps installs qemu-utils)" >>"$RESULTS"
    exit 0
fi
TOP=$(mktemp -d "${TMPDIR:-/tmp}/imgsh-it.XXXXXX")
trap 'rm -rf "$TOP"' EXIT INT TERM
ROOT=$(cd "$here/../.." && pwd)
BUILD=$(cd "$BUILD" && pwd)
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 1)}
export BUILD ROOT TOP LABEL VERBOSE SANITIZED

list=""
set -f      # the patterns are globbed below cases/, not here
for pat in ${CASES:-*}; do
    set +f
    for c in "$here"/cases/$pat.sh; do
        [ -e "$c" ] && list="$list $c"
    done
    set -f
done
set +f
[ -n "$list" ] && printf '%s\n' $list | xargs -P "$JOBS" -n 1 sh "$here/run.sh" --one
for c in $list; do
    name=$(basename "$c" .sh)
    [ -f "$TOP/$name.results" ] && cat "$TOP/$name.results" >>"$RESULTS"
    [ -s "$TOP/$name.log" ] && cat "$TOP/$name.log"
done
exit 0
