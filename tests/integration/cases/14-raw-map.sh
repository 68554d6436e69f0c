# map on raw images: data and hole extents from SEEK_DATA/SEEK_HOLE, ranges, errors.
setup() {
    qemu-img create -q -f raw m.raw 10M
    qemu-io -f raw -c 'write -P 1 1M 64k' -c 'write -P 2 5M 1M' m.raw
    qemu-img create -q -f raw empty.raw 0
    qemu-img create -q -f raw full.raw 1M
    qemu-io -f raw -c 'write -P 3 0 1M' full.raw
    printf 'x' >odd.raw
}
for f in m.raw empty.raw full.raw odd.raw; do
    same map -f raw "$f"
    same map -f raw --output=json "$f"
    same map "$f"
done
same map -f raw --output=json --start-offset=1M --max-length=2M m.raw
same map -f raw --start-offset=1000 --max-length=70000 m.raw
same map -f raw --output=json --start-offset=1000 --max-length=70000 m.raw
same map -f raw --output=json --start-offset=20M m.raw
same map -f raw --output=json --max-length=0 m.raw
same map -f raw --output=json --start-offset=0x1000 m.raw
same map -f raw --output=json --start-offset=1.5k m.raw
same map -f raw --start-offset=-1 m.raw
same map -f raw --start-offset=99999999999999999999 m.raw
same map -f raw --start-offset=1x m.raw
same map -f raw --max-length=1x m.raw
same map -f raw --output=xml m.raw
same map -f raw m.raw extra
same map
same map missing.raw
same map -U -f raw m.raw
same_locked m.raw 200,201,203 map -f raw m.raw
