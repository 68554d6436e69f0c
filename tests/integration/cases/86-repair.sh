# Repair with a preview and an undo: repair plan lists the changes without
# writing; repair apply makes them, and qemu-img check then passes, for
# every damage kind of the check corpus (also those qemu-img check -r all
# cannot repair); undo restores the image byte for byte, in the same
# session or a later one. Staged edits (set header|l1|l2|refcount, feature
# set|clear), pending, rollback and commit, and log FILE (which replays).
DAMAGED=$DAMAGED_16K

setup() {
    damaged_16k $DAMAGED || return 1
    # an L2 entry that points into the L1 table, refcounts then "repaired" by qemu-img
    qemu-img create -q -f qcow2 cross.qcow2 8M && qemu-io -c 'write -P 1 0 128k' cross.qcow2 &&
        l1=$(od -An -tx1 -j40 -N8 cross.qcow2 | tr -d ' \n') &&
        l2=$(od -An -tx1 -j"$((0x$l1))" -N8 cross.qcow2 | tr -d ' \n') &&
        poke cross.qcow2 "$((0x$l2 & 0x00fffffffffffe00))" "$l1" &&
        qemu-img check -q -r all cross.qcow2 || return 1
    # what "repair apply -r all" may not touch: its guest data, where qemu-img can read it
    for e in $DAMAGED; do
        qemu-img convert -U -O raw "d-${e%%:*}.qcow2" "d-${e%%:*}.raw" 2>/dev/null || rm -f "d-${e%%:*}.raw"
    done
} >/dev/null

