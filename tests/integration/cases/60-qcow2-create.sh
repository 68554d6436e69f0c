# create -f qcow2: every layout option, preallocation, external data files,
# backing files (-b/-F/-u, size from the backing file), qemu's errors (and
# the files it deletes when creation fails), the resulting bytes; qemu-img
# check and info on images imgsh made.
setup() {
    qemu-img create -q -f raw base.raw 2M
    qemu-img create -q -f qcow2 base.qcow2 3M
    head -c 1000 /dev/zero >odd.raw
    qemu-img create -q -f qcow2 -u -b missing -F raw chain.qcow2 1M
    mkdir sub dir
    qemu-img create -q -f raw sub/b.raw 5M
    echo hello >old.qcow2
    echo data >old.raw
}

# created IMAGE ARGS...: qemu-img and imgsh each run `create -f qcow2 ARGS`
# in a copy of the fixtures; qemu-img check must find imgsh's IMAGE clean,
# and qemu-img info --output=json must say the same about both.
created() {
    local img=$1
    shift
    mkdir .q .i && cp -a ./* .q/ && cp -a ./* .i/ || return 1
    (cd .q && qemu-img create -q -f qcow2 "$@") || return 1
    (cd .i && "$IMGSH" create -q -f qcow2 "$@") || return 1
    (cd .i && qemu-img check "$img") || return 1
    # the same info, filename and actual size aside (the file system decides
    # how many blocks a preallocated file takes)
    (cd .q && qemu-img info --output=json "$img") | grep -v '"actual-size"' >.q.json || return 1
    (cd .i && qemu-img info --output=json "$img") | grep -v '"actual-size"' >.i.json || return 1
    diff .q.json .i.json
}

# sizes: rounded up to 512 bytes; past the L1 table's limit, qemu's message
for s in 0 1 512 1000 100000 1M 1.5G 1T 100T 1P 2P 64P 8E -1 1x; do
    same create -f qcow2 new.qcow2 "$s"
done
same create -f qcow2 new.qcow2
same create -q -f qcow2 new.qcow2 1M
same create -f qcow2 -o size=1M new.qcow2
same create -f qcow2 -o size=64P new.qcow2
same create -f qcow2 -o size=1M new.qcow2 1M
same create -f qcow2 -o help
same create -f qcow2 -o help new.qcow2
same create -f qcow2 -o foo=bar new.qcow2 1M

# compatibility level
for c in 0.10 1.1 v2 v3 2 bogus; do
    same create -f qcow2 -o compat=$c new.qcow2 1G
done

# cluster sizes; the feature name table is written for clusters over 4 KiB
for cs in 512 1k 2k 4k 8k 16k 64k 1M 2M 256 3000 4M 0 1x; do
    same create -f qcow2 -o cluster_size=$cs new.qcow2 1G
done
same create -f qcow2 -o cluster_size=512 new.qcow2 128G
same create -f qcow2 -o cluster_size=512 new.qcow2 137438953984
same create -f qcow2 -o cluster_size=2M new.qcow2 64P
same create -f qcow2 -o cluster_size=4k,compat=0.10 new.qcow2 1G

# refcount widths; small clusters with wide refcounts need more refcount
# blocks for the L1 table, and at 10G a bigger refcount table
for r in 1 2 4 8 16 32 64 3 0 128 x; do
    same create -f qcow2 -o refcount_bits=$r new.qcow2 1G
done
same create -f qcow2 -o refcount_bits=64,cluster_size=512 new.qcow2 1G
same create -f qcow2 -o refcount_bits=64,cluster_size=512 new.qcow2 10G
same create -f qcow2 -o refcount_bits=1,cluster_size=512 new.qcow2 10G
same create -f qcow2 -o compat=0.10,refcount_bits=8 new.qcow2 1G
same create -f qcow2 -o compat=0.10,refcount_bits=16 new.qcow2 1G

# features
same create -f qcow2 -o lazy_refcounts=on new.qcow2 1G
same create -f qcow2 -o lazy_refcounts=on,compat=0.10 new.qcow2 1G
same create -f qcow2 -o lazy_refcounts=maybe new.qcow2 1G
same create -f qcow2 -o compression_type=zstd new.qcow2 1G
same create -f qcow2 -o compression_type=zstd,compat=0.10 new.qcow2 1G
same create -f qcow2 -o compression_type=lz4 new.qcow2 1G
for cs in 8k 16k 64k 2M; do
    same create -f qcow2 -o extended_l2=on,cluster_size=$cs new.qcow2 1G
done
same create -f qcow2 -o extended_l2=on,compat=0.10 new.qcow2 1G
same create -f qcow2 -o extended_l2=on new.qcow2 1P
same create -f qcow2 -o extended_l2=on new.qcow2 2P
same create -f qcow2 -o lazy_refcounts=on,compression_type=zstd,extended_l2=on new.qcow2 1M
same create -f qcow2 -o nocow=on,extent_size_hint=1M new.qcow2 1M

# preallocation: metadata maps every cluster (a partial last cluster, or
# subcluster with extended L2, is completed with zeros); falloc and full
# put new refcount structures after the metadata and the data after them
for p in off metadata falloc full; do
    for s in 0 512 100000 101376 5M; do
        same create -f qcow2 -o preallocation=$p new.qcow2 $s
    done
    same create -f qcow2 -o preallocation=$p,compat=0.10 new.qcow2 101376
    same create -f qcow2 -o preallocation=$p,extended_l2=on new.qcow2 101376
    same create -f qcow2 -o preallocation=$p,cluster_size=512 new.qcow2 8M
    same create -f qcow2 -o preallocation=$p,cluster_size=512,refcount_bits=64 new.qcow2 3M
    same create -f qcow2 -o preallocation=$p,cluster_size=4k,refcount_bits=2 new.qcow2 70M
    same create -f qcow2 -o preallocation=$p,lazy_refcounts=on new.qcow2 5M
done
same create -f qcow2 -o preallocation=metadata new.qcow2 1G
same create -f qcow2 -o preallocation=metadata,cluster_size=2M new.qcow2 3G
same create -f qcow2 -o preallocation=metadata,cluster_size=1k,refcount_bits=32 new.qcow2 33M
same create -f qcow2 -o preallocation=bogus new.qcow2 1M
for p in metadata falloc full; do
    same_alloc new.qcow2 create -f qcow2 -o preallocation=$p new.qcow2 100000
    same_alloc new.qcow2 create -f qcow2 -o preallocation=$p new.qcow2 5M
    same_alloc new.qcow2 create -f qcow2 -o preallocation=$p,extended_l2=on new.qcow2 101376
done

# external data files (created too; with data_file_raw the clusters map 1:1)
for p in off metadata falloc full; do
    for s in 0 1 100000 1M; do
        same create -f qcow2 -o data_file=d.raw,preallocation=$p new.qcow2 $s
    done
    same create -f qcow2 -o data_file=d.raw,data_file_raw=on,preallocation=$p new.qcow2 100000
    same_alloc d.raw create -f qcow2 -o data_file=d.raw,preallocation=$p new.qcow2 1M
    same_alloc d.raw create -f qcow2 -o data_file=d.raw,preallocation=$p new.qcow2 100000
done
same create -f qcow2 -o data_file=d.raw,data_file_raw=on new.qcow2 1M
same create -f qcow2 -o data_file=d.raw,data_file_raw=on,extended_l2=on new.qcow2 101376
same create -f qcow2 -o data_file=d.raw,cluster_size=512 new.qcow2 1M
same create -f qcow2 -o data_file=sub/d.raw new.qcow2 1M
same create -f qcow2 -o data_file=d.raw,compat=0.10 new.qcow2 1M
same create -f qcow2 -o data_file_raw=on new.qcow2 1M
same create -f qcow2 -o data_file=nodir/d.raw new.qcow2 1M
same create -f qcow2 -o data_file= new.qcow2 1M
same create -f qcow2 -o data_file=dir new.qcow2 1M
same create -f qcow2 -o data_file=old.raw new.qcow2 1M

# backing files: -b/-F or -o, the size from the backing file, -u
same create -f qcow2 -b base.raw -F raw new.qcow2
same create -f qcow2 -b base.qcow2 -F qcow2 new.qcow2
same create -f qcow2 -b base.qcow2 -F qcow2 new.qcow2 1G
same create -f qcow2 -b base.qcow2 -F raw new.qcow2
same create -f qcow2 -b odd.raw -F raw new.qcow2
same create -f qcow2 -o backing_file=base.qcow2,backing_fmt=qcow2 new.qcow2
same create -f qcow2 -b base.qcow2 -F qcow2 -o size=1M new.qcow2
same create -f qcow2 -b base.qcow2 -F qcow2 -o backing_file=base.raw new.qcow2
same create -f qcow2 -b base.qcow2 -F qcow2 -o backing_fmt=raw new.qcow2
same create -f qcow2 -b base.qcow2 -F qcow2 -o compat=0.10 new.qcow2
same create -f qcow2 -b base.qcow2 -F qcow2 -o cluster_size=512 new.qcow2
same create -f qcow2 -b base.qcow2 -F qcow2 -o data_file=d.raw new.qcow2
same create -f qcow2 -b base.qcow2 -F qcow2 -o preallocation=metadata new.qcow2
same create -f qcow2 -b base.qcow2 -F qcow2 -o preallocation=metadata,extended_l2=on new.qcow2
same create -f qcow2 -b base.qcow2 -F qcow2 -o preallocation=falloc,extended_l2=on new.qcow2
same create -f qcow2 -b base.qcow2 -F qcow2 -o data_file=d.raw,data_file_raw=on new.qcow2
same create -f qcow2 -b b.raw -F raw sub/new.qcow2
same create -f qcow2 -b sub/b.raw -F raw sub/new.qcow2
same create -f qcow2 -b missing -F raw sub/new.qcow2
same create -f qcow2 -b missing.img new.qcow2 1M
same create -f qcow2 -b missing.img -F raw new.qcow2 1M
same create -f qcow2 -b /nonexistent/a -F raw new.qcow2
same create -f qcow2 -b chain.qcow2 -F qcow2 new.qcow2
same create -f qcow2 -b base.raw new.qcow2
same create -f qcow2 -b base.qcow2 new.qcow2 1M
same create -f qcow2 -b base.raw -F qcow2 new.qcow2 1M
same create -f qcow2 -b base.raw -F foo new.qcow2 1M
same create -f qcow2 -b new.qcow2 -F qcow2 new.qcow2
same create -f qcow2 -b '' -F raw new.qcow2 1M
same create -f qcow2 -o backing_file= new.qcow2 1M
same create -f qcow2 -F raw new.qcow2 1M
same create -f qcow2 -u -b missing.img -F raw new.qcow2 1M
same create -f qcow2 -u -b missing.img -F raw new.qcow2
same create -f qcow2 -u -b missing.img new.qcow2 1M
same create -f qcow2 -u -b missing.img new.qcow2
same create -f qcow2 -u -b missing.img -F vmdk new.qcow2 1M
same create -f qcow2 -u -b missing.img -F foo new.qcow2 1M
same create -f qcow2 -u -b missing.img -F foo -o compat=bogus new.qcow2 1M
same create -f qcow2 -u -b missing.img -F foo -o preallocation=bogus new.qcow2 1M
same create -f qcow2 -u -b missing.img -F raw -o cluster_size=512 new.qcow2 1M
same create -f qcow2 -u -b "$(printf '%0900d' 0)" -F raw -o cluster_size=1k new.qcow2 1M
same create -f qcow2 -u -b "$(printf '%0900d' 0)" -F raw -o cluster_size=2k new.qcow2 1M
same create -f raw -F raw new.raw 1M
same create -f raw -u -b base.raw new.raw 1M

# errors: qemu creates the files first and deletes them again, even ones
# that were there before
same create -f qcow2 -o compat=0.10,lazy_refcounts=on old.qcow2 1M
same create -f qcow2 -o data_file=old.raw,compat=0.10 old.qcow2 1M
same create -f qcow2 -o data_file=old.raw,extended_l2=on,cluster_size=4k old.qcow2 1M
same create -f qcow2 -o cluster_size=3000 old.qcow2 1M
same create -f qcow2 -o refcount_bits=3 old.qcow2 1M
same create -f qcow2 -o cluster_size=512 old.qcow2 1T
same create -f qcow2 -o compat=bogus old.qcow2 1M
same create -f qcow2 -o encryption=on old.qcow2 1M
same create -f qcow2 -o encrypt.format=luks old.qcow2 1M
same create -f qcow2 -o encrypt.format=aes,encrypt.key-secret=sec0 old.qcow2 1M
same create -f qcow2 -o encryption=on,encrypt.format=aes old.qcow2 1M
same create -f qcow2 -o preallocation=metadata -b base.qcow2 -F qcow2 old.qcow2
same create -f qcow2 old.qcow2 1M
same create -f qcow2 nodir/new.qcow2 1M
same create -f qcow2 dir 1M

# imgsh's images pass qemu-img check, and info reads them as qemu-img's
for a in "new.qcow2 1G" "-o compat=0.10 new.qcow2 1G" "-o cluster_size=512,refcount_bits=64 new.qcow2 10G" \
    "-o preallocation=metadata new.qcow2 100000" "-o preallocation=falloc,cluster_size=512 new.qcow2 8M" \
    "-o preallocation=full new.qcow2 5M" "-o preallocation=metadata,cluster_size=512,refcount_bits=1 new.qcow2 20M" \
    "-o data_file=d.raw,data_file_raw=on new.qcow2 1M" "-o lazy_refcounts=on,compression_type=zstd,extended_l2=on new.qcow2 1G" \
    "-b base.qcow2 -F qcow2 new.qcow2" "-b base.raw -F raw -o cluster_size=512 new.qcow2 1M"; do
    # shellcheck disable=SC2086
    check "qemu-img check and info of imgsh create -f qcow2 $a" created new.qcow2 $a
done
