#!/bin/sh
# run.sh BUILD RESULTS - run every integration case against the real qemu-img.
# Appends PASS/FAIL/SKIP lines to RESULTS. VERBOSE=1 prints passes too;
# CASES='40-*' runs only the matching case files.
BUILD=${1:-build}
RESULTS=${2:-/dev/stdout}
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v qemu-img >/dev/null 2>&1 || ! command -v qemu-io >/dev/null 2>&1; then
    echo "SKIP integration: qemu-img/qemu-io not installed (make deps installs qemu-utils)" >>"$RESULTS"
    exit 0
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/imgsh-it.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
ROOT=$(cd "$here/../.." && pwd)
BUILD=$(cd "$BUILD" && pwd)
export BUILD RESULTS WORK ROOT
for c in "$here"/cases/${CASES:-*}.sh; do
    [ -e "$c" ] || continue
    CASE=$LABEL$(basename "$c" .sh) bash -c '. "$1"/lib.sh; . "$2"' _ "$here" "$c" ||
        echo "FAIL $(basename "$c" .sh): case script exited with $?" >>"$RESULTS"
done
