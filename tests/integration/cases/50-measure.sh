# measure: sizes for new raw and qcow2 images, from --size or from a source
# image (raw and qcow2, sparse and full, chains, snapshots, bitmaps), and
# every error qemu-img measure reports.

setup() {
    # raw sources
    truncate -s 10M sparse.raw
    qemu-io -f raw -c 'write -P 1 0 4k' -c 'write -P 2 1M 100k' -c 'write -P 3 5000k 1' \
        sparse.raw >/dev/null
    truncate -s 1000000 full.raw
    qemu-io -f raw -c 'write -P 0x5a 0 1000000' full.raw >/dev/null
    truncate -s 1000 tiny.raw
    : >empty.raw
    truncate -s 96M big.raw     # every check compares every file: keep files small
    qemu-io -f raw -c 'write -P 1 32M 1M' -c 'write -P 2 64M 5' big.raw >/dev/null
    # qcow2 sources of every layout
    qemu-img create -q -f qcow2 default.qcow2 64M && fill default.qcow2 65536
    qemu-img create -q -f qcow2 -o compat=0.10 v2.qcow2 64M && fill v2.qcow2 65536
    qemu-img create -q -f qcow2 -o cluster_size=512 cs512.qcow2 4M && fill cs512.qcow2 512
    qemu-img create -q -f qcow2 -o cluster_size=2M cs2M.qcow2 64M
    qemu-io -f qcow2 -c 'write -P 0x11 0 1M' -c 'write -z 4M 2M' -c 'write -c -P 0x22 8M 2M' \
        -c 'write -P 0x44 20M 3000' cs2M.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -o extended_l2=on el2.qcow2 16M && fill el2.qcow2 65536
    qemu-io -f qcow2 -c 'write -P 0x55 1M 4k' -c 'write -z 1056768 2k' el2.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -o compression_type=zstd zstd.qcow2 16M && fill zstd.qcow2 65536
    qemu-img create -q -f qcow2 -o preallocation=metadata pre.qcow2 4M
    qemu-io -f qcow2 -c 'write -P 0x66 1M 64k' pre.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -o preallocation=full prefull.qcow2 2M
    qemu-img create -q -f qcow2 empty.qcow2 1G
    qemu-img create -q -f qcow2 odd.qcow2 1000000
    qemu-io -f qcow2 -c 'write -P 0x77 900000 100000' odd.qcow2 >/dev/null
    qemu-img create -q -f qcow2 big.qcow2 100G
    qemu-io -f qcow2 -c 'write -P 0x81 0 64k' -c 'write -P 0x82 50G 64k' -c 'write -P 0x83 99G 1M' \
        big.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -o cluster_size=2M huge.qcow2 4P
    qemu-io -f qcow2 -c 'write -P 0x84 3P 1M' huge.qcow2 >/dev/null
    # a 3-deep chain with relative names, a raw backing file
    mkdir -p chain/sub
    qemu-img create -q -f qcow2 chain/sub/base.qcow2 8M
    qemu-io -f qcow2 -c 'write -P 0xa1 0 2M' -c 'write -P 0xa2 6M 1M' chain/sub/base.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 chain/sub/mid.qcow2
    qemu-io -f qcow2 -c 'write -P 0xb1 1M 2M' -c 'write -z 6M 512k' chain/sub/mid.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -b sub/mid.qcow2 -F qcow2 chain/top.qcow2 12M
    qemu-io -f qcow2 -c 'write -P 0xc1 2M 64k' -c 'write -P 0xc2 10M 64k' chain/top.qcow2 >/dev/null
    qemu-img create -q -f raw rawbase.raw 4M
    qemu-io -f raw -c 'write -P 0xd1 0 1M' rawbase.raw >/dev/null
    qemu-img create -q -f qcow2 -b rawbase.raw -F raw overraw.qcow2
    qemu-io -f qcow2 -c 'write -z 0 64k' -c 'write -P 0xd2 3M 4k' overraw.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -b rawbase.raw -F raw longer.qcow2 8M
    # internal snapshots
    qemu-img create -q -f qcow2 snap.qcow2 8M
    qemu-io -f qcow2 -c 'write -P 0x61 0 512k' snap.qcow2 >/dev/null
    qemu-img snapshot -c first snap.qcow2
    qemu-io -f qcow2 -c 'write -P 0x62 2M 1M' snap.qcow2 >/dev/null
    qemu-img snapshot -c 'second one' snap.qcow2
    qemu-io -f qcow2 -c 'write -z 0 256k' -c 'write -P 1 7M 4k' snap.qcow2 >/dev/null
    # persistent bitmaps
    qemu-img create -q -f qcow2 bitmaps.qcow2 8M
    qemu-img bitmap --add bitmaps.qcow2 b0
    qemu-img bitmap --add -g 1M bitmaps.qcow2 longername_bitmap1
    qemu-img bitmap --add -g 512 bitmaps.qcow2 small
    qemu-img bitmap --disable bitmaps.qcow2 small
    qemu-img create -q -f qcow2 bitmaps2.qcow2 3G
    qemu-img bitmap --add -g 512 bitmaps2.qcow2 fine
    qemu-io -f qcow2 -c 'write -P 0x91 1G 1M' bitmaps2.qcow2 >/dev/null
    # external data file
    qemu-img create -q -f qcow2 -o data_file=ext.data ext.qcow2 8M
    qemu-io -f qcow2 -c 'write -P 0x71 1M 1M' -c 'write -z 4M 1M' ext.qcow2 >/dev/null
}

