# A random workload through imgsh's qemu-io personality (tests/integration/
# workload.awk: 2000 writes, zero writes with and without unmap, discards
# and compressed writes per image, of random sizes and offsets, some
# unaligned), on qcow2 images of every cluster size, with extended L2
# entries, compat=0.10 and other refcount widths. Afterwards qemu-img check
# finds no errors and no leaks, and qemu reads exactly the bytes a raw image
# got from the same workload through the real qemu-io.
QEMU_IO_COMPAT=$(cd "$BUILD" && pwd)/compat/qemu-io
AWKPROG=$ROOT/tests/integration/workload.awk
workload() {
    local seed=$1 opts=$2 cs=$3 size=$4 out
    awk -v seed="$seed" -v ops=2000 -v size="$size" -v cs="$cs" -v img=img.cmds -v ref=ref.cmds \
        -f "$AWKPROG" || return 1
    qemu-img create -q -f qcow2 -o "$opts" w.qcow2 "$size" &&
        qemu-img create -q -f raw r.raw "$size" || return 1
    out=$("$QEMU_IO_COMPAT" -f qcow2 w.qcow2 <img.cmds) || { echo "qemu-io failed"; return 1; }
    if printf '%s\n' "$out" | grep -i 'fail'; then return 1; fi
    qemu-io -f raw r.raw <ref.cmds >/dev/null || return 1
    qemu-img check w.qcow2 && qemu-img compare -f raw -F qcow2 r.raw w.qcow2
}
size_for() {   # 64 clusters, between 4 MiB and 64 MiB
    local s=$(($1 * 64))
    [ $s -lt 4194304 ] && s=4194304
    [ $s -gt 67108864 ] && s=67108864
    echo $s
}
seed=1
for cs in 512 1024 2048 4096 8192 16384 32768 65536 131072 262144 524288 1048576 2097152; do
    check "workload: cluster_size=$cs" workload $seed "cluster_size=$cs" $cs "$(size_for $cs)"
    seed=$((seed + 1))
done
for cs in 16384 65536 2097152; do
    check "workload: cluster_size=$cs, extended_l2" workload $seed \
        "cluster_size=$cs,extended_l2=on" $cs "$(size_for $cs)"
    seed=$((seed + 1))
done
check "workload: compat=0.10" workload $seed "compat=0.10,cluster_size=4096" 4096 4194304
check "workload: refcount_bits=1, 512-byte clusters" workload 90 "refcount_bits=1,cluster_size=512" 512 8388608
check "workload: refcount_bits=64, lazy refcounts" workload 91 "refcount_bits=64,lazy_refcounts=on" 65536 8388608
check "workload: zstd, an odd size" workload 92 "compression_type=zstd,cluster_size=4096" 4096 4194000

# the same commands through qemu-io and imgsh's qemu-io: the same output and
# the same image, byte for byte (allocation follows qemu's order)
setup() {
    qemu-img create -q -f qcow2 q.qcow2 8M
    fill q.qcow2 65536
    qemu-img create -q -f qcow2 -o cluster_size=16384,extended_l2=on x.qcow2 4M
    qemu-img create -q -f qcow2 -o compat=0.10 v2.qcow2 4M
    qemu-img create -q -f qcow2 -b q.qcow2 -F qcow2 ov.qcow2
    cp q.qcow2 sn.qcow2
    qemu-img snapshot -c s sn.qcow2
    # an L2 entry pointing at the refcount table, and an image marked corrupt
    qemu-img create -q -f qcow2 bad.qcow2 1M
    qemu-io -c 'write -P 1 0 64k' bad.qcow2 >/dev/null
    poke bad.qcow2 $((0x40000)) 8000000000010000
    cp q.qcow2 corrupt.qcow2
    poke corrupt.qcow2 79 02
}
# (one compressed cluster per request: qemu compresses several in parallel
# and places them in whatever order they finish)
for f in q.qcow2 x.qcow2 v2.qcow2 ov.qcow2 sn.qcow2; do
    c=64k
    [ $f = x.qcow2 ] && c=16k
    same_io -c 'write -P 1 1000 100k' -c 'write -z 300k 200k' -c 'write -z -u 64k 64k' \
        -c 'discard 0 128k' -c "write -c -P 2 2M $c" -c 'write -P 3 2M 512' \
        -c 'read -P 3 2M 512' -c 'map' -c 'flush' "$f"
    same_io -c "write -c -P 4 0 $c" -c 'write -c 64k 4k' -c "write -c -P 5 3M $c" "$f"
done
same_io -c 'write -P 1 0 8M' -c 'discard 0 8M' -c 'write -z 0 8M' -c 'alloc 0 8M' q.qcow2
same_io -c 'write -P 1 0 4M' -c 'write -z -u 16k 4k' -c 'write -z 40k 20k' -c 'map' x.qcow2
same_io -r -c 'write -P 1 0 4k' q.qcow2
same_io -c 'write -P 1 7M 2M' q.qcow2
# metadata found inconsistent while writing: the image is marked corrupt and
# every later request fails, as in qemu; a corrupt image is not opened for writing
same_io -c 'write -P 2 0 512' -c 'read 0 512' -c 'write -P 2 64k 512' -c 'map' -c 'flush' bad.qcow2
same_io -c 'write -P 2 0 512' corrupt.qcow2
same_io -c 'write -P 2 0 512' -c 'length' -c 'alloc 0 64k' bad.qcow2
same_io -r -c 'read -P 0x11 0 512' corrupt.qcow2
same convert -n -O qcow2 q.qcow2 corrupt.qcow2
same resize corrupt.qcow2 16M
same snapshot -c x corrupt.qcow2
