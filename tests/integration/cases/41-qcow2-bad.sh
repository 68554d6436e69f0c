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
    same_msgs convert -O raw $i.qcow2 o.raw
    same compare $i.qcow2 good.qcow2
    same measure -O qcow2 $i.qcow2
    same dd if=$i.qcow2 of=o.raw bs=64k count=20
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

# damaged snapshot tables, bitmap directories and bitmap tables, and broken
# header extensions: qemu reads the extensions in full only after it has
# validated the tables, and loads every bitmap not in use at open
sbm_variants() {
    cat <<EOF
    snapl1unal 524288 0000000000070001
    snapl1big 524296 10000000
    snapl1far 524288 0000010000000000
    snapextra 524324 00100000
    snapextra0 524324 00000000
    snapname 524302 ffff
    snapid0 524300 0000
    nbsnap2 60 00000002
    snapfar 64 0000010000000000
    bmnb0 512 00000000
    bmnbbig 512 00010000
    bmdirsize 520 0000000010000000
    bmdirsize0 520 0000000000000000
    bmdirunal 528 00000000000a0001
    bmdirfar 528 00000100000a0000
    bmextlen 508 00000010
    extlenbig 508 0000ffff
    feat47 116 0000002f
    bmentry_tbl 655360 0000000000000001
    bmentry_tblfar 655360 0000010000000000
    bmentry_tblsize 655368 ffffffff
    bmentry_flags 655372 ffffffff
    bmentry_type 655376 05
    bmentry_gran 655377 3f
    bmentry_gran8 655377 08
    bmentry_namesize 655378 0000
    bmentry_namebig 655378 ffff
    bmentry_extra 655380 00000010
    extlen_end 508 000001ff
    extlen_end2 508 000001fe
    extlen_1 508 00000200
    extlen_huge 508 7fffffff
    ext_at_end 100 0000fff8 65528 2385287500000018
    ext_hdr_cut 100 0000fffc
    bmnb0 512 00000000
    bmnb2 512 00000002
    bmnb0incompat 512 00000000 72 0000000000000100
    bmreserved 516 00000001
    bmdirsize0 520 0000000000000000
    bmdirsize8 520 0000000000000008
    bmdirsize24 520 0000000000000018
    bmdirsize40 520 0000000000000028
    bmdirsize64k 520 0000000000010000
    bmdirsizemax 520 0000000003fffc00
    bmdirsizemax1 520 0000000003fffc01
    bmdirsizeincompat 520 0000000010000000 72 0000000000000100
    bmnbbigdirsize 512 00010000 520 0000000010000000
    bmdirunalsize 528 00000000000a0001 520 0000000010000000
    bmdirunalnb0 528 00000000000a0001 512 00000000
    bmdirsize0unal 520 0000000000000000 528 00000000000a0001
    bmdirfar 528 00000100000a0000
    bmdirfar2 528 7fffffffffff0000
    e_tbl0 655360 0000000000000000
    e_tblunal 655360 0000000000090001
    e_tblfar 655360 0000010000000000
    e_tblsize0 655368 00000000
    e_tblsize2 655368 00000002
    e_tblsizebig 655368 10000000
    e_flags4 655372 00000006
    e_flagsinuse 655372 00000003
    e_type0 655376 00
    e_type2 655376 02
    e_gran8 655377 08
    e_gran9 655377 09
    e_gran31 655377 1f
    e_gran32 655377 20
    e_gran63 655377 3f
    e_name0 655378 0000
    e_name1 655378 0001
    e_name3 655378 0003
    e_name8 655378 0008
    e_namebig 655378 ffff
    e_extra8 655380 00000008
    e_extra4 655380 00000004
    e_extrabig 655380 00100000
    e_tblunal_name0 655360 0000000000090001 655378 0000
    e_tblunal_extra 655360 0000000000090001 655380 00000008
    nb0reserved 512 00000000 516 00000001
    reservednbbig 516 00000001 512 00010000
    nbbigunal 512 00010000 528 00000000000a0001
    nbbigsize 512 00010000 520 0000000010000000
    reservedincompat 516 00000001 72 0000000000000100
    nb0incompat 512 00000000 72 0000000000000100
    unalincompat 528 00000000000a0001 72 0000000000000100
    bm_l1bad 528 00000000000a0001 40 0000000000030001
    tblsize2_noauto 655368 00000002 655372 00000000
    tblsize2_inuse 655368 00000002 655372 00000003
    tbl_entry_unal 589824 0000000000000201
    tbl_entry_res 589824 0100000000000000
    tbl_entry_one 589824 0000000000000001
    tbl_entry_far 589824 0000010000000000
    tbl_entry_eof 589824 0000000000100000
    e_name_then_extra 655378 0001 655380 00000004
    more_after_tblunal 512 00000002 520 0000000000000040 655360 0000000000090001
    extlen_incompat 508 00000010 72 0000000000000100
    extlen_l1 508 00000010 40 0000000000030001
    nb0_l1 512 00000000 40 0000000000030001
    reserved_l1 516 00000001 40 0000000000030001
    unal_l1 528 00000000000a0001 40 0000000000030001
    size_l1 520 0000000010000000 40 0000000000030001
    nb0_rorder 512 00000000 96 00000007
    nb0_snapoff 512 00000000 64 0000000000010001
    nb0_rtoff 512 00000000 48 0000000000010001
    dirsize0_l1 520 0000000000000000 40 0000000000030001
    extbig_incompat 508 7fffffff 72 0000000000000100
    extbig_l1 508 7fffffff 40 0000000000030001
    extbig_hlen 508 7fffffff 100 00000064
    extbig_rorder 508 7fffffff 96 00000007
    crypto_ext_on_plain_l1 504 0537be77 40 0000000000030001
    reserved_noautoclear 516 00000001 95 00
    nb0_noautoclear 512 00000000 95 00
    extlen_noautoclear 508 00000010 95 00
    snapextra_dirsize0 524324 00100000 520 0000000000000000
    snapl1unal_dirsize0 524288 0000000000070001 520 0000000000000000
    entry_off_bit0 589824 0000000000050001
    entry_zero_bit0 589824 0000000000000001
    entry_res_bit1 589824 0000000000000002
    entry_res_top 589824 8000000000000000
    ts1024 655368 00000400
    ts1025 655368 00000401
    ts8000000 655368 08000000
    ts8000001 655368 08000001
    ts2000 655368 00002000
    ts2001 655368 00002001
    name1023 655378 03ff 520 0000000000000800
    name1024 655378 0400 520 0000000000000800
EOF
}
setup() {
    qemu-img create -q -f qcow2 s.qcow2 4M
    qemu-io -f qcow2 -c 'write -P 1 0 128k' s.qcow2 >/dev/null
    qemu-img snapshot -c snap1 s.qcow2
    qemu-img bitmap --add s.qcow2 b0
    # the offsets the variants poke: snapshot table at 512k, bitmaps extension
    # at 504, bitmap directory at 0xa0000, bitmap table at 0x90000
    [ "$(od -An -tx1 -j 504 -N 32 s.qcow2 | tr -d ' \n')" = \
        23852875000000180000000100000000000000000000002000000000000a0000 ] || return 1
    [ "$(od -An -tx1 -j 64 -N 8 s.qcow2 | tr -d ' \n')" = 0000000000080000 ] || return 1
    [ "$(od -An -tx1 -j 655360 -N 8 s.qcow2 | tr -d ' \n')" = 0000000000090000 ] || return 1
    sbm_variants | poke_variants s.qcow2 v || return 1
    # a snapshot table past qemu's 64 MiB limit: 600 entries of 129 KiB
    cp s.qcow2 bigsn.qcow2
    {
        printf '\000\000\000\000\000\007\000\000\000\000\000\001\377\377\377\377'
        printf '\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000'
        printf '\000\000\000\000\000\000\004\000'
        head -c 1024 /dev/zero
        head -c 65535 /dev/zero | tr '\000' 1
        head -c 65535 /dev/zero | tr '\000' n
        printf '\000\000'
    } >entry
    for i in $(seq 600); do cat entry; done | dd of=bigsn.qcow2 bs=1M seek=1 conv=notrunc status=none
    rm entry
    poke bigsn.qcow2 60 000002580000000000100000
}
ONLY=s.qcow2
same info s.qcow2
for name in $(sbm_variants | awk '{print $1}') bigsn; do
    f=v-$name.qcow2; [ $name = bigsn ] && f=bigsn.qcow2
    ONLY="$f s.qcow2"
    same info $f
    same map $f
    same_msgs convert -O raw $f o.raw
done
# measure and compare open images the same way: a few suffice
for f in v-bmnb0.qcow2 v-e_tblsize2.qcow2 v-snapextra.qcow2 v-tbl_entry_unal.qcow2; do
    ONLY="$f s.qcow2"
    same measure -O qcow2 $f
    same compare $f s.qcow2
done
ONLY=
