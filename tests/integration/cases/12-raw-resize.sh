# resize on raw images: absolute and relative sizes, --shrink, preallocation, errors.
setup() {
    qemu-img create -q -f raw a.raw 10M
    qemu-io -f raw -c 'write -P 0xcd 9M 64k' a.raw
    head -c 20000001 /dev/zero >odd.raw
}
same resize a.raw 20M
same resize -f raw a.raw 20M
same resize -q -f raw a.raw 20M
same resize -f raw a.raw +1M
same resize -f raw a.raw +0.5M
same resize -f raw a.raw 0x1000000
same resize -f raw a.raw 10M
same resize -f raw a.raw 1000
same resize -f raw a.raw -- -1M
same resize -f raw a.raw -1M
same resize -f raw --shrink a.raw -1M
same resize -f raw --shrink a.raw 5M
same resize -f raw --shrink a.raw 0
same resize -f raw --shrink a.raw -100M
same resize -f raw a.raw 20000001
same resize -f odd.raw 1
same resize -f raw odd.raw +1
same resize -f raw --preallocation=full a.raw 12M
same resize -f raw --preallocation=falloc a.raw 12M
same resize -f raw --preallocation=off a.raw 12M
same resize -f raw --preallocation=full a.raw 8M
same resize -f raw --preallocation=full --shrink a.raw 8M
same resize -f raw --preallocation=full a.raw 10M
same resize -f raw --preallocation=metadata a.raw 12M
same resize -f raw --preallocation=bad a.raw 12M
for s in +abc 8E +8E 16E 17E + "" 1.5 4Mb 1e3 9223372036854775807 " 3M" 1.5M; do
    same resize -f raw a.raw "$s"
done
same resize a.raw
same resize
same resize nofile.raw 1M
same resize -f raw a.raw 5M extra
same resize -f raw a.raw -h
same resize -f bogus a.raw 1M
same resize -f file a.raw 11M
same resize -f raw a.raw 0x20M
