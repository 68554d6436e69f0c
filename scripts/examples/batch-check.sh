#!/bin/sh
# batch-check.sh - check many images, then print a summary:
#   scripts/examples/batch-check.sh IMAGE...
# Each image is checked read-only (imgsh check --output=json); the summary
# counts clean, leaking, corrupt and unreadable images. Exit status: 0 when
# every image is clean, else the worst check status seen (1 > 2 > 3).
IMGSH=${IMGSH:-imgsh}
clean=0 leaky=0 corrupt=0 failed=0 worst=0
for img in "$@"; do
    out=$("$IMGSH" check --output=json "$img" 2>/dev/null)
    rc=$?
    case $rc in
    0) clean=$((clean + 1)); what=clean ;;
    3) leaky=$((leaky + 1)); what="$(echo "$out" | sed -n 's/.*"leaks": \([0-9]*\).*/\1/p') leaked clusters" ;;
    2) corrupt=$((corrupt + 1)); what="$(echo "$out" | sed -n 's/.*"corruptions": \([0-9]*\).*/\1/p') errors" ;;
    *) failed=$((failed + 1)); what="could not be checked (status $rc)" ;;
    esac
    printf '%-40s %s\n' "$img" "$what"
    case $rc in
    1|63) worst=1 ;;
    2) [ "$worst" = 1 ] || worst=2 ;;
    3) [ "$worst" = 0 ] && worst=3 ;;
    esac
done
echo "$# images: $clean clean, $leaky with leaks, $corrupt with errors, $failed not checked"
exit $worst
