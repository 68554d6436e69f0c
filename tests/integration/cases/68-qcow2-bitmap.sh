# bitmap: --add/--remove/--clear/--enable/--disable/--merge in sequences,
# with qemu-io writes between them (tracked in the enabled bitmaps by
# imgsh's qemu-io as by qemu's); every step byte for byte as qemu-img and
# qemu-io leave the image, and qemu-img check passes.
setup() {
    qemu-img create -q -f qcow2 a.qcow2 4M
    qemu-io -c 'write -P 1 0 1M' a.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -o cluster_size=512 s.qcow2 64M
    qemu-io -c 'write -P 1 0 1M' s.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -o cluster_size=16384,extended_l2=on x.qcow2 8M
    qemu-img create -q -f qcow2 o.qcow2 4M
    qemu-img bitmap --add -g 4k o.qcow2 ob
    qemu-io -c 'write -P 1 1M 100k' -c 'write -P 1 3M 4k' o.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -o compat=0.10 v2.qcow2 4M
    qemu-img create -q -f raw r.raw 1M
}
# bmseq IMAGE STEP...: a step is bitmap arguments (the image last but one is added:
# "--add b0" runs "bitmap --add IMAGE b0"), or "io:CMD" for a qemu-io command
bmseq() {
    local img=$1 st last ra rb
    shift
    cp "$img" a.img && cp "$img" b.img || return 1
    for st in "$@"; do
        if [ "${st#io:}" != "$st" ]; then
            qemu-io -c "${st#io:}" a.img >/dev/null || return 1
            "$QEMU_IO_COMPAT" -c "${st#io:}" b.img >/dev/null || return 1
        else
            set -- $st
            last=${*: -1}
            set -- "${@:1:$(($# - 1))}"
            qemu-img bitmap "$@" a.img "$last" >a.out 2>a.err; ra=$?
            "$IMGSH" bitmap "$@" b.img "$last" >b.out 2>b.err; rb=$?
            sed -i 's/^imgsh:/qemu-img:/; s/b\.img/a.img/g' b.err
            [ "$ra" = "$rb" ] || { echo "bitmap $st: exit $ra vs $rb"; cat a.err b.err; return 1; }
            cmp a.err b.err || { cat a.err b.err; return 1; }
        fi
        cmp a.img b.img || { echo "after $st: images differ"; return 1; }
    done
    qemu-img check -q b.img
}
QEMU_IO_COMPAT=$(cd "$BUILD" && pwd)/compat/qemu-io
check "bitmap: add, track, merge, clear, remove" bmseq a.qcow2 "--add b0" "io:write -P 2 2M 64k" \
    "--add -g 128k --disable b1" "--merge b0 b1" "--clear b0" "--remove b0" "--add b1" \
    "--remove nope" "--add -g 100 x" "--enable --disable b1" "io:write -z 0 512k" \
    "--enable b1" "io:discard 0 64k" "io:write -c -P 3 3M 64k" "--remove b1"
check "bitmap: 512-byte clusters, many bits" bmseq s.qcow2 "--add -g 512 b0" \
    "io:write -P 2 10M 5M" "io:write -P 2 63M 1M" "--add b1" "io:write -P 3 20M 1M" \
    "--disable b0" "io:write -P 4 30M 1M" "--remove b1" "--clear b0"
check "bitmap: extended L2" bmseq x.qcow2 "--add b0" "io:write -P 2 100k 3000" \
    "--add -g 1M big" "io:write -z 1M 2M" "--merge b0 big"
check "bitmap: merge from another image" bmseq a.qcow2 "--add b0" "--merge ob -b o.qcow2 b0" \
    "--merge ob -b o.qcow2 -F qcow2 b0" "--merge nope -b o.qcow2 b0" "--disable b0"
check "bitmap: option errors" bmseq a.qcow2 "--add b0" "-F qcow2 --add z" "-b o.qcow2 --add z" \
    "-g 4k --clear b0" "--clear nope" "--enable nope" "--merge nope b0" "--add b0"
# errors
same bitmap a.qcow2 b0
same bitmap --add a.qcow2
same bitmap --add a.qcow2 b0 extra
same bitmap --add
same bitmap --add missing.qcow2 b0
same bitmap --add -g 0 a.qcow2 b0
same bitmap --add -g x a.qcow2 b0
same bitmap --add -g 1k a.qcow2 b0
same bitmap --add -g 3k a.qcow2 b0
same bitmap --add -g 4G a.qcow2 b0
same bitmap --add a.qcow2 ''
same bitmap --bogus a.qcow2 b0
same bitmap --merge
same bitmap --remove -f raw r.raw b0
same_locked a.qcow2 201 bitmap --add a.qcow2 b0
expect "bitmap on a compat=0.10 image" 1 \
    "Operation add on bitmap b0 failed: Can't make bitmap 'b0' persistent in '.*': Cannot store dirty bitmaps in qcow2 v2 files" -- \
    "$IMGSH" bitmap --add v2.qcow2 b0
# what imgsh stores reads back in qemu-img info as qemu stores it
same_json info --output=json o.qcow2
# convert --bitmaps copies each bitmap (granularity, state, bits) into the target
setup() {
    qemu-img create -q -f qcow2 s.qcow2 4M
    qemu-io -c 'write -P 1 0 1M' s.qcow2 >/dev/null
    qemu-img bitmap --add s.qcow2 b0
    qemu-img bitmap --add -g 4k --disable s.qcow2 b1
    qemu-io -c 'write -P 2 2M 100k' s.qcow2 >/dev/null
    qemu-img create -q -f qcow2 n.qcow2 4M
    qemu-img create -q -f qcow2 -o compat=0.10 v2.qcow2 4M
    qemu-img create -q -f qcow2 plain.qcow2 4M
}
for a in "-O qcow2" "-O raw" "-O qcow2 -o compat=0.10" "-O qcow2 -c" "-O qcow2 -o cluster_size=4096" \
         "-O qcow2 --skip-broken-bitmaps"; do
    same convert --bitmaps $a s.qcow2 o.qcow2
done
same convert --bitmaps -n -O qcow2 s.qcow2 n.qcow2
same convert --bitmaps -n -O qcow2 s.qcow2 v2.qcow2
same convert --bitmaps -O qcow2 v2.qcow2 o.qcow2
same convert --bitmaps -O qcow2 plain.qcow2 o.qcow2
