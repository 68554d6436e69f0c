#!/bin/sh
# demo.sh BUILD - `make run`: make a demo image and show imgsh on it.
#
# The demo is a small qcow2 chain (base <- disk, with an internal snapshot
# and guest data in both layers), plus the same guest data as a raw image,
# all made by imgsh itself (create, its qemu-io personality, snapshot,
# convert): no qemu-utils needed.
# On a terminal it opens the interactive shell on disk.qcow2 (read-only;
# 'help' lists the commands). Otherwise it shows a few commands on the
# command line and replays scripts/tour.imgsh, a tour of the session.
set -e
BUILD=${1:-build}
IMGSH=$(cd "$BUILD" && pwd)/imgsh
QEMU_IMG_COMPAT=$(cd "$BUILD" && pwd)/compat/qemu-img
QEMU_IO_COMPAT=$(cd "$BUILD" && pwd)/compat/qemu-io
TOUR=$(cd "$(dirname "$0")" && pwd)/tour.imgsh
mkdir -p demo
cd demo

if [ ! -f disk.qcow2 ] || [ ! -f disk.raw ]; then
    rm -f base.qcow2 disk.qcow2 disk.raw
    "$IMGSH" create -q -f qcow2 base.qcow2 64M
    "$QEMU_IO_COMPAT" -f qcow2 -c 'write -P 0x11 0 1M' -c 'write -P 0x22 32M 512k' \
        base.qcow2 >/dev/null
    "$IMGSH" create -q -f qcow2 -b base.qcow2 -F qcow2 disk.qcow2
    "$QEMU_IO_COMPAT" -f qcow2 -c 'write -P 0x33 512k 1M' disk.qcow2 >/dev/null
    "$IMGSH" snapshot -c before-update disk.qcow2
    "$QEMU_IO_COMPAT" -f qcow2 -c 'write -z 0 64k' -c 'write -P 0x44 48M 256k' \
        disk.qcow2 >/dev/null
    "$IMGSH" convert -O raw disk.qcow2 disk.raw
fi

if [ -t 0 ] && [ -t 1 ]; then
    echo "imgsh demo in $(pwd): base.qcow2 <- disk.qcow2 (snapshot 'before-update'), disk.raw"
    echo "The shell opens disk.qcow2 read-only: try 'help', 'images', 'info', 'check',"
    echo "'read -v 0 64', 'snapshot -l'; Ctrl-D leaves."
    exec "$IMGSH" disk.qcow2
fi

step() {
    printf '\n$ %s\n' "$*"
    "$@" 2>&1 || printf '(exit code %s)\n' "$?"
}

echo "imgsh demo in $(pwd): base.qcow2 <- disk.qcow2 (snapshot 'before-update'), disk.raw"
step "$IMGSH" --version
step "$IMGSH" info --backing-chain disk.qcow2
step "$IMGSH" map disk.qcow2
step "$IMGSH" map --output=json base.qcow2
step "$IMGSH" info --output=json disk.raw
rm -f scratch.raw
step "$IMGSH" create -f raw scratch.raw 16M
step "$IMGSH" resize -f raw scratch.raw +16M
step "$IMGSH" info -f raw scratch.raw
step "$QEMU_IMG_COMPAT" info -f raw scratch.raw
step "$QEMU_IMG_COMPAT" resize -f raw scratch.raw 8M
rm -f scratch.raw
step "$IMGSH" snapshot -l disk.qcow2
rm -f small.qcow2
step "$IMGSH" convert -c -O qcow2 -o compression_type=zstd disk.qcow2 small.qcow2
step "$IMGSH" compare disk.qcow2 small.qcow2
step "$QEMU_IO_COMPAT" -c 'read -P 0x33 512k 512k' -c 'map' small.qcow2
rm -f small.qcow2
step "$IMGSH" check disk.qcow2
echo
echo "\$ imgsh -f tour.imgsh disk.qcow2      # the session, replayed from a script"
"$IMGSH" -f "$TOUR" disk.qcow2 2>&1 || printf '(exit code %s)\n' "$?"
rm -f scratch.qcow2
echo
echo "On a terminal, make run opens the interactive shell on disk.qcow2."
