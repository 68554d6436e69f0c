# convert on raw images: sparseness of the target (-S), existing targets (-n),
# several sources, progress, snapshots, options and every error path.
setup() {
    qemu-img create -q -f raw s.raw 16M
    qemu-io -f raw -c 'write -P 1 1M 64k' -c 'write -z 6M 1M' -c 'write -P 2 8M 5000' \
        -c 'write -P 3 10M 4096' -c 'write -P 0 10M 100' \
        -c 'write -P 4 12M 8k' -c 'write -P 0 12M 512' -c 'write -P 0 12583936 1024' \
        -c 'write -P 6 2088960 16k' \
        -c 'write -P 7 4M 1536k' -c 'write -P 0 4718592 64k' -c 'write -P 0 5243392 3k' \
        -c 'write -P 8 14M 2M' -c 'write -P 0 14M 512' -c 'write -P 0 15728640 4k' s.raw
    head -c 700 /dev/urandom >r700
    head -c 5000 /dev/urandom >r5000
    qemu-img create -q -f raw e.raw 0
    qemu-img create -q -f raw t8.raw 8M
    qemu-img create -q -f raw t32.raw 32M
    qemu-io -f raw -c 'write -P 9 0 32M' t32.raw
    qemu-img create -q -f raw z32.raw 32M
}
# the target's bytes, and where qemu-img leaves holes
same convert s.raw o.raw
same convert -f raw -O raw s.raw o.raw
same convert -O file s.raw o.raw
same_alloc o.raw convert s.raw o.raw
same_alloc o.raw convert -O file s.raw o.raw
for S in 0 512 1k 1536 3k 4k 8k 64k 1M 2M 4M 16M 0x1000 1.5k; do
    same convert -S "$S" s.raw o.raw
    same_alloc o.raw convert -f raw -S "$S" s.raw o.raw
