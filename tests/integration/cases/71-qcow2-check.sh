# check: qemu-img check on damaged qcow2 images. Healthy images (two cluster
# sizes; v2 and v3, refcount widths 1/16/64, lazy refcounts, extended L2,
# snapshots, a persistent bitmap) get one kind of damage each from
# scripts/qcow2-damage.py (26 kinds, and 12 seeds of random damage to
# L1/L2 entries, refcount table entries and refcount blocks). imgsh must report it as qemu-img does (messages,
# JSON, exit code, no write), and repair it (-r all, and -r leaks for the
# leaks) as qemu-img does: the same exit code and messages, an image that
# qemu-img then finds as clean as its own repair, the same guest data, and
# (a check of its own) the same bytes.
DAMAGE=${ROOT:-$(cd "$BUILD/.." && pwd)}/scripts/qcow2-damage.py
SIZES="16384 65536"
# NAME:KIND:BASE - NAME-CLUSTERSIZE.qcow2 is BASE-CLUSTERSIZE.qcow2 with KIND
# (the bases: see setup)
DAMAGED="leak:leak:v2 leak-r1:leak:r1 refcount-low:refcount-low:v3
    refcount-high:refcount-high:r64 refblock-missing:refblock-missing:v3
    reftable-at-data:reftable-at-data:v3 reftable-unaligned:reftable-unaligned:v3
    refblock-refcount-zero:refblock-refcount-zero:r1 l2-past-eof:l2-past-eof:xl2
    l2-unaligned:l2-unaligned:v3 l2-prealloc-unaligned:l2-prealloc-unaligned:lazy
    l2-shared:l2-shared:v2 l2-reserved-bits:l2-reserved-bits:v3 l1-at-header:l1-at-header:v3
    l1-reserved-bits:l1-reserved-bits:r64 copied-l2:copied-l2:xl2 copied-l1:copied-l1:snl
    copied-l1-v3:copied-l1:v3 copied-wrong:copied-wrong:v2
    snapshot-table-truncated:snapshot-table-truncated:snl
    snapshot-count-high:snapshot-count-high:sn snapshot-l1-unaligned:snapshot-l1-unaligned:sn
    corrupt-bit:corrupt-bit:v3 dirty-lazy:dirty-lazy:lazy compressed-broken:compressed-broken:v3
    compressed-copied:compressed-copied:xl2 subcluster-both:subcluster-both:xl2
    bitmap-table-leak:bitmap-table-leak:bm
    scramble-1:scramble-1:v3 scramble-2:scramble-2:xl2 scramble-3:scramble-3:r64
    scramble-4:scramble-4:v2 scramble-5:scramble-5:lazy scramble-6:scramble-6:sn
    scramble-7:scramble-7:r1 scramble-8:scramble-8:v3 scramble-9:scramble-9:xl2
    scramble-10:scramble-10:sn scramble-11:scramble-11:v2 scramble-12:scramble-12:bm"
# the images that -r leaks repairs, fully or in part
LEAKY="leak leak-r1 bitmap-table-leak refcount-high l2-shared compressed-broken"

