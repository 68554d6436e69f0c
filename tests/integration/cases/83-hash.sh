# hash (docs/inspection.md): the guest digest equals the digest of what the
# real `qemu-img convert -O raw` writes (qcow2 layouts with data, zero,
# compressed and discarded clusters, extended L2, a qcow2 -> qcow2 -> raw
# chain whose backing files are shorter than their overlays, raw images),
# for sha256, sha1 and md5; the host digest equals sha256sum of the file.
# Also: JSON, progress, the session, locks, errors, and that hashing never
# changes a file.
GUEST_IMGS="d.qcow2 xl2.qcow2 c512.qcow2 top.qcow2 mid.qcow2 r.raw odd.raw empty.qcow2"

setup() {
    # 64k clusters: fill's data, zeros, compressed data, discard, unaligned
    # bits, and a data run longer than one 4 MiB read
    qemu-img create -q -f qcow2 d.qcow2 64M && fill d.qcow2 65536 &&
        qemu-io -c 'write -P 0x5a 20M 10M' -c 'write -z 22M 64k' -c 'write -P 0x6b 63M 1M' \
            d.qcow2 || return 1
    qemu-img create -q -f qcow2 -o extended_l2=on xl2.qcow2 16M && fill xl2.qcow2 65536 &&
        qemu-io -c 'write -P 1 2M 4k' -c 'write -P 2 2109440 2k' -c 'write -z 2129920 8k' \
            -c 'discard 1M 64k' -c 'write -c -P 3 5M 64k' xl2.qcow2 || return 1
    qemu-img create -q -f qcow2 -o cluster_size=512 c512.qcow2 1M && fill c512.qcow2 512 || return 1
    # a chain: top (4k clusters, 8M) over mid (qcow2, 4M) over base (raw, 1M)
    qemu-img create -q -f raw base.raw 1M && qemu-io -f raw -c 'write -P 9 0 1M' base.raw &&
        qemu-img create -q -f qcow2 -b base.raw -F raw mid.qcow2 4M &&
        qemu-io -c 'write -P 8 512k 1M' -c 'write -z 0 64k' mid.qcow2 &&
        qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 -o cluster_size=4k top.qcow2 8M &&
        qemu-io -c 'write -c -P 6 2M 256k' -c 'write -P 5 6M 4k' -c 'write -z 768k 8k' \
            -c 'discard 900k 4k' top.qcow2 || return 1
    qemu-img create -q -f raw r.raw 8M && qemu-io -f raw -c 'write -P 7 1M 3M' r.raw || return 1
    head -c 1000 /dev/urandom >odd.raw
    qemu-img create -q -f qcow2 empty.qcow2 0
    qemu-img create -q -f vmdk v.vmdk 1M
} >/dev/null

# guest_same IMG ALGO TOOL [ARGS]: imgsh's guest digest is TOOL's digest of
# qemu-img convert -O raw IMG
guest_same() {
    local img=$1 algo=$2 tool=$3 want got
    shift 3
    qemu-img convert -O raw "$img" hash-out.raw || return 1
    want=$("$tool" hash-out.raw | cut -d' ' -f1)
    got=$("$IMGSH" hash --algo "$algo" "$@" "$img") || return 1
    echo "imgsh:    $got"
    echo "$tool: $want"
    [ "$got" = "$algo  $want  $img (guest data, $(stat -c %s hash-out.raw) bytes)" ]
}

# host_same IMG ALGO TOOL: imgsh's host digest is TOOL's digest of IMG
host_same() {
    local want got
    want=$("$3" "$1" | cut -d' ' -f1)
    got=$("$IMGSH" hash --host --algo "$2" "$1") || return 1
    echo "imgsh:    $got"
    echo "$3: $want"
    [ "$got" = "$2  $want  $1 (host file, $(stat -c %s "$1") bytes)" ]
}

# json_is FILE SCOPE ALGO TOOL CMD...: CMD prints exactly the five keys, with
# TOOL's digest of FILE (the convert -O raw output for the guest scope)
json_is() {
    local file=$1 scope=$2 algo=$3 tool=$4 src=$1
    shift 4
    if [ "$scope" = guest ]; then
        qemu-img convert -O raw "$file" hash-out.raw || return 1
        src=hash-out.raw
    fi
    "$@" >hash.json || return 1
    cat hash.json
    python3 - "$file" "$scope" "$algo" "$("$tool" "$src" | cut -d' ' -f1)" "$(stat -c %s "$src")" <<'EOF'
import json, sys
v = json.load(open("hash.json"))
f, scope, algo, digest, size = sys.argv[1:]
assert sorted(v) == ["algorithm", "bytes", "file", "hash", "scope"], sorted(v)
assert v == {"file": f, "scope": scope, "algorithm": algo, "hash": digest, "bytes": int(size)}, v
EOF
}

# the guest digest, for every image and algorithm
for img in $GUEST_IMGS; do
    for a in sha256:sha256sum sha1:sha1sum md5:md5sum; do
        check "guest $img --algo ${a%%:*} = ${a#*:} of convert -O raw" guest_same "$img" "${a%%:*}" "${a#*:}"
    done
done
check "guest with -f qcow2" guest_same top.qcow2 sha256 sha256sum -f qcow2
check "guest with -f raw" guest_same r.raw sha256 sha256sum -f raw
check "guest --guest explicit, -U" guest_same d.qcow2 sha256 sha256sum --guest -U

# the host digest
for img in d.qcow2 top.qcow2 xl2.qcow2 r.raw odd.raw v.vmdk; do
    check "host $img = sha256sum" host_same "$img" sha256 sha256sum
