# snapshot: -l, -c, -a, -d on qcow2 images. Snapshot dates differ between
# runs, so sequences are compared byte for byte with the dates masked
# (tests/tools/snapmask); messages and exit codes are compared directly.
SNAPMASK=$(cd "$BUILD" && pwd)/tests/snapmask
setup() {
    qemu-img create -q -f qcow2 q.qcow2 4M
    fill q.qcow2 65536
    cp q.qcow2 sn.qcow2
    qemu-img snapshot -c one sn.qcow2
    qemu-io -c 'write -P 0x55 64k 128k' sn.qcow2 >/dev/null
    qemu-img snapshot -c two sn.qcow2
    qemu-img snapshot -c one sn.qcow2
    qemu-img create -q -f qcow2 -o data_file=d.raw ext.qcow2 1M
    qemu-img create -q -f raw r.raw 1M
    qemu-img create -q -f qcow2 -b q.qcow2 -F qcow2 ov.qcow2
}
# listing (the fixture's snapshots: the dates are the same on both sides)
same snapshot -l sn.qcow2
same snapshot sn.qcow2
same snapshot -l q.qcow2
same snapshot -l -q sn.qcow2
same snapshot -U -l sn.qcow2
same snapshot --force-share -l sn.qcow2
same snapshot -l r.raw
same snapshot -l -l sn.qcow2
# errors
same snapshot
same snapshot -l
same snapshot -l a b
same snapshot -l missing.qcow2
same snapshot -x sn.qcow2
same snapshot -f qcow2 -l sn.qcow2
same snapshot -c a -d b sn.qcow2
same snapshot -c a -c b sn.qcow2
same snapshot -a
same snapshot -a nope sn.qcow2
same snapshot -d nope sn.qcow2
same snapshot -d 1 sn.qcow2
same snapshot -c x r.raw
same snapshot -a x r.raw
same snapshot -d x r.raw
same_locked sn.qcow2 201 snapshot -l sn.qcow2
same_locked sn.qcow2 201 snapshot -U -l sn.qcow2
same_locked sn.qcow2 101 snapshot -c x sn.qcow2

# snapseq CREATE_OPTS STEP...: make an image with CREATE_OPTS, run each step
# (a snapshot argument list, or "io:CMD" for a qemu-io command run on both)
# with qemu-img on one copy and imgsh on another: the same messages, exit
# codes and (dates aside) bytes after every step, and qemu-img check passes
# wherever it passes on qemu-img's copy
snapseq() {
    local opts=$1 st c ra rb
    shift
    qemu-img create -q -f qcow2 -o "$opts" a.qcow2 4M || return 1
    fill a.qcow2 65536
    cp a.qcow2 b.qcow2
    for st in "$@"; do
        if [ "${st#io:}" != "$st" ]; then
            for c in a b; do qemu-io -c "${st#io:}" $c.qcow2 >/dev/null || return 1; done
            continue
        fi
        qemu-img snapshot $st a.qcow2 >a.out 2>a.err; ra=$?
        "$IMGSH" snapshot $st b.qcow2 >b.out 2>b.err; rb=$?
        sed -i 's/^imgsh:/qemu-img:/' b.err
        sed -i 's/20[0-9][0-9]-[0-9-]* [0-9:]*/DATE/' a.out b.out
        [ "$ra" = "$rb" ] || { echo "snapshot $st: exit $ra vs $rb"; return 1; }
        cmp a.err b.err && cmp a.out b.out || { echo "snapshot $st: output differs"; return 1; }
        "$SNAPMASK" a.qcow2 a.m && "$SNAPMASK" b.qcow2 b.m || return 1
        cmp a.m b.m || { echo "snapshot $st: images differ"; return 1; }
        qemu-img compare -q a.qcow2 b.qcow2 || return 1
    done
}
for o in cluster_size=65536 cluster_size=512 cluster_size=16384,extended_l2=on compat=0.10 \
         refcount_bits=1 refcount_bits=64 lazy_refcounts=on cluster_size=2M compression_type=zstd; do
    # one compressed cluster at a time: qemu-io allocates several in a racy order
    cs=65536
    case $o in cluster_size=512) cs=512 ;; cluster_size=16384*) cs=16384 ;; cluster_size=2M) cs=2M ;; esac
    IFS_OLD=$IFS; IFS=$'\n'
    # shellcheck disable=SC2046
    check "snapshot -c/-a/-d sequence, $o: as qemu-img (dates aside)" \
        snapseq "$o" $(printf '%s\n' "-c s1" "io:write -P 7 100k 300k" "-c s2" \
            "io:write -c -P 8 2M $cs" "io:discard 0 64k" "-a s1" "-l" "-a 2" \
            "io:write -z 0 4M" "-c s3" "-d s1" "-a s2" "-d s2" "-a nope" "-d nope" "-d s3" "-l")
    IFS=$IFS_OLD
done
# apply gives back the guest data of the moment of the snapshot
check "snapshot -a restores the data" sh -c "
    qemu-img convert -O raw q.qcow2 before.raw && '$IMGSH' snapshot -c s q.qcow2 &&
    qemu-io -c 'write -P 9 0 4M' q.qcow2 >/dev/null && '$IMGSH' snapshot -a s q.qcow2 &&
    qemu-img compare -q -F raw q.qcow2 before.raw && qemu-img check -q q.qcow2"
same_msgs snapshot -c x ext.qcow2
same_msgs snapshot -c x ov.qcow2
check "snapshot -c on an overlay: as qemu-img (dates aside)" sh -c "
    cp ov.qcow2 a.qcow2 && qemu-img snapshot -c x a.qcow2 && '$IMGSH' snapshot -c x ov.qcow2 &&
    '$SNAPMASK' a.qcow2 a.m && '$SNAPMASK' ov.qcow2 b.m && cmp a.m b.m"
