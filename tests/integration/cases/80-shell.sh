# The imgsh session without a terminal: -c chains, scripts (-f FILE and
# standard input), quoting, variables, errexit, line numbers in messages,
# exit statuses, session commands, the current image as the default image
# argument, qemu-io data commands, and the read-only guard (nothing written
# unless the image was opened or reopened read-write).
setup() {
    qemu-img create -q -f qcow2 q.qcow2 4M
    qemu-io -c 'write -P 0x11 0 64k' q.qcow2 >/dev/null
    qemu-img snapshot -c snap1 q.qcow2
    qemu-img create -q -f qcow2 other.qcow2 1M
    qemu-img create -q -f raw r.raw 1M
    printf 'info\n# a comment\n\ncheck\n' >ok.imgsh
    printf 'echo one\ninfo missing.qcow2\necho two\n' >fail.imgsh
    printf 'set errexit off\necho one\ninfo missing.qcow2\necho "status $status"\n' >cont.imgsh
    printf 'echo one\necho '"'"'unterminated\necho three\n' >syntax.imgsh
    printf 'echo a \\\n  b \\\n  c\n' >cont-line.imgsh
    printf 'echo start\nsource ok.imgsh\necho end\n' >src.imgsh
    printf 'echo x \\\n' >trunc.imgsh
    cat >jsonstream.py <<'END'
import json, sys
text, vals, pos = sys.stdin.read(), [], 0
dec = json.JSONDecoder()
while pos < len(text):
    if text[pos].isspace():
        pos += 1
        continue
    v, pos = dec.raw_decode(text, pos)
    vals.append(v)
st, sn, cmp, echo, use, fail = vals
assert st == {"command": "set", "arguments": ["errexit", "off"], "status": 0, "output": []}, st
assert [s["name"] for s in sn] == ["snap1"] and sn[0]["vm-state-size"] == 0, sn
assert cmp == {"command": "compare", "arguments": ["other.qcow2"], "status": 1,
               "output": ["Content mismatch at offset 0!"]}, cmp
assert echo == {"command": "echo", "arguments": ["a b", "c"], "status": 0, "output": ["a b c"]}
assert use["output"] == [] and use["status"] == 0
assert fail["command"] == "info" and fail["status"] == 1 and fail["output"] == [], fail
print("ok")
END
    cat >quoting.imgsh <<'END'
echo 'a b' c '$x' "d\"e" f\'g h\\i # a comment
END
}

# same_out NAME WANT_CMD -- GOT_CMD...: both run in a fixture copy, with the same
# output and exit code
same_out() {
    local name=$1 want=$2
    shift 3
    check "$name" sh -c "{ $want; } >want.out 2>&1; echo \$? >>want.out; \"\$@\" >got.out 2>&1;
        echo \$? >>got.out; diff want.out got.out" _ "$@"
}

# -c runs commands in order on the opened image; the image argument is the current image
same_out "-c info -c check = info; check" \
    "$IMGSH info q.qcow2; $IMGSH check q.qcow2" -- "$IMGSH" -c info -c check q.qcow2
same_out "-c 'snapshot -l'" "$IMGSH snapshot -l q.qcow2" -- "$IMGSH" -c 'snapshot -l' q.qcow2
same_out "-c 'info --output=json'" "$IMGSH info --output=json q.qcow2" -- \
    "$IMGSH" -c 'info --output=json' q.qcow2
same_out "--json makes info print JSON" "$IMGSH info --output=json q.qcow2" -- \
    "$IMGSH" --json -c info q.qcow2
same_out "a file name still wins over the current image" "$IMGSH info other.qcow2" -- \
    "$IMGSH" -c 'info other.qcow2' q.qcow2
same_out "compare with one file compares the current image" \
    "$IMGSH compare q.qcow2 other.qcow2" -- "$IMGSH" -c 'compare other.qcow2' q.qcow2
same_out "script from -f" "$IMGSH info q.qcow2; $IMGSH check q.qcow2" -- \
    "$IMGSH" -f ok.imgsh q.qcow2
same_out "script on standard input" "$IMGSH info q.qcow2; $IMGSH check q.qcow2" -- \
    sh -c "\"$IMGSH\" q.qcow2 <ok.imgsh"