# --- arguments and their errors ---
same measure
same measure --size 1G sparse.raw
same measure --size abc
same measure --size -1
same measure --size 1.5
same measure --size 1.5k
same measure --size 9E
same measure --size 8E
same measure --size 0x10
same measure --size 1b
same measure --size 18446744073709551616
same measure nofile.raw
same measure sparse.raw tiny.raw
same measure -f raw
same measure -f raw --size 1M
same measure -l first
same measure -l snapshot.id=1 --size 1M
same measure -l snapshot.foo=1 --size 1M
same measure -f qcow2 sparse.raw
same measure -U sparse.raw
same measure --force-share -O qcow2 default.qcow2
same measure --output=xml --size 1G
same measure --output= --size 1G
same measure --size abc --output=xml
same measure --output=xml --size abc
same measure -o ,foo --size 1M
same measure -o foo, --size 1M
same measure -O foo --size 1G
same measure -O foo nofile.raw
same measure -O foo -o foo=1 --size 1G
same measure -O file --size 1G
same measure -O file -o foo=1 --size 1G
same measure -O file -o nocow=on --size 1G
for f in vmdk vdi vpc vhdx qed qcow parallels host_device nbd bochs cloop dmg null-co quorum; do
    same measure -O $f --size 1G
done
same measure -O vmdk -o help --size 1M
same measure -O vmdk -o size=abc --size 1M
same measure -O bochs -o foo=1 --size 1M
same measure -O luks --size 1G
same measure -O luks -o key-secret=sec0 --size 1G
same measure -O luks -o key-secret=sec0 sparse.raw
same measure -O luks -o foo=1 --size 1G
same measure -O luks -o iter-time=abc --size 1G
same measure -O luks -o help --size 1G
same measure -o help
same measure -O qcow2 -o help
same measure -O qcow2 -o help --size 1G
same measure -O qcow2 -o '?' --size 1G
same measure -O raw -o help sparse.raw
same measure -O qcow2 -o foo=1,help --size 1M
same measure -O qcow2 -o help,foo=1 --size 1M
same measure -O qcow2 -o foo=1 nofile.raw
expect "unknown long option: getopt's message, then help" 0 "^measure: unrecognized option '--foo'" -- "$COMPAT" measure --foo
expect "unknown short option" 0 "^measure: invalid option -- 'x'" -- "$COMPAT" measure -x
expect "missing argument" 0 "^measure: option requires an argument -- 'O'" -- "$COMPAT" measure -O
expect "missing argument of --size" 0 "^measure: option '--size' requires an argument" -- "$COMPAT" measure --size
expect "-h prints the full help" 0 'Command syntax:' -- "$COMPAT" measure -h
expect "qemu-img help lists measure" 0 '  measure \[--output=ofmt\] \[-O output_fmt\] \[-o options\] \[--size N \| \[-f fmt\] \[-l snapshot_param\] filename\]' -- "$COMPAT" --help
expect "imgsh measure --help" 0 '^usage: imgsh measure ' -- "$IMGSH" measure --help

