# diagnose, clusters, leaks and carve. diagnose finds every damage kind of
# the check corpus (and says which structure, where, and the sentence of
# the specification), finds nothing on healthy images, and finds what
# qemu-img check misses: an L2 entry pointing into the image's own L1
# table, after `qemu-img check -r all` has made the refcounts agree (qemu
# then calls the image clean). clusters maps every host cluster; leaks and
# carve find and save leaked clusters' data.
# KIND:BASE:FINDING - d-KIND.qcow2 is hBASE.qcow2 with KIND; diagnose must
# report a finding of kind FINDING ("qemu-check": one of qemu-img check's)
DAMAGED="leak:v2:leak refcount-low:v3:refcount-low refcount-high:r64:refcount-high
    refblock-missing:v3:refcount-low reftable-at-data:v3:overlap reftable-unaligned:v3:qemu-check
    refblock-refcount-zero:r1:refcount-low l2-past-eof:xl2:data-past-eof l2-unaligned:v3:unaligned-cluster
    l2-prealloc-unaligned:lazy:unaligned-cluster l2-shared:v2:refcount-low l2-reserved-bits:v3:l2-reserved
    l1-at-header:v3:l1-copied-unallocated l1-reserved-bits:r64:l1-reserved copied-l2:xl2:l2-copied
    copied-l1:snl:l1-copied copied-wrong:v2:l2-copied snapshot-table-truncated:snl:qemu-check
    snapshot-count-high:sn:qemu-check snapshot-l1-unaligned:sn:unaligned-table corrupt-bit:v3:corrupt
    dirty-lazy:lazy:dirty compressed-broken:v3:qemu-check compressed-copied:xl2:compressed-copied
    subcluster-both:xl2:subcluster-both bitmap-table-leak:bm:refcount-high scramble-1:v3:qemu-check
    scramble-2:xl2:qemu-check scramble-3:r64:qemu-check scramble-4:v2:qemu-check"

setup() {
    damaged_16k $DAMAGED || return 1
    # a chain whose base is smaller and whose middle names no backing format
    qemu-img create -q -f raw small.raw 1M &&
        qemu-img create -q -f qcow2 -b small.raw -F raw mid.qcow2 4M &&
        qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2 4M &&
        qemu-img create -q -f qcow2 -b small.raw -F raw noformat.qcow2 4M &&
        poke noformat.qcow2 112 e2792acb &&     # the backing format extension, renamed away
        qemu-img create -q -f qcow2 -b gone.qcow2 -F qcow2 -u orphan.qcow2 4M || return 1
    # an L2 entry that points into the L1 table, refcounts then "repaired" by qemu-img
    qemu-img create -q -f qcow2 cross.qcow2 8M && qemu-io -c 'write -P 1 0 128k' cross.qcow2 &&
        l1=$(od -An -tx1 -j40 -N8 cross.qcow2 | tr -d ' \n') &&
        l2=$(od -An -tx1 -j"$((0x$l1))" -N8 cross.qcow2 | tr -d ' \n') &&
        poke cross.qcow2 "$((0x$l2 & 0x00fffffffffffe00))" "$l1" &&
        qemu-img check -q -r all cross.qcow2 && qemu-img check -q cross.qcow2 || return 1
    # a leaked cluster that holds data: a cluster whose L2 entry is cleared
    qemu-img create -q -f qcow2 -o cluster_size=4k orph.qcow2 1M &&
        qemu-io -c 'write -P 0x41 0 4k' -c 'write -P 0x42 4k 4k' orph.qcow2 &&
        l1=$(od -An -tx1 -j40 -N8 orph.qcow2 | tr -d ' \n') &&
        l2=$(od -An -tx1 -j"$((0x$l1))" -N8 orph.qcow2 | tr -d ' \n') &&
        poke orph.qcow2 "$(((0x$l2 & 0x00fffffffffffe00) + 8))" 0000000000000000 || return 1
    qemu-img create -q -f raw r.raw 1M
} >/dev/null