done
same_alloc o.raw convert -C s.raw o.raw
same_alloc o.raw convert -W s.raw o.raw
same_alloc o.raw convert -m 1 s.raw o.raw
same_alloc o.raw convert -m 16 -W s.raw o.raw
same_alloc o.raw convert -t none s.raw o.raw
same_alloc o.raw convert -W -t none -S 512 r700 s.raw r5000 o.raw
same_alloc o.raw convert -T none -m 2 r700 s.raw o.raw
same_alloc o.raw convert -o preallocation=full s.raw o.raw
same_alloc o.raw convert -o preallocation=falloc s.raw o.raw
# several sources, odd sizes
same convert r700 s.raw r700 o.raw
same_alloc o.raw convert r700 s.raw r700 o.raw
same_alloc o.raw convert -S 1k r700 s.raw r5000 o.raw
same_alloc o.raw convert -S 0 r5000 r700 o.raw
same convert s.raw s.raw o.raw
same convert r700 o.raw
same convert e.raw o.raw
same convert e.raw e.raw o.raw
same convert e.raw r700 e.raw o.raw
# existing targets: zeros written (punched) unless --target-is-zero
same convert -n s.raw t32.raw
same_alloc t32.raw convert -n s.raw t32.raw
same_alloc t32.raw convert -n -f raw -S 0 s.raw t32.raw
same_alloc t32.raw convert -n -S 8k s.raw t32.raw
same_alloc t32.raw convert -n -S 1M s.raw t32.raw
same_alloc t32.raw convert -n --target-is-zero s.raw t32.raw
same_alloc t32.raw convert -n -C s.raw t32.raw
same_alloc t32.raw convert -n -W -m 4 s.raw t32.raw
same_alloc t32.raw convert -n r700 s.raw r700 t32.raw
same_alloc z32.raw convert -n --target-is-zero s.raw z32.raw
same convert -n -O raw s.raw t32.raw
same convert -n s.raw t8.raw
same convert -n s.raw missing.raw
same convert -n -o size=1M s.raw t32.raw
same convert -n -o help s.raw t32.raw
same convert -n -c s.raw t32.raw
same convert -n -c s.raw t8.raw
same convert -n -t bogus s.raw t32.raw
same convert -n -t bogus s.raw missing.raw
same convert -n s.raw s.raw
same convert --target-is-zero s.raw o.raw
same convert --target-is-zero -o size=1 s.raw o.raw
# progress: "    (N.NN/100%)\r" lines, then a newline
same convert -p s.raw o.raw
same convert -p -S 0 s.raw o.raw
same convert -p -S 64k s.raw o.raw
same convert -p -C s.raw o.raw
same convert -p r700 s.raw r700 o.raw
same convert -p s.raw s.raw o.raw
same convert -p e.raw o.raw
same convert -p -n s.raw t32.raw
same convert -p -q s.raw o.raw
same convert -q -p s.raw o.raw
same convert -p missing.raw o.raw
same convert -p -O bogus s.raw o.raw
same convert -p -t bogus s.raw o.raw
same convert -p -T bogus s.raw o.raw
same convert -p -n s.raw t8.raw
same convert -p -c s.raw o.raw
same convert -p -l snap s.raw o.raw
same convert -p -l x s.raw s.raw o.raw
same convert -p s.raw
same convert -q s.raw o.raw
# options accepted
same convert -U s.raw o.raw
same convert --force-share s.raw o.raw
same convert -W s.raw o.raw
same convert -m 1 s.raw o.raw
same convert -m 0x10 s.raw o.raw
same convert -m " 8" s.raw o.raw
same convert -t none s.raw o.raw
same convert -t writethrough -T none s.raw o.raw
same convert -T directsync s.raw o.raw
same convert -C s.raw o.raw
same convert --salvage s.raw o.raw
same convert -o size=1M s.raw o.raw
same convert -O raw -o size=100M s.raw o.raw
same convert -o preallocation=full s.raw o.raw
same convert -o nocow=on s.raw o.raw
same convert -r 1G s.raw o.raw
# -o help
same convert -o help
same convert -O raw -o help
same convert -o help s.raw
same convert -o help s.raw o.raw
same convert -f raw -o help missing.raw o.raw
same convert -O raw -o help,size=1 s.raw o.raw
same convert -O raw -o size=1,help s.raw o.raw
same convert -O raw -o '?' s.raw o.raw
same convert -o help -o help s.raw o.raw
same convert -c -o help s.raw o.raw
same convert -T bogus -o help s.raw o.raw
same convert -l snap -o help s.raw o.raw
same convert -O file -o help s.raw o.raw
same convert -O bogus -o help s.raw o.raw
# snapshots: raw has none
same convert -l snap s.raw o.raw
same convert -f raw -l snapshot.id=1 s.raw o.raw
same convert -f raw -l snapshot.name=x,snapshot.id=1 s.raw o.raw
same convert -l '' s.raw o.raw
same convert -l snapshot.id= s.raw o.raw
same convert -l snapshot.foo=1 s.raw o.raw
same convert -l snapshot.foo=1 -x s.raw o.raw
same convert -l snapshot.foo=1 s.raw
same convert -l snapshot.id=1,foo s.raw o.raw
same convert -l snapshot.name=x,snapshot.name=y,bar s.raw o.raw
same convert -l snapshot.id s.raw o.raw
same convert -l nobar s.raw o.raw
same convert -l bar,snapshot.foo=1 s.raw o.raw
same convert -l 'snapshot.id=a,,b,snapshot.x=1' s.raw o.raw
same convert -l 'snapshot.id=a,' s.raw o.raw
same convert -l snapshot. s.raw o.raw
same convert -l snapshot.=1 s.raw o.raw
same convert -l x s.raw s.raw o.raw
same convert -n -l snap s.raw t32.raw
same convert -o bogus=1 -l snap s.raw o.raw
same convert -s snap s.raw o.raw
# errors
same convert
same convert s.raw
same convert -f raw -O raw s.raw
same convert missing.raw o.raw
same convert s.raw missing.raw o.raw
same convert -f qcow2 s.raw o.raw
same convert -f bogus s.raw o.raw
same convert -O bogus s.raw o.raw
same convert -O bogus missing.raw o.raw
same convert -t bogus -O bogus s.raw o.raw
same convert -x s.raw o.raw
same convert -f
same convert s.raw s.raw
same convert s.raw .
same convert -c s.raw o.raw
same convert -c -t bogus s.raw o.raw
same convert -W -c s.raw o.raw
same convert -C -c s.raw o.raw
same convert -C -c --target-is-zero s.raw o.raw
same convert -C -S 0 s.raw o.raw
same convert -C -S 4k s.raw o.raw
same convert -S 512 -S 0 -C s.raw o.raw
same convert --salvage -C s.raw o.raw
same convert --salvage -C -S 0 s.raw o.raw
same convert -C -n s.raw t32.raw
for S in garbage 100 16.5M 32M -1 99999999999999999999 1.5 ""; do
    same convert -S "$S" s.raw o.raw
