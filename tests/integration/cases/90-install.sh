# make install: the binary, the qemu-img/qemu-io links and the man page under PREFIX,
# and the installed links keep their personalities.
inst="$WORK/inst"
check "make install PREFIX=..." sh -c "
    make -s -C '$ROOT' --no-print-directory install BUILD='$BUILD' PREFIX='$inst' >/dev/null &&
    test -x '$inst/bin/imgsh' && test -L '$inst/bin/qemu-img' && test -L '$inst/bin/qemu-io' &&
    test -s '$inst/share/man/man1/imgsh.1'"
expect "installed qemu-img link is qemu-img" 0 '^qemu-img version 7\.2' -- "$inst/bin/qemu-img" --version
expect "installed imgsh is imgsh" 0 '^imgsh version' -- "$inst/bin/imgsh" --version
check "make uninstall removes them" sh -c "
    make -s -C '$ROOT' --no-print-directory uninstall BUILD='$BUILD' PREFIX='$inst' >/dev/null &&
    ! test -e '$inst/bin/imgsh' && ! test -e '$inst/bin/qemu-img' && ! test -e '$inst/share/man/man1/imgsh.1'"
