# hexdump and export (docs/inspection.md): the guest bytes they show or
# copy are the bytes the real qemu-io reads and qemu-img convert -O raw
# writes (data, zero, compressed and discarded clusters, extended L2, a
# qcow2 over qcow2 over raw chain with a shorter base), the host bytes are
# the file's as od and dd read them; the human layout is hexdump -C's with
# absolute offsets; JSON; errors; locks; the session's current image; and
# that neither command ever changes the image.

setup() {
    # fill (lib.sh): data, zeros, compressed data, a discard, unaligned bits
    qemu-img create -q -f qcow2 d.qcow2 4M && fill d.qcow2 65536 || return 1
    qemu-img create -q -f qcow2 -o cluster_size=16k,extended_l2=on x.qcow2 2M &&
        fill x.qcow2 16384 && qemu-io -c 'write -P 0x66 1000 100' x.qcow2 || return 1
    # a chain: qcow2 (2M clusters) over qcow2 over a raw base half its size
    qemu-img create -q -f raw base.raw 4M && qemu-io -f raw -c 'write -P 9 0 1M' base.raw &&
        qemu-img create -q -f qcow2 -b base.raw -F raw mid.qcow2 8M &&
        qemu-io -c 'write -P 8 512k 64k' -c 'write -P 7 4M 4k' mid.qcow2 &&
        qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 -o cluster_size=2M top.qcow2 8M &&
        qemu-io -c 'write -c -P 6 2M 2M' -c 'write -P 5 6M 4k' -c 'write -z 600k 4k' top.qcow2 ||
        return 1
    qemu-img create -q -f raw r.raw 1M && qemu-io -f raw -c 'write -P 0x41 100 1000' r.raw ||
        return 1
    # the guest data as qemu-img reads it
    for i in d x top; do qemu-img convert -O raw $i.qcow2 $i.img || return 1; done
    cp r.raw r.img
} >/dev/null

# qio_hex FMT IMAGE OFFSET LENGTH: the bytes qemu-io's 'read -v' shows, as hex
qio_hex() {
    qemu-io -r -f "$1" -c "read -v $3 $4" "$2" | awk -v rem="$4" '
        /^[0-9a-f]+:  / { n = rem < 16 ? rem : 16; for (i = 2; i <= n + 1; i++) printf "%s", $i; rem -= n }
        END { print "" }'
}

# ours_hex ARGS...: the "hex" member of `imgsh hexdump --json ARGS`
ours_hex() {
    "$IMGSH" hexdump --json "$@" | python3 -c 'import json, sys; print(json.load(sys.stdin)["hex"])'
}

# file_hex FILE OFFSET LENGTH: those bytes of the file, as hex (od)
file_hex() {
    tail -c +$(($2 + 1)) "$1" | head -c "$3" | od -An -v -tx1 | tr -d ' \n'
    echo
}

