# commit: the top image's data (and the layers down to -b's base) written
# into the base, the top emptied unless -d/-b; base and top byte for byte
# as qemu-img leaves them where qemu's mirror job is deterministic, the
# same guest data everywhere else.
setup() {
    top() {     # top BASE FMT [CREATE_OPTS]: t.qcow2 over BASE, with mixed writes
        qemu-img create -q -f qcow2 ${3:+-o "$3"} -b "$1" -F "$2" t.qcow2 ${4:+"$4"} >/dev/null &&
        qemu-io -c 'write -P 2 0 1M' -c 'write -z 2M 1M' -c 'write -c -P 3 3M 64k' \
            -c 'write -P 4 1500k 3000' -c 'discard 1M 64k' t.qcow2 >/dev/null
    }
    mkdir plain small big raw ext2 chain snap v2 c512
    (cd plain && qemu-img create -q -f qcow2 b.qcow2 4M && qemu-io -c 'write -P 1 0 4M' b.qcow2 &&
        top b.qcow2 qcow2) >/dev/null
    (cd small && qemu-img create -q -f qcow2 b.qcow2 2M && qemu-io -c 'write -P 1 0 2M' b.qcow2 &&
        top b.qcow2 qcow2 "" 4M) >/dev/null
    (cd big && qemu-img create -q -f qcow2 b.qcow2 8M && qemu-io -c 'write -P 1 0 8M' b.qcow2 &&
        top b.qcow2 qcow2 "" 4M) >/dev/null
    (cd raw && qemu-img create -q -f raw b.raw 4M && qemu-io -f raw -c 'write -P 1 0 4M' b.raw &&
        top b.raw raw) >/dev/null
    (cd ext2 && qemu-img create -q -f qcow2 -o cluster_size=16384,extended_l2=on b.qcow2 4M &&
        qemu-io -c 'write -P 1 0 4M' b.qcow2 && top b.qcow2 qcow2 cluster_size=16384,extended_l2=on) >/dev/null
    (cd chain && qemu-img create -q -f qcow2 b.qcow2 4M && qemu-io -c 'write -P 1 0 4M' b.qcow2 &&
        qemu-img create -q -f qcow2 -b b.qcow2 -F qcow2 m.qcow2 &&
        qemu-io -c 'write -P 5 512k 1M' m.qcow2 && top m.qcow2 qcow2) >/dev/null
    (cd snap && qemu-img create -q -f qcow2 b.qcow2 4M && qemu-io -c 'write -P 1 0 4M' b.qcow2 &&
        top b.qcow2 qcow2 && qemu-img snapshot -c s t.qcow2) >/dev/null
    (cd v2 && qemu-img create -q -f qcow2 -o compat=0.10 b.qcow2 4M &&
        qemu-io -c 'write -P 1 0 4M' b.qcow2 && top b.qcow2 qcow2 compat=0.10) >/dev/null
    (cd c512 && qemu-img create -q -f qcow2 -o cluster_size=512 b.qcow2 4M &&
        qemu-io -c 'write -P 1 0 4M' b.qcow2 && top b.qcow2 qcow2 cluster_size=512) >/dev/null
    qemu-img create -q -f qcow2 alone.qcow2 1M
}
for d in plain small big raw ext2 snap c512; do
    same commit "$d/t.qcow2"
    same commit -d "$d/t.qcow2"
done
same commit -q plain/t.qcow2
same commit -t none plain/t.qcow2
same commit -r 1M plain/t.qcow2
# -b names the base relative to each image's directory, as qemu reads it
same commit -b b.qcow2 chain/t.qcow2
same commit -f qcow2 -b b.qcow2 -d chain/t.qcow2
same commit -b chain/b.qcow2 chain/t.qcow2
same commit -b nope.qcow2 chain/t.qcow2
same commit -b ../plain/b.qcow2 chain/t.qcow2
# errors
same commit alone.qcow2
same commit -f raw plain/t.qcow2
same commit
same commit a b
same commit -x plain/t.qcow2
same commit -t bogus plain/t.qcow2
same commit -r x plain/t.qcow2
same commit missing.qcow2
same_locked plain/b.qcow2 201 commit plain/t.qcow2
# where qemu's mirror job allocates in its own order: the same guest data
for a in "chain/t.qcow2 chain/m.qcow2" "v2/t.qcow2 v2/b.qcow2"; do
    set -- $a
    check "commit $1: the same guest data as qemu-img's, qemu-img check passes" sh -c "
        cp -a $(dirname "$1") q && qemu-img commit -q q/$(basename "$1") &&
        '$IMGSH' commit -q $1 && qemu-img check -q $2 && qemu-img check -q $1 &&
        qemu-img compare -q q/$(basename "$2") $2 && qemu-img compare -q q/$(basename "$1") $1"
done
expect "commit -p shows progress" 0 '\(100\.00/100%\)' -- \
    "$IMGSH" commit -p plain/t.qcow2
