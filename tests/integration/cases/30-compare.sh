# compare on raw images: identical, different content, different sizes,
# sparse against allocated, strict mode, progress, quiet, errors.
setup() {
    qemu-img create -q -f raw a.raw 10M
    qemu-io -f raw -c 'write -P 1 1M 64k' a.raw
    cp --sparse=always a.raw sparse.raw              # same bytes, block 0 a hole
    cp a.raw same.raw
    qemu-img create -q -f raw diff.raw 10M
    qemu-io -f raw -c 'write -P 1 1M 64k' -c 'write -P 2 3146428 1' diff.raw
    qemu-img create -q -f raw big.raw 12M             # a.raw plus a zero tail
    qemu-io -f raw -c 'write -P 1 1M 64k' big.raw
    qemu-img create -q -f raw tail.raw 12M            # a.raw plus data in the tail
    qemu-io -f raw -c 'write -P 1 1M 64k' -c 'write -P 5 11534936 1' tail.raw
    qemu-img create -q -f raw zeros.raw 10M           # zeros written as data
    qemu-io -f raw -c 'write -P 1 1M 64k' -c 'write -P 0 8M 1M' zeros.raw
    qemu-img create -q -f raw late.raw 10M            # hole up to 9M, then zero data
    qemu-io -f raw -c 'write -P 1 1M 64k' -c 'write -P 0 9M 1M' late.raw
    qemu-img create -q -f raw first.raw 10M           # differs in the very first byte
    qemu-io -f raw -c 'write -P 1 1M 64k' -c 'write -P 7 0 1' first.raw
    qemu-img create -q -f raw full.raw 6M             # 3 full 2M chunks of data
    qemu-io -f raw -c 'write -P 3 0 6M' full.raw
    cp full.raw full2.raw
    qemu-io -f raw -c 'write -P 4 5M 1' full2.raw
    head -c 700 /dev/urandom >r700                    # odd sizes: 700 -> 1024
    cp r700 r1024 && truncate -s 1024 r1024
    cp r700 r5000 && truncate -s 5000 r5000
    cp r700 q700 && printf 'Z' | dd of=q700 bs=1 seek=650 conv=notrunc
    qemu-img create -q -f raw empty.raw 0
    qemu-img create -q -f raw empty2.raw 0
}
same compare a.raw same.raw
same compare a.raw sparse.raw
same compare -f raw a.raw sparse.raw
same compare -f raw -F raw a.raw diff.raw
same compare diff.raw a.raw
same compare a.raw first.raw
same compare a.raw big.raw
same compare big.raw a.raw
same compare a.raw tail.raw
same compare tail.raw a.raw
same compare a.raw zeros.raw
same compare full.raw full2.raw
same compare full.raw a.raw
same compare r700 r1024
same compare r700 r5000
same compare r700 q700
same compare r5000 r700
same compare empty.raw empty2.raw
same compare empty.raw a.raw
same compare a.raw empty.raw
# strict mode: sizes first, then block status (data/zero and where runs end)
same compare -s a.raw same.raw
same compare -s a.raw sparse.raw
same compare -s a.raw big.raw
same compare -s a.raw zeros.raw
same compare -s a.raw late.raw
same compare -s zeros.raw late.raw
same compare -s r700 r1024
same compare -s r700 r700
same compare -s r5000 r5000
same compare -s a.raw diff.raw
same compare -s -s empty.raw empty2.raw
# progress and quiet
same compare -p a.raw same.raw
same compare -p a.raw sparse.raw
same compare -p a.raw tail.raw
same compare -p a.raw big.raw
same compare -p r700 r5000
same compare -p full.raw full2.raw
same compare -p -s a.raw late.raw
same compare -p -s r700 r5000
same compare -p empty.raw empty2.raw
same compare -q a.raw diff.raw
same compare -q a.raw same.raw
same compare -q -p a.raw same.raw
same compare -p -q a.raw tail.raw
same compare -s -q a.raw big.raw
# options and errors
same compare -U a.raw same.raw
same compare --force-share a.raw diff.raw
same compare -T none a.raw diff.raw
same compare -T writethrough a.raw same.raw
same compare -T bogus a.raw same.raw
same compare -p -T bogus a.raw same.raw
same compare -T bogus a.raw
same compare a.raw
same compare
same compare a.raw same.raw diff.raw
same compare a.raw missing.raw
same compare missing.raw a.raw
same compare -p a.raw missing.raw
same compare -f bogus a.raw same.raw
same compare -F bogus a.raw same.raw
same compare -p -f bogus a.raw same.raw
same compare a.raw .
same compare -x a.raw same.raw
same compare -f
same compare --format=raw a.raw same.raw
same_locked a.raw 200,201,203 compare a.raw same.raw
same_locked a.raw 200 compare a.raw same.raw
expect "qemu-img compare -h prints the full help" 0 'Command syntax:' -- "$COMPAT" compare -h
expect "imgsh compare --help" 0 '^usage: imgsh compare ' -- "$IMGSH" compare --help
# qcow2 images (read by the qcow2 driver), against each other and raw
setup() {
    qemu-img create -q -f qcow2 q.qcow2 20M
    qemu-io -c 'write -P 1 1M 64k' -c 'write -z 3M 1M' -c 'write -P 0 5M 1M' \
        -c 'write -P 5 6M 3000' q.qcow2
    qemu-img create -q -f qcow2 -b q.qcow2 -F qcow2 ov.qcow2
    qemu-io -c 'write -P 7 6M 4k' -c 'write -z 1M 4k' ov.qcow2
    qemu-img convert -O raw q.qcow2 q.raw
    qemu-img convert -O raw ov.qcow2 ov.raw
}
same compare q.qcow2 ov.qcow2
same compare -p q.qcow2 ov.qcow2
same compare q.qcow2 q.raw
same compare ov.qcow2 ov.raw
same compare -f qcow2 -F raw ov.qcow2 ov.raw
same compare -s q.qcow2 q.qcow2
same compare -s ov.qcow2 q.qcow2
same compare -s q.qcow2 q.raw
same compare -s ov.qcow2 ov.raw
same compare -f raw q.qcow2 q.raw
