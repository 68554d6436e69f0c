#!/bin/sh
# bench.sh BUILD - `make bench`: time imgsh against the real qemu-img on the
# same inputs, in the same run, and print each as a ratio (imgsh / qemu-img;
# below 1.0 means imgsh is faster). Each timing is the best of RUNS runs,
# alternating the two tools so that both see the same cache state.
set -e
BUILD=${1:-build}
RUNS=${RUNS:-3}
IMGSH=$(cd "$BUILD" && pwd)/imgsh
dir=$(cd "$BUILD" && pwd)/bench
mkdir -p "$dir"
cd "$dir"

command -v qemu-img >/dev/null || { echo "bench: qemu-img is not installed (make deps)"; exit 1; }

# A 1 GiB qcow2 with mixed content: 2 MiB runs of data, zero clusters and
# holes, in a repeating 10-step pattern (4 data, 2 zero, 4 hole).
make_mixed() {
    [ -f mixed.qcow2 ] && return 0
    qemu-img create -q -f qcow2 mixed.tmp 1G
    cmds=""
    i=0
    while [ $i -lt 512 ]; do
        off=$((i * 2))
        case $((i % 10)) in
        0|1|2|3) cmds="$cmds -c 'write -P $((i % 251 + 1)) ${off}M 2M'" ;;
        4|5) cmds="$cmds -c 'write -z ${off}M 2M'" ;;
        esac
        i=$((i + 1))
    done
    eval qemu-io -f qcow2 $cmds mixed.tmp >/dev/null
    mv mixed.tmp mixed.qcow2
}

now() { date +%s.%N; }

# best_time CMD...: the fastest of RUNS runs, in seconds
time_once() {
    t0=$(now)
    "$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; exit 1; }
    t1=$(now)
    echo "$t1 - $t0" | bc -l
}

# compare NAME OUTPUT -- ARGS: run "qemu-img ARGS" and "imgsh ARGS", removing OUTPUT before each
compare() {
    name=$1; out=$2; shift 3
    best_q=999999; best_i=999999
    r=0
    while [ $r -lt "$RUNS" ]; do
        rm -f "$out"; sync
        tq=$(time_once qemu-img "$@")
        rm -f "$out"; sync
        ti=$(time_once "$IMGSH" "$@")
        best_q=$(echo "if ($tq < $best_q) $tq else $best_q" | bc -l)
        best_i=$(echo "if ($ti < $best_i) $ti else $best_i" | bc -l)
        r=$((r + 1))
    done
    # the results must be the same guest data, or the timing means nothing
    rm -f "$out" "$out.q"
    qemu-img "$@" >/dev/null 2>&1 && mv "$out" "$out.q"
    "$IMGSH" "$@" >/dev/null 2>&1
    qemu-img compare -q "$out.q" "$out" || { echo "bench: $name: outputs differ" >&2; exit 1; }
    rm -f "$out" "$out.q"
    printf '%-52s qemu-img %7.3f s   imgsh %7.3f s   ratio %5.2f\n' "$name" "$best_q" "$best_i" \
        "$(echo "$best_i / $best_q" | bc -l)"
}

# The same guest data, zlib-compressed (decompression is the cost here).
make_compressed() {
    [ -f mixedc.qcow2 ] && return 0
    qemu-img convert -c -O qcow2 mixed.qcow2 mixedc.tmp && mv mixedc.tmp mixedc.qcow2
}

# The mixed image as raw (holes stay holes), the source of raw -> qcow2.
make_raw() {
    [ -f mixed.raw ] && return 0
    qemu-img convert -O raw mixed.qcow2 mixed.tmp && mv mixed.tmp mixed.raw
}

# 256 MiB of real, moderately compressible bytes (the system's own
# libraries and programs) in a qcow2: the source for compressed conversion.
make_binaries() {
    [ -f bins.qcow2 ] && return 0
    find /usr/lib /usr/bin -type f -size +64k 2>/dev/null | sort | xargs cat 2>/dev/null |
        head -c 268435456 >bins.tmp || true
    truncate -s 256M bins.tmp
    qemu-img convert -f raw -O qcow2 bins.tmp bins.qcow2 && rm -f bins.tmp
}

# A 1 GiB overlay over a 1 GiB base, half of it rewritten (the commit source);
# commit changes both, so every run starts from fresh copies.
make_overlay() {
    [ -f ovl-base.qcow2 ] && [ -f ovl.qcow2 ] && return 0
    rm -f ovl-base.qcow2 ovl.qcow2
    qemu-img convert -O qcow2 mixed.qcow2 ovl-base.qcow2
    qemu-img create -q -f qcow2 -b ovl-base.qcow2 -F qcow2 ovl.qcow2
    cmds=""
    i=0
    while [ $i -lt 256 ]; do
        cmds="$cmds -c 'write -P $((i % 200 + 7)) $((i * 4))M 2M'"
        i=$((i + 1))
    done
    eval qemu-io -f qcow2 $cmds ovl.qcow2 >/dev/null
}

