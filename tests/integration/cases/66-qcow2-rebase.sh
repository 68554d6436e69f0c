# rebase: safe mode copies exactly the 512-byte runs where the old and the
# new backing differ (and the image does not allocate), onto a file in the
# old chain only what changed above it, onto nothing ("-b ''") everything;
# unsafe mode changes only the header. Byte for byte as qemu-img.
setup() {
    qemu-img create -q -f qcow2 b1.qcow2 4M
    qemu-io -c 'write -P 1 0 4M' b1.qcow2 >/dev/null
    qemu-img create -q -f qcow2 b2.qcow2 4M
    qemu-io -c 'write -P 1 0 2M' -c 'write -P 2 2M 1M' -c 'write -P 1 2100k 3' b2.qcow2 >/dev/null
    qemu-img create -q -f qcow2 short.qcow2 1M
    qemu-io -c 'write -P 8 0 1M' short.qcow2 >/dev/null
    qemu-img create -q -f raw r.raw 4M
    qemu-io -f raw -c 'write -P 7 1M 1M' r.raw >/dev/null
    qemu-img create -q -f qcow2 -b b1.qcow2 -F qcow2 t.qcow2
    qemu-io -c 'write -P 3 0 64k' -c 'write -z 3M 64k' -c 'write -c -P 4 1M 64k' t.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -o cluster_size=16384,extended_l2=on -b b1.qcow2 -F qcow2 x.qcow2
    qemu-io -c 'write -P 3 1000 100' x.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -o compat=0.10 -b b1.qcow2 -F qcow2 v2.qcow2
    qemu-img create -q -f qcow2 -b b1.qcow2 -F qcow2 m.qcow2
    qemu-io -c 'write -P 5 512k 1M' m.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -b m.qcow2 -F qcow2 c.qcow2
    qemu-io -c 'write -P 6 0 64k' c.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -o cluster_size=4096 -b b1.qcow2 -F qcow2 big.qcow2 6M
    qemu-img create -q -f qcow2 alone.qcow2 4M
}
for f in t.qcow2 x.qcow2 v2.qcow2 big.qcow2; do
    same rebase -b b2.qcow2 -F qcow2 "$f"
    same rebase -b short.qcow2 -F qcow2 "$f"
    same rebase -b r.raw -F raw "$f"
    same rebase -b '' "$f"
    same rebase -u -b b2.qcow2 -F qcow2 "$f"
done
same rebase -b b1.qcow2 -F qcow2 c.qcow2
same rebase -b '' c.qcow2
same rebase -p -b b1.qcow2 -F qcow2 c.qcow2
same rebase -p -b '' c.qcow2
same rebase -q -b b2.qcow2 -F qcow2 t.qcow2
same rebase -t none -T none -b b2.qcow2 -F qcow2 t.qcow2
same rebase -b b2.qcow2 -F qcow2 alone.qcow2
same rebase -u t.qcow2
same rebase -u -b nope.qcow2 -F qcow2 t.qcow2
same rebase -U -u -b b2.qcow2 -F qcow2 t.qcow2
# qemu-img 7.2 copies, then refuses to record a backing file without -F
same rebase -b b2.qcow2 t.qcow2
same rebase -u -b b2.qcow2 t.qcow2
# errors
same rebase t.qcow2
same rebase
same rebase -b b2.qcow2 -F qcow2
same rebase -b nope.qcow2 -F qcow2 t.qcow2
same rebase -b b2.qcow2 -F bogus t.qcow2
same rebase -b b2.qcow2 -F qcow2 -t bogus t.qcow2
same rebase -b b2.qcow2 -F qcow2 -T bogus t.qcow2
same rebase -x t.qcow2
same rebase -b b2.qcow2 -F qcow2 missing.qcow2
same_locked b1.qcow2 201 rebase -b b2.qcow2 -F qcow2 t.qcow2
same_locked t.qcow2 201 rebase -b b2.qcow2 -F qcow2 t.qcow2
