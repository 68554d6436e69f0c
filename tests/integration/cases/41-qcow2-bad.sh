# damaged qcow2 images: each header field out of range, broken tables,
# broken chains. imgsh must give qemu-img's message and exit code, and
# never crash, hang or write.
setup() {
    qemu-img create -q -f qcow2 good.qcow2 4M
    qemu-io -f qcow2 -c 'write -P 1 0 128k' -c 'write -c -P 2 1M 64k' good.qcow2
    # header fields (offsets: docs/interop/qcow2.txt)
    cp good.qcow2 ver4.qcow2; poke ver4.qcow2 4 00000004
    cp good.qcow2 ver0.qcow2; poke ver0.qcow2 4 00000000
    cp good.qcow2 cb8.qcow2; poke cb8.qcow2 20 00000008
    cp good.qcow2 cb22.qcow2; poke cb22.qcow2 20 00000016
    cp good.qcow2 crypt3.qcow2; poke crypt3.qcow2 32 00000003
    cp good.qcow2 l1big.qcow2; poke l1big.qcow2 36 10000000
    cp good.qcow2 l1small.qcow2; poke l1small.qcow2 36 00000000
    cp good.qcow2 l1off.qcow2; poke l1off.qcow2 40 0000000000010001
    cp good.qcow2 l1far.qcow2; poke l1far.qcow2 40 1000000000000000
    cp good.qcow2 rtoff.qcow2; poke rtoff.qcow2 48 0000000000010001
    cp good.qcow2 rtcl.qcow2; poke rtcl.qcow2 56 01000000
    cp good.qcow2 rtcl0.qcow2; poke rtcl0.qcow2 56 00000000
    cp good.qcow2 nbsnap.qcow2; poke nbsnap.qcow2 60 000186a0
    cp good.qcow2 snapoff.qcow2; poke snapoff.qcow2 64 0000000000010001
    cp good.qcow2 incompat.qcow2; poke incompat.qcow2 72 0000000000000020
    cp good.qcow2 incompat2.qcow2; poke incompat2.qcow2 72 0000010000000020
    cp good.qcow2 corrupt.qcow2; poke corrupt.qcow2 72 0000000000000002
    cp good.qcow2 rorder7.qcow2; poke rorder7.qcow2 96 00000007
    cp good.qcow2 hlen100.qcow2; poke hlen100.qcow2 100 00000064
    cp good.qcow2 hlenbig.qcow2; poke hlenbig.qcow2 100 00020000
    cp good.qcow2 size.qcow2; poke size.qcow2 24 4000000000000000
    cp good.qcow2 bkoff.qcow2; poke bkoff.qcow2 8 0000000001000000
    cp good.qcow2 comptype.qcow2; poke comptype.qcow2 104 01
    cp good.qcow2 comptype2.qcow2; poke comptype2.qcow2 104 02
    head -c 50 good.qcow2 >short.qcow2
    head -c 200 good.qcow2 >short2.qcow2
    # tables: the L1 table is at 0x30000, the only L2 table at 0x40000
    cp good.qcow2 l2unal.qcow2; poke l2unal.qcow2 196608 8000000000040200
    cp good.qcow2 l2far.qcow2; poke l2far.qcow2 196608 8000010000000000
    cp good.qcow2 dataunal.qcow2; poke dataunal.qcow2 262144 8000000000050200
    cp good.qcow2 datafar.qcow2; poke datafar.qcow2 262144 8000010000000000
    cp good.qcow2 compfar.qcow2; poke compfar.qcow2 262272 4000010000000000
    # chains
    qemu-img create -q -f qcow2 base.qcow2 4M
    qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 over.qcow2
    rm base.qcow2
    qemu-img create -q -f qcow2 -b b.qcow2 -F qcow2 -u a.qcow2 4M
    qemu-img create -q -f qcow2 -b a.qcow2 -F qcow2 -u b.qcow2 4M
    qemu-img create -q -f qcow2 -b self.qcow2 -F qcow2 -u other.qcow2 4M && mv other.qcow2 self.qcow2
    qemu-img create -q -f qcow2 -b nonexistent.raw -F raw -u nobacking.qcow2 4M
}
for i in ver4 ver0 cb8 cb22 crypt3 l1big l1small l1off l1far rtoff rtcl rtcl0 nbsnap snapoff \
         incompat incompat2 corrupt rorder7 hlen100 hlenbig size bkoff comptype comptype2 \
         short short2 l2unal l2far dataunal datafar compfar over nobacking; do
    same info $i.qcow2
    same info --output=json $i.qcow2
    same map $i.qcow2
    same map --output=json $i.qcow2
done
same info -f qcow2 short.qcow2
same info -f qcow2 ver0.qcow2
same resize corrupt.qcow2 8M
same info --backing-chain a.qcow2
same info --backing-chain --output=json a.qcow2
same info --backing-chain self.qcow2
# qemu-img map itself runs out of memory on a loop; imgsh stops with the loop message
expect "map on a backing loop stops" 1 "Backing file '.*' creates an infinite loop" -- "$IMGSH" map a.qcow2
expect "map on a self loop stops" 1 "creates an infinite loop" -- "$IMGSH" map self.qcow2
# reading never writes: the damaged files are unchanged after every command above
check "reads leave damaged images untouched" sh -c "
    for f in l2unal dataunal compfar corrupt; do
        cp \$f.qcow2 \$f.before
        '$IMGSH' map \$f.qcow2 >/dev/null 2>&1; '$IMGSH' info \$f.qcow2 >/dev/null 2>&1
        cmp \$f.before \$f.qcow2 || exit 1
    done"