# --- raw targets ---
for s in 0 1 511 512 513 1M 1G 100T 9223372036854775807; do
    same measure --size $s
    same measure -O raw --output=json --size $s
done
same measure -O raw -o size=5M --size 1G
same measure -O raw -o size=5M sparse.raw
same measure -O raw -o size=5M
same measure -O raw -o preallocation=full,nocow=on,extent_size_hint=1M --size 1G
same measure -O raw -o preallocation=foo --size 1G
same measure -O raw -o size=abc --size 1G
same measure -O raw -o cluster_size=64k --size 1G

# --- qcow2 targets of a given size ---
for s in 0 1 512 65535 65536 65537 1M 1G 16G 1T 100T 2P 4P 8E-1 9223372036854775807; do
    same measure -O qcow2 --size $s
done
for o in cluster_size=512 cluster_size=1k cluster_size=4k cluster_size=32k cluster_size=256k \
         cluster_size=2M refcount_bits=1 refcount_bits=2 refcount_bits=4 refcount_bits=8 \
         refcount_bits=32 refcount_bits=64 cluster_size=512,refcount_bits=64 \
         cluster_size=2M,refcount_bits=1 extended_l2=on extended_l2=on,cluster_size=16k \
         extended_l2=on,cluster_size=2M extended_l2=on,refcount_bits=64 \
         preallocation=off preallocation=metadata preallocation=falloc preallocation=full \
         preallocation=full,cluster_size=512 compat=0.10 compat=1.1 lazy_refcounts=on \
         compression_type=zstd data_file=x.data,data_file_raw=on backing_file=x,backing_fmt=raw \
         backing_file=x,preallocation=full encryption=on encrypt.format=aes nocow=on \
         extent_size_hint=0; do
    for s in 0 1G 100T; do
        same measure -O qcow2 -o $o --size $s
    done
done
same measure -O qcow2 --output=json --size 1G
same measure -O qcow2 --output=json -o preallocation=full,cluster_size=2M --size 100T
same_json measure -O qcow2 --output=json -o extended_l2=on --size 3T
same measure -O qcow2 -o size=5M --size 1G
same measure -O qcow2 -o cluster_size=2M,size=8E --size 1M
same measure -O qcow2 -o cluster_size=2M --size 8E
same measure -O qcow2 -o cluster_size=2M,size=1M --size 9223372036854775807
same measure -O qcow2 -o lazy_refcounts --size 1M
same measure -O qcow2 -o nolazy_refcounts,nocow --size 1M

# --- qcow2 option checks, in qemu's order ---
for o in compat=v2 compat=v3 compat=foo compat= cluster_size=256 cluster_size=1000 \
         cluster_size=4M cluster_size=0 cluster_size=abc cluster_size=4096k refcount_bits=3 \
         refcount_bits=128 refcount_bits=0 refcount_bits=abc refcount_bits=-1 \
         compat=0.10,refcount_bits=8 compat=0.10,refcount_bits=16 lazy_refcounts=foo \
         lazy_refcounts=on,compat=0.10 extended_l2=on,cluster_size=8k extended_l2=on,compat=0.10 \
         extended_l2=foo compression_type=foo compression_type=zstd,compat=0.10 \
         preallocation=foo preallocation= data_file_raw=on encrypt.format=luks \
         encrypt.format=luks,encrypt.key-secret=sec0 encrypt.format=luks,encrypt.key-secret= \
         encrypt.format=LUKS encrypt.format=foo encrypt.key-secret=sec0 \
         encrypt.format=luks,encrypt.cipher-alg=foo encrypt.format=luks,encrypt.cipher-alg=aes-256 \
         encrypt.format=luks,encrypt.hash-alg=x,encrypt.ivgen-alg=y \
         encrypt.format=luks,encrypt.ivgen-hash-alg=x,encrypt.cipher-mode=y \
         encrypt.format=luks,encrypt.iter-time=abc encryption=on,encrypt.format=luks encryption=foo \
         extended_l2=on,cluster_size=8k,compat=foo cluster_size=1000,compat=foo \
         compat=foo,refcount_bits=3 refcount_bits=3,preallocation=foo compat=0.10,refcount_bits=3 \
         preallocation=foo,encrypt.format=luks encrypt.format=luks,encrypt.key-secret=s,cluster_size=1000 \
         extended_l2=on,cluster_size=1000 size=abc size=16E size=4P size=8E size=18446744073709551615 \
         encrypt.format=luks,size=4P encrypt.foo=1; do
    same measure -O qcow2 -o $o --size 1M