done
for m in 0 17 x -1 8k "" 99999999999999999999; do
    same convert -m "$m" s.raw o.raw
done
for r in abc -1 99999999999999999999; do
    same convert -r "$r" s.raw o.raw
done
same convert -t bogus s.raw o.raw
same convert -T bogus s.raw o.raw
same convert -T bogus missing.raw o.raw
same convert -T bogus s.raw
same convert -o bogus=1 s.raw o.raw
same convert -o bogus=1 missing.raw o.raw
same convert -o , s.raw o.raw
same convert -o preallocation=bogus s.raw o.raw
same convert -o preallocation=metadata s.raw o.raw
same convert -o size=abc s.raw o.raw
same convert -o nocow=maybe s.raw o.raw
same convert -O raw -o backing_file=x s.raw o.raw
same convert -B back.raw s.raw o.raw
same convert -B back.raw s.raw s.raw o.raw
same convert -F raw s.raw o.raw
same convert -F raw -B x s.raw o.raw
same convert -B x -o bogus=1 s.raw o.raw
same convert -c -o bogus=1 s.raw o.raw
same convert -c -B x s.raw o.raw
same convert s.raw /nonexistent/o.raw
same_locked s.raw 201 convert s.raw o.raw
same_locked s.raw 101 convert s.raw o.raw
same_locked s.raw 101 convert -U s.raw o.raw
same_locked t32.raw 201 convert -n s.raw t32.raw
expect "qemu-img convert -h prints the full help" 0 'Command syntax:' -- "$COMPAT" convert -h
expect "imgsh convert --help" 0 '^usage: imgsh convert ' -- "$IMGSH" convert --help

# Zero runs written as data in the source (the fixture copies lose those,
# so they are made in place): qemu-img and imgsh must leave the same holes.
zero_data_check() {
    label=$1; prep=$2; shift 2
    check "convert $* over $label: same bytes and holes as qemu-img" sh -c "
        qemu-img create -q -f raw zd.raw 12M && qemu-io -f raw $prep zd.raw >/dev/null &&
        qemu-img convert $* zd.raw q.raw && '$IMGSH' convert $* zd.raw i.raw && cmp q.raw i.raw &&
        qemu-img map -f raw --output=json q.raw >q.map &&
        qemu-img map -f raw --output=json i.raw >i.map && cmp q.map i.map"
}
zd1="-c 'write -P 0 1M 3M' -c 'write -P 5 1052160 1' -c 'write -P 5 2M 512' -c 'write -P 5 3149312 9k'"
zd2="-c 'write -P 0 0 12M' -c 'write -P 6 4608 1' -c 'write -P 6 2093056 8k' -c 'write -P 6 6M 4M' -c 'write -P 0 7M 2560' -c 'write -P 0 8392704 12k'"
for S in "" "-S 0" "-S 512" "-S 1k" "-S 3k" "-S 8k" "-S 1M" "-C"; do
    zero_data_check "zeros written as data" "$zd1" -f raw $S
    zero_data_check "mixed sector runs" "$zd2" -f raw $S