# guest_eq FMT IMAGE OFFSET LENGTH: hexdump --guest = qemu-io read -v = convert -O raw
guest_eq() {
    local a b c
    a=$(ours_hex "$2" "$3" "$4") && b=$(qio_hex "$1" "$2" "$3" "$4") &&
        c=$(file_hex "${2%.*}.img" "$3" "$4") || return 1
    [ ${#a} = $((2 * $4)) ] || { echo "imgsh gave ${#a} hex digits"; return 1; }
    [ "$a" = "$b" ] || { printf 'imgsh   %s\nqemu-io %s\n' "$a" "$b"; return 1; }
    [ "$a" = "$c" ] || { printf 'imgsh   %s\nconvert %s\n' "$a" "$c"; return 1; }
}

# host_eq FILE OFFSET LENGTH: hexdump --host = od of the file
host_eq() {
    local a b
    a=$(ours_hex --host "$1" "$2" "$3") && b=$(file_hex "$1" "$2" "$3") || return 1
    [ -n "$a" ] && [ "$a" = "$b" ] || { printf 'imgsh %s\nod    %s\n' "$a" "$b"; return 1; }
}

# layout_eq HEXDUMP_ARGS -- FILE OFFSET LENGTH: our human output = hexdump -C -s OFFSET -n LENGTH FILE
layout_eq() {
    local args=()
    while [ "$1" != -- ]; do args+=("$1"); shift; done
    shift
    diff <("$IMGSH" hexdump "${args[@]}") <(hexdump -C -s "$2" -n "$3" "$1")
}

# host_tail_eq FILE LENGTH: host_eq of the file's last LENGTH bytes
host_tail_eq() {
    host_eq "$1" $(($(stat -c %s "$1") - $2)) "$2"
}

# out_is TEXT CMD...: CMD's output (stdout and stderr) is exactly TEXT
out_is() {
    local want=$1
    shift
    diff <(printf '%s\n' "$want") <("$@" 2>&1)
}

# unchanged CMD...: CMD leaves every file of the directory as it was
unchanged() {
    local before
    before=$(sha256sum ./*.qcow2 ./*.raw; stat -c '%n %Y' ./*.qcow2 ./*.raw)
    "$@" >/dev/null 2>&1
    [ "$(sha256sum ./*.qcow2 ./*.raw; stat -c '%n %Y' ./*.qcow2 ./*.raw)" = "$before" ]
}

# guest bytes through every kind of cluster (c = 64k in d, 16k in x)
for r in "0 4096" "196600 16" "262144 1024" "524288 65536" "786400 300" "1049276 3000" \
         "1052270 600" "4194303 1"; do
    check "hexdump --guest = qemu-io read -v: d.qcow2 $r" guest_eq qcow2 d.qcow2 $r
done
for r in "990 120" "49152 32768" "131072 16384" "196600 100" "262844 3000" "2097150 2"; do
    check "hexdump --guest = qemu-io read -v: extended L2 $r" guest_eq qcow2 x.qcow2 $r
done
# top: compressed 2M-4M, data 6M, zeros over the base at 600k; mid over
# base.raw (data 0-1M, mid's own 512k+64k and 4M); 4M-8M is past the base
for r in "0 512" "614000 8192" "524000 1000" "2097000 600" "4194000 8192" "6291000 5000" \
         "8388000 608"; do
    check "hexdump --guest = qemu-io read -v: chain $r" guest_eq qcow2 top.qcow2 $r
done
check "hexdump --guest = qemu-io read -v: raw" guest_eq raw r.raw 90 1100

# the file as stored
for r in "0 512" "65536 4096" "3 1000"; do
    check "hexdump --host = od: d.qcow2 $r" host_eq d.qcow2 $r
done
check "hexdump --host = od: the end of top.qcow2 (compressed data)" host_tail_eq top.qcow2 5000

# human output: hexdump -C's layout, offsets, '*' runs, last partial line, end offset
expect "human: a line" 0 "^000d0004  33 33 33 33 33 33 33 33  33 33 33 33 33 33 33 33  \|3{16}\|$" -- \
    "$IMGSH" hexdump --output=human d.qcow2 0xd0004 16
check "human: repeated lines become one '*'" out_is \
"00000000  11 11 11 11 11 11 11 11  11 11 11 11 11 11 11 11  |................|
*
00001000" "$IMGSH" hexdump d.qcow2 0 4k
check "human: unaligned offset, partial last line" out_is \
"00000061  00 00 00 41 41 41 41 41  41 41 41 41 41 41 41 41  |...AAAAAAAAAAAAA|
00000071  41 41 41 41 41 41 41 41  41 41 41 41 41 41 41 41  |AAAAAAAAAAAAAAAA|
*
00000441  41 41 41 41 41 41 41 41  41 41 41 00 00 00 00 00  |AAAAAAAAAAA.....|
00000451  00 00 00                                          |...|
00000454" "$IMGSH" hexdump -f raw r.raw 97 1011
check "human: default length 512" out_is \
"00010000  11 11 11 11 11 11 11 11  11 11 11 11 11 11 11 11  |................|
*
00010200" "$IMGSH" hexdump d.qcow2 64K
if command -v hexdump >/dev/null 2>&1; then
    for r in "0 4096" "1052600 700" "786400 300" "3 3"; do
        check "human = hexdump -C: d.qcow2 $r" layout_eq d.qcow2 $r -- d.img $r
    done
    check "human = hexdump -C: --host" layout_eq --host d.qcow2 0 64k -- d.qcow2 0 65536
    check "human = hexdump -C: chain" layout_eq top.qcow2 4190000 10000 -- top.img 4190000 10000
fi

# JSON
check "JSON: file, scope, offset, length, hex" out_is '{
    "length": 8,
    "offset": 6291456,
    "hex": "0505050505050505",
    "scope": "guest",
    "file": "top.qcow2"
}' "$IMGSH" hexdump --json top.qcow2 6M 8
expect "JSON: --host, --output=json" 0 '"hex": "514649fb00000003",' -- \
    "$IMGSH" hexdump --output=json --host d.qcow2 0 8
expect "JSON: a length of 0" 0 '"hex": ""' -- "$IMGSH" hexdump --json d.qcow2 4M 0

# past the end
expect "guest: past the end names the virtual size" 1 \
    "^imgsh: 'd.qcow2': offset 4194300 \+ length 512 is past the end of the guest data \(virtual size 4194304\)$" -- \
    "$IMGSH" hexdump d.qcow2 4194300
expect "guest: an offset past the end" 1 "virtual size 8388608\)$" -- "$IMGSH" hexdump top.qcow2 1G 1
check "host: stops at the end of the file and says so" out_is \
"000ffff0  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|
00100000
(end of file: 'r.raw' is 1048576 bytes long; 16 of 4096 bytes shown)" \
    "$IMGSH" hexdump --host r.raw 1048560 4k
check "host: JSON length is what exists" sh -c "
    '$IMGSH' hexdump --json --host r.raw 1048570 | grep -q '\"length\": 6,'"
expect "host: an offset past the end shows nothing" 0 "^\(end of file: 'r.raw' is 1048576 bytes long; 0 of 512 bytes shown\)$" -- \
    "$IMGSH" hexdump --host r.raw 2M

# export
check "export --guest = convert -O raw | dd: d.qcow2" sh -c "
    '$IMGSH' export --guest d.qcow2 196608 1000000 out &&
    dd if=d.img bs=4096 skip=48 count=245 status=none | head -c 1000000 | cmp - out"
check "export --guest = convert -O raw | dd: chain, whole disk" sh -c "
    '$IMGSH' export --guest top.qcow2 0 8M out && cmp top.img out"
check "export --guest = convert -O raw | dd: unaligned, across layers" sh -c "
    '$IMGSH' export --guest top.qcow2 523001 3800000 out &&
    tail -c +523002 top.img | head -c 3800000 | cmp - out"
check "export --host = dd of the file" sh -c "
    '$IMGSH' export --host d.qcow2 100 300000 out &&
    tail -c +101 d.qcow2 | head -c 300000 | cmp - out"
check "export: OUTFILE has mode 0644" sh -c "
    umask 022; '$IMGSH' export --guest d.qcow2 0 512 out && [ \$(stat -c %a out) = 644 ]"
expect "export: human output" 0 "^Exported 4096 bytes from guest offset 6291456 of top.qcow2 to out$" -- \
    "$IMGSH" export --guest top.qcow2 6M 4k out
check "export: JSON" out_is '{
    "length": 512,
    "offset": 0,
    "scope": "host",
    "output": "out",
    "file": "d.qcow2"
}' "$IMGSH" export --json --host d.qcow2 0 512 out
expect "export: an existing OUTFILE is refused" 1 "^imgsh: 'r.raw' exists \(--force overwrites it\)$" -- \
    "$IMGSH" export --guest d.qcow2 0 512 r.raw
check "export: the refused OUTFILE is left alone" unchanged "$IMGSH" export --guest d.qcow2 0 512 r.raw
check "export --force overwrites it" sh -c "
    '$IMGSH' export --guest --force d.qcow2 0 4096 r.raw && head -c 4096 d.img | cmp - r.raw"
expect "export --force: never onto the image" 1 "^imgsh: 'd.qcow2' is the image 'd.qcow2' itself" -- \
    "$IMGSH" export --guest --force d.qcow2 0 512 d.qcow2
check "export --force: the image is left alone" unchanged "$IMGSH" export --host --force d.qcow2 0 512 d.qcow2
expect "export --force: never onto a backing file" 1 "a backing file of 'top.qcow2'" -- \
    "$IMGSH" export --guest --force top.qcow2 0 512 base.raw
expect "export: --guest or --host is required" 1 "^imgsh: export needs --guest or --host" -- \
    "$IMGSH" export d.qcow2 0 512 out
expect "export: past the guest size" 1 "virtual size 4194304\)$" -- \
    "$IMGSH" export --guest d.qcow2 4M 1 out
expect "export: past the end of the file" 1 "^imgsh: 'r.raw': offset 0 \+ length 2097152 is past the end of the file \(1048576 bytes\)$" -- \
    "$IMGSH" export --host r.raw 0 2M out
check "export: no OUTFILE after an error" sh -c "! '$IMGSH' export --host r.raw 0 2M out 2>/dev/null && [ ! -e out ]"

# sessions: read-only, the current image, --json
check "a read-only session leaves the image unchanged" unchanged \
    "$IMGSH" -c 'hexdump 0 64' -c 'hexdump --host 0 64' -c 'export --guest 0 1M g.out' \
    -c 'export --host 0 1M h.out' top.qcow2
check "a read-only session leaves the image unchanged (--json)" unchanged \
    "$IMGSH" --json -c 'hexdump 0 64' -c 'export --guest 0 1M g.out' d.qcow2
expect "session: OFFSET alone on the current image" 0 "^00600000  (05 ){8} (05 ){8} " -- \
    "$IMGSH" -c 'hexdump 6M' top.qcow2
check "session: OFFSET LENGTH on the current image" out_is \
"00600000  05 05 05 05 05 05 05 05  05 05 05 05 05 05 05 05  |................|
00600010" "$IMGSH" -c 'hexdump 6M 16' top.qcow2
expect "session: FILE OFFSET names another image" 0 "^00000000  51 46 49 fb" -- \
    "$IMGSH" -c 'hexdump --host d.qcow2 0' top.qcow2
expect "session: FILE OFFSET LENGTH" 0 "^00000064  41 41 41 41  " -- "$IMGSH" -c 'hexdump r.raw 100 4' top.qcow2
expect "session --json: hexdump prints JSON" 0 '"hex": "0505"' -- "$IMGSH" --json -c 'hexdump 6M 2' top.qcow2
expect "session: export on the current image" 0 "^Exported 16 bytes from host offset 0 of top.qcow2 to out$" -- \
    "$IMGSH" -c 'export --host 0 16 out' top.qcow2
expect "session: export --force refuses an image held read-only" 1 "'d.qcow2' is open read-only in this session" -- \
    "$IMGSH" -c 'open d.qcow2' -c 'use top.qcow2' -c 'export --guest --force 0 16 d.qcow2' top.qcow2

# errors: one line naming the file and the problem, exit 1
expect "bad offset" 1 "^imgsh: invalid offset 'zz': a number" -- "$IMGSH" hexdump d.qcow2 zz
expect "bad length" 1 "^imgsh: invalid length '1x': a number" -- "$IMGSH" hexdump d.qcow2 0 1x
expect "bad length (export)" 1 "^imgsh: invalid length '1Q': a number" -- \
    "$IMGSH" export --guest d.qcow2 0 1Q out
expect "more than 16 MiB" 1 "^imgsh: invalid length '17M': hexdump shows at most 16 MiB" -- \
    "$IMGSH" hexdump d.qcow2 0 17M
expect "missing file (guest)" 1 "^imgsh: Could not open 'nope.qcow2': .*No such file or directory$" -- \
    "$IMGSH" hexdump nope.qcow2 0
expect "missing file (host)" 1 "^imgsh: Could not open 'nope.qcow2': No such file or directory$" -- \
    "$IMGSH" hexdump --host nope.qcow2 0
expect "missing file (export)" 1 "^imgsh: Could not open 'nope.qcow2'" -- \
    "$IMGSH" export --guest nope.qcow2 0 1 out
expect "FILE is needed outside a session" 1 "^imgsh: usage: hexdump " -- "$IMGSH" hexdump 0
expect "too many arguments" 1 "^imgsh: usage: hexdump " -- "$IMGSH" hexdump d.qcow2 0 1 2
expect "--guest and --host together" 1 "cannot be used together" -- "$IMGSH" hexdump --guest --host d.qcow2 0
expect "hexdump has no --force" 1 "unrecognized option '--force'" -- "$IMGSH" hexdump --force d.qcow2 0
expect "an unknown format" 1 "Unknown driver 'nope'" -- "$IMGSH" hexdump -f nope d.qcow2 0
expect "an unknown format (--host)" 1 "^imgsh: Could not open 'd.qcow2': Unknown driver 'nope'$" -- \
    "$IMGSH" hexdump --host -f nope d.qcow2 0
expect "--help" 0 "LENGTH +bytes to show" -- "$IMGSH" hexdump --help
expect "qemu-img has no hexdump" 1 "Command not found: hexdump" -- "$COMPAT" hexdump d.qcow2 0

# locks: an image in use is refused, -U reads it anyway
expect "image in use: refused (guest)" 1 "Failed to get shared \"write\" lock" -- \
    "$HOLDLOCK" d.qcow2 101 "$IMGSH" hexdump d.qcow2 0
expect "image in use: refused (host)" 1 "Failed to get shared \"write\" lock" -- \
    "$HOLDLOCK" d.qcow2 101 "$IMGSH" hexdump --host d.qcow2 0
expect "image in use: -U reads it" 0 "^00000000  11 11" -- "$HOLDLOCK" d.qcow2 101 "$IMGSH" hexdump -U d.qcow2 0
expect "image in use: export -U" 0 "^Exported" -- "$HOLDLOCK" d.qcow2 101 "$IMGSH" export -U --host d.qcow2 0 1 out
