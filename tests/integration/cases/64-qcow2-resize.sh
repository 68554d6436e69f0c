# resize on qcow2: growing (with every preallocation mode), shrinking,
# unaligned sizes, snapshots, backing files longer than the image, external
# data files; the result byte for byte as qemu-img's, and snapshot -a across
# a resize.
setup() {
    q() { qemu-img create -q -f qcow2 -o "$1" "$2" "$3"; qemu-io -c 'write -P 1 0 100k' \
            -c 'write -c -P 2 2M 64k' -c 'write -P 3 3000000 300000' -c 'write -z 3M 64k' "$2" >/dev/null; }
    q cluster_size=65536 q.qcow2 4194816
    q cluster_size=512 small.qcow2 4M
    q cluster_size=16384,extended_l2=on x.qcow2 4100k
    q cluster_size=2M big.qcow2 8M
    q compat=0.10 v2.qcow2 4M
    q refcount_bits=1,cluster_size=4096 r1.qcow2 4M
    cp q.qcow2 sn.qcow2
    qemu-img snapshot -c s sn.qcow2
    cp v2.qcow2 v2sn.qcow2
    qemu-img snapshot -c s v2sn.qcow2
    qemu-img create -q -f qcow2 base.qcow2 16M
    qemu-io -c 'write -P 9 0 16M' base.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 ov.qcow2 4100k
    qemu-img create -q -f qcow2 -o compat=0.10 -b base.qcow2 -F qcow2 ov2.qcow2 4100k
    qemu-img create -q -f qcow2 -o data_file=d.raw ext.qcow2 4M
    qemu-io -c 'write -P 4 0 1M' ext.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -o preallocation=metadata pm.qcow2 4M
    qemu-img create -q -f qcow2 bm.qcow2 4M
    qemu-img bitmap --add bm.qcow2 b0
    qemu-img bitmap --add -g 4k --disable bm.qcow2 b1
    qemu-io -c 'write -P 1 0 1M' -c 'write -P 2 3M 1M' bm.qcow2 >/dev/null
}
for f in q.qcow2 small.qcow2 x.qcow2 big.qcow2 v2.qcow2 r1.qcow2; do
    for a in 16M "--preallocation=metadata 9M" "--preallocation=falloc 9M" \
             "--preallocation=full 6M" "--shrink 1M" "--shrink 2100k" "--shrink 512" +512 -q; do
        same resize $a "$f" 8193k
    done
done
# sizes, relative and odd (the last argument is the size)
same resize q.qcow2 +1M
same resize --shrink q.qcow2 -1M
same resize q.qcow2 1000
same resize q.qcow2 4194816
same resize --shrink -f qcow2 q.qcow2 0
same resize q.qcow2 1G
same resize --preallocation=metadata q.qcow2 1M
# snapshots, backing files, data files, preallocated images
same resize sn.qcow2 64M
same resize --shrink sn.qcow2 1M
same resize v2sn.qcow2 64M
for a in 8M 8193k "--preallocation=metadata 8M" "--preallocation=falloc 8M" 20M; do
    same resize ov.qcow2 $a
    same resize ov2.qcow2 $a
done
same resize ext.qcow2 8M
same resize --shrink ext.qcow2 512k
same resize --preallocation=metadata ext.qcow2 8M
same resize --preallocation=falloc ext.qcow2 8M
same resize --shrink pm.qcow2 1M
same resize --preallocation=metadata pm.qcow2 64M
# persistent bitmaps are resized with the image
same resize bm.qcow2 8M
same resize --shrink bm.qcow2 2M
same resize --shrink bm.qcow2 3999744
same resize bm.qcow2 1G
same resize --preallocation=metadata bm.qcow2 6M
# snapshot -a across a resize brings the old size back
check "snapshot -a after resize: as qemu-img (dates aside)" sh -c "
    cp sn.qcow2 a.qcow2 && qemu-img resize a.qcow2 64M >/dev/null && cp a.qcow2 b.qcow2 &&
    qemu-img snapshot -a s a.qcow2 && '$IMGSH' snapshot -a s b.qcow2 &&
    '$BUILD/tests/snapmask' a.qcow2 a.m && '$BUILD/tests/snapmask' b.qcow2 b.m && cmp a.m b.m"
check "snapshot -a after shrinking: as qemu-img (dates aside)" sh -c "
    cp sn.qcow2 a.qcow2 && qemu-img resize --shrink a.qcow2 1M >/dev/null && cp a.qcow2 b.qcow2 &&
    qemu-img snapshot -a s a.qcow2 && '$IMGSH' snapshot -a s b.qcow2 &&
    '$BUILD/tests/snapmask' a.qcow2 a.m && '$BUILD/tests/snapmask' b.qcow2 b.m && cmp a.m b.m"
