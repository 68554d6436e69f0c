# qcow2 inspection (docs/inspection.md): l1, l2, refcount, snapshots,
# snapshot show, translate and owner give the same JSON as an independent
# reading of the same images (tests/tools/qcow2_inspect.py, written from
# the qcow2 specification alone and checked against qemu-img by its own
# selftest), on healthy images of every layout and on every damage kind of
# the check corpus. Also: the other inspection commands, human output,
# errors, locking, and that inspecting never changes a file.
PARSER=$ROOT/tests/tools/qcow2_inspect.py
COMPARE=$ROOT/tests/tools/inspect_compare.py
HEALTHY="c512 c4k xl2 rc1 rc64 v2 lazy bm zstd top mid vmstate"
DAMAGED=$DAMAGED_16K

setup() {
    qemu-img create -q -f qcow2 -o cluster_size=512 c512.qcow2 1M &&
        qemu-io -c 'write -P 1 0 4k' -c 'write -c -P 2 8k 4k' -c 'write -z 64k 8k' c512.qcow2 &&
        qemu-img snapshot -c s1 c512.qcow2 && qemu-io -c 'write -P 3 0 2k' c512.qcow2 || return 1
    qemu-img create -q -f qcow2 -o cluster_size=4k c4k.qcow2 8M &&
        qemu-io -c 'write -P 1 0 64k' -c 'write -c -P 2 1M 64k' -c 'discard 16k 8k' c4k.qcow2 &&
        qemu-img snapshot -c 'first one' c4k.qcow2 && qemu-img snapshot -c two c4k.qcow2 &&
        qemu-io -c 'write -P 4 32k 8k' c4k.qcow2 || return 1
    qemu-img create -q -f qcow2 -o cluster_size=64k,extended_l2=on xl2.qcow2 16M &&
        qemu-io -c 'write -P 1 0 4k' -c 'write -P 2 70k 10k' -c 'write -z 1M 64k' \
            -c 'write -c -P 5 2M 64k' -c 'write -z 3M 4k' xl2.qcow2 || return 1
    qemu-img create -q -f qcow2 -o refcount_bits=1 rc1.qcow2 8M &&
        qemu-io -c 'write -P 1 0 1M' rc1.qcow2 || return 1
    qemu-img create -q -f qcow2 -o refcount_bits=64 rc64.qcow2 8M &&
        qemu-io -c 'write -P 1 0 1M' rc64.qcow2 && qemu-img snapshot -c a rc64.qcow2 &&
        qemu-io -c 'write -P 7 64k 64k' rc64.qcow2 || return 1
    qemu-img create -q -f qcow2 -o compat=0.10 v2.qcow2 8M &&
        qemu-io -c 'write -P 1 0 1M' -c 'write -z 2M 1M' v2.qcow2 && qemu-img snapshot -c a v2.qcow2 ||
        return 1
    qemu-img create -q -f qcow2 -o lazy_refcounts=on,cluster_size=16k lazy.qcow2 8M &&
        qemu-io -c 'write -P 1 0 200k' lazy.qcow2 || return 1
    qemu-img create -q -f qcow2 bm.qcow2 32M && qemu-img bitmap --add bm.qcow2 b0 &&
        qemu-io -c 'write -P 1 0 4M' bm.qcow2 && qemu-img bitmap --add -g 512 bm.qcow2 b1 &&
        qemu-io -c 'write -P 1 8M 1M' bm.qcow2 || return 1
    qemu-img create -q -f qcow2 -o compression_type=zstd zstd.qcow2 4M &&
        qemu-io -c 'write -c -P 1 0 256k' -c 'write -c -P 2 1M 64k' zstd.qcow2 || return 1
    # a chain: qcow2 (2M clusters) over qcow2 over raw
    qemu-img create -q -f raw base.raw 4M && qemu-io -f raw -c 'write -P 9 0 1M' base.raw &&
        qemu-img create -q -f qcow2 -b base.raw -F raw mid.qcow2 8M &&
        qemu-io -c 'write -P 8 512k 64k' mid.qcow2 &&
        qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 -o cluster_size=2M top.qcow2 8M &&
        qemu-io -c 'write -c -P 6 2M 2M' -c 'write -P 5 6M 4k' top.qcow2 || return 1
    # VM state: L1 entries past the disk
    qemu-img create -q -f qcow2 vmstate.qcow2 4M &&
        qemu-io -c 'write -b -P 3 0 64k' -c 'write -P 1 0 64k' vmstate.qcow2 || return 1
    # every damage kind of the check corpus, on 16k-cluster bases as case 71 makes them
    damaged_16k $DAMAGED || return 1
    qemu-img create -q -f raw r.raw 1M
} >/dev/null

