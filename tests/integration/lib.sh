# lib.sh - the integration harness: imgsh side by side with the real qemu-img.
#
# A case file (cases/*.sh) is sourced by run.sh. It defines setup(), which
# makes fixture images in the current directory with the real qemu-img and
# qemu-io, and then calls the checks below. Each check starts from a fresh
# copy of the fixtures, so checks never see each other's results.
#
#   same ARGS...       run `qemu-img ARGS`, `build/compat/qemu-img ARGS` and
#                      `build/imgsh ARGS` on identical copies; stdout, stderr,
#                      exit code and every resulting file's bytes must be equal
#                      (imgsh's messages say "imgsh" where qemu-img's say "qemu-img")
#   same_json ARGS...  the same, with stdout compared as parsed JSON
#   same_msgs ARGS...  the same, without comparing the resulting files (for
#                      commands that fail part way, where qemu-img's partial
#                      output depends on timing)
#   same_locked FILE BYTES ARGS...
#                      `same`, while another process holds qemu-style image
#                      locks on BYTES (e.g. 201 = refuses to share "write") of FILE
#   expect NAME RC PATTERN -- CMD...
#                      run CMD in a fresh fixture copy; exit code must be RC and
#                      stdout+stderr must match the extended regex PATTERN (a
#                      PATTERN of several lines matches consecutive lines)
#   check NAME CMD...  run CMD in a fresh fixture copy; pass when it exits 0
#   same_alloc FILE ARGS...
#                      run `qemu-img ARGS` and `build/imgsh ARGS` on identical
#                      copies; both must exit alike and leave FILE (a raw image)
#                      with the same bytes and the same data/hole layout
#                      (`qemu-img map -f raw --output=json FILE`)
#   same_io ARGS...    run the real `qemu-io ARGS` and build/compat/qemu-io (as
#                      "qemu-io", so argv[0] is the same) on identical copies;
#                      like `same`, with the timing in I/O reports ("512 bytes,
#                      1 ops; 00.00 sec (...)" and the -C lines) replaced
#   same_io_input INPUT ARGS...
#                      `same_io` with printf INPUT on standard input (every
#                      other check reads /dev/null)
#
# A check copies every fixture, or only the files named in $ONLY when it is
# set (cases with many large fixtures set it around their checks).
#
# Results are appended to $RESULTS as "PASS name" / "FAIL name" lines.

: "${RESULTS:?}" "${BUILD:?}" "${WORK:?}"
IMGSH=$(cd "$BUILD" && pwd)/imgsh
COMPAT=$(cd "$BUILD" && pwd)/compat/qemu-img
COMPAT_DIR=$(cd "$BUILD" && pwd)/compat
JSONCMP=$(cd "$BUILD" && pwd)/tests/jsoncmp
HOLDLOCK=$(cd "$BUILD" && pwd)/tests/holdlock
LOCKWRAP=""
CASE=${CASE:-case}
n=0

setup() { :; }

