# convert and dd into qcow2: the target must be byte for byte what qemu-img
# writes (same allocation order, same metadata), for plain, zero-only and
# mixed sources, qcow2 creation options, existing targets and target
# backing files; every result passes qemu-img check.
setup() {
    qemu-img create -q -f raw s.raw 16M
    qemu-io -f raw -c 'write -P 1 1M 64k' -c 'write -z 6M 1M' -c 'write -P 2 8M 5000' \
        -c 'write -P 3 15M 1M' s.raw
    qemu-img create -q -f qcow2 q.qcow2 20M
    fill q.qcow2 65536
    qemu-io -c 'write -P 5 18M 1536k' q.qcow2
    qemu-img create -q -f qcow2 -b q.qcow2 -F qcow2 ov.qcow2
    qemu-io -c 'write -P 7 6M 4k' -c 'write -z 1M 4k' -c 'discard 2M 64k' ov.qcow2
    qemu-img create -q -f qcow2 -o cluster_size=4096,extended_l2=on x.qcow2 3M
    qemu-io -c 'write -P 8 1000 10000' -c 'write -z 64k 64k' x.qcow2
    qemu-img create -q -f qcow2 t.qcow2 20M
    qemu-io -c 'write -P 9 0 20M' t.qcow2
    head -c 70000 /dev/urandom >r70000
}
for f in s.raw q.qcow2 ov.qcow2 x.qcow2 r70000; do
    same convert -O qcow2 "$f" o.qcow2
done
for o in cluster_size=512 cluster_size=4096 cluster_size=2M compat=0.10 refcount_bits=1 \
         refcount_bits=64 extended_l2=on lazy_refcounts=on compression_type=zstd \
         preallocation=metadata preallocation=full cluster_size=16k,extended_l2=on; do
    same convert -O qcow2 -o "$o" q.qcow2 o.qcow2
done
for a in "-S 0" "-S 512" "-S 64k" "-m 1" "-t writeback" "-C"; do
    same convert -O qcow2 $a q.qcow2 o.qcow2
done
same convert -O qcow2 s.raw q.qcow2 r70000 o.qcow2
same convert -O qcow2 -p q.qcow2 o.qcow2
same convert -O qcow2 -q q.qcow2 o.qcow2
same convert -O qcow2 -T none -t none q.qcow2 o.qcow2
same convert -O qcow2 --salvage q.qcow2 o.qcow2
same convert -O qcow2 -l snapshot.name=nope q.qcow2 o.qcow2
same convert -O qcow2 -B q.qcow2 -F qcow2 ov.qcow2 o.qcow2
same convert -O qcow2 -B q.qcow2 -F qcow2 s.raw o.qcow2
same convert -O qcow2 -o backing_file=q.qcow2,backing_fmt=qcow2 ov.qcow2 o.qcow2
same convert -O qcow2 -l snapshot.name=nope q.qcow2 o.qcow2
same convert -n -O qcow2 s.raw t.qcow2
same convert -n -O qcow2 x.qcow2 t.qcow2
same convert -n -O qcow2 --target-is-zero s.raw o.raw
same convert -O qcow2 -o size=1M s.raw o.qcow2
same convert -O qcow2 -o cluster_size=3000 s.raw o.qcow2
# compressed: one cluster per request, compressed on every core, written in order
for a in "" "-o compression_type=zstd" "-o cluster_size=4096" "-o cluster_size=2M" "-S 0" \
         "-o cluster_size=512,refcount_bits=1" "-o extended_l2=on" "-o compat=0.10" \
         "-B q.qcow2 -F qcow2" "-m 1" "-m 16"; do
    same convert -c -O qcow2 $a ov.qcow2 o.qcow2
done
same convert -c -O qcow2 s.raw r70000 o.qcow2
same convert -c -O qcow2 x.qcow2 o.qcow2
same convert -c -n -O qcow2 s.raw t.qcow2
same convert -c -O qcow2 -o data_file=d.raw s.raw o.qcow2
same convert -c -O raw s.raw o.raw
same convert -c -n s.raw t.qcow2
# the results pass qemu-img check
# -W writes in whatever order the requests finish: the layout may differ
for a in "" "-W" "-W -m 16 -o cluster_size=4096" "-c -W" "-o cluster_size=512,refcount_bits=1" \
         "-o extended_l2=on" "-o compat=0.10"; do
    check "convert -O qcow2 $a: qemu-img check passes" sh -c \
        "'$IMGSH' convert -O qcow2 $a q.qcow2 o.qcow2 && qemu-img check -q o.qcow2 &&
         qemu-img compare -q q.qcow2 o.qcow2"
done
# dd into qcow2
same dd -O qcow2 if=s.raw of=o.qcow2
same dd -O qcow2 bs=64k count=100 skip=3 if=q.qcow2 of=o.qcow2
same dd -O qcow2 bs=1M if=ov.qcow2 of=o.qcow2