done
check "host --algo md5 = md5sum" host_same d.qcow2 md5 md5sum
check "host --algo sha1 = sha1sum" host_same top.qcow2 sha1 sha1sum
check "host -f is not needed but accepted" sh -c "
    [ \"\$('$IMGSH' hash --host -f qcow2 d.qcow2)\" = \"\$('$IMGSH' hash --host d.qcow2)\" ]"

# JSON
check "--json: the five keys (guest)" json_is top.qcow2 guest sha256 sha256sum "$IMGSH" hash --json top.qcow2
check "--output=json: the five keys (host, md5)" json_is d.qcow2 host md5 md5sum \
    "$IMGSH" hash --output=json --host --algo md5 d.qcow2
check "session --json: JSON on the current image" json_is xl2.qcow2 guest sha1 sha1sum \
    "$IMGSH" --json -c 'hash --algo sha1' xl2.qcow2
expect "--output=human" 0 "^sha256  [0-9a-f]{64}  r.raw \\(guest data, 8388608 bytes\\)$" -- \
    "$IMGSH" hash --output=human r.raw
expect "--output=foo" 1 "^imgsh: --output must be used with human or json as argument\\.$" -- "$IMGSH" hash --output=foo r.raw

# progress
expect "-p: qemu-img's progress line, then the digest" 0 \
    "^    \\(0\\.00/100%\\)"$'\r'".*    \\(100\\.00/100%\\)"$'\r'"$" -- "$IMGSH" hash -p d.qcow2
expect "-p: the digest follows on its own line" 0 "^sha256  [0-9a-f]{64}  d.qcow2 \\(guest data" -- \
    "$IMGSH" hash -p d.qcow2
expect "-p --host" 0 "\\(100\\.00/100%\\)" -- "$IMGSH" hash -p --host d.qcow2
check "-p --json: stdout stays one JSON document" sh -c "'$IMGSH' hash -p --json d.qcow2 | python3 -m json.tool"

# the session: the current image, and nothing written
expect "session: hash on the current image" 0 "^sha256  [0-9a-f]{64}  top.qcow2 \\(guest data, 8388608 bytes\\)$" -- \
    "$IMGSH" -c hash top.qcow2
for img in d.qcow2 top.qcow2 r.raw; do
    check "a read-only session leaves $img unchanged" sh -c "
        sum=\$(sha256sum <$img); t=\$(stat -c %Y $img)
        '$IMGSH' -c hash -c 'hash --host' -c 'hash --algo md5 -p' $img >/dev/null &&
        '$IMGSH' --json -c 'hash --algo sha1' $img >/dev/null &&
        '$IMGSH' hash $img >/dev/null &&
        [ \"\$(sha256sum <$img)\" = \"\$sum\" ] && [ \"\$(stat -c %Y $img)\" = \"\$t\" ]"
done

# locks: an image in use is refused, -U reads it anyway
expect "image in use: guest refused" 1 "Failed to get shared \"write\" lock" -- \
    "$HOLDLOCK" d.qcow2 101 "$IMGSH" hash d.qcow2
expect "image in use: guest -U reads it" 0 "^sha256  " -- "$HOLDLOCK" d.qcow2 101 "$IMGSH" hash -U d.qcow2
expect "image in use: host refused, even raw" 1 "Failed to get shared \"write\" lock" -- \
    "$HOLDLOCK" r.raw 101 "$IMGSH" hash --host r.raw
expect "image in use: host -U reads it" 0 "^sha256  " -- "$HOLDLOCK" r.raw 101 "$IMGSH" hash --host -U r.raw

# errors: one line naming the file and the problem, exit 1
expect "a format imgsh cannot read" 1 "^imgsh: Could not open 'v.vmdk': imgsh cannot read the 'vmdk' format yet$" -- \
    "$IMGSH" hash v.vmdk
expect "bad --algo" 1 "^imgsh: unknown hash algorithm 'sha512': use sha256, sha1 or md5$" -- \
    "$IMGSH" hash --algo sha512 d.qcow2
expect "missing file" 1 "^imgsh: Could not open 'nope.qcow2': (.*: )?No such file or directory$" -- \
    "$IMGSH" hash nope.qcow2
expect "missing file --host" 1 "^imgsh: Could not open 'nope.qcow2': No such file or directory$" -- \
    "$IMGSH" hash --host nope.qcow2
expect "unknown -f" 1 "^imgsh: Could not open 'r.raw': Unknown driver 'foo'$" -- "$IMGSH" hash -f foo r.raw
expect "unknown -f --host" 1 "^imgsh: Could not open 'r.raw': Unknown driver 'foo'$" -- \
    "$IMGSH" hash --host -f foo r.raw
expect "wrong -f" 1 "^imgsh: Could not open 'r.raw': Image is not in qcow2 format$" -- \
    "$IMGSH" hash -f qcow2 r.raw
expect "--guest with --host" 1 "^imgsh: --guest and --host cannot be used together$" -- \
    "$IMGSH" hash --guest --host r.raw
expect "no image" 1 "^imgsh: Expecting one image file name$" -- "$IMGSH" hash
expect "two images" 1 "^imgsh: Expecting one image file name$" -- "$IMGSH" hash r.raw d.qcow2
expect "unknown option" 1 "^imgsh: unrecognized option '--sha'$" -- "$IMGSH" hash --sha r.raw
expect "--help" 0 "^usage: imgsh hash " -- "$IMGSH" hash --help
expect "qemu-img has no hash" 1 "Command not found: hash" -- "$COMPAT" hash r.raw