done
for o in cluster_size=1000 compat=foo size=4P encrypt.format=luks extended_l2=on,cluster_size=8k \
         preallocation=foo; do
    same measure -O qcow2 -o $o sparse.raw
done

# --- sources ---
sources="sparse.raw full.raw tiny.raw empty.raw big.raw default.qcow2 v2.qcow2 cs512.qcow2
         cs2M.qcow2 el2.qcow2 zstd.qcow2 pre.qcow2 prefull.qcow2 empty.qcow2 odd.qcow2 big.qcow2
         huge.qcow2 chain/top.qcow2 chain/sub/mid.qcow2 chain/sub/base.qcow2 overraw.qcow2
         longer.qcow2 snap.qcow2 bitmaps.qcow2 bitmaps2.qcow2 ext.qcow2"
for f in $sources; do
    same measure $f
    same measure -O qcow2 $f
    same measure -O qcow2 --output=json $f
    for o in cluster_size=512 cluster_size=2M extended_l2=on,refcount_bits=1 compat=0.10 \
             backing_file=x; do
        same measure -O qcow2 -o $o $f
    done
done
for f in sparse.raw default.qcow2 chain/top.qcow2 bitmaps.qcow2; do
    same_json measure -O qcow2 --output=json $f
    same measure -O qcow2 -o preallocation=metadata $f
    same measure -O qcow2 -o preallocation=falloc $f
    same measure -O qcow2 -o preallocation=full,cluster_size=4k $f
done
same measure -f raw default.qcow2
same measure -f raw -O qcow2 default.qcow2
same measure -f file -O qcow2 sparse.raw
same measure -f qcow2 -O qcow2 chain/top.qcow2
same measure -O qcow2 -o backing_file= sparse.raw
same measure -O qcow2 -o size=4P sparse.raw
same measure -O qcow2 -o size=18446744073709551615 sparse.raw
same measure -O qcow2 -o size=4P,encrypt.format=luks sparse.raw
same measure -O qcow2 -o cluster_size=512 huge.qcow2
same measure -O qcow2 --output=json -o cluster_size=512 bitmaps.qcow2
same measure -O qcow2 --output=json -o cluster_size=2M bitmaps2.qcow2
same measure -O qcow2 -o cluster_size=4k,compat=1.1 bitmaps2.qcow2

# --- internal snapshots of the source ---
for l in first 1 2 'second one' snapshot.id=1 snapshot.name=first snapshot.id=1,snapshot.name=first \
         snapshot.id=2,snapshot.name=first snapshot.foo=1 snapshot.id snapshot.id=1,foo=2 nope \
         snapshot.id=3 snapshot. snapshot.id=1,,x nosnapshot.id; do
    same measure -O qcow2 -l "$l" snap.qcow2
done
same measure -l first snap.qcow2
same measure -O qcow2 --output=json -l 2 snap.qcow2
same measure -O qcow2 -l snapshot.id=1 -l 2 snap.qcow2
same measure -O qcow2 -l 2 -l snapshot.id=1 snap.qcow2
same measure -O qcow2 -l 1 -l 2 snap.qcow2
same measure -l first sparse.raw
same measure -l first -f raw snap.qcow2
same measure -O qcow2 -l first chain/top.qcow2

# image locks held by another process
for b in 101 201 100 101,201; do
    same_locked default.qcow2 $b measure -O qcow2 default.qcow2
    same_locked default.qcow2 $b measure -U -O qcow2 default.qcow2
    same_locked sparse.raw $b measure sparse.raw
done
same_locked chain/sub/base.qcow2 101 measure -O qcow2 chain/top.qcow2