# poke FILE OFFSET HEX: overwrite bytes of FILE at OFFSET (decimal) with HEX ("80000000")
poke() {
    printf '%b' "$(echo "$3" | sed 's/../\\x&/g')" |
        dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# retry CMD...: run CMD until it succeeds, at most 20 times. qemu's PBKDF
# benchmark (LUKS creation) fails at random with "Unable to get accurate CPU
# usage" when the thread CPU clock does not advance during its first round.
retry() {
    local i=0
    while [ $i -lt 20 ]; do
        "$@" && return 0
        i=$((i + 1))
    done
    return 1
}

# The fixtures are made once per definition of setup() (and of the helpers it
# calls): a check reuses them while no function has been redefined since.
# fill IMAGE CLUSTER: write to a qcow2 image with qemu-io data, zeros,
# compressed data, a discard and unaligned bits, at multiples of CLUSTER
fill() {
    local c=$2
    qemu-io -f qcow2 \
        -c "write -P 0x11 0 $((c * 3))" \
        -c "write -z $((c * 4)) $((c * 2))" \
        -c "write -c -P 0x22 $((c * 8)) $c" \
        -c "write -P 0x33 $((c * 12)) $((c * 2))" \
        -c "discard $((c * 12)) $c" \
        -c "write -P 0x44 $((c * 16 + 700)) 3000" \
        "$1" >/dev/null
}

# every damage kind of the check corpus, as KIND:BASE for damaged_16k below
DAMAGED_16K="leak:v2 refcount-low:v3 refcount-high:r64 refblock-missing:v3 reftable-at-data:v3
    reftable-unaligned:v3 refblock-refcount-zero:r1 l2-past-eof:xl2 l2-unaligned:v3
    l2-prealloc-unaligned:lazy l2-shared:v2 l2-reserved-bits:v3 l1-at-header:v3
    l1-reserved-bits:r64 copied-l2:xl2 copied-l1:snl copied-wrong:v2
    snapshot-table-truncated:snl snapshot-count-high:sn snapshot-l1-unaligned:sn corrupt-bit:v3
    dirty-lazy:lazy compressed-broken:v3 compressed-copied:xl2 subcluster-both:xl2
    bitmap-table-leak:bm scramble-1:v3 scramble-2:xl2 scramble-3:r64 scramble-4:v2
    scramble-5:lazy scramble-6:sn"

# damaged_16k KIND:BASE[:...] ...: healthy 16 KiB-cluster images as case 71
# makes them (hv3 hv2 hlazy hxl2 hr1 hr64: 8 MiB filled by fill; hsnl: hv3
# with a snapshot taken last; hsn: hsnl written after; hbm: with a bitmap),
# then d-KIND.qcow2, hBASE.qcow2 with that damage (scripts/qcow2-damage.py)
damaged_16k() {
    local b o e jobs=""
    for b in v3: v2:compat=0.10 lazy:lazy_refcounts=on xl2:extended_l2=on r1:refcount_bits=1 \
             r64:refcount_bits=64; do
        o=${b#*:}
        qemu-img create -q -f qcow2 -o "cluster_size=16384${o:+,$o}" "h${b%%:*}.qcow2" 8M &&
            fill "h${b%%:*}.qcow2" 16384 || return 1
    done
    cp hv3.qcow2 hsnl.qcow2 && qemu-img snapshot -c one hsnl.qcow2 && cp hsnl.qcow2 hsn.qcow2 &&
        qemu-io -c "write -P 0x55 16384 32768" hsn.qcow2 || return 1
    qemu-img create -q -f qcow2 -o cluster_size=16384 hbm.qcow2 8M &&
        qemu-img bitmap --add hbm.qcow2 b0 && fill hbm.qcow2 16384 || return 1
    for e in "$@"; do
        b=${e#*:}
        jobs="$jobs ${e%%:*} h${b%%:*}.qcow2 d-${e%%:*}.qcow2"
    done
    # shellcheck disable=SC2086
    python3 "$ROOT/scripts/qcow2-damage.py" $jobs
}

# poke_variants BASE PREFIX: for each stdin line "NAME OFFSET HEX [OFFSET HEX...]",
# make PREFIX-NAME.qcow2, a copy of BASE with those bytes overwritten
poke_variants() {
    local name rest
    while read -r name rest; do
        cp "$1" "$2-$name.qcow2" || return 1
        set -- "$1" "$2" $rest
        while [ $# -ge 4 ]; do poke "$2-$name.qcow2" "$3" "$4"; set -- "$1" "$2" "${@:5}"; done
    done
}

_fixture() {
    local key
    key=$(declare -f | cksum)
    [ -f "$WORK/tmpl.key" ] && [ "$(cat "$WORK/tmpl.key")" = "$key" ] && return 0
    rm -rf "$WORK/tmpl" "$WORK/tmpl.key" && mkdir -p "$WORK/tmpl"
    (cd "$WORK/tmpl" && setup) >"$WORK/setup.log" 2>&1 || {
        echo "setup of $CASE failed:" >&2
        sed 's/^/    /' "$WORK/setup.log" | tail -5 >&2
        return 1
    }
    echo "$key" >"$WORK/tmpl.key"
}

# _fresh DIR: DIR becomes a copy of the fixtures; zero blocks become holes
# so that every copy has the same allocation whatever the copy path does
# With ONLY set (to file names in the fixtures), only those are copied.
_fresh() {
    local o
    rm -rf "$1" && mkdir -p "$1" || return 1
    if [ -n "$ONLY" ]; then
        for o in $ONLY; do cp -a --sparse=always "$WORK/tmpl/$o" "$1/" || return 1; done
    else
        cp -a --sparse=always "$WORK/tmpl/." "$1/"
    fi
}

_record() {
    if [ "$1" = PASS ]; then
        echo "PASS $CASE: $2" >>"$RESULTS"
        [ -n "$VERBOSE" ] && echo "ok   $CASE: $2"
    else
        echo "FAIL $CASE: $2" >>"$RESULTS"
        echo "FAIL $CASE: $2"
        [ -s "$WORK/why" ] && sed 's/^/    /' "$WORK/why" | head -40
    fi
    return 0
}

# _run DIR BIN ARGS...: outputs into $WORK/DIR.{out,err,rc}; standard input
# from $STDIN_FILE or /dev/null. BIN "ours:NAME" is build/compat/NAME, run
# under that bare name as the real NAME is.
_run() {
    local path=$PATH
    d=$1; bin=$2; shift 2
    case $bin in
    ours:*) bin=${bin#ours:}; path=$COMPAT_DIR:$PATH ;;
    esac
    (cd "$WORK/$d" && PATH=$path $LOCKWRAP "$bin" "$@" <"${STDIN_FILE:-/dev/null}" \
        >"$WORK/$d.out" 2>"$WORK/$d.err"; echo $? >"$WORK/$d.rc")
}

# _io_norm FILE: qemu-io's I/O reports without their timing
_io_norm() {
    sed -E -i 's/^([0-9.]+ (bytes|[KMGTPE]iB)), ([0-9]+) ops; .*/\1, \3 ops; TIME/;
        s/^([0-9]+),([0-9]+),[0-9:.]+,[-0-9.a-z]+,[-0-9.a-z]+$/\1,\2,TIME/' "$1"
}

# _stat_list DIR LIST: "name size mtime" of the files named in LIST (one stat call)
_stat_list() {
    (cd "$WORK/$1" && xargs -d '\n' -r stat -c '%n %s %y' -- <"$2" 2>/dev/null)
}

# _tree_diff A B: same file names, sizes and bytes
_tree_diff() {
    local f     # case files loop over $f around checks: do not clobber it
    (cd "$WORK/$1" && find . -type f | sort) >"$WORK/$1.files"
    (cd "$WORK/$2" && find . -type f | sort) >"$WORK/$2.files"
    if ! cmp -s "$WORK/$1.files" "$WORK/$2.files"; then
        echo "files differ:"; diff "$WORK/$1.files" "$WORK/$2.files"
        return 1
    fi
    # a fixture neither side wrote (same size and mtime as the template's
    # copy) needs no byte compare: that keeps 1 TiB sparse fixtures cheap
    { _stat_list tmpl "$WORK/$1.files"; _stat_list "$1" "$WORK/$1.files"
      _stat_list "$2" "$WORK/$1.files"; } | sort | uniq -c |
        awk '$1 == 3 { print $2 }' >"$WORK/$1.same"
    while read -r f; do
        if ! cmp -s "$WORK/$1/$f" "$WORK/$2/$f"; then
            echo "contents of $f differ"
            return 1
        fi
    done < <(grep -vxF -f "$WORK/$1.same" "$WORK/$1.files")
    return 0
}

# _compare MODE REF SIDES ARGS...: run `REF ARGS` (the real tool) in fixture
# copy A and each side of SIDES in its own copy: B is ours under REF's name
# (build/compat/REF), C is build/imgsh, whose messages say "imgsh" where
# REF's say REF. MODE: text, json (stdout compared as JSON), msgs (no file
# compare), io (text with qemu-io's timing normalised).
_compare() {
    local mode=$1 ref=$2 sides=$3 side label want
    shift 3
    n=$((n + 1))
    : >"$WORK/why"
    _fixture || { _record FAIL "$name (setup)"; return 0; }
    _fresh "$WORK/A"
    _run A "$ref" "$@"
    for side in $sides; do
        _fresh "$WORK/$side"
        if [ $side = B ]; then _run B "ours:$ref" "$@"; else _run C "$IMGSH" "$@"; fi
    done
    sed "s/$ref/imgsh/g" "$WORK/A.err" >"$WORK/A.err.imgsh"
    if [ "$mode" = io ]; then
        for side in A $sides; do _io_norm "$WORK/$side.out"; done
    fi
    ok=1
    {
        for side in $sides; do
            if [ $side = B ]; then label=ours; want=A.err; else label=imgsh; want=A.err.imgsh; fi
            if [ "$mode" = json ]; then
                "$JSONCMP" "$WORK/A.out" "$WORK/$side.out" ||
                    { echo "json stdout differs ($ref | $label):"; diff "$WORK/A.out" "$WORK/$side.out"; ok=0; }
            else
                cmp -s "$WORK/A.out" "$WORK/$side.out" ||
                    { echo "stdout differs ($ref | $label):"; diff "$WORK/A.out" "$WORK/$side.out"; ok=0; }
            fi
            cmp -s "$WORK/$want" "$WORK/$side.err" ||
                { echo "stderr differs ($ref | $label):"; diff "$WORK/$want" "$WORK/$side.err"; ok=0; }
            cmp -s "$WORK/A.rc" "$WORK/$side.rc" ||
                { echo "exit code: $ref $(cat "$WORK/A.rc"), $label $(cat "$WORK/$side.rc")"; ok=0; }
            if [ "$mode" != msgs ]; then
                _tree_diff A $side || ok=0
            fi
        done
    } >>"$WORK/why" 2>&1
    if [ $ok = 1 ]; then _record PASS "$name"; else _record FAIL "$name"; fi
}

# the sanitizer pass looks for memory errors: it runs imgsh only, since
# the qemu-img link (the same binary) was compared in the normal pass
_same() {
    local mode=$1
    shift
    name="$*"
    if [ -n "$SANITIZED" ]; then _compare "$mode" qemu-img C "$@"; else _compare "$mode" qemu-img "B C" "$@"; fi
}

same() { _same text "$@"; }
same_locked() {
    LOCKWRAP="$HOLDLOCK $1 $2"; shift 2
    _same text "$@"
    LOCKWRAP=""
}
same_json() { _same json "$@"; }
same_msgs() { _same msgs "$@"; }
same_io() {
    name="qemu-io $*"
    _compare io qemu-io B "$@"
}
same_io_input() {
    local input=$1
    shift
    printf "$input" >"$WORK/stdin"
    name="qemu-io $* <<<'$input'"
    STDIN_FILE=$WORK/stdin _compare io qemu-io B "$@"
}

# _matches PATTERN FILE: the extended regex PATTERN matches a line of FILE; a
# PATTERN of several lines must match that many consecutive lines (grep would
# take each of its lines as a pattern of its own)
_matches() {
    case $1 in
    *'
'*) python3 -c '
import re, sys
sys.exit(0 if re.search(sys.argv[1], open(sys.argv[2], errors="replace").read(), re.M) else 1)
' "$1" "$2" ;;
    *) grep -Eq -- "$1" "$2" ;;
    esac
}

expect() {
    name=$1; want_rc=$2; pattern=$3; shift 4    # NAME RC PATTERN --
    n=$((n + 1))
    : >"$WORK/why"
    _fixture || { _record FAIL "$name (setup)"; return 0; }
    _fresh "$WORK/E"
    (cd "$WORK/E" && "$@" >"$WORK/E.out" 2>&1; echo $? >"$WORK/E.rc")
    rc=$(cat "$WORK/E.rc")
    if [ "$rc" != "$want_rc" ]; then
        { echo "exit code $rc, wanted $want_rc; output:"; cat "$WORK/E.out"; } >"$WORK/why"
        _record FAIL "$name"
    elif ! _matches "$pattern" "$WORK/E.out"; then
        { echo "output does not match /$pattern/:"; cat "$WORK/E.out"; } >"$WORK/why"
        _record FAIL "$name"
    else
        _record PASS "$name"
    fi
}

check() {
    name=$1; shift
    n=$((n + 1))
    : >"$WORK/why"
    _fixture || { _record FAIL "$name (setup)"; return 0; }
    _fresh "$WORK/E"
    if (cd "$WORK/E" && "$@") >"$WORK/why" 2>&1; then
        _record PASS "$name"
    else
        _record FAIL "$name"
    fi
}

same_alloc() {
    file=$1; shift
    n=$((n + 1))
    name="allocation of $file after: $*"
    : >"$WORK/why"
    _fixture || { _record FAIL "$name (setup)"; return 0; }
    _fresh "$WORK/A"; _fresh "$WORK/C"
    _run A qemu-img "$@"
    _run C "$IMGSH" "$@"
    ok=1
    {
        cmp -s "$WORK/A.rc" "$WORK/C.rc" || { echo "exit code: qemu-img $(cat "$WORK/A.rc"), imgsh $(cat "$WORK/C.rc")"; ok=0; }
        cmp -s "$WORK/A/$file" "$WORK/C/$file" || { echo "contents of $file differ"; ok=0; }
        (cd "$WORK/A" && qemu-img map -f raw --output=json "$file") >"$WORK/A.map" 2>&1
        (cd "$WORK/C" && qemu-img map -f raw --output=json "$file") >"$WORK/C.map" 2>&1
        cmp -s "$WORK/A.map" "$WORK/C.map" || { echo "layout differs (qemu-img | imgsh):"; diff "$WORK/A.map" "$WORK/C.map"; ok=0; }
    } >>"$WORK/why" 2>&1
    if [ $ok = 1 ]; then _record PASS "$name"; else _record FAIL "$name"; fi
}