for e in $DAMAGED; do
    k=${e%%:*}
    ONLY="d-$k.qcow2"
    check "repair plan writes nothing; repair apply, then qemu-img check passes: $k" sh -c "
        sum=\$(sha256sum <d-$k.qcow2)
        '$IMGSH' repair plan d-$k.qcow2 >plan || exit 1
        [ \"\$(sha256sum <d-$k.qcow2)\" = \"\$sum\" ] || { echo 'plan wrote'; exit 1; }
        head -1 plan | grep -Eq 'repair all would make [0-9]+ change' || exit 1
        '$IMGSH' -w -c 'repair apply' d-$k.qcow2 >apply || { cat apply; exit 1; }
        qemu-img check d-$k.qcow2 >check 2>&1 || { cat plan check; exit 1; }
        '$IMGSH' -w -c undo d-$k.qcow2 >undo && [ \"\$(sha256sum <d-$k.qcow2)\" = \"\$sum\" ] ||
            { echo 'undo did not restore'; exit 1; }
        [ ! -e d-$k.qcow2.imgsh-undo ]"
done
ONLY=

check "repair of an overlay whose backing file is named relative to it" sh -c "
    qemu-img create -q -f qcow2 base.qcow2 8M && qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 ov.qcow2 &&
    qemu-io -c 'write -P 7 0 64k' ov.qcow2 >/dev/null &&
    python3 '$ROOT/scripts/qcow2-damage.py' leak ov.qcow2 ovd.qcow2 &&
    qemu-img rebase -u -b base.qcow2 -F qcow2 ovd.qcow2 &&
    '$IMGSH' repair plan ovd.qcow2 >plan && grep -q 'would make [1-9]' plan &&
    '$IMGSH' -w -c 'repair apply' ovd.qcow2 >/dev/null && qemu-img check ovd.qcow2 >/dev/null"

# what qemu-img check -r all leaves: data in the L1 table's cluster
check "repair: guest data in a metadata cluster is dropped; diagnose is then clean" sh -c "
    '$IMGSH' repair plan cross.qcow2 >plan &&
    grep -q 'why: guest data in a cluster that holds metadata' plan &&
    '$IMGSH' -w -c 'repair apply' cross.qcow2 >/dev/null && qemu-img check cross.qcow2 >/dev/null &&
    '$IMGSH' diagnose cross.qcow2 | grep -q ': 0 errors, 0 warnings'"

# the plan says what and why
expect "plan: an L2 entry with reserved bits, and why" 0 \
    "why: reserved bits of an L2 entry: cleared \\(L2 entry [0-9]+ of L1 entry 0, guest (0|0x[0-9a-f]+), active image\\)" -- \
    "$IMGSH" repair plan d-l2-reserved-bits.qcow2
expect "plan: qemu's own repair messages as the reason" 0 "why: qemu-img check's repair: Repairing cluster" -- \
    "$IMGSH" repair plan d-refcount-low.qcow2
check "plan --json: changes with structure, old and new bytes, why, guest ranges" sh -c "
    '$IMGSH' repair plan --json d-l2-unaligned.qcow2 >out && python3 -c '
import json
d = json.load(open(\"out\"))
assert d[\"applied\"] is False and d[\"mode\"] == \"all\" and d[\"changes\"], d
for c in d[\"changes\"]:
    assert c[\"structure\"] and c[\"why\"] and len(c[\"old\"]) == len(c[\"new\"]) == 2 * min(c[\"length\"], 4096), c
assert any(c[\"structure\"] == \"l2\" and c[\"guest\"] for c in d[\"changes\"]), d
'"
expect "plan leaks: only the leak" 0 "repair leaks would make [1-9][0-9]* change" -- "$IMGSH" repair plan d-leak.qcow2 leaks
expect "plan: a healthy image needs nothing" 0 "repair all would make 0 changes" -- "$IMGSH" repair plan hv3.qcow2
expect "apply in a read-only session is refused" 1 "open read-only in this session; run 'reopen -w d-leak.qcow2'" -- \
    "$IMGSH" -c 'repair apply' d-leak.qcow2
check "repair apply keeps the guest data qemu-img could read" sh -c "
    for k in leak refcount-low l2-reserved-bits copied-wrong compressed-copied subcluster-both; do
        [ -e d-\$k.raw ] || continue
        '$IMGSH' -w -c 'repair apply' d-\$k.qcow2 >/dev/null &&
        qemu-img convert -O raw d-\$k.qcow2 after.raw && cmp d-\$k.raw after.raw || { echo \$k; exit 1; }
    done"

# staged edits, pending, rollback, commit, undo
check "set, pending, commit, then undo in a later session restores the bytes" sh -c "
    sum=\$(sha256sum <hv3.qcow2)
    '$IMGSH' -w -c 'set header nb_snapshots 3' -c 'set l1 0 0' -c 'set l2 0 1 0' \\
        -c 'set refcount 2 5' -c 'feature set lazy_refcounts' -c pending -c commit hv3.qcow2 >out &&
    grep -q '5 staged edits' out && grep -q 'wrote 5 edits' out &&
    [ \"\$(sha256sum <hv3.qcow2)\" != \"\$sum\" ] && ! qemu-img check hv3.qcow2 >/dev/null 2>&1 &&
    [ \"\$(od -An -tu4 --endian=big -j60 -N4 hv3.qcow2 | tr -d ' ')\" = 3 ] &&
    '$IMGSH' -c 'undo --list' hv3.qcow2 | grep -q '1. .*commit' &&
    '$IMGSH' -w -c undo hv3.qcow2 >/dev/null && [ \"\$(sha256sum <hv3.qcow2)\" = \"\$sum\" ]"
check "rollback drops the staged edits; nothing is written" sh -c "
    sum=\$(sha256sum <hv3.qcow2)
    '$IMGSH' -w -c 'set l1 0 0' -c rollback -c pending -c commit hv3.qcow2 >out 2>&1
    grep -q 'dropped 1 staged edit' out && grep -q '0 staged edits' out &&
    [ \"\$(sha256sum <hv3.qcow2)\" = \"\$sum\" ]"
expect "commit of staged edits in a read-only session is refused" 1 "run 'reopen -w hv3.qcow2'" -- \
    "$IMGSH" -c 'set l1 0 0' -c commit hv3.qcow2
expect "a commit with arguments is qemu-img's commit" 1 "Image does not have a backing file" -- \
    "$IMGSH" -w -c 'set l1 0 0' -c 'commit hv3.qcow2' hv3.qcow2
expect "feature clear dirty refused on an image that does not check clean" 1 \
    "does not check clean: clearing the dirty bit would hide damage" -- \
    "$IMGSH" -w -c 'feature clear dirty' d-dirty-lazy.qcow2
expect "feature clear dirty --force stages it" 0 "staged: clear dirty bit" -- \
    "$IMGSH" -w -c 'feature clear dirty --force' d-dirty-lazy.qcow2
expect "set refcount: 1-bit refcounts are packed" 0 "refcount of cluster 9 = 0 \\(1 bytes at" -- \
    "$IMGSH" -c 'set refcount 9 0' -c pending hr1.qcow2
expect "set refcount: a value that does not fit" 1 "has 1-bit refcounts: 2 does not fit" -- \
    "$IMGSH" -c 'set refcount 9 2' hr1.qcow2
expect "set header: unknown field" 1 "no header field 'nope'" -- "$IMGSH" -c 'set header nope 1' hv3.qcow2
check "undo: every write from the shell is journaled (qemu-io write, snapshot -c, resize)" sh -c "
    sum=\$(sha256sum <hv3.qcow2)
    '$IMGSH' -w -c 'write -P 0x77 0 64k' -c 'snapshot -c s9' -c 'resize hv3.qcow2 +1M' hv3.qcow2 &&
    [ \"\$('$IMGSH' -c 'undo --list' hv3.qcow2 | head -1)\" = \"3 changes can be undone in 'hv3.qcow2', newest last:\" ] &&
    '$IMGSH' -w -c undo -c undo -c undo hv3.qcow2 >/dev/null && [ \"\$(sha256sum <hv3.qcow2)\" = \"\$sum\" ] &&
    [ ! -e hv3.qcow2.imgsh-undo ]"
check "undo refuses when the file changed since (unless --force)" sh -c "
    '$IMGSH' -w -c 'write -P 0x77 0 64k' hv3.qcow2 >/dev/null && qemu-img resize hv3.qcow2 +1M >/dev/null &&
    ! '$IMGSH' -w -c undo hv3.qcow2 >out 2>&1 && grep -q 'changed after' out &&
    '$IMGSH' -w -c 'undo --force' hv3.qcow2 >/dev/null"
check "undo: writes to files the session does not hold are journaled too; new files are not" sh -c "
    cp hv2.qcow2 other.qcow2 && qemu-img create -q -f raw old.raw 1M &&
    s1=\$(sha256sum <other.qcow2) && s2=\$(sha256sum <old.raw) &&
    '$IMGSH' -c 'resize other.qcow2 +1M' -c 'convert -O raw hv3.qcow2 old.raw' \\
        -c 'convert -O qcow2 hv3.qcow2 new.qcow2' -c 'repair plan' hv3.qcow2 >/dev/null &&
    [ -e other.qcow2.imgsh-undo ] && [ -e old.raw.imgsh-undo ] && [ ! -e new.qcow2.imgsh-undo ] &&
    [ ! -e hv3.qcow2.imgsh-undo ] &&
    '$IMGSH' -c 'undo other.qcow2' -c 'undo old.raw' hv3.qcow2 >/dev/null &&
    [ \"\$(sha256sum <other.qcow2)\" = \"\$s1\" ] && [ \"\$(sha256sum <old.raw)\" = \"\$s2\" ]"
expect "undo with nothing to undo" 1 "has no undo journal: nothing to undo" -- "$IMGSH" -w -c undo hv3.qcow2

# log FILE: commands, output and times; it replays as a script
check "log records commands and output, and replays" sh -c "
    '$IMGSH' -c 'log s.log' -c 'echo hello' -c 'l1' -c 'log off' hv3.qcow2 >/dev/null &&
    grep -q '^echo hello$' s.log && grep -q '^#| hello$' s.log && grep -q '^# status 0 at ' s.log &&
    grep -q '^#| L1 table at' s.log &&
    [ \"\$('$IMGSH' -f s.log hv3.qcow2 | head -1)\" = hello ]"