setup() {
    local cs b o e name kind base jobs=""
    for cs in $SIZES; do
        # 8 MiB images with data, zeros, a compressed cluster, a discard
        for b in v3: v2:compat=0.10 lazy:lazy_refcounts=on xl2:extended_l2=on \
                 r1:refcount_bits=1 r64:refcount_bits=64; do
            o=${b#*:}
            qemu-img create -q -f qcow2 -o "cluster_size=$cs${o:+,$o}" "${b%%:*}-$cs.qcow2" 8M &&
                fill "${b%%:*}-$cs.qcow2" "$cs" || return 1
        done
        # snapshots: taken last (the table ends the file), or overwritten after
        cp "v3-$cs.qcow2" "snl-$cs.qcow2" && qemu-img snapshot -c one "snl-$cs.qcow2" &&
        cp "snl-$cs.qcow2" "sn-$cs.qcow2" &&
            qemu-io -c "write -P 0x55 $cs $((cs * 2))" "sn-$cs.qcow2" >/dev/null || return 1
        # a persistent bitmap that tracks the writes
        qemu-img create -q -f qcow2 -o "cluster_size=$cs" "bm-$cs.qcow2" 8M &&
            qemu-img bitmap --add "bm-$cs.qcow2" b0 && fill "bm-$cs.qcow2" "$cs" || return 1
        for e in $DAMAGED; do
            name=${e%%:*}; kind=${e#*:}; base=${kind#*:}; kind=${kind%%:*}
            jobs="$jobs $kind $base-$cs.qcow2 $name-$cs.qcow2"
        done
    done
    # shellcheck disable=SC2086
    python3 "$DAMAGE" $jobs || return 1     # one python start-up for all
    qemu-img create -q -f raw some.raw 1M
}

# repair MODE WHAT IMAGE: `qemu-img check -r MODE IMAGE` on one copy (in q/),
# `imgsh check -r MODE IMAGE` on another (in i/).
# WHAT=data: both exit alike; `qemu-img check` then exits alike on both
# copies (so imgsh's is clean wherever qemu-img's is); `qemu-img convert -O
# raw` of both exits alike and, where it works, gives the same bytes.
# WHAT=msgs: the same stdout and stderr (qemu-img's with "qemu-img" read as
# "imgsh").
repair() {
    local mode=$1 what=$2 img=$3 ok=0 qa ia
    mkdir q i && cp "$img" q/ && cp "$img" i/ || return 1
    (cd q && qemu-img check -r "$mode" "$img" >../q.out 2>../q.err; echo $? >../q.rc)
    (cd i && "$IMGSH" check -r "$mode" "$img" >../i.out 2>../i.err; echo $? >../i.rc)
    if [ "$what" = msgs ]; then
        sed 's/qemu-img/imgsh/g' q.err >q.err.imgsh
        cmp -s q.out i.out || { echo "stdout differs (qemu-img | imgsh):"; diff q.out i.out; ok=1; }
        cmp -s q.err.imgsh i.err || { echo "stderr differs (qemu-img | imgsh):"; diff q.err.imgsh i.err; ok=1; }
        return $ok
    fi
    qa=$(cat q.rc); ia=$(cat i.rc)
    [ "$qa" = "$ia" ] || { echo "check -r $mode: exit code qemu-img $qa, imgsh $ia"; ok=1; }
    (cd q && qemu-img check "$img" >../q.chk 2>&1; echo $? >../q.chkrc)
    (cd i && qemu-img check "$img" >../i.chk 2>&1; echo $? >../i.chkrc)
    qa=$(cat q.chkrc); ia=$(cat i.chkrc)
    [ "$qa" = "$ia" ] || {
        echo "qemu-img check after the repair: exit $qa on qemu-img's copy, $ia on imgsh's:"
        head -20 i.chk; ok=1
    }
    (cd q && qemu-img convert -O raw "$img" ../q.raw >../q.cnv 2>&1; echo $? >../q.cnvrc)
    (cd i && qemu-img convert -O raw "$img" ../i.raw >../i.cnv 2>&1; echo $? >../i.cnvrc)
    qa=$(cat q.cnvrc); ia=$(cat i.cnvrc)
    if [ "$qa" != "$ia" ]; then
        echo "qemu-img convert -O raw after the repair: exit $qa on qemu-img's copy, $ia on imgsh's:"
        cat q.cnv i.cnv; ok=1
    elif [ "$qa" = 0 ] && ! cmp -s q.raw i.raw; then
        echo "guest data differs after the repair (qemu-img's copy | imgsh's):"
        cmp q.raw i.raw 2>&1 | head -3; ok=1
    fi
    return $ok
}

# every damaged image: the report, in text and JSON, and the repair. The
# repair is compared two ways, each its own check: the outcome (exit codes,
# qemu-img check's verdict, the guest data), and the messages with the
# image's bytes (`same`: qemu-img discards the clusters that a repair frees)
for de in $DAMAGED; do
    dk=${de%%:*}
    for dcs in $SIZES; do
        dimg=$dk-$dcs.qcow2
        ONLY=$dimg
        same check "$dimg"
        same_json check --output=json "$dimg"
        check "check -r all $dimg: exit codes, result and data as qemu-img's" repair all data "$dimg"
        same check -r all "$dimg"
    done
done
for dk in $LEAKY; do
    for dcs in $SIZES; do
        dimg=$dk-$dcs.qcow2
        ONLY=$dimg
        check "check -r leaks $dimg: exit codes, result and data as qemu-img's" repair leaks data "$dimg"
        check "check -r leaks $dimg: messages as qemu-img's" repair leaks msgs "$dimg"
        same check -r leaks "$dimg"
        same_json check -r leaks --output=json "$dimg"
    done
done

# the healthy images
for db in v3 v2 lazy xl2 r1 r64 sn snl bm; do
    for dcs in $SIZES; do
        ONLY=$db-$dcs.qcow2
        same check "$db-$dcs.qcow2"
        same_json check --output=json "$db-$dcs.qcow2"
        same check -r all "$db-$dcs.qcow2"
    done
done

# options and errors
ONLY="v3-16384.qcow2 leak-16384.qcow2 refcount-low-16384.qcow2 some.raw"
same check
same check missing.qcow2
same check v3-16384.qcow2 leak-16384.qcow2
same check -r bogus v3-16384.qcow2
same check -r leaks
same check --output=xml v3-16384.qcow2
same check --output=human v3-16384.qcow2
same check --output=human leak-16384.qcow2
same check -f raw some.raw
same check some.raw
same check -r all some.raw
same check -f qcow2 v3-16384.qcow2
same check -f raw v3-16384.qcow2
same check -f bogus v3-16384.qcow2
same check -q v3-16384.qcow2
same check -q leak-16384.qcow2
same check -q refcount-low-16384.qcow2
same check -q -r leaks leak-16384.qcow2
same check -q --output=json leak-16384.qcow2    # -q: no JSON at all
same check -U v3-16384.qcow2
same check -U leak-16384.qcow2
same check --force-share refcount-low-16384.qcow2
same check -U -r leaks leak-16384.qcow2
same check -T writeback v3-16384.qcow2
same check -T bogus v3-16384.qcow2
# -T none opens with O_DIRECT, which some file systems (tmpfs) refuse
if dd if=/dev/zero of="$WORK/odirect" bs=4096 count=1 oflag=direct status=none 2>/dev/null; then
    same check -T none v3-16384.qcow2
    same check -T none leak-16384.qcow2
fi
rm -f "$WORK/odirect"
same check -x v3-16384.qcow2
same_locked v3-16384.qcow2 201 check v3-16384.qcow2
same_locked leak-16384.qcow2 201 check -r leaks leak-16384.qcow2
same_locked leak-16384.qcow2 201 check -U leak-16384.qcow2
ONLY=
