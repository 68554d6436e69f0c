# amend: compat up and down (zero clusters expanded, snapshots rewritten in
# the v3 form), lazy refcounts, refcount widths (the refcount structures
# rebuilt in the new width), size, data file names; qemu-img's checks and
# messages; the image byte for byte as qemu-img leaves it.
setup() {
    q() {   # q NAME CREATE_OPTS: a 4 MiB image with data, zero clusters and compressed data
        qemu-img create -q -f qcow2 -o "$2" "$1" 4M &&
        qemu-io -c 'write -P 1 0 1M' -c 'write -z 1M 1M' -c 'write -c -P 2 2M 64k' \
            -c 'write -P 3 3M 64k' -c 'write -z 3M 4k' "$1" >/dev/null
    }
    q v3.qcow2 compat=1.1
    q v2.qcow2 compat=0.10
    q lazy.qcow2 lazy_refcounts=on
    q small.qcow2 cluster_size=512
    q x.qcow2 cluster_size=16384,extended_l2=on
    q z.qcow2 compression_type=zstd
    q r1.qcow2 refcount_bits=1,cluster_size=4096
    cp v3.qcow2 sn.qcow2
    qemu-img snapshot -c s sn.qcow2
    qemu-io -c 'write -z 0 512k' sn.qcow2 >/dev/null
    cp v2.qcow2 v2sn.qcow2
    qemu-img snapshot -c s v2sn.qcow2
    cp small.qcow2 smallsn.qcow2
    qemu-img snapshot -c s smallsn.qcow2
    qemu-img create -q -f qcow2 b.qcow2 4M
    qemu-io -c 'write -P 9 0 4M' b.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -b b.qcow2 -F qcow2 ov.qcow2
    qemu-io -c 'write -z 0 1M' ov.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -o data_file=d.raw ext.qcow2 1M
    qemu-img create -q -f raw r.raw 1M
}
for f in v3.qcow2 v2.qcow2 lazy.qcow2 small.qcow2 x.qcow2 z.qcow2 r1.qcow2 sn.qcow2 \
         v2sn.qcow2 smallsn.qcow2 ov.qcow2; do
    for o in compat=0.10 compat=1.1 compat=v2 compat=v3 lazy_refcounts=on lazy_refcounts=off \
             refcount_bits=1 refcount_bits=8 refcount_bits=64 size=8M size=1M \
             compat=0.10,lazy_refcounts=off compat=1.1,lazy_refcounts=on; do
        same amend -o "$o" "$f"
    done
done
same amend -o compat=0.10,refcount_bits=8 v3.qcow2
same amend -o refcount_bits=8 -o compat=1.1 v2.qcow2
same amend -f qcow2 -o refcount_bits=4 small.qcow2
same amend -q -o compat=0.10 v3.qcow2
same amend -t none -o compat=0.10 v3.qcow2
same amend --force -o lazy_refcounts=on v3.qcow2
same amend -o data_file=e.raw ext.qcow2
same amend -o data_file=x v3.qcow2
same amend -o data_file_raw=on ext.qcow2
same amend -o data_file_raw=off ext.qcow2
same amend -o compat=0.10 ext.qcow2
same amend -o backing_file=b.qcow2,backing_fmt=qcow2 ov.qcow2
same amend -o backing_file=x.qcow2 ov.qcow2
same amend -o backing_fmt=raw ov.qcow2
# help and errors
same amend -o help v3.qcow2
same amend -f qcow2 -o help
same amend -f raw -o help
same amend -o help r.raw
same amend -f bogus -o help
same amend v3.qcow2
same amend -o refcount_bits=3 v3.qcow2
same amend -o refcount_bits=128 v3.qcow2
same amend -o compat=2 v3.qcow2
same amend -o foo=1 v3.qcow2
same amend -o cluster_size=4k v3.qcow2
same amend -o lazy_refcounts=maybe v3.qcow2
same amend -o encrypt.keyslot=1 v3.qcow2
same amend -f raw -o size=1M v3.qcow2
same amend -o size=1M r.raw
same amend -o compat=1.1 missing.qcow2
same amend -o compat=1.1
same amend -o compat=1.1 a b
same amend -o ,, v3.qcow2
same amend -x v3.qcow2
same_locked v3.qcow2 201 amend -o compat=0.10 v3.qcow2
expect "amend -p shows progress" 0 '\(100\.00/100%\)' -- "$IMGSH" amend -p -o compat=0.10 v3.qcow2