same_out "-f - reads standard input" "$IMGSH info q.qcow2; $IMGSH check q.qcow2" -- \
    sh -c "\"$IMGSH\" -f - q.qcow2 <ok.imgsh"

# errexit: on by default in scripts and -c; the status is the failing command's
expect "-c stops at the first failing command" 1 \
    "^one
imgsh: Could not open 'missing.qcow2': Could not open 'missing.qcow2': No such file or directory$" -- \
    "$IMGSH" -c 'echo one' -c 'info missing.qcow2' -c 'echo two'
expect "script stops at the first failing command" 1 "^one
imgsh: Could not open 'missing.qcow2'.*directory$" -- "$IMGSH" -f fail.imgsh
expect "set errexit off: goes on, \$status, exit status of the first failure" 1 \
    "^one
imgsh: Could not open 'missing.qcow2'.*
status 1$" -- "$IMGSH" -f cont.imgsh
expect "-e is accepted" 1 "^one" -- "$IMGSH" -e -c 'echo one' -c 'info missing.qcow2'
expect "check's exit code survives in a script" 3 "leaked clusters" -- \
    sh -c "qemu-img create -q -f qcow2 l.qcow2 1M && python3 '$ROOT/scripts/qcow2-damage.py' leak l.qcow2 l2.qcow2 && '$IMGSH' -c check l2.qcow2"

# syntax errors name the script and the line
expect "unterminated quote: SCRIPT:LINE" 1 "^one
syntax.imgsh:2: unterminated single quote$" -- "$IMGSH" -f syntax.imgsh
expect "unknown command: SCRIPT:LINE, status 127" 127 "^-c:2: unknown command 'frobnicate'" -- \
    "$IMGSH" -c 'echo a' -c frobnicate
expect "script ending in a continued line" 1 "trunc.imgsh:1: the script ends in the middle of a continued line" -- \
    "$IMGSH" -f trunc.imgsh
expect "missing script" 1 "^imgsh: could not open script 'nope.imgsh': No such file or directory$" -- \
    "$IMGSH" -f nope.imgsh
expect "missing image" 1 "^imgsh: Could not open 'nope.qcow2'" -- "$IMGSH" -c images nope.qcow2

# quoting, continuation, variables, comments, source
expect "quotes and escapes" 0 "^a b c [$]x d\"e f'g h[\\]i\$" -- "$IMGSH" -f quoting.imgsh
expect "continued lines" 0 "^a b c$" -- "$IMGSH" -f cont-line.imgsh
expect "\$image and \${status}" 0 "^q.qcow2 0$" -- "$IMGSH" -c 'echo $image ${status}' q.qcow2
expect "source runs another script" 0 "^start
image: q.qcow2(.|
)*No errors were found on the image\\.(.|
)*
end$" -- "$IMGSH" -f src.imgsh q.qcow2
expect "! is refused in scripts" 1 "^-c:1: '!' runs shell commands in interactive sessions only$" -- \
    "$IMGSH" -c '!echo hi'
expect "exit N ends the script with N" 7 "^a$" -- "$IMGSH" -c 'echo a' -c 'exit 7' -c 'echo b'

expect "-q: nothing but errors" 1 "^imgsh: Could not open 'nope.qcow2'.*directory$" -- \
    "$IMGSH" -q -c info -c 'echo hi' -c 'info nope.qcow2' q.qcow2

expect "--format applies to the images after it" 0 "^  r.raw +raw .*
  q.qcow2 +qcow2 .*
\\* q2 +raw " -- \
    sh -c "cp q.qcow2 q2 && '$IMGSH' --format raw -c images r.raw --format qcow2 q.qcow2 --format=raw q2"
expect "--format with a wrong format fails to open" 1 "^imgsh: Could not open 'r.raw': Image is not in qcow2 format" -- \
    "$IMGSH" --format qcow2 -c images r.raw
expect "--image-opts: driver and file.filename" 0 "^\\* q.qcow2 +qcow2 +4 MiB ro$" -- \
    "$IMGSH" --image-opts -c images driver=qcow2,file.filename=q.qcow2