for img in hv3 hv2 hlazy hxl2 hr1 hr64 hsn hbm top; do
    ONLY="$img.qcow2"
    [ "$img" = top ] && ONLY="top.qcow2 mid.qcow2 small.raw"
    expect "diagnose: nothing wrong with $img.qcow2" 0 "^$img.qcow2: 0 errors, 0 warnings" -- \
        "$IMGSH" diagnose "$img.qcow2"
done
ONLY=
for e in $DAMAGED; do
    k=${e%%:*}; want=${e##*:}
    ONLY=d-$k.qcow2
    check "diagnose finds $k ($want), each finding with a spec sentence" sh -c "
        '$IMGSH' diagnose --json d-$k.qcow2 >out; rc=\$?
        [ \$rc = 2 ] || [ \$rc = 3 ] || { echo \"exit \$rc\"; exit 1; }
        python3 -c '
import json, sys
d = json.load(open(\"out\"))
kinds = [f[\"kind\"] for f in d[\"findings\"]]
assert \"$want\" in kinds, kinds
assert all(f[\"spec\"] and f[\"severity\"] in (\"error\", \"warning\", \"note\") for f in d[\"findings\"])
assert d[\"errors\"] + d[\"warnings\"] > 0
'"
done
ONLY=

# what qemu-img check misses
expect "qemu-img check calls the L2-into-L1 image clean" 0 "No errors were found" -- qemu-img check cross.qcow2
expect "diagnose: the L2 entry into the L1 table is an overlap" 2 \
    "error +\\[overlap\\] host cluster [0-9]+ \\(0x[0-9a-f]+\\) is used 2 times, as l1, data" -- \
    "$IMGSH" diagnose cross.qcow2
expect "diagnose: the guest range it affects" 2 "guest 0\\+0x10000 \\(depth 0, active image\\)" -- \
    "$IMGSH" diagnose cross.qcow2
check "diagnose --json: the overlap's host offset is the L1 table's" sh -c "
    '$IMGSH' diagnose --json cross.qcow2 >out; l1=\$(od -An -tu8 --endian=big -j40 -N8 cross.qcow2 | tr -d ' ')
    python3 -c '
import json, sys
d = json.load(open(\"out\"))
o = [f for f in d[\"findings\"] if f[\"kind\"] == \"overlap\"]
assert len(o) == 1 and o[0][\"host-offset\"] == int(sys.argv[1]), o
assert o[0][\"guest\"] == [{\"offset\": 0, \"length\": 65536, \"depth\": 0, \"snapshot\": None}], o
' \"\$l1\""

# two snapshots sharing one L1 table; an L2 entry inside the header cluster
check "diagnose: snapshots whose L1 tables overlap" sh -c "
    qemu-img create -q -f qcow2 two.qcow2 1M && qemu-img snapshot -c a two.qcow2 &&
    qemu-io -c 'write -P 1 0 4k' two.qcow2 >/dev/null && qemu-img snapshot -c b two.qcow2 &&
    '$IMGSH' snapshots --json two.qcow2 >sn.json && python3 -c '
import json
s = json.load(open(\"sn.json\"))
f = open(\"two.qcow2\", \"r+b\")
f.seek(s[1][\"table-offset\"])
f.write(s[0][\"l1-offset\"].to_bytes(8, \"big\"))' &&
    '$IMGSH' diagnose two.qcow2 >out; [ \$? = 2 ] && grep -Eq 'overlap.* as l1, l1' out"
check "diagnose: an L2 entry inside the header cluster" sh -c "
    cp hv3.qcow2 x.qcow2 && '$IMGSH' l1 --json x.qcow2 >l1.json && python3 -c '
import json
l2 = json.load(open(\"l1.json\"))[0][\"l2-offset\"]
f = open(\"x.qcow2\", \"r+b\")
f.seek(l2)
f.write((0x8000000000000200).to_bytes(8, \"big\"))' &&
    '$IMGSH' diagnose x.qcow2 >out; [ \$? = 2 ] && grep -Eq 'overlap.* as header, data' out &&
    grep -q 'unaligned-cluster' out"

# the backing chain
expect "diagnose: a smaller backing file is a note" 0 "note +\\[backing-smaller\\] the backing file 'small.raw'" -- \
    "$IMGSH" diagnose top.qcow2
expect "diagnose: a backing file without its format" 3 "warning +\\[backing-format\\]" -- \
    "$IMGSH" diagnose noformat.qcow2
expect "diagnose: a missing backing file" 2 "error +\\[backing-missing\\] the backing file 'gone.qcow2'" -- \
    "$IMGSH" diagnose orphan.qcow2
check "diagnose: a backing loop" sh -c "
    qemu-img create -q -f qcow2 a.qcow2 1M && qemu-img create -q -f qcow2 -b a.qcow2 -F qcow2 b.qcow2 &&
    qemu-img rebase -u -b b.qcow2 -F qcow2 a.qcow2 &&
    '$IMGSH' diagnose -U a.qcow2 >out; [ \$? = 2 ] && grep -q 'backing-loop' out"

# clusters, leaks, carve
expect "clusters: a map with a summary" 0 "^Summary:" -- "$IMGSH" clusters hsn.qcow2
expect "clusters: kinds" 0 "^0 +0-0x3fff +header +1$" -- "$IMGSH" clusters hsn.qcow2
check "clusters --json: every file cluster counted once" sh -c "
    '$IMGSH' clusters --json hbm.qcow2 >out && python3 -c '
import json, os
d = json.load(open(\"out\"))
n = sum(r[\"last\"] - r[\"first\"] + 1 for r in d[\"clusters\"])
assert n == d[\"file-clusters\"] == sum(d[\"summary\"].values()), d
assert d[\"file-clusters\"] == (os.path.getsize(\"hbm.qcow2\") + 16383) // 16384
assert {\"header\", \"l1\", \"l2\", \"data\", \"bitmap-directory\", \"bitmap-table\"} <= set(d[\"summary\"]), d
'"
expect "clusters: an overlap" 0 "overlap" -- "$IMGSH" clusters cross.qcow2
expect "leaks: the leaked cluster with its content" 0 "^[0-9]+ +0x[0-9a-f]+ +1 +BBBBBBBB" -- "$IMGSH" leaks orph.qcow2
expect "leaks: none on a healthy image" 0 "0 leaked clusters" -- "$IMGSH" leaks hv3.qcow2
check "carve: the leaked data saved as a file" sh -c "
    '$IMGSH' carve orph.qcow2 out >log && ls out | grep -q '^leak-0x' &&
    [ \"\$(cat out/leak-0x*.bin | tr -d B | wc -c)\" = 0 ] && [ \"\$(cat out/leak-0x*.bin | wc -c)\" = 4096 ] &&
    grep -q 'Saved 1 of 1 leaked clusters' log"
expect "carve: never overwrites" 1 "Could not create 'out/leak-0x[0-9a-f]+.bin': File exists" -- \
    sh -c "'$IMGSH' carve orph.qcow2 out >/dev/null && '$IMGSH' carve orph.qcow2 out"
expect "carve: a file where the directory should be" 1 "Could not create the directory 'r.raw'" -- \
    "$IMGSH" carve orph.qcow2 r.raw
check "diagnose, clusters, leaks and carve never write the image" sh -c "
    sum=\$(sha256sum <d-leak.qcow2)
    '$IMGSH' diagnose d-leak.qcow2 >/dev/null; '$IMGSH' clusters d-leak.qcow2 >/dev/null
    '$IMGSH' leaks d-leak.qcow2 >/dev/null; '$IMGSH' carve d-leak.qcow2 dir >/dev/null
    [ \"\$(sha256sum <d-leak.qcow2)\" = \"\$sum\" ]"
expect "diagnose: not qcow2" 1 "^imgsh: 'r.raw' is not a qcow2 image$" -- "$IMGSH" diagnose r.raw
