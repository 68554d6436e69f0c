#!/usr/bin/env bash
# qcow2_inspect_selftest.sh - validate tests/tools/qcow2_inspect.py against
# qemu-img / qemu-io 7.2, which serve as independent oracles.
#
# Builds a varied set of qcow2 images in a fresh temporary directory
# (cluster sizes 512, 4k, 32k, 64k, 2M; compat=0.10; extended L2;
# refcount_bits 1, 4, 16, 64; lazy refcounts; zstd; compressed clusters,
# also ones straddling host clusters; zero and preallocated-zero clusters;
# discards; internal snapshots; persistent bitmaps with data; VM state;
# backing chains qcow2 -> qcow2 -> raw with relative, absolute and probed
# backing names), then checks, per image:
#   header  - `l1 --all` against an independent struct read of the header
#             and L1 table, and against `qemu-img info`;
#   l2      - listings (filtered / --all / --guest) agree with each other;
#   map     - `translate` at every `qemu-img map` run boundary, inside runs,
#             at random offsets and past the end agrees with map's depth,
#             offset, zero and data; path file names agree with
#             `qemu-img info --backing-chain`;
#   owner   - every data cluster listed by `l2` (active and snapshot
#             tables) has the matching `data` owner entry, CLI `owner`
#             agrees with the bulk reference walk;
#   refcount- `qemu-img check` finds the image clean, and then the refcount
#             of every cluster of the file equals the number of owner
#             references (qemu's own invariant: shared clusters are 2);
#   snapshots - `snapshots`/`snapshot-show`/`l1 --snapshot` against
#             `qemu-img info` and `qemu-img snapshot -l` (also on a copy
#             with patched vm-clock, vm-state-size and icount fields);
#   features- the image really contains what it was built to exercise;
#   ro      - the image's bytes are unchanged after all of the above.
# Plus error handling (missing, non-qcow2, qcow v1, tiny files: exit 1 with
# one stderr line; usage errors: exit 2) and a fuzz pass over damaged and
# hostile copies (no crash, no hang, valid JSON on success).
#
# Prints PASS/FAIL lines; exits non-zero if anything failed.  With
# QI_TIMING=1 each line is followed by the seconds that check took.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
TOOL=$HERE/qcow2_inspect.py
QEMU_IMG=${QEMU_IMG:-/usr/bin/qemu-img}
QEMU_IO=${QEMU_IO:-/usr/bin/qemu-io}
# The system interpreter starts much faster than a pyenv shim.
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi
# Importing the tool must not leave a __pycache__ next to it.
export PYTHONDONTWRITEBYTECODE=1

for t in "$QEMU_IMG" "$QEMU_IO"; do
    if [ ! -x "$t" ]; then echo "FAIL setup: $t not found"; exit 1; fi
done