expect "--image-opts: read-only=off opens read-write" 0 "^\\* q.qcow2 +qcow2 +4 MiB rw$" -- \
    "$IMGSH" --image-opts -c images driver=qcow2,file.filename=q.qcow2,read-only=off
expect "--image-opts: an option it does not know" 1 "^imgsh: --image-opts: option 'cache.direct' is not supported" -- \
    "$IMGSH" --image-opts -c images driver=qcow2,file.filename=q.qcow2,cache.direct=on
expect "--image-opts: no file" 1 "^imgsh: --image-opts: 'driver=qcow2' names no file" -- \
    "$IMGSH" --image-opts -c images driver=qcow2

# session commands
expect "images lists the open images, the current one starred" 0 \
    "^  q.qcow2 +qcow2 +4 MiB ro
\\* other.qcow2 +qcow2 +1 MiB ro$" -- "$IMGSH" -c images q.qcow2 other.qcow2
expect "use switches the current image" 0 "^image: q.qcow2" -- \
    "$IMGSH" -c 'use q.qcow2' -c info q.qcow2 other.qcow2
# (closing the current image makes the first one left current)
expect "open ... as NAME, close" 0 "^  q.qcow2 +qcow2 +4 MiB ro
\\* o +qcow2 +1 MiB rw
---
\\* q.qcow2 +qcow2 +4 MiB ro$" -- "$IMGSH" -c 'open -w other.qcow2 as o' -c images -c 'echo ---' -c 'close' -c images q.qcow2
expect "use of an unknown image" 1 "^-c:1: no image named 'zz' is open$" -- "$IMGSH" -c 'use zz' q.qcow2
expect "no image open" 1 "^imgsh: Expecting one image file name" -- "$IMGSH" -c info
expect "help lists the commands" 0 "Session commands:.*open.*check.*read" -- sh -c "'$IMGSH' -c help | tr '\\n' ' '"
expect "help COMMAND" 0 "^usage: imgsh check" -- "$IMGSH" -c 'help check'
expect "--json images" 0 '"name": "q.qcow2"' -- "$IMGSH" --json -c images q.qcow2
# --json: every command prints one JSON value; those without JSON of their own
# print {"command", "arguments", "status", "output"}
check "--json: snapshot -l as JSON, other commands wrapped, one value each" sh -c "
    '$IMGSH' --json -c 'set errexit off' -c 'snapshot -l' -c 'compare other.qcow2' \
        -c 'echo \"a b\" c' -c 'use q.qcow2' -c 'info --output=human missing.qcow2' \
        other.qcow2 q.qcow2 2>err | python3 jsonstream.py | grep -qx ok &&
    grep -q \"Could not open 'missing.qcow2'\" err"
expect "set json on: later commands print JSON" 0 '^\[ +\{.*"name": "snap1",' -- sh -c "'$IMGSH' -c 'set json on' -c 'snapshot -l' q.qcow2 | tr -d '\\n'"