done
check "convert -n over zeros written as data: same bytes and holes as qemu-img" sh -c "
    qemu-img create -q -f raw zd.raw 12M && qemu-io -f raw $zd2 zd.raw >/dev/null &&
    cp t32.raw q.raw && cp t32.raw i.raw &&
    qemu-img convert -n zd.raw q.raw && '$IMGSH' convert -n zd.raw i.raw && cmp q.raw i.raw &&
    qemu-img map -f raw --output=json q.raw >q.map &&
    qemu-img map -f raw --output=json i.raw >i.map && cmp q.map i.map"
# persistent bitmaps: raw has none
same convert --bitmaps s.raw o.raw
same convert --bitmaps s.raw s.raw o.raw
same convert -p --bitmaps s.raw s.raw o.raw
same convert --bitmaps -p s.raw o.raw
same convert --bitmaps -l x s.raw o.raw
same convert --bitmaps -O bogus s.raw o.raw
same convert --bitmaps -n s.raw t32.raw
same convert --bitmaps -O bogus -n s.raw t32.raw
same convert --bitmaps -o bogus=1 s.raw o.raw
same convert --bitmaps -B x s.raw o.raw
same convert --bitmaps -c s.raw o.raw
same convert --bitmaps -t bogus s.raw o.raw
same convert --bitmaps -T bogus s.raw s.raw o.raw
same convert --bitmaps -o help s.raw s.raw o.raw
same convert --bitmaps missing.raw o.raw
same convert --skip-broken-bitmaps s.raw o.raw
same convert --skip-broken-bitmaps --bitmaps s.raw o.raw
# qcow2 sources (read by the qcow2 driver): clusters, zero clusters, a
# backing chain, internal snapshots through -l
qcow2_setup() {
    qemu-img create -q -f qcow2 q.qcow2 20M
    qemu-io -c 'write -P 1 1M 64k' -c 'write -z 3M 1M' -c 'write -P 0 5M 1M' \
        -c 'write -P 5 6M 3000' q.qcow2
    qemu-img create -q -f qcow2 -b q.qcow2 -F qcow2 ov.qcow2
    qemu-io -c 'write -P 7 6M 4k' -c 'write -z 1M 4k' ov.qcow2
    cp q.qcow2 sn.qcow2
    qemu-img snapshot -c snap1 sn.qcow2
    qemu-io -c 'write -P 9 0 2M' sn.qcow2
    qemu-img create -q -f raw t32.raw 32M
    qemu-io -f raw -c 'write -P 9 0 32M' t32.raw
}
setup() { qcow2_setup; }
for f in q.qcow2 ov.qcow2; do
    same convert "$f" o.raw
    same convert -p "$f" o.raw
    same_alloc o.raw convert "$f" o.raw
    same_alloc o.raw convert -S 0 "$f" o.raw
    same_alloc o.raw convert -S 512 "$f" o.raw
    same_alloc t32.raw convert -n "$f" t32.raw
done
same convert q.qcow2 ov.qcow2 o.raw
same convert -f qcow2 ov.qcow2 o.raw
for l in snap1 1 snapshot.id=1 snapshot.name=snap1 snapshot.name=nope nope \
         snapshot.id=1,snapshot.name=snap1 snapshot.id=2,snapshot.name=snap1; do
    same convert -l "$l" sn.qcow2 o.raw
done
same convert -l snap1 sn.qcow2 sn.qcow2 o.raw
# both forms of -l: the snapshot.* form wins, whatever the order
same convert -l snapshot.id=1 -l nope sn.qcow2 o.raw
same convert -l nope -l snapshot.id=1 sn.qcow2 o.raw
same convert -l snapshot.id=9 -l snap1 sn.qcow2 o.raw
same convert -l snapshot.name=snap1 -l snapshot.id=9 sn.qcow2 o.raw
same convert -l snapshot.id=9 -l snapshot.name=snap1 sn.qcow2 o.raw
same convert sn.qcow2 o.raw
same convert -s snap1 sn.qcow2 o.raw
same convert -s 1 sn.qcow2 o.raw
same convert -s nosuch sn.qcow2 o.raw
same convert -s snap1 -O raw sn.qcow2 q.qcow2 o.raw
