# top-level command line: dispatch, unknown commands and options, help and version.
setup() {
    qemu-img create -q -f raw a.raw 1M
}
expect "qemu-img with no arguments" 1 "^qemu-img: Not enough arguments" -- "$COMPAT"
same foo
same -x
same -- info a.raw
expect "qemu-img info -h prints the full help" 0 'Command syntax:' -- "$COMPAT" info -h
expect "qemu-img --help lists the commands and formats" 0 'Supported formats: file qcow2 raw' -- "$COMPAT" --help
expect "qemu-img -h" 0 'usage: qemu-img \[standard options\] command' -- "$COMPAT" -h
expect "qemu-img info --help prints the full help" 0 'Command syntax:' -- "$COMPAT" info --help
expect "qemu-img --version" 0 '^qemu-img version 7\.2' -- "$COMPAT" --version
expect "qemu-img -V" 0 '^qemu-img version 7\.2' -- "$COMPAT" -V
expect "imgsh --version" 0 '^imgsh version ' -- "$IMGSH" --version
expect "imgsh --help lists commands" 0 'resize +Change the virtual size' -- "$IMGSH" --help
expect "imgsh info --help is per command" 0 '^usage: imgsh info ' -- "$IMGSH" info --help
expect "imgsh create --help" 0 '^usage: imgsh create ' -- "$IMGSH" create --help
expect "imgsh resize --help" 0 '^usage: imgsh resize ' -- "$IMGSH" resize --help
expect "imgsh unknown command" 1 "^imgsh: Command not found: frob" -- "$IMGSH" frob
expect "imgsh error prefix" 1 "^imgsh: Could not open 'missing.raw'" -- "$IMGSH" info missing.raw
expect "qemu-io link selects the qemu-io personality" 0 '^qemu-io version' -- "$(dirname "$COMPAT")/qemu-io" --version
# every command listed in the help exists
check "help lists only commands that run" sh -c "
    cmds=\$('$COMPAT' --help | sed -n 's/^  \\([a-z]*\\) .*/\\1/p')
    [ \$(echo \$cmds | wc -w) -ge 3 ] || exit 1
    for c in \$cmds; do '$IMGSH' \$c --help | grep -q \"^usage: imgsh \$c \" || exit 1; done"
# the qemu-img personality prints qemu-img's exact messages for recognized-but-unreadable formats
expect "a qcow2 image is read as qcow2" 0 "^file format: qcow2" -- sh -c "qemu-img create -q -f qcow2 q.qcow2 1M && '$IMGSH' info q.qcow2"
expect "a vmdk image is never taken for raw" 1 "cannot read the 'vmdk' format yet" -- sh -c "qemu-img create -q -f vmdk v.vmdk 1M && '$IMGSH' info v.vmdk"
expect "a vpc image is never taken for raw" 1 "cannot read the 'vpc' format yet" -- sh -c "qemu-img create -q -f vpc v.vhd 1M && '$IMGSH' info v.vhd"
expect "a vdi image is never taken for raw" 1 "cannot read the 'vdi' format yet" -- sh -c "qemu-img create -q -f vdi v.vdi 1M && '$IMGSH' info v.vdi"
expect "a qed image is never taken for raw" 1 "cannot read the 'qed' format yet" -- sh -c "qemu-img create -q -f qed v.qed 1M && '$IMGSH' info v.qed"
expect "a vhdx image is never taken for raw" 1 "cannot read the 'vhdx' format yet" -- sh -c "qemu-img create -q -f vhdx v.vhdx 1M && '$IMGSH' info v.vhdx"
expect "a qcow image is never taken for raw" 1 "cannot read the 'qcow' format yet" -- sh -c "qemu-img create -q -f qcow v.qcow 1M && '$IMGSH' info v.qcow"
# make run's demo makes its images with imgsh alone: qemu-img and qemu-io on
# PATH are traps that record any call
check "the demo needs no qemu-utils" sh -c "
    mkdir -p trap && for t in qemu-img qemu-io; do
        printf '#!/bin/sh\necho \"\$0 \$*\" >>\"$WORK/E/trap.log\"; exit 99\n' >trap/\$t; chmod +x trap/\$t
    done && PATH=\$PWD/trap:\$PATH sh '$ROOT/scripts/demo.sh' '$BUILD' >demo.out 2>&1 &&
    test ! -e trap.log && grep -q 'Images are identical' demo.out &&
    grep -q 'before-update' demo.out && test -s demo/disk.raw &&
    $(command -v qemu-img) check -q demo/disk.qcow2 && $(command -v qemu-img) check -q demo/base.qcow2"
