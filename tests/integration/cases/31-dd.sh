# dd on raw images: bs/count/skip arithmetic, odd sizes, output formats, errors.
setup() {
    qemu-img create -q -f raw s.raw 16M
    qemu-io -f raw -c 'write -P 1 1M 64k' -c 'write -P 0 3M 1M' -c 'write -z 6M 1M' \
        -c 'write -P 2 8M 5000' -c 'write -P 3 15M 1M' s.raw
    head -c 700 /dev/urandom >r700
    qemu-img create -q -f raw e.raw 0
    qemu-img create -q -f raw t32.raw 32M
    qemu-io -f raw -c 'write -P 9 0 32M' t32.raw
}
same dd if=s.raw of=o.raw
same dd -f raw -O raw if=s.raw of=o.raw
same dd -f raw -O raw if=s.raw of=o.raw bs=1M count=2 skip=1
same dd if=s.raw of=o.raw bs=1M skip=1
same dd if=s.raw of=o.raw bs=1M count=3
same dd if=s.raw of=o.raw bs=1M skip=20
same dd if=s.raw of=o.raw bs=1M skip=16
same dd if=s.raw of=o.raw bs=1M count=0
same dd if=s.raw of=o.raw bs=3000 count=3
same dd if=s.raw of=o.raw bs=3000 skip=1000 count=2000
same dd if=s.raw of=o.raw bs=1.5k
same dd if=s.raw of=o.raw skip=1k
same dd if=s.raw of=o.raw count=1k bs=1
same dd if=s.raw of=o.raw count=0x10 bs=1k
same dd if=s.raw of=o.raw count=1.5k bs=1
same dd if=s.raw of=o.raw skip=1 count=1 bs=16M
same dd if=s.raw of=o.raw skip=9223372036854775807 bs=2
same dd if=s.raw of=o.raw count=9223372036854775807 bs=4M
same dd if=s.raw of=o.raw bs=2147483647 count=1
same dd if=s.raw of=o.raw if=r700
same dd if=r700 of=o.raw bs=300
same dd if=r700 of=o.raw bs=300 skip=1
same dd if=r700 of=o.raw bs=300 count=2 skip=1
same dd if=e.raw of=o.raw
same dd if=s.raw of=t32.raw bs=64k count=3
same dd -O file if=s.raw of=o.raw count=1
same dd -U if=s.raw of=o.raw count=7
same dd --force-share if=s.raw of=o.raw bs=4k count=7
same dd -f raw -f raw if=s.raw of=o.raw count=1
same dd if=s.raw of=o.raw -- count=1
# errors
for a in bs=0 bs=1.5 bs=-1 bs=abc bs= bs=2G bs=2147483648 count=abc count=-1 count= \
         count=99999999999999999999 skip=-1 skip=99999999999999999999 skip=x; do
    same dd if=s.raw of=o.raw "$a"
done
same dd bs=0 count=abc if=s.raw of=o.raw
same dd if=s.raw
same dd of=o.raw
same dd
same dd if=s.raw of=o.raw foo=bar
same dd if=s.raw of=o.raw bar
same dd if=s.raw of=o.raw =x
same dd if=s.raw of=o.raw if
same dd if=s.raw of=o.raw extra arg
same dd if= of=o.raw
same dd if=s.raw of=
same dd if=missing of=o.raw
same dd -O bogus if=s.raw of=o.raw
same dd -O bogus if=missing of=o.raw
same dd -f bogus if=s.raw of=o.raw
same dd -f qcow2 if=s.raw of=o.raw
same dd if=s.raw of=/nonexistent/o.raw
same dd -x if=s.raw of=o.raw
same dd -q if=s.raw of=o.raw
same dd -p if=s.raw of=o.raw
same dd -f
same_locked s.raw 200 dd if=s.raw of=o.raw
same_locked t32.raw 201 dd if=s.raw of=t32.raw
expect "qemu-img dd --help prints the full help" 0 'Command syntax:' -- "$COMPAT" dd --help
expect "imgsh dd --help" 0 '^usage: imgsh dd ' -- "$IMGSH" dd --help
check "dd output is fully allocated like qemu-img's" sh -c "
    qemu-img dd if=s.raw of=q.raw bs=64k && '$IMGSH' dd if=s.raw of=i.raw bs=64k &&
    test \"\$(stat -c %b q.raw)\" = \"\$(stat -c %b i.raw)\" &&
    qemu-img map -f raw --output=json q.raw >q.map && qemu-img map -f raw --output=json i.raw >i.map &&
    cmp q.map i.map"
