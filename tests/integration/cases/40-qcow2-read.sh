# qcow2 reading: a corpus made by the real qemu-img/qemu-io (every option
# that changes the on-disk layout), then info, map and reads compared.
setup() {
    qemu-img create -q -f qcow2 default.qcow2 64M && fill default.qcow2 65536
    qemu-img create -q -f qcow2 -o compat=0.10 v2.qcow2 64M && fill v2.qcow2 65536
    for cs in 512 4096 2097152; do
        qemu-img create -q -f qcow2 -o cluster_size=$cs cs$cs.qcow2 64M && fill cs$cs.qcow2 $cs
    done
    qemu-img create -q -f qcow2 -o refcount_bits=1 rc1.qcow2 16M && fill rc1.qcow2 65536
    qemu-img create -q -f qcow2 -o refcount_bits=64 rc64.qcow2 16M && fill rc64.qcow2 65536
    qemu-img create -q -f qcow2 -o extended_l2=on el2.qcow2 16M && fill el2.qcow2 65536
    qemu-io -f qcow2 -c 'write -P 0x55 1M 4k' -c 'write -z 1056768 2k' el2.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=16k el2s.qcow2 4M && fill el2s.qcow2 16384
    qemu-img create -q -f qcow2 -o compression_type=zstd zstd.qcow2 16M && fill zstd.qcow2 65536
    qemu-img create -q -f qcow2 -o lazy_refcounts=on lazy.qcow2 16M && fill lazy.qcow2 65536
    qemu-img create -q -f qcow2 -o preallocation=metadata pre.qcow2 4M
    qemu-img create -q -f qcow2 -o preallocation=full full.qcow2 2M
    # a 3-deep chain with relative names in a subdirectory
    mkdir -p chain/sub
    qemu-img create -q -f qcow2 chain/sub/base.qcow2 8M
    qemu-io -f qcow2 -c 'write -P 0xa1 0 2M' -c 'write -P 0xa2 6M 1M' chain/sub/base.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 chain/sub/mid.qcow2
    qemu-io -f qcow2 -c 'write -P 0xb1 1M 2M' -c 'write -z 6M 512k' chain/sub/mid.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -b sub/mid.qcow2 -F qcow2 chain/top.qcow2 12M
    qemu-io -f qcow2 -c 'write -P 0xc1 2M 64k' -c 'write -P 0xc2 10M 64k' chain/top.qcow2 >/dev/null
    # a backing file without a recorded format, and a raw backing file
    qemu-img create -q -f raw rawbase.raw 4M
    qemu-io -f raw -c 'write -P 0xd1 0 1M' rawbase.raw >/dev/null
    qemu-img create -q -f qcow2 -b rawbase.raw -F raw overraw.qcow2
    # internal snapshots
    qemu-img create -q -f qcow2 snap.qcow2 8M
    qemu-io -f qcow2 -c 'write -P 0x61 0 1M' snap.qcow2 >/dev/null
    qemu-img snapshot -c first snap.qcow2
    qemu-io -f qcow2 -c 'write -P 0x62 512k 1M' snap.qcow2 >/dev/null
    qemu-img snapshot -c 'second one' snap.qcow2
    qemu-io -f qcow2 -c 'write -z 0 256k' snap.qcow2 >/dev/null
    # persistent bitmaps
    qemu-img create -q -f qcow2 bitmaps.qcow2 8M
    qemu-img bitmap --add bitmaps.qcow2 b0
    qemu-img bitmap --add -g 1M bitmaps.qcow2 b1
    qemu-img bitmap --disable bitmaps.qcow2 b1
    # external data files
    qemu-img create -q -f qcow2 -o data_file=ext.data ext.qcow2 8M
    qemu-io -f qcow2 -c 'write -P 0x71 1M 1M' -c 'write -z 4M 1M' ext.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -o data_file=extraw.data,data_file_raw=on extraw.qcow2 8M
    qemu-io -f qcow2 -c 'write -P 0x72 0 1M' extraw.qcow2 >/dev/null
    # big and sparse
    qemu-img create -q -f qcow2 big.qcow2 100G
    qemu-io -f qcow2 -c 'write -P 0x81 0 64k' -c 'write -P 0x82 50G 64k' -c 'write -P 0x83 99G 1M' big.qcow2 >/dev/null
    # dirty (lazy refcounts, not closed cleanly) and corrupt-flagged images
    cp lazy.qcow2 dirty.qcow2
    printf '\001' | dd of=dirty.qcow2 bs=1 seek=79 conv=notrunc 2>/dev/null
    cp default.qcow2 corrupt.qcow2
    printf '\002' | dd of=corrupt.qcow2 bs=1 seek=79 conv=notrunc 2>/dev/null
}
images="default v2 cs512 cs4096 cs2097152 rc1 rc64 el2 el2s zstd lazy pre full overraw snap bitmaps ext extraw big dirty corrupt"
for i in $images; do
    same info $i.qcow2
    same info --output=json $i.qcow2
    same_json info --output=json $i.qcow2
    same map $i.qcow2
    same map --output=json $i.qcow2
    same info --backing-chain $i.qcow2
    same_json info --backing-chain --output=json $i.qcow2
    same compare $i.qcow2 default.qcow2
    same compare -s $i.qcow2 $i.qcow2
    same measure -O qcow2 $i.qcow2
    same measure --output=json -O raw $i.qcow2
    if [ $i = big ]; then   # 100 GiB of output: compare by allocation, not bytes
        check "convert -O raw big.qcow2 like qemu-img" sh -c "
            qemu-img convert -O raw big.qcow2 want.raw && '$IMGSH' convert -O raw big.qcow2 got.raw &&
            qemu-img compare -f raw -F raw want.raw got.raw &&
            qemu-img map -f raw --output=json want.raw >want.map &&
            qemu-img map -f raw --output=json got.raw >got.map && cmp want.map got.map"
    else
        same convert -O raw $i.qcow2 o.raw
    fi
