#!/bin/sh
# deps.sh - install, only when missing, the Debian packages imgsh needs to
# build (compiler, pkg-config, the -dev libraries) and to test (cmocka,
# qemu-utils as the test oracle, tmux for terminal tests, python3 for the
# damage corpus). Run by `make deps`.
# deps.sh build: only what building and running imgsh needs (make run: the
# demo is made by imgsh itself, so no qemu-utils)
BUILD_PKGS="gcc make pkg-config libedit-dev zlib1g-dev libzstd-dev libaio-dev nettle-dev \
libjansson-dev"
if [ "${1:-}" = build ]; then
    PKGS=$BUILD_PKGS
else
    PKGS="$BUILD_PKGS libcmocka-dev qemu-utils tmux bc time python3"
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "make deps: not a Debian system; install by hand: $PKGS" >&2
    exit 0
fi
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "make deps: installing$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# try without refreshing the package lists first: fast when they are fresh
$SUDO apt-get install -y --no-install-recommends $missing >/dev/null 2>&1 ||
    { $SUDO apt-get update -q && $SUDO apt-get install -y --no-install-recommends $missing; } || {
        echo "make deps: could not install:$missing" >&2
        exit 1
    }
