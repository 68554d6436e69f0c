# create -f raw: sizes, -o options and their errors, preallocation, the resulting bytes.
setup() {
    qemu-img create -q -f raw exists.raw 1M
    mkdir dir
}
same create -f raw new.raw 1G
same create new.raw 1M
same create -q -f raw new.raw 1M
same create -f raw exists.raw 2M
for s in 0 1 512 513 1k 1K 1M 1.5G 0.5k 1b 1B 0x100 1.0001k 1. " 1k" 1.5 1kb 1x abc 1e3 "" 1.5b .5k "1 k" 1kk 10MiB 8E 16E 9223372036854775808 18446744073709551615 1P 1.5e; do
    same create -f raw new.raw "$s"
done
same create -f raw -o size=2M new.raw
same create -f raw -o size=2M new.raw 3M
same create -f raw -o size=2M,size=4M new.raw
same create -f raw -o size=1M -o size=2M new.raw
same create -f raw -o size=1.5k new.raw
same create -f raw -o size= new.raw
same create -f raw -o size=1x new.raw
same create -f raw -o size=-1 new.raw
same create -f raw -o size=16E new.raw
same create -f raw -o preallocation=off new.raw 1M
same create -f raw -o preallocation=falloc new.raw 1M
same create -f raw -o preallocation=full new.raw 3M
same create -f raw -o preallocation=full new.raw 1500
same create -f raw -o preallocation=metadata new.raw 1M
same create -f raw -o preallocation=bogus new.raw 1M
same create -f raw -o preallocation=off,, new.raw 1M
same create -f raw -o preallocation=full,preallocation=off new.raw 1M
same create -f raw -o preallocation=off -o size=5M new.raw
same create -f raw -o nocow=on new.raw 1M
same create -f raw -o nocow=yes new.raw 1M
same create -f raw -o nocow=bad new.raw 1M
same create -f raw -o nocow new.raw 1M
same create -f raw -o nonocow new.raw 1M
same create -f raw -o extent_size_hint=1M new.raw 1M
same create -f raw -o extent_size_hint=1M,nocow=on,preallocation=off new.raw 1M
same create -f raw -o foo=bar new.raw 1M
same create -f raw -o =x new.raw 1M
same create -f raw -o ,preallocation=off new.raw 1M
same create -f raw -o preallocation=off, new.raw 1M
same create -f raw -o size=1M,,x new.raw
same create -f raw -o help
same create -f raw -o '?'
same create -o help
same create -f raw -o help new.raw
same create -f raw -o preallocation=off,help new.raw 1M
same create -f file -o help
same create -f bogus -o help
same create -f bogus new.raw 1M
same create -f file new.raw 1M
same create -f raw new.raw
same create -f raw
same create
same create -f raw new.raw 1M extra
same create -f raw -b exists.raw new.raw 1M
same create -f raw -o backing_file=exists.raw new.raw 1M
same create -f raw dir 1M
same create -f raw nodir/new.raw 1M
same create -f raw "" 1M
same create -f
same create -Z new.raw 1M
same create -f raw new.raw -1
# 2^64-1 is qemu's "no size given"
same create -f raw -o size=18446744073709551615 new.raw
same create -f raw -o size=18446744073709551614 new.raw
same create -f raw -o help,,x
same create -f raw -o help=x new.raw 1M
same create -f raw -o a,,b=c new.raw 1M
# hex with a multiplier suffix: accepted with qemu's deprecation warning
same create -f raw new.raw 0x10k
same create -f raw new.raw 0x10b
same create -f raw new.raw 0xk
same create -f raw -o size=0x2M new.raw