done
for i in chain/top.qcow2 chain/sub/mid.qcow2; do
    same info $i
    same info --backing-chain $i
    same info --backing-chain --output=json $i
    same map $i
    same map --output=json $i
    same convert -O raw $i o.raw
    same compare $i chain/sub/base.qcow2
    same measure -O qcow2 $i
done
same map --output=json --start-offset=1M --max-length=3M chain/top.qcow2
same info -f qcow2 --output=json big.qcow2
same info -f raw default.qcow2
same map -f raw default.qcow2
# reads: imgsh's block layer must return exactly what qemu-img reads
READIMG=$(dirname "$HOLDLOCK")/readimg
for i in $images chain/top.qcow2 chain/sub/mid.qcow2; do
    [ $i = big ] && continue
    check "read $i like qemu-img" sh -c "
        qemu-img convert -O raw $i.qcow2 want.raw 2>/dev/null || qemu-img convert -O raw $i want.raw
        '$READIMG' \$(test -e $i.qcow2 && echo $i.qcow2 || echo $i) got.raw && cmp want.raw got.raw"
done
for s in 1 first 2 'second one'; do
    check "read snapshot '$s' like qemu-img" sh -c "
        qemu-img convert -l '$s' -O raw snap.qcow2 want.raw && '$READIMG' -l '$s' snap.qcow2 got.raw && cmp want.raw got.raw"
done

# bitmaps left by a program that lacks bitmap support (the autoclear bit is
# clear): qemu-img warns at open and ignores them
setup() {
    qemu-img create -q -f qcow2 stale.qcow2 64M
    qemu-img bitmap --add stale.qcow2 b0
    poke stale.qcow2 95 00
    # a v2 image cannot get bitmaps from qemu-img: add the extension by hand
    qemu-img create -q -f qcow2 -o compat=0.10 stale2.qcow2 1M
    poke stale2.qcow2 72 238528750000001800000001000000000000000000000040000000000005000000000000
}
for i in stale.qcow2 stale2.qcow2; do
    same info $i
    same info --output=json $i
    same map $i
    same measure -O qcow2 $i
    same convert -O raw $i o.raw
done

# a 1 TiB image with every L2 table allocated: walking all of them (map, convert)
# keeps memory within the L2 cache's 32 MiB ceiling, as in qemu
setup() {
    qemu-img create -q -f qcow2 -o preallocation=metadata tera.qcow2 1T
}
same map --output=json tera.qcow2
if [ -x /usr/bin/time ] && [ "${BUILD%asan}" = "$BUILD" ]; then     # ASan's shadow memory would count
    for c in "map tera.qcow2" "convert -O raw tera.qcow2 o.raw"; do
        check "memory of $c stays under 64 MiB" sh -c "
            /usr/bin/time -f %M -o rss '$IMGSH' $c >/dev/null && test \$(cat rss) -lt 65536"
    done
fi