T=$(mktemp -d "${TMPDIR:-/tmp}/qcow2_inspect_selftest.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
START=$SECONDS
setup_failed=0

# ------------------------------------------------------------------ builders

create() {  # create FILE SIZE [qemu-img create args...]
    local f=$1 size=$2; shift 2
    "$QEMU_IMG" create -q -f qcow2 "$@" "$f" "$size" ||
        { echo "FAIL setup: create $f"; setup_failed=1; }
}
io() {      # io FILE 'cmd' 'cmd' ...   (one qemu-io run, many commands)
    local f=$1 args=(); shift
    for c in "$@"; do args+=(-c "$c"); done
    "$QEMU_IO" -f qcow2 "${args[@]}" "$f" >io.log 2>&1 &&
        ! grep -qi -e error -e fail io.log ||
        { echo "FAIL setup: qemu-io $f: $(head -3 io.log)"; setup_failed=1; }
}
snap() {    # snap FILE NAME
    "$QEMU_IMG" snapshot -c "$2" "$1" ||
        { echo "FAIL setup: snapshot $2 in $1"; setup_failed=1; }
}

# Semi-compressible data (random head, zero tail) so that compressed
# clusters span several sectors and some straddle host clusters.
semi() {    # semi FILE RANDOM_BYTES TOTAL_BYTES
    { head -c "$2" /dev/urandom; head -c $(($3 - $2)) /dev/zero; } >"$1"
}
semi rnd4k 2500 4096
semi rnd32k 20000 32768
semi rnd64k 40000 65536
semi rnd2m 900000 2097152

MANIFEST=$T/manifest
: >"$MANIFEST"
add() { echo "$*" >>"$MANIFEST"; }   # add FILE FEATURES

# 1. Default 64k clusters, v3, 16-bit refcounts: everything a plain image
#    can hold, two snapshots, VM state (L1 entries past the disk).
create d64k.qcow2 8M
io d64k.qcow2 'write -P 0x11 0 192k' 'write -P 0x12 300k 10k' \
    'write -c -P 0x13 1M 64k' 'write -c -P 0x14 1088k 64k' \
    'write -c -s rnd64k 2M 64k' 'write -c -s rnd64k 2112k 64k' \
    'write -c -s rnd64k 2176k 64k' \
    'write -z 0 64k' 'write -z -u 64k 64k' 'discard 128k 64k' \
    'write -P 0x15 7M 64k' 'write -b -P 0x16 0 100k'
snap d64k.qcow2 s1
io d64k.qcow2 'write -P 0x21 3M 64k' 'write -P 0x22 300k 4k'
snap d64k.qcow2 'second snap'
io d64k.qcow2 'write -P 0x23 1M 4k' 'write -z 7M 64k'
add d64k.qcow2 normal,compressed,crossing,zero,zero-allocated,shared,snapshots,vmstate

# 2. 512-byte clusters (one-bit sector count in compressed descriptors),
#    4-bit refcounts (sub-byte packing), many L2 tables.
create c512.qcow2 2M -o cluster_size=512,refcount_bits=4
io c512.qcow2 'write -P 0x31 0 4k' 'write -P 0x32 100k 700' \
    'write -c -P 0x33 1M 512' 'write -c -P 0x37 1025k 512' \
    'write -c -P 0x38 1026k 512' 'write -z 0 1k' 'write -P 0x34 1900k 33k'
snap c512.qcow2 one
io c512.qcow2 'write -P 0x35 1k 2k' 'write -P 0x36 1M 512'
# Long names: the snapshot table then spans several 512-byte clusters.
snap c512.qcow2 "$(printf 'long-name-%.0s' {1..20})A"
snap c512.qcow2 "$(printf 'long-name-%.0s' {1..20})B"
add c512.qcow2 normal,compressed,zero-allocated,shared,snapshots

# 3. 4k clusters with 1-bit refcounts (no snapshots possible).
create c4k.qcow2 4M -o cluster_size=4k,refcount_bits=1
io c4k.qcow2 'write -P 0x41 0 12k' 'write -c -s rnd4k 64k 4k' \
    'write -c -P 0x42 68k 4k' 'write -z 4k 4k' 'write -z -u 8k 4k' \
    'write -P 0x43 3M 10k' 'discard 3M 4k'
add c4k.qcow2 normal,compressed,zero,zero-allocated

# 4. 2M clusters with 64-bit refcounts.
create c2m.qcow2 64M -o cluster_size=2M,refcount_bits=64
io c2m.qcow2 'write -P 0x51 0 2M' 'write -P 0x52 5M 4k' \
    'write -c -s rnd2m 8M 2M' 'write -c -P 0x53 10M 2M'
snap c2m.qcow2 s1
io c2m.qcow2 'write -P 0x54 5M 4k'
add c2m.qcow2 normal,compressed,shared,snapshots

# 5. compat=0.10 (version 2 header, no zero flag).
create v2.qcow2 8M -o compat=0.10
io v2.qcow2 'write -P 0x61 0 128k' 'write -c -s rnd64k 1M 64k' \
    'write -z 64k 64k' 'write -P 0x62 4M 1k'
snap v2.qcow2 old
io v2.qcow2 'write -P 0x63 4M 1k'
add v2.qcow2 normal,compressed,shared,snapshots,v2

# 6. Extended L2 entries, 32k clusters (1k subclusters).
create xl2.qcow2 4M -o extended_l2=on,cluster_size=32k
io xl2.qcow2 'write -P 0x71 1k 1k' 'write -P 0x72 5k 3k' 'write -z 10k 2k' \
    'write -z -u 64k 32k' 'write -P 0x73 96k 32k' 'write -z 96k 32k' \
    'write -c -s rnd32k 128k 32k' 'write -P 0x74 160k 32k' \
    'discard 160k 32k' 'write -P 0x75 200k 1k'
snap xl2.qcow2 x
io xl2.qcow2 'write -P 0x76 2k 1k' 'write -P 0x77 201k 1k'
add xl2.qcow2 normal,compressed,zero,zero-allocated,shared,snapshots,extl2

# 7. Lazy refcounts.
create lazy.qcow2 4M -o lazy_refcounts=on
io lazy.qcow2 'write -P 0x81 0 100k' 'write -P 0x82 2M 64k'
snap lazy.qcow2 l
io lazy.qcow2 'write -P 0x83 0 4k'
add lazy.qcow2 normal,shared,snapshots,lazy

# 8. zstd compression.
create zstd.qcow2 4M -o compression_type=zstd
io zstd.qcow2 'write -c -s rnd64k 0 64k' 'write -c -s rnd64k 64k 64k' \
    'write -c -P 0x91 128k 64k' 'write -P 0x92 1M 64k'
add zstd.qcow2 normal,compressed,crossing,zstd

# 9. Persistent bitmaps (two enabled, one disabled), data written after
#    adding them so the enabled ones get data clusters; and a snapshot.
create bm.qcow2 4M
"$QEMU_IMG" bitmap --add bm.qcow2 b1 &&
"$QEMU_IMG" bitmap --add -g 4096 bm.qcow2 b2 &&
"$QEMU_IMG" bitmap --add bm.qcow2 b3 &&
"$QEMU_IMG" bitmap --disable bm.qcow2 b3 ||
    { echo "FAIL setup: bitmaps"; setup_failed=1; }
io bm.qcow2 'write -P 0xa1 0 64k' 'write -P 0xa2 1M 4k' 'write -P 0xa3 3M 8k'
snap bm.qcow2 withbitmaps
add bm.qcow2 normal,shared,snapshots,bitmapdata

# 10. Backing chains.  base.raw (fully written, 1M) <- mid.qcow2 (2M, raw
#     backing given with -F) <- top.qcow2 (3M, extended L2, so unallocated
#     subclusters fall through).  Addressed as "chain/top.qcow2", so the
#     relative backing names resolve as "chain/...".
mkdir chain
"$QEMU_IMG" create -q -f raw chain/base.raw 1M &&
"$QEMU_IO" -f raw -c 'write -P 0xb1 0 1M' chain/base.raw >/dev/null ||
    { echo "FAIL setup: base.raw"; setup_failed=1; }
create chain/mid.qcow2 2M -b base.raw -F raw
io chain/mid.qcow2 'write -P 0xb2 64k 64k' 'write -z 128k 64k' \
    'write -P 0xb3 1088k 64k' 'write -c -P 0xb4 256k 64k'
create chain/top.qcow2 3M -b mid.qcow2 -F qcow2 -o extended_l2=on
io chain/top.qcow2 'write -P 0xc1 4k 2k' 'write -c -s rnd64k 192k 64k' \
    'write -z 256k 64k' 'write -P 0xc2 1100k 2k' 'write -z 1200k 8k' \
    'write -P 0xc3 2500k 64k'
snap chain/top.qcow2 t1
add chain/mid.qcow2 normal,compressed,zero,backing
add chain/top.qcow2 normal,compressed,zero,shared,snapshots,extl2,backing
# An absolute backing name.
create chain/abs.qcow2 2560k -b "$T/chain/mid.qcow2" -F qcow2
io chain/abs.qcow2 'write -P 0xd1 0 4k'
add chain/abs.qcow2 normal,backing
# Backing formats probed: copies whose backing format extension is renamed
# to an unknown type (qemu then probes, and so must the parser).  prb.qcow2
# sits in the current directory (no '/' in its name), its backing name
# "chain/midp.qcow2" is used as is; midp's "base.raw" becomes
# "chain/base.raw" and is probed as raw, midp itself probed as qcow2.
cp chain/mid.qcow2 chain/midp.qcow2
create prb.qcow2 2M -b chain/midp.qcow2 -F qcow2
io prb.qcow2 'write -P 0xe1 1M 64k'
"$PY" - chain/midp.qcow2 prb.qcow2 <<'EOF' || { echo "FAIL setup: patch"; setup_failed=1; }
import struct, sys
for path in sys.argv[1:]:
    with open(path, 'r+b') as f:
        hdr = f.read(65536)
        hlen = struct.unpack('>I', hdr[100:104])[0]
        pos = hlen
        while True:
            t, n = struct.unpack('>II', hdr[pos:pos + 8])
            if t == 0:
                sys.exit('no backing format extension in ' + path)
            if t == 0xe2792aca:
                f.seek(pos)
                f.write(struct.pack('>I', 0x0000babe))
                break
            pos += 8 + (n + 7) // 8 * 8
EOF
add prb.qcow2 normal,backing,probe
add chain/midp.qcow2 normal,zero,backing,probe

# 11. Snapshot fields qemu-img cannot set (vm clock, VM state size, icount):
#     patched into a copy, then compared with what qemu-img info reads.
cp d64k.qcow2 snapfields.qcow2
"$PY" - snapfields.qcow2 <<'EOF' || { echo "FAIL setup: snapfields"; setup_failed=1; }
import struct, sys
with open(sys.argv[1], 'r+b') as f:
    hdr = f.read(72)
    nb, off = struct.unpack('>IQ', hdr[60:72])
    assert nb == 2
    values = [(123456789012, 0x1000, 0x180000000, -1),
              (987654321, 0, 0x4000, 77777)]
    for vm_clock, vm32, vm64, icount in values:
        f.seek(off)
        e = f.read(40)
        id_len, name_len = struct.unpack('>HH', e[12:16])
        extra = struct.unpack('>I', e[36:40])[0]
        assert extra >= 24, extra
        f.seek(off + 24)
        f.write(struct.pack('>QI', vm_clock, vm32))
        f.seek(off + 40)
        f.write(struct.pack('>Q', vm64))
        f.seek(off + 40 + 16)
        f.write(struct.pack('>q', icount))
        off += (40 + extra + id_len + name_len + 7) // 8 * 8
EOF
add snapfields.qcow2 snaponly

echo "fuzz d64k.qcow2 hostile" >>"$MANIFEST"
echo "fuzz xl2.qcow2" >>"$MANIFEST"
echo "fuzz bm.qcow2" >>"$MANIFEST"
echo "errors" >>"$MANIFEST"

if [ "$setup_failed" = 0 ]; then echo "PASS setup: images built ($((SECONDS - START))s)"; fi

# -------------------------------------------------------------------- checks

cat >check.py <<'PYEOF'
import bisect
import hashlib
import importlib.util
import io
import json
import os
import random
import struct
import subprocess
import sys
import time

TOOL, MANIFEST, QEMU_IMG = sys.argv[1:4]
sys.dont_write_bytecode = True
spec = importlib.util.spec_from_file_location('qcow2_inspect', TOOL)
qi = importlib.util.module_from_spec(spec)
spec.loader.exec_module(qi)

MASK = 0x00fffffffffffe00
failed = 0
last_time = time.time()


def report(name, errors):
    global failed
    if errors:
        failed += 1
        print('FAIL %s: %s' % (name, '; '.join(str(e) for e in errors[:5])
                               + (' (+%d more)' % (len(errors) - 5)
                                  if len(errors) > 5 else '')))
    else:
        print('PASS %s' % name)
    if os.environ.get('QI_TIMING'):
        global last_time
        now = time.time()
        print('    %.2fs' % (now - last_time))
        last_time = now
    sys.stdout.flush()


def run_main(*args):
    """The tool's main() in this process: (rc, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        rc = qi.main([str(a) for a in args])
    finally:
        sys.stdout, sys.stderr = saved
    return rc, out.getvalue(), err.getvalue()


def run_cli(*args, timeout=60):
    """The tool as a separate process."""
    p = subprocess.run([sys.executable, TOOL] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def tool_json(*args, cli=False):
    rc, out, err = (run_cli if cli else run_main)(*args)
    if rc != 0:
        raise RuntimeError('%s -> rc %d: %s' % (' '.join(map(str, args)),
                                                rc, err.strip()))
    return json.loads(out), out


def qemu(*args):
    p = subprocess.run([QEMU_IMG] + list(args), capture_output=True,
                       text=True)
    return p.returncode, p.stdout, p.stderr


def qemu_json(*args):
    rc, out, err = qemu(*args)
    if rc != 0:
        raise RuntimeError('qemu-img %s: %s' % (' '.join(args), err.strip()))
    return json.loads(out)


def dumps(v):
    return json.dumps(v, indent=2, sort_keys=True) + '\n'


def canon(items):
    return sorted(json.dumps(i, sort_keys=True) for i in items)


def sha(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


class Header:
    """Independent minimal header reader (struct, no tool code)."""

    def __init__(self, path):
        with open(path, 'rb') as f:
            self.raw = f.read(112).ljust(112, b'\0')
        (self.magic, self.version, self.bfo, self.bfs, self.cluster_bits,
         self.size, _, self.l1_size, self.l1_offset, self.rt_offset,
         self.rt_clusters, self.nb_snapshots, self.snap_offset) = \
            struct.unpack('>4sIQIIQIIQQIIQ', self.raw[:72])
        if self.version >= 3:
            (self.incompat, self.compat, self.autoclear, self.rorder,
             self.hlen) = struct.unpack('>QQQII', self.raw[72:104])
            self.ctype = self.raw[104] if self.hlen > 104 else 0
        else:
            self.incompat = self.compat = self.autoclear = 0
            self.rorder, self.hlen, self.ctype = 4, 72, 0
        self.cs = 1 << self.cluster_bits
        self.extl2 = bool(self.incompat & 16)


def read_u64s(path, off, n):
    with open(path, 'rb') as f:
        f.seek(off)
        data = f.read(8 * n).ljust(8 * n, b'\0')
    return list(struct.unpack('>%dQ' % n, data))


# ------------------------------------------------------------------ per image

def check_header(path, h, info, feats):
    errs = []
    if info['virtual-size'] != h.size:
        errs.append('virtual size %d vs header %d' % (info['virtual-size'],
                                                      h.size))
    if info['cluster-size'] != h.cs:
        errs.append('cluster size')
    fs = info.get('format-specific', {}).get('data', {})
    if fs.get('refcount-bits') != 1 << h.rorder:
        errs.append('refcount bits %s vs order %d' % (fs.get('refcount-bits'),
                                                      h.rorder))
    if fs.get('extended-l2', False) != h.extl2:
        errs.append('extended-l2 flag')
    if ('v2' in feats) != (h.version == 2):
        errs.append('version %d' % h.version)
    if ('lazy' in feats) != bool(h.compat & 1):
        errs.append('lazy refcounts bit')
    if ('zstd' in feats) != bool(h.incompat & 8 and h.ctype == 1):
        errs.append('zstd compression type')
    all_l1, text = tool_json('l1', '--all', path)
    if len(all_l1) != h.l1_size:
        errs.append('l1 --all lists %d entries, l1_size %d'
                    % (len(all_l1), h.l1_size))
    raws = read_u64s(path, h.l1_offset, h.l1_size)
    glen = h.cs * h.cs // (16 if h.extl2 else 8)
    for i, (e, r) in enumerate(zip(all_l1, raws)):
        want = {'index': i, 'raw': '0x%016x' % r, 'l2-offset': r & MASK,
                'copied': bool(r >> 63), 'guest-offset': i * glen,
                'guest-length': glen}
        if e != want:
            errs.append('l1[%d] %s != %s' % (i, e, want))
    filtered, _ = tool_json('l1', path)
    if filtered != [e for e in all_l1 if int(e['raw'], 16)]:
        errs.append('l1 without --all is not the non-zero subset')
    # Output format is exactly json.dumps(indent=2, sort_keys=True).
    if text != dumps(all_l1):
        errs.append('l1 output format')
    report('%s: header/l1' % path, errs)
    return all_l1


def check_l2(path, img, all_l1):
    errs = []
    with_table = [e for e in all_l1 if e['l2-offset']]
    for e in with_table:
        full = list(img.l2_listing(e['index'], None, True))
        if len(full) != img.l2_entries:
            errs.append('l2 %d --all: %d entries' % (e['index'], len(full)))
        part = list(img.l2_listing(e['index'], None, False))
        keep = [x for x in full if int(x['raw'], 16)
                or x.get('alloc-bitmap') or x.get('zero-bitmap')]
        if part != keep:
            errs.append('l2 %d filtered != non-zero subset' % e['index'])
        for x in full:
            if x['guest-offset'] != e['guest-offset'] + x['index'] * img.cluster_size:
                errs.append('l2 %d/%d guest-offset' % (e['index'], x['index']))
                break
    if with_table:
        e = with_table[-1]
        by_index, _ = tool_json('l2', e['index'], path)
        by_guest, _ = tool_json('l2', '--guest',
                                hex(e['guest-offset'] + img.guest_length - 1),
                                path, cli=True)
        if by_index != by_guest:
            errs.append('l2 L1INDEX and l2 --guest disagree')
        if by_index != list(img.l2_listing(e['index'])):
            errs.append('l2 CLI disagrees with module')
    # An index without a table (past the L1 table) lists nothing.
    nothing, _ = tool_json('l2', '--all', len(all_l1) + 5, path)
    if nothing != []:
        errs.append('l2 past the L1 table is not empty')
    report('%s: l2' % path, errs)


def all_l2_entries(img):
    """(snapshot id, l1 index, l2 entry) for every non-zero L2 entry of the
    active and snapshot tables."""
    tables = [None] + img.snapshots()
    for snap in tables:
        for e in img.l1_listing(snap):
            for x in img.l2_listing(e['index'], snap):
                yield (snap['id'] if snap else None), e['index'], x


def check_owner_refcount(path, img, h, feats):
    errs = []
    cs = img.cluster_size
    owners = {}
    for start, length, d in img.references():
        for c in range(start // cs, (start + length - 1) // cs + 1):
            owners.setdefault(c, []).append(d)
    # Every mapped l2 entry has its data owner entries.
    types = set()
    crossing = False
    for sid, l1i, x in all_l2_entries(img):
        types.add(x['type'])
        if x['type'] not in ('normal', 'zero-allocated', 'compressed'):
            continue
        want = {'kind': 'data', 'snapshot': sid, 'l1-index': l1i,
                'l2-index': x['index'], 'guest-offset': x['guest-offset'],
                'depth': 0, 'type': x['type']}
        length = x['compressed-size'] if x['type'] == 'compressed' else cs
        first = x['host-offset'] // cs
        last = (x['host-offset'] + length - 1) // cs
        crossing |= last > first
        for c in range(first, last + 1):
            if want not in owners.get(c, []):
                errs.append('no owner entry %s in cluster %d' % (want, c))
    # CLI owner on a sample of clusters: one per kind, plus an empty one.
    sample = {}
    for c in sorted(owners):
        for d in owners[c]:
            sample.setdefault(d['kind'], c)
    nclusters = (os.path.getsize(path) + cs - 1) // cs
    sample['none'] = nclusters + 3
    for kind, c in sorted(sample.items()):
        got, _ = tool_json('owner', hex(c * cs + cs // 2), path,
                           cli=(kind == 'data'))
        if canon(got) != canon(owners.get(c, [])):
            errs.append('owner of cluster %d (%s): %s' % (c, kind, got))
    report('%s: owner' % path, errs)

    # Refcounts: qemu-img check must find the image clean; then each
    # cluster's refcount is the number of references to it (qemu counts a
    # cluster once per L1 -> L2 -> entry path, and once per metadata use).
    errs = []
    chk = qemu_json('check', '--output=json', path)
    for key in ('check-errors', 'leaks', 'corruptions'):
        if chk.get(key, 0):
            errs.append('qemu-img check: %s=%s' % (key, chk[key]))
    n = nclusters + 2
    rc, _ = tool_json('refcount', '0-%d' % (n - 1), path)
    if [r['cluster'] for r in rc] != list(range(n)):
        errs.append('refcount clusters not 0..%d' % (n - 1))
    shared = False
    for r in rc:
        c = r['cluster']
        refs = owners.get(c, [])
        if r['host-offset'] != c * cs:
            errs.append('refcount host-offset of %d' % c)
        if r['refcount'] != len(refs):
            errs.append('cluster %d: refcount %d, %d references %s'
                        % (c, r['refcount'], len(refs), canon(refs)[:3]))
        if r['refcount'] >= 2:
            shared = True
    end = chk.get('image-end-offset')
    if end is not None and any(r['refcount'] and r['host-offset'] >= end
                               for r in rc):
        errs.append('refcount beyond image-end-offset %d' % end)
    # A single cluster, and a range given in hex, agree with the range.
    one, _ = tool_json('refcount', str(nclusters - 1), path, cli=True)
    if one != [rc[nclusters - 1]]:
        errs.append('refcount single cluster')
    if len(rc) > 3:
        sub, _ = tool_json('refcount', '0x1-0x3', path)
        if sub != rc[1:4]:
            errs.append('refcount hex range')
    report('%s: refcount' % path, errs)

    # The image holds what it was built for.
    errs = []
    for f in ('normal', 'compressed', 'zero', 'zero-allocated'):
        if f in feats and f not in types:
            errs.append('no %s entry' % f)
    if 'crossing' in feats and not crossing:
        errs.append('no compressed cluster straddling host clusters')
    if 'shared' in feats and not shared:
        errs.append('no cluster with refcount >= 2')
    kinds = {d['kind'] for v in owners.values() for d in v}
    if 'bitmapdata' in feats and 'bitmap-data' not in kinds:
        errs.append('no bitmap data clusters')
    if 'vmstate' in feats and not any(
            e['guest-offset'] >= h.size for e in img.l1_listing()):
        errs.append('no L1 entry past the virtual disk')
    report('%s: features' % path, errs)
    return owners


def check_bitmaps(path, info, owners):
    bms = info.get('format-specific', {}).get('data', {}).get('bitmaps', [])
    names = sorted(b['name'] for b in bms)
    ours = sorted({d['bitmap'] for v in owners.values() for d in v
                   if d['kind'] == 'bitmap-table'})
    dirs = sum(1 for v in owners.values() for d in v
               if d['kind'] == 'bitmap-directory')
    errs = []
    if names != ours:
        errs.append('bitmap tables %s vs qemu %s' % (ours, names))
    if bool(names) != bool(dirs):
        errs.append('bitmap directory')
    report('%s: bitmaps' % path, errs)


def check_snapshots(path, img, h, info):
    errs = []
    ours, _ = tool_json('snapshots', path, cli=True)
    theirs = info.get('snapshots', [])
    if len(ours) != len(theirs) or len(ours) != h.nb_snapshots:
        errs.append('%d snapshots, qemu %d, header %d'
                    % (len(ours), len(theirs), h.nb_snapshots))
    for s, q in zip(ours, theirs):
        for k in ('id', 'name', 'vm-state-size', 'date-sec', 'date-nsec'):
            if s[k] != q[k]:
                errs.append('snapshot %s: %s %r vs qemu %r'
                            % (q['id'], k, s[k], q[k]))
        clock = q['vm-clock-sec'] * 10 ** 9 + q['vm-clock-nsec']
        if s['vm-clock-nsec'] != clock:
            errs.append('snapshot %s: vm clock %d vs %d'
                        % (q['id'], s['vm-clock-nsec'], clock))
        if s['icount'] != q.get('icount'):
            errs.append('snapshot %s: icount %r vs %r'
                        % (q['id'], s['icount'], q.get('icount')))
    # `qemu-img snapshot -l`: ID and TAG columns.
    rc, out, _ = qemu('snapshot', '-l', path)
    listed = [line.split()[0] for line in out.splitlines()[2:]
              if line.strip()]
    if listed != [s['id'] for s in ours]:
        errs.append('snapshot -l ids %s' % listed)
    pos = h.snap_offset
    for s in ours:
        if s['table-offset'] != pos:
            errs.append('table-offset of %s: %d, expected %d'
                        % (s['id'], s['table-offset'], pos))
        pos += (40 + s['extra-data-size'] + len(s['id'].encode())
                + len(s['name'].encode()) + 7) // 8 * 8
        show, _ = tool_json('snapshot-show', s['id'], path)
        extra = bytes.fromhex(show.pop('extra-data'))
        if show != s:
            errs.append('snapshot-show %s differs from snapshots' % s['id'])
        if len(extra) != s['extra-data-size']:
            errs.append('extra-data length')
        if len(extra) >= 16:
            vm, disk = struct.unpack('>QQ', extra[:16])
            if (vm, disk) != (s['vm-state-size'], s['disk-size']):
                errs.append('extra data vs vm-state-size/disk-size')
            if h.version >= 3 and disk != h.size:
                errs.append('disk-size %d' % disk)
        # The snapshot's L1 table, by ID and by name.
        l1, _ = tool_json('l1', '--all', '--snapshot', s['id'], path)
        byname, _ = tool_json('l1', '--snapshot', s['name'], '--all', path)
        raws = read_u64s(path, s['l1-offset'], s['l1-size'])
        if ['0x%016x' % r for r in raws] != [e['raw'] for e in l1]:
            errs.append('l1 --snapshot %s vs table at l1-offset' % s['id'])
        if byname != l1 and [x['name'] for x in ours].count(s['name']) == 1:
            errs.append('l1 --snapshot by name')
        if l1:
            l2a, _ = tool_json('l2', '--snapshot', s['id'], '0', path)
            if l2a != list(img.l2_listing(0, img.find_snapshot(s['id']))):
                errs.append('l2 --snapshot')
    rc, out, err = run_main('snapshot-show', 'no such snapshot', path)
    if rc != 1 or err.count('\n') != 1:
        errs.append('unknown snapshot: rc %d %r' % (rc, err))
    report('%s: snapshots' % path, errs)


def check_translate(path, img, rnd):
    errs = []
    cs = img.cluster_size
    chain = qemu_json('info', '--backing-chain', '--output=json', path)
    files = [c['filename'] for c in chain]
    mapped = qemu_json('map', '--output=json', path)
    offsets = []
    for m in mapped:
        a, b = m['start'], m['start'] + m['length']
        picks = {a, b - 1, rnd.randrange(a, b)}
        if img.extended_l2:
            picks.add(min(b - 1, a + cs // 32))
        offsets += [(g, m) for g in sorted(picks)]
    for _ in range(20):
        g = rnd.randrange(0, img.size)
        offsets += [(g, m) for m in mapped
                    if m['start'] <= g < m['start'] + m['length']]
    seen_types = set()
    for g, m in offsets:
        r = qi.translate(img, g)
        last = r['path'][-1]
        seen_types.add(last['type'])
        where = '%s@%#x' % (path, g)
        if r['guest-offset'] != g or r['depth'] != last['depth'] \
                or r['file'] != last['file']:
            errs.append('%s: result/path mismatch' % where)
        for el in r['path']:
            if el['depth'] >= len(files) or el['file'] != files[el['depth']]:
                errs.append('%s: file %r at depth %d, qemu chain %s'
                            % (where, el['file'], el['depth'], files))
        got = (r['type'], r['depth'], r['host-offset'])
        t = r['type']
        if last['type'] == 'beyond-end':
            # qemu reports the layer above a too-short backing file as
            # reading zeros.
            ok = m['zero'] and not m['data'] and t == 'zero' \
                and m['depth'] == r['depth'] - 1 and r['depth'] > 0
        elif t == 'normal':
            ok = m['data'] and not m['zero'] and m['depth'] == r['depth'] \
                and m.get('offset') is not None \
                and m['offset'] + g - m['start'] == r['host-offset']
        elif t == 'compressed':
            ok = m['data'] and not m['zero'] and m['depth'] == r['depth'] \
                and 'offset' not in m and r['host-offset'] is not None
        elif t in ('zero', 'zero-allocated'):
            ok = m['zero'] and not m['data'] and m['depth'] == r['depth'] \
                and r['host-offset'] is None
            if t == 'zero-allocated' and 'offset' in m:
                host = (int(last['raw'], 16) & MASK) + g % cs
                ok = ok and m['offset'] + g - m['start'] == host
        elif t == 'unallocated':
            ok = m['zero'] and not m['data'] and not m.get('present', False) \
                and m['depth'] == r['depth'] == len(files) - 1 \
                and r['host-offset'] is None
        else:
            ok = False
        if not ok:
            errs.append('%s: translate %s, qemu map %s' % (where, got, m))
    # Past the end of the image itself.
    for g in (img.size, img.size + 1, img.size + 3 * cs + 5):
        r = qi.translate(img, g)
        if r['type'] != 'zero' or r['depth'] != 0 or \
                [e['type'] for e in r['path']] != ['beyond-end']:
            errs.append('%s@%#x past end: %s' % (path, g, r))
    # The CLI prints what the module computes.
    for g, _ in offsets[:2] + offsets[-2:]:
        _, text = tool_json('translate', hex(g), path, cli=(g == offsets[0][0]))
        if text != dumps(qi.translate(img, g)):
            errs.append('translate CLI output at %#x' % g)
    report('%s: translate vs qemu-img map (%d offsets, %s)'
           % (path, len(offsets), ','.join(sorted(seen_types))), errs)
    check_l2_vs_map(path, img, mapped)


def check_l2_vs_map(path, img, mapped):
    """Each active L2 entry's type (and bitmaps, with extended L2) agrees
    with what qemu-img map says about its guest cluster, and raw values
    and bitmaps agree with a struct read of the table."""
    errs = []
    cs = img.cluster_size
    starts = [m['start'] for m in mapped]

    def at(g):
        return mapped[bisect.bisect_right(starts, g) - 1]

    def here(m):                       # decided by this (depth 0) layer
        return m['depth'] == 0 and m.get('present', True)

    for e in img.l1_listing():
        if not e['l2-offset'] or e['guest-offset'] >= img.size:
            continue
        table = read_u64s(path, e['l2-offset'], cs // 8)
        for x in img.l2_listing(e['index'], None, True):
            G = x['guest-offset']
            if G >= img.size:
                break
            i, t, host = x['index'], x['type'], x['host-offset']
            where = '%s@%#x (%s %s)' % (path, G, t, x['raw'])
            if img.extended_l2:
                raw, bm = table[2 * i], table[2 * i + 1]
                if (x.get('alloc-bitmap'), x.get('zero-bitmap')) != \
                        (bm & 0xffffffff, bm >> 32):
                    errs.append('%s: bitmaps vs table' % where)
                sub = cs // 32
                points = [(G + k * sub, bm >> k & 1, bm >> (32 + k) & 1)
                          for k in range(32) if G + k * sub < img.size]
            else:
                raw = table[i]
                points = [(G, 0, 0)]
            if x['raw'] != '0x%016x' % raw:
                errs.append('%s: raw vs table' % where)
            ok = True
            zeros = [at(g)['zero'] and not at(g)['data'] and here(at(g))
                     for g, _, _ in points]
            if t == 'compressed':
                ok = all(at(g)['data'] and here(at(g)) and 'offset' not in at(g)
                         for g, _, _ in points)
            elif not img.extended_l2:
                m = at(G)
                off = None if 'offset' not in m else m['offset'] + G - m['start']
                if t == 'normal':
                    ok = m['data'] and here(m) and off == host
                elif t == 'zero-allocated':
                    ok = zeros[0] and off in (None, host)
                elif t == 'zero':
                    ok = zeros[0]
                else:
                    ok = not here(m)
            else:
                for (g, a, z), zero in zip(points, zeros):
                    m = at(g)
                    if a and host is not None:
                        ok &= m['data'] and here(m) and \
                            m['offset'] + g - m['start'] == host + g - G
                    elif z:
                        ok &= zero
                    else:
                        ok &= not here(m)
                if t == 'zero-allocated':
                    ok &= all(zeros) and len(zeros) == 32
                elif t == 'normal':
                    ok &= not all(zeros)
                elif t == 'unallocated':
                    ok &= not any(zeros)
            if not ok:
                errs.append('%s: qemu-img map disagrees' % where)
    report('%s: l2 types vs qemu-img map' % path, errs)


def check_image(path, feats):
    before = sha(path)
    rnd = random.Random(path)
    info = qemu_json('info', '--output=json', path)
    h = Header(path)
    img = qi.Qcow2Image(path)
    try:
        if 'snaponly' in feats:
            check_snapshots(path, img, h, info)
        else:
            all_l1 = check_header(path, h, info, feats)
            check_l2(path, img, all_l1)
            owners = check_owner_refcount(path, img, h, feats)
            check_bitmaps(path, info, owners)
            if 'snapshots' in feats:
                check_snapshots(path, img, h, info)
            check_translate(path, img, rnd)
    finally:
        img.close()
    report('%s: read-only' % path,
           [] if sha(path) == before else ['image changed'])


# ------------------------------------------------------------- error cases

def expect_error(name, rc_want, args, errs, cli=False):
    rc, out, err = (run_cli if cli else run_main)(*args)
    lines = err.splitlines()
    if rc != rc_want:
        errs.append('%s: rc %d (want %d) %s' % (name, rc, rc_want, err[:200]))
    elif rc == 1 and (len(lines) != 1 or
                      not lines[0].startswith('qcow2_inspect.py: ')):
        errs.append('%s: stderr %r' % (name, err))
    elif out:
        errs.append('%s: stdout %r' % (name, out[:100]))


def check_errors():
    errs = []
    os.makedirs('err', exist_ok=True)
    with open('err/text.txt', 'w') as f:
        f.write('hello, not an image\n')
    open('err/empty', 'wb').close()
    with open('err/short', 'wb') as f:
        f.write(b'QFI')
    with open('err/qcow1', 'wb') as f:
        f.write(b'QFI\xfb' + struct.pack('>I', 1) + bytes(64))
    with open('err/badcb', 'wb') as f:
        f.write(b'QFI\xfb' + struct.pack('>IQII', 3, 0, 0, 40))
    for name, f in [('missing', 'err/nonexistent.qcow2'), ('text', 'err/text.txt'),
                    ('empty', 'err/empty'), ('three bytes', 'err/short'),
                    ('directory', 'err'), ('qcow v1', 'err/qcow1'),
                    ('cluster_bits 40', 'err/badcb')]:
        expect_error(name, 1, ['l1', f], errs, cli=(name == 'missing'))
        expect_error(name, 1, ['translate', '0', f], errs)
    # Executable with its shebang, as a test script would call it.
    p = subprocess.run([TOOL, 'snapshots', 'err/text.txt'],
                       capture_output=True, text=True)
    if p.returncode != 1 or p.stderr.count('\n') != 1:
        errs.append('shebang run: rc %d %r' % (p.returncode, p.stderr))
    # Usage errors.
    for args in (['bogus', 'd64k.qcow2'], ['l1'], ['l2', 'd64k.qcow2'],
                 ['refcount', '5-2', 'd64k.qcow2'],
                 ['refcount', '0-2000000', 'd64k.qcow2'],
                 ['translate', '-5', 'd64k.qcow2'],
                 ['owner', '12abc', 'd64k.qcow2'],
                 ['l1', '--frob', 'd64k.qcow2']):
        expect_error('usage %s' % args, 2, args, errs)
    # A 24-byte qcow2 header: everything else reads as zeros.
    with open('err/tiny', 'wb') as f:
        f.write(b'QFI\xfb' + struct.pack('>IQII', 3, 0, 0, 16))
    for args in (['l1', '--all'], ['l2', '--all', '0'], ['refcount', '0-3'],
                 ['snapshots'], ['translate', '0'], ['owner', '0']):
        rc, out, err = run_main(*(args + ['err/tiny']))
        if rc != 0:
            errs.append('tiny %s: rc %d %s' % (args, rc, err))
            continue
        v = json.loads(out)
        if args[0] == 'translate':
            ok = v['type'] == 'zero' and v['path'][0]['type'] == 'beyond-end'
        elif args[0] == 'owner':
            ok = v == [{'kind': 'header'}]
        elif args[0] == 'refcount':
            ok = [x['refcount'] for x in v] == [0] * 4
        else:
            ok = v == []
        if not ok:
            errs.append('tiny %s: %s' % (args, out[:200]))
    # Backing chain errors: a missing backing file, and a loop.
    h = Header('d64k.qcow2')
    for name, backing in (('missing-backing', b'gone.qcow2'),
                          ('loop', b'loop.qcow2')):   # err/ + loop.qcow2
        path = 'err/loop.qcow2' if name == 'loop' else 'err/nobacking.qcow2'
        data = bytearray(open('d64k.qcow2', 'rb').read())
        off = h.cs - 512
        data[off:off + len(backing)] = backing
        data[8:20] = struct.pack('>QI', off, len(backing))
        with open(path, 'wb') as f:
            f.write(data)
        expect_error(name, 1, ['translate', hex(5 * 1024 * 1024), path], errs)
        rc, out, err = run_main('translate', hex(5 * 1024 * 1024), path)
        if name == 'loop' and 'loop' not in err:
            errs.append('loop not detected: %s' % err.strip())
        rc, out, err = run_main('translate', '0x10000', path)  # zero: no walk
        if rc != 0:
            errs.append('%s: translate of a zero cluster: %s' % (name, err))
    report('errors and usage', errs)


# -------------------------------------------------------------------- fuzz

FUZZ_COMMANDS = [['l1'], ['l1', '--snapshot', '1'], ['l2', '0'],
                 ['l2', '--guest', '0x100000'], ['refcount', '0-80'],
                 ['snapshots'], ['snapshot-show', '1'], ['translate', '0'],
                 ['translate', '0x210000'], ['owner', '0'],
                 ['owner', '0x30000'], ['owner', '0x50000']]


def fuzz_one(path, errs, slow):
    for args in FUZZ_COMMANDS:
        t0 = time.time()
        rc, out, err = run_main(*(args + [path]))
        dt = time.time() - t0
        if dt > 5:
            slow.append('%s %s: %.1fs' % (path, args, dt))
        if rc == 0:
            try:
                json.loads(out)
            except ValueError:
                errs.append('%s %s: bad JSON' % (path, args))
        elif rc == 1:
            if err.count('\n') != 1:
                errs.append('%s %s: stderr %r' % (path, args, err))
        else:
            errs.append('%s %s: rc %d %s' % (path, args, rc, err.strip()))


def check_fuzz(src, with_hostile):
    errs, slow = [], []
    rnd = random.Random('fuzz' + src)
    base = open(src, 'rb').read()
    h = Header(src)
    os.makedirs('fuzz', exist_ok=True)
    stem = os.path.basename(src)
    # Hostile header fields: (offset, struct format, value).
    hostile = [
        (36, '>I', 0xffffffff),            # l1_size
        (40, '>Q', 0xfffffffffffffe00),    # l1_table_offset
        (40, '>Q', 12345),                 # unaligned L1
        (56, '>I', 0xffffffff),            # refcount_table_clusters
        (48, '>Q', 3),                     # unaligned refcount table
        (60, '>I', 0xffffffff),            # nb_snapshots
        (64, '>Q', 0),                     # snapshot table over the header
        (64, '>Q', 1 << 62),               # snapshot table far past EOF
        (96, '>I', 7),                     # refcount_order out of range
        (96, '>I', 0),                     # 1-bit refcounts
        (96, '>I', 6),                     # 64-bit refcounts
        (72, '>Q', 1 << 4),                # extended L2 switched on
        (100, '>I', 0xfff8),               # header_length huge
        (100, '>I', 0),                    # header_length zero
        (8, '>Q', 1 << 40),                # backing name past EOF
        (4, '>I', 2),                      # pretend version 2
        (4, '>I', 99),                     # unknown version
        (20, '>I', 21),                    # 2 MiB clusters
        (20, '>I', 9),                     # 512-byte clusters
    ]
    cases = []
    for i, (off, fmt, val) in enumerate(hostile if with_hostile else []):
        d = bytearray(base)
        struct.pack_into(fmt, d, off, val)
        cases.append(('h%d' % i, d))
    # Random damage to the metadata areas, and truncations.
    hot = [0, h.l1_offset, h.rt_offset, h.snap_offset]
    for i in range(16):
        d = bytearray(base)
        for _ in range(rnd.randrange(1, 12)):
            area = rnd.choice(hot) + rnd.randrange(0, 512)
            if area < len(d):
                d[area] = rnd.randrange(256)
        cases.append(('r%d' % i, d))
    for i in range(4):
        cases.append(('t%d' % i, base[:rnd.randrange(0, len(base))]))
    for name, d in cases:
        path = 'fuzz/%s.%s' % (stem, name)
        with open(path, 'wb') as f:
            f.write(d)
        before = sha(path)
        fuzz_one(path, errs, slow)
        if sha(path) != before:
            errs.append('%s changed' % path)
        os.unlink(path)
    # One hostile case as a real process, with a timeout.
    if not with_hostile:
        report('fuzz %s: %d damaged copies x %d commands'
               % (src, len(cases), len(FUZZ_COMMANDS)), errs + slow)
        return
    d = bytearray(base)
    struct.pack_into('>I', d, 36, 0xffffffff)
    struct.pack_into('>I', d, 56, 0xffffffff)
    struct.pack_into('>I', d, 60, 0xffffffff)
    path = 'fuzz/%s.hostile' % stem
    with open(path, 'wb') as f:
        f.write(d)
    for args in (['owner', '0x20000'], ['refcount', '0-1000']):
        try:
            rc, out, err = run_cli(*(args + [path]), timeout=30)
            if rc not in (0, 1):
                errs.append('hostile %s: rc %d %s' % (args, rc, err))
        except subprocess.TimeoutExpired:
            errs.append('hostile %s: timeout' % args)
    report('fuzz %s: %d damaged copies x %d commands'
           % (src, len(cases), len(FUZZ_COMMANDS)), errs + slow)


def main():
    for line in open(MANIFEST):
        words = line.split()
        if not words:
            continue
        try:
            if words[0] == 'fuzz':
                check_fuzz(words[1], 'hostile' in words)
            elif words[0] == 'errors':
                check_errors()
            else:
                check_image(words[0], set(words[1].split(',')))
        except Exception as e:
            import traceback
            traceback.print_exc()
            report('%s' % ' '.join(words), ['checker exception: %r' % e])
    return 1 if failed else 0


sys.exit(main())
PYEOF

"$PY" check.py "$TOOL" "$MANIFEST" "$QEMU_IMG"
rc=$?
if [ "$setup_failed" != 0 ]; then rc=1; fi
echo "selftest finished in $((SECONDS - START))s"
if [ "$rc" = 0 ]; then echo "ALL PASSED"; else echo "SOME FAILED"; fi
exit "$rc"