# the JSON of every image, healthy and damaged, against the independent parser
# (under ASan only the damaged ones: hostile input is what the sanitizers are for)
[ -n "$SANITIZED" ] && HEALTHY=""
for img in $HEALTHY; do
    case $img in
    top) ONLY="top.qcow2 mid.qcow2 base.raw" ;;
    mid) ONLY="mid.qcow2 base.raw" ;;
    *) ONLY=$img.qcow2 ;;
    esac
    check "JSON = independent parser: $img.qcow2" python3 "$COMPARE" "$IMGSH" "$PARSER" "$img.qcow2"
done
for e in $DAMAGED; do
    k=${e%%:*}
    ONLY=d-$k.qcow2
    check "JSON = independent parser: damaged ($k)" python3 "$COMPARE" "$IMGSH" "$PARSER" "d-$k.qcow2"
done
ONLY=
# (the parser's own test does not run imgsh: not again under ASan)
[ -n "$SANITIZED" ] || check "the independent parser agrees with qemu-img (its selftest)" \
    bash "$ROOT/tests/tools/qcow2_inspect_selftest.sh"

# evidence: inspecting never writes, not even the dirty bit or a corrupt image's flags
ALL_CMDS="-c header -c features -c extensions -c 'l1 --all' -c 'l2 0' -c reftable -c 'refblock 0'
    -c 'refcount 0-20' -c snapshots -c bitmaps -c 'translate 0' -c 'owner 0' -c info -c check -c map
    -c clusters -c leaks -c diagnose -c hash -c 'hash --host' -c 'hexdump 0 64'
    -c 'hexdump --host 0 64' -c 'repair plan' -c 'snapshot show 1' -c 'l1 --snapshot 1'
    -c 'undo --list' -c 'snapshot -l' -c 'compare \$image'"