# compare_commit NAME: qemu-img commit and imgsh commit on fresh copies of the overlay pair
compare_commit() {
    name=$1
    best_q=999999; best_i=999999
    r=0
    while [ $r -lt "$RUNS" ]; do
        for tool in q i; do
            rm -rf "c$tool" && mkdir "c$tool" && cp ovl-base.qcow2 ovl.qcow2 "c$tool/" && sync
            if [ $tool = q ]; then
                t=$(cd cq && time_once qemu-img commit ovl.qcow2)
                best_q=$(echo "if ($t < $best_q) $t else $best_q" | bc -l)
            else
                t=$(cd ci && time_once "$IMGSH" commit ovl.qcow2)
                best_i=$(echo "if ($t < $best_i) $t else $best_i" | bc -l)
            fi
        done
        r=$((r + 1))
    done
    qemu-img compare -q cq/ovl-base.qcow2 ci/ovl-base.qcow2 ||
        { echo "bench: $name: bases differ" >&2; exit 1; }
    rm -rf cq ci
    printf '%-52s qemu-img %7.3f s   imgsh %7.3f s   ratio %5.2f\n' "$name" "$best_q" "$best_i" \
        "$(echo "$best_i / $best_q" | bc -l)"
}

# 64 GiB with every one of its 1,048,576 clusters allocated (preallocated
# metadata: the L2 tables map every cluster, the data areas are holes)
make_big() {
    [ -f big.qcow2 ] && return 0
    qemu-img create -q -f qcow2 -o preallocation=metadata big.tmp 64G && mv big.tmp big.qcow2
}

# peak_kb CMD...: peak resident memory of one run, in KiB
peak_kb() {
    /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1
}

# compare_check NAME IMAGE: qemu-img check and imgsh check (read-only), same
# output required; times and peak memory of both
compare_check() {
    name=$1; img=$2
    best_q=999999; best_i=999999
    r=0
    while [ $r -lt "$RUNS" ]; do
        tq=$(time_once qemu-img check "$img")
        ti=$(time_once "$IMGSH" check "$img")
        best_q=$(echo "if ($tq < $best_q) $tq else $best_q" | bc -l)
        best_i=$(echo "if ($ti < $best_i) $ti else $best_i" | bc -l)
        r=$((r + 1))
    done
    qemu-img check "$img" >check.q 2>&1
    "$IMGSH" check "$img" >check.i 2>&1
    cmp -s check.q check.i || { echo "bench: $name: outputs differ" >&2; exit 1; }
    rm -f check.q check.i
    mq=$(peak_kb qemu-img check "$img")
    mi=$(peak_kb "$IMGSH" check "$img")
    printf '%-52s qemu-img %7.3f s   imgsh %7.3f s   ratio %5.2f\n' "$name" "$best_q" "$best_i" \
        "$(echo "$best_i / $best_q" | bc -l)"
    printf '%-52s qemu-img %7d KiB imgsh %7d KiB ratio %5.2f\n' "  peak memory" "$mq" "$mi" \
        "$(echo "$mi / $mq" | bc -l)"
}

make_mixed
make_compressed
make_raw
make_binaries
make_overlay
make_big
echo "imgsh bench: best of $RUNS runs each, $(nproc) cores"
compare "convert -O raw, 1 GiB qcow2 (data/zero/holes)" out.raw -- convert -O raw mixed.qcow2 out.raw
compare "convert -O raw, 1 GiB compressed qcow2" out.raw -- convert -O raw mixedc.qcow2 out.raw
compare "convert raw -> qcow2, 1 GiB (data/zero/holes)" out.qcow2 -- convert -f raw -O qcow2 mixed.raw out.qcow2
compare "convert -c qcow2 -> qcow2 (zlib), 256 MiB binaries" out.qcow2 -- convert -c -O qcow2 bins.qcow2 out.qcow2
compare "convert -c qcow2 -> qcow2 (zstd), 256 MiB binaries" out.qcow2 -- convert -c -O qcow2 -o compression_type=zstd bins.qcow2 out.qcow2
compare_commit "commit of a 1 GiB overlay (512 MiB written)"
compare_check "check, 64 GiB qcow2, 1M allocated clusters" big.qcow2