# read-only by default: nothing is written, and the refusal says what to do
check "read-only session: snapshot -c refused, file unchanged" sh -c "
    sum=\$(md5sum <q.qcow2)
    '$IMGSH' -c 'snapshot -c s2' q.qcow2 >out 2>&1; rc=\$?
    [ \$rc = 1 ] && grep -q \"'q.qcow2' is open read-only in this session; run 'reopen -w q.qcow2' to allow writes\" out &&
    [ \"\$(md5sum <q.qcow2)\" = \"\$sum\" ]"
check "read-only session: check -r refused, write refused" sh -c "
    sum=\$(md5sum <q.qcow2)
    '$IMGSH' -c 'set errexit off' -c 'check -r all' -c 'write -P 1 0 512' q.qcow2 >out 2>&1
    [ \$(grep -c 'open read-only in this session' out) = 2 ] && [ \"\$(md5sum <q.qcow2)\" = \"\$sum\" ]"
check "reopen -w allows writes" sh -c "
    '$IMGSH' -c 'reopen -w' -c 'snapshot -c s2' -c 'write -P 0x22 64k 64k' q.qcow2 >out 2>&1 &&
    qemu-img snapshot -l q.qcow2 | grep -q s2 && qemu-io -c 'read -P 0x22 64k 64k' q.qcow2 | grep -q 'read 65536/65536'"
check "-w opens read-write" sh -c "'$IMGSH' -w -c 'write -P 0x33 0 512' q.qcow2 >/dev/null &&
    qemu-io -c 'read -P 0x33 0 512' q.qcow2 | grep -q 'read 512/512'"

# qemu-io data commands on the current image print as qemu-io does
check "read -P as qemu-io" sh -c "
    qemu-io -r -c 'read -P 0x11 0 64k' q.qcow2 | sed 's/ops;.*/ops/' >want
    '$IMGSH' -c 'read -P 0x11 0 64k' q.qcow2 | sed 's/ops;.*/ops/' >got && diff want got"
check "read -v hexdump as qemu-io" sh -c "
    qemu-io -r -c 'read -v 0 32' q.qcow2 | sed 's/ops;.*/ops/' >want
    '$IMGSH' -c 'read -v 0 32' q.qcow2 | sed 's/ops;.*/ops/' >got && diff want got"
check "io map is qemu-io's map" sh -c "
    qemu-io -r -c map q.qcow2 >want
    '$IMGSH' -c 'io map' q.qcow2 >got && diff want got"
check "io w (an alias) on a read-only image is refused, nothing written" sh -c "
    sum=\$(md5sum <q.qcow2)
    ! '$IMGSH' -c 'io w -P 1 0 512' q.qcow2 >out 2>&1 && grep -q 'reopen -w q.qcow2' out &&
    [ \"\$(md5sum <q.qcow2)\" = \"\$sum\" ]"
expect "io help without an image" 0 "^read .*-- reads a number of bytes" -- "$IMGSH" -c 'io help'
check "alloc and length as qemu-io" sh -c "
    qemu-io -r -c 'alloc 0 1M' -c length q.qcow2 >want
    '$IMGSH' -c 'alloc 0 1M' -c length q.qcow2 >got && diff want got"

# the example scripts (scripts/examples/)
EX=$ROOT/scripts/examples
expect "examples/report.imgsh: every section, check's status" 0 \
    "== q.qcow2.*== snapshots.*snap1.*== allocation.*== consistency.*No errors were found.*check status: 0" -- \
    sh -c "'$IMGSH' -f '$EX/report.imgsh' q.qcow2 | tr '\\n' ' '"
expect "examples/report.imgsh as an executable script (#!/usr/bin/env -S imgsh -f)" 0 "check status: 0" -- \
    sh -c "PATH='$BUILD':\$PATH '$EX/report.imgsh' q.qcow2"
check "examples/convert-verify.imgsh: a verified compressed copy" sh -c "
    '$IMGSH' -f '$EX/convert-verify.imgsh' q.qcow2 >out 2>&1 &&
    grep -q '^verified: q.qcow2.copy.qcow2$' out && qemu-img compare -q q.qcow2 q.qcow2.copy.qcow2 &&
    qemu-img check -q q.qcow2.copy.qcow2"
expect "examples/convert-verify.imgsh stops at the first failure" 1 "^imgsh: Could not open 'nope.qcow2'" -- \
    "$IMGSH" -f "$EX/convert-verify.imgsh" nope.qcow2
expect "examples/batch-check.sh: a line per image, the summary, the worst status" 1 \
    "^q.qcow2 +clean
l2.qcow2 +1 leaked clusters
nope.qcow2 +could not be checked \\(status 1\\)
3 images: 1 clean, 1 with leaks, 0 with errors, 1 not checked$" -- \
    sh -c "qemu-img create -q -f qcow2 l.qcow2 1M && python3 '$ROOT/scripts/qcow2-damage.py' leak l.qcow2 l2.qcow2 &&
        IMGSH='$IMGSH' '$EX/batch-check.sh' q.qcow2 l2.qcow2 nope.qcow2"
expect "examples/batch-check.sh: leaks only give 3" 3 "1 with leaks" -- \
    sh -c "qemu-img create -q -f qcow2 l.qcow2 1M && python3 '$ROOT/scripts/qcow2-damage.py' leak l.qcow2 l2.qcow2 &&
        IMGSH='$IMGSH' '$EX/batch-check.sh' q.qcow2 l2.qcow2"