for img in hsn d-dirty-lazy d-corrupt-bit d-scramble-1 d-refblock-missing; do
    ONLY=$img.qcow2
    check "a read-only session leaves $img.qcow2 unchanged (human and JSON)" sh -c "
        sum=\$(sha256sum <$img.qcow2); t=\$(stat -c %Y $img.qcow2)
        eval \"'$IMGSH' -c 'set errexit off' $(echo $ALL_CMDS)\" $img.qcow2 >/dev/null 2>&1
        eval \"'$IMGSH' --json -c 'set errexit off' $(echo $ALL_CMDS)\" $img.qcow2 >/dev/null 2>&1
        [ \"\$(sha256sum <$img.qcow2)\" = \"\$sum\" ] && [ \"\$(stat -c %Y $img.qcow2)\" = \"\$t\" ]"
done
ONLY=

# human output
expect "header: offsets, values, meanings" 0 "^ +20 +4 cluster_bits +14 +16384-byte clusters$" -- \
    "$IMGSH" header hsn.qcow2
expect "header: backing file named" 0 "backing_file_offset +0x[0-9a-f]+ +mid.qcow2" -- "$IMGSH" header top.qcow2
expect "features: names from the table" 0 "compatible +0 +yes +lazy refcounts" -- "$IMGSH" features hlazy.qcow2
expect "features: dirty bit set" 0 "incompatible +0 +yes +dirty bit" -- "$IMGSH" features d-dirty-lazy.qcow2
expect "extensions: backing format and feature table" 0 "0xe2792aca +5 +backing format +qcow2" -- \
    "$IMGSH" extensions top.qcow2
expect "extensions: bitmaps" 0 "bitmaps +2 bitmaps, directory of" -- "$IMGSH" extensions bm.qcow2
expect "l1: the table" 0 "^0 +0x80000000000[0-9a-f]{5} 0x[0-9a-f]+ +yes +0-0x1fffffff$" -- "$IMGSH" l1 bm.qcow2
expect "l2: types" 0 "compressed .*bytes compressed" -- "$IMGSH" l2 c4k.qcow2 0
expect "l2: extended L2 bitmaps" 0 "normal .* 00000003/00000000" -- "$IMGSH" l2 xl2.qcow2 0
# (expect's pattern is one line: grep takes a newline in it as a second pattern)
expect "translate: through the chain to the raw base" 0 \
    "depth 2 +base.raw \\(raw\\) +normal at host offset 0x1000 Data in base.raw \\(depth 2\\)" -- \
    sh -c "'$IMGSH' translate top.qcow2 4k | tr -s '\\n ' '  '"
expect "translate: compressed" 0 "compressed at host offset 0x[0-9a-f]+ \\([0-9]+ bytes of compressed data\\)" -- \
    "$IMGSH" translate top.qcow2 2M
expect "translate: past the end" 0 "Reads as zeros: past the end of top.qcow2" -- "$IMGSH" translate top.qcow2 8M
expect "owner: a shared data cluster" 0 "guest data at 0 \\(normal; L1 0, L2 0\\) of snapshot 1" -- \
    "$IMGSH" owner rc64.qcow2 0x50000
expect "owner: the header" 0 "^  header$" -- "$IMGSH" owner hsn.qcow2 100
expect "owner: nothing" 0 "nothing references it \\(it lies past the end of the file\\)" -- \
    "$IMGSH" owner hsn.qcow2 1G
expect "owner: two L2 entries share a data cluster" 0 \
    "referenced by: +guest data at 0 \\(normal; L1 0, L2 0\\) of the active image +guest data at 0x4000 \\(normal; L1 0, L2 1\\) of the active image ?$" -- \
    sh -c "'$IMGSH' owner d-l2-shared.qcow2 \$('$IMGSH' l2 --json d-l2-shared.qcow2 0 | sed -n 's/.*\"host-offset\": \\([0-9]*\\).*/\\1/p' | head -1) | tr -s '\\n ' '  '"
expect "refcount: a range" 0 "^1 +0x4000 +1$" -- "$IMGSH" refcount hsn.qcow2 0-3
expect "refblock: the first block" 0 "^Refcount block 0 at 0x[0-9a-f]+: clusters 0-8191$" -- "$IMGSH" refblock hsn.qcow2 0
expect "reftable" 0 "^0 +0x0000000000[0-9a-f]{6} 0x[0-9a-f]+ +0-8191$" -- "$IMGSH" reftable hsn.qcow2
expect "snapshots: the table" 0 "^2 +two +0x[0-9a-f]+ +4 " -- "$IMGSH" snapshots c4k.qcow2
expect "snapshot show: by name" 0 "^name: +first one$" -- "$IMGSH" snapshot show c4k.qcow2 'first one'
expect "bitmaps: the directory" 0 "^b1 +512 B +no +yes " -- "$IMGSH" bitmaps bm.qcow2
expect "bitmap show: its table" 0 "^0 +0x[0-9a-f]{16} data " -- "$IMGSH" bitmap show bm.qcow2 b0
expect "bitmap show --json" 0 '"content": "data"' -- "$IMGSH" bitmap show --json bm.qcow2 b0

# in a session: the current image, and --json
expect "session: l1 on the current image" 0 "^L1 table at 0x[0-9a-f]+, 1 entries" -- "$IMGSH" -c l1 hsn.qcow2
expect "session --json: translate is JSON" 0 '"type": "normal"' -- "$IMGSH" --json -c 'translate 0' hsn.qcow2

# errors: one line naming the file and the problem, exit 1
expect "not a qcow2 image" 1 "^imgsh: 'r.raw' is not a qcow2 image$" -- "$IMGSH" l1 r.raw
expect "missing file" 1 "^imgsh: Could not open 'nope.qcow2': No such file or directory$" -- \
    "$IMGSH" header nope.qcow2
expect "bad number" 1 "^imgsh: invalid guest offset 'zz': a number" -- "$IMGSH" translate hsn.qcow2 zz
expect "L1 index past the table" 1 "^imgsh: 'hsn.qcow2': L1 index 5 is past the end of the L1 table \\(1 entries\\)$" -- \
    "$IMGSH" l2 hsn.qcow2 5
expect "unknown snapshot" 1 "^imgsh: 'hsn.qcow2' has no snapshot with the ID or name 'zz'$" -- \
    "$IMGSH" snapshot show hsn.qcow2 zz
expect "unknown bitmap" 1 "^imgsh: 'hsn.qcow2' has no bitmap named 'zz'$" -- "$IMGSH" bitmap show hsn.qcow2 zz
expect "refcount range backwards" 1 "^imgsh: invalid cluster range '9-3'" -- "$IMGSH" refcount hsn.qcow2 9-3
expect "refblock without a block" 1 "refcount table entry 5 has no refcount block" -- "$IMGSH" refblock hsn.qcow2 5
expect "a format other than qcow2" 1 "^imgsh: 'l1' shows qcow2 metadata: the format 'raw' has none" -- \
    "$IMGSH" l1 -f raw r.raw
expect "missing argument" 1 "^imgsh: usage: translate " -- "$IMGSH" translate hsn.qcow2
expect "qemu-img has no l1" 1 "Command not found: l1" -- "$COMPAT" l1 hsn.qcow2
expect "a truncated header" 1 "^imgsh: 'short.qcow2': cluster_bits 0 is outside 9..21" -- \
    sh -c "head -c 16 hsn.qcow2 >short.qcow2 && '$IMGSH' header short.qcow2"

# locks: an image in use is refused, -U reads it anyway
expect "image in use: refused" 1 "Failed to get shared \"write\" lock" -- "$HOLDLOCK" hsn.qcow2 101 "$IMGSH" l1 hsn.qcow2
expect "image in use: -U reads it" 0 "^L1 table" -- "$HOLDLOCK" hsn.qcow2 101 "$IMGSH" l1 -U hsn.qcow2
