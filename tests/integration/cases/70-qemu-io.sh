# The qemu-io personality against the real qemu-io 7.2, byte for byte
# (stdout with the timing of I/O reports normalised, stderr, exit code, and
# the images afterwards).
#
# Test plan:
#  1. program options: help, bad and missing options and arguments, -f, -r,
#     -U, -t/-n, -d, -i/-k, -m, -C, --image-opts option strings (good keys,
#     unknown keys at each level, missing file, read-only, force-share),
#     --object secret (good, malformed, help); options imgsh refuses
#  2. each command: help, usage errors (bad options, argument counts),
#     number syntax (suffixes, hex, fractions, too large, garbage), then
#     its work on raw images (writes) and on qcow2 images made by qemu
#     (reads, alloc, map, length, info: v2, v3, extended L2, backing chains)
#  3. several commands in one run, quit, failures that set the exit code,
#     commands on standard input (prompts, long lines, no final newline)
setup() {
    qemu-img create -q -f raw r.raw 1M
    qemu-io -f raw -c 'write -P 0x61 4k 8k' -c 'write -P 0x7e 100k 3k' r.raw >/dev/null
    head -c 1000 /dev/zero | tr '\0' 'x' >odd.raw
    qemu-img create -q -f raw z.raw 0
    qemu-img create -q -f qcow2 q.qcow2 4M
    fill q.qcow2 65536
    qemu-img create -q -f qcow2 -b q.qcow2 -F qcow2 top.qcow2
    qemu-io -f qcow2 -c 'write -P 5 64k 64k' -c 'write -z 512k 64k' top.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -o extended_l2=on x.qcow2 3M
    qemu-io -f qcow2 -c 'write -P 9 0 4k' -c 'write -P 9 12k 2k' -c 'write -z 100k 8k' \
        x.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -o compat=0.10,cluster_size=512 v2.qcow2 1G
    qemu-io -f qcow2 -c 'write -P 3 1M 1536' v2.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -o cluster_size=2M big.qcow2 100G
    qemu-img bitmap -q --add top.qcow2 bm0
    printf 'ABCDEFGHIJ' >src.bin
    : >empty.bin
    head -c 512 q.qcow2 >hdr.bin
    printf 'pw' >pw.txt
}

# in_runs N ARGS... -- CMD...: same_io ARGS with the commands CMD as -c
# options, N commands a run (a failed command does not stop the next ones)
in_runs() {
    local per=$1 pre=() cmds=() c
    shift
    while [ "$1" != -- ]; do pre+=("$1"); shift; done
    shift
    for c in "$@"; do
        cmds+=(-c "$c")
        if [ ${#cmds[@]} -ge $((per * 2)) ]; then
            same_io "${pre[@]}" "${cmds[@]}"
            cmds=()
        fi
    done
    if [ ${#cmds[@]} -gt 0 ]; then same_io "${pre[@]}" "${cmds[@]}"; fi
}

## 1. program options
same_io
same_io -h
same_io --help
same_io -h -x
same_io -x
same_io --bogus r.raw
same_io -c
same_io -f
same_io --c x r.raw
same_io --f x r.raw
same_io --n r.raw
same_io a.raw b.raw
same_io -f raw -f qcow2 r.raw
same_io nosuch.raw
same_io -c length nosuch.raw
same_io -c length
same_io -c 'read 0 1'
same_io -f nosuch -c length r.raw
same_io -f qcow2 -c length r.raw
same_io -f raw -c length r.raw
same_io -f file -c length -c info q.qcow2
same_io --format=raw --cmd=length r.raw
same_io -c length -c info q.qcow2
same_io -r -c length r.raw
same_io -c length r.raw
same_io -r -c 'write 0 1' -f raw r.raw
same_io --read-only -c 'discard 0 1' -f raw r.raw
same_io -U -c length -f raw r.raw
same_io -U -c length nosuch.raw
same_io -U -f bogus -c length r.raw
same_io -U -r -c 'read -P 0 0 4k' q.qcow2
same_io --force-share -r -c length q.qcow2
for t in none off writeback writethrough directsync unsafe; do
    same_io -t $t -f raw -c 'write -P 1 0 4k' -c 'read -P 1 0 4k' -c flush r.raw
done
same_io --cache=none -f raw -c 'read 0 512' r.raw
same_io -t bogus -f raw r.raw
same_io -n -f raw -c 'write 0 4k' r.raw
same_io -d unmap -f raw -c 'discard 4k 4k' -c 'read -v 4k 16' r.raw
same_io -d on -f raw -c 'write -z -u 4k 4k' r.raw
same_io -d ignore -f raw -c 'discard 4k 4k' -c 'read -v 4k 16' r.raw
same_io -d off -f raw -c 'discard 2M 4k' r.raw
same_io -d bogus -f raw r.raw
for i in threads io_uring bogus; do same_io -i $i -f raw -c length r.raw; done
same_io -i native -f raw -c length r.raw
same_io -i native -t none -f raw -c length r.raw
same_io --aio=native -n -f raw -c length r.raw
same_io -k -f raw -c length r.raw
same_io -k -c length nosuch.raw
same_io -k -t directsync -f raw -c length r.raw
same_io --native-aio -n -f raw -c length r.raw
same_io -m -f raw -c 'read -P 0x61 4k 8k' r.raw
same_io --misalign -f raw -c 'write -P 2 1 3' r.raw
same_io -C -f raw -c 'read 0 512' r.raw
same_io -C -r -f raw -c 'read 0 512' r.raw
same_io --copy-on-read -c 'read 0 64k' q.qcow2
# --image-opts: on the command line, and through "open" (the same options code)
for o in 'driver=raw,file.filename=r.raw' 'driver=raw,file.driver=file,file.filename=r.raw' \
    'driver=qcow2,file.filename=q.qcow2' 'file.filename=q.qcow2' 'file.filename=r.raw' \
    'driver=file,filename=r.raw' 'driver=raw,file.filename=r.raw,cache.no-flush=on,noread-only' \
    'driver=raw' 'driver=raw,file.filename=nosuch' 'driver=bogus,file.filename=r.raw' \
    'driver=raw,file.filename=r.raw,foo=bar' 'driver=raw,file.filename=r.raw,file.foo=bar' \
    'driver=raw,file.filename=r.raw,read-only=on' 'r.raw' 'filename=r.raw' '' 'help' \
    'driver=raw,file.filename=r.raw,,x' 'driver=raw,file.filename=r.raw,read-only'; do
    same_io --image-opts -c length "$o"
done
opens=()
for o in 'file.driver=file,file.filename=r.raw' 'driver=raw,file.filename=r.raw,cache.direct=on' \
    'driver=raw,file.driver=bogus,file.filename=r.raw' 'driver=raw,file.filename=r.raw,read-only=bogus' \
    'file=r.raw' 'driver=raw,file=r.raw' 'driver=raw,,file.filename=r.raw' \
    'driver=raw,file.filename=r.raw,driver=qcow2' 'driver=raw,file.filename=r.raw,force-share=on' \
    'driver=raw,file.filename=r.raw,help' 'driver=raw,file.filename=r.raw,=x' \
    'driver=raw,file.filename=' 'driver=qcow2,file.filename=r.raw' \
    'driver=bogus,foo=bar,file.filename=r.raw' 'driver=raw,foo=bar,file.filename=nosuch' \
    'driver=raw,foo=bar' 'driver=raw,file.foo=bar' 'driver=raw,file.filename=r.raw,file.foo=bar,foo=bar' \
    'driver=qcow2,file.filename=r.raw,foo=bar' 'driver=qcow2,file.filename=q.qcow2,foo=bar' \
    'driver=raw,file.driver=raw,file.filename=r.raw' 'driver=raw,file.driver=qcow2,file.filename=q.qcow2' \
    'driver=raw,file.filename=r.raw,file.read-only=on' 'driver=file,file.filename=r.raw' 'driver=file' \
    'driver=raw,file.filename=r.raw,driver' 'driver=raw,file.filename' \
    'driver=raw,file.filename=nosuch,file.foo=bar' 'driver=raw,file.filename=r.raw,read-only=on,foo=bar' \
    'driver=raw,file.filename=nosuch,force-share=on' 'driver=raw,file.filename=r.raw,force-share=bogus' \
    'driver=bogus,file.filename=r.raw,read-only=bogus' 'driver=file,filename=r.raw,force-share=on' \
    'driver=raw,file.filename=r.raw,file.force-share=on,read-only=on' \
    'driver=raw,file.filename=r.raw,file.force-share=on' 'driver=raw,file.filename=r.raw,file.read-only=x' \
    'driver=raw,file.filename=r.raw,file.force-share=x'; do
    opens+=("open $o" length close)
done
in_runs 15 --image-opts -- "${opens[@]}"
same_io --image-opts -c 'write -P 4 0 512' 'driver=raw,file.filename=r.raw,read-only=off'
same_io --image-opts -r -c 'write -P 4 0 512' 'driver=raw,file.filename=r.raw,read-only=off'
same_io --image-opts -r -c 'write 0 512' 'driver=raw,file.filename=r.raw,read-only=on'
same_io --image-opts -U -c length 'driver=raw,file.filename=r.raw'
same_io --image-opts -U -r -c length 'driver=raw,file.filename=r.raw'
same_io --image-opts -U -r -c length 'driver=raw,file.filename=r.raw,force-share=off'
same_io --image-opts -r -c length 'driver=raw,file.filename=r.raw,file.force-share=on'
same_io -f file -U -r -c length r.raw
same_io --image-opts -f raw -c length 'driver=raw,file.filename=r.raw'
same_io --image-opts -c length 'driver=raw,file.filename=r.raw' extra
same_io --image-opts -c length
# --object
k=$(head -c 32 /dev/zero | base64)
iv=$(head -c 16 /dev/zero | base64)
for o in 'secret,id=s0,data=x' 'qom-type=secret,id=s0,data=x,' 'secret,id=a-b_c.d,data=x,,' \
    'secret,id=s0,data=eA==,format=base64' 'secret,id=s0,file=pw.txt,format=raw' \
    'secret,id=s0,file=empty.bin' 'secret,id=s0,data=x,data=y,iv=abc' help 'secret,?' 'foo,help' \
    'secret,id=s0,data=x,file=pw.txt,help' foo 'secret,id=s0' 'secret,id=s0,data=x,file=y' \
    'secret,id=s0,file=nosuch' 'secret,id=s0,file=.' 'secret,id=s0,data=x,foo=bar' \
    'secret,id=s0,a.b=x,data=y' 'secret,id=s0,a b=x,data=y' 'secret,id=s0,data=x,1=1' \
    'secret,id=0bad,data=x' 'secret,id=,data=x' 'secret,id=s0,data=x,format=bogus' \
    'secret,id=s0,data=!!!,format=base64' 'secret,id=s0,data=x,keyid=k' 'id=s0,data=x' '' \
    'secret,,x,id=s0,data=x' 'secret,id=s0,data' 'help,secret' ',secret' \
    'secret,id=s0,data=x,help=on' 'secret,id=s0,data=x,qom-type=foo'; do
    same_io --object "$o" -f raw -c length r.raw
done
same_io --object secret,id=s0,data=x --object secret,id=s1,data=y -f raw -c length r.raw
same_io --object secret,id=s0,data=x --object secret,id=s0,data=y -f raw -c length r.raw
same_io --object secret,id=s0,data=x -x
same_io -x --object foo
same_io --object secret,id=k,data=$k,format=base64 --object secret,id=s0,data=x,keyid=k -c quit
same_io --object secret,id=k,data=short --object secret,id=s0,data=x,keyid=k,iv=$iv -c quit
same_io --object secret,id=k,data=$k,format=base64 --object secret,id=s0,data=x,keyid=k,iv=abc \
    -c quit
same_io --object secret,id=k,data=$k,format=base64 --object secret,id=s0,data=x,keyid=k,iv=$iv \
    -c quit
ct=$(printf hello | openssl enc -aes-256-cbc -K "$(printf '0%.0s' $(seq 64))" \
    -iv "$(printf '0%.0s' $(seq 32))" 2>/dev/null | base64)
same_io --object secret,id=k,data=$k,format=base64 \
    --object "secret,id=s0,data=$ct,keyid=k,iv=$iv,format=base64" -c quit
same_io --object secret,id=k,data=$k,format=base64 \
    --object "secret,id=s0,data=aX5XVdfAcFl6CMKQcCJRHQ==,keyid=k,iv=$iv,format=base64" -c quit
same_io --object secret,id=k,data=$k,format=base64 --object "secret,id=s0,data=,keyid=k,iv=$iv" \
    -c quit
# image locks held by another process (holdlock: 10x = uses, 20x = refuses to share)
io_locked() {
    LOCKWRAP="$HOLDLOCK $1 $2"
    shift 2
    same_io "$@"
    LOCKWRAP=""
}
io_locked r.raw 201 -f raw -c 'read 0 1' r.raw
io_locked r.raw 200 -f raw -r -c 'read 0 1' r.raw
io_locked r.raw 203 -f raw -c length -c 'truncate 2M' -c 'truncate x' -c 'write -P 1 0 1' r.raw
io_locked r.raw 101 -U -r -f raw -c 'read 0 1' r.raw
io_locked q.qcow2 101 -r -c 'read 0 1' q.qcow2
io_locked q.qcow2 103 -c 'read 0 1' q.qcow2
# options imgsh refuses or answers with its own line
expect "qemu-io -V" 0 '^qemu-io version 7\.2\.0 \(imgsh ' -- "$COMPAT_DIR/qemu-io" -V
expect "qemu-io --version r.raw" 0 '^qemu-io version' -- "$COMPAT_DIR/qemu-io" --version r.raw
expect "qemu-io -T" 1 'option -T/--trace is not supported by imgsh' -- \
    "$COMPAT_DIR/qemu-io" -T foo -f raw -c length r.raw
expect "qemu-io -s" 1 'snapshot mode \(-s\) is not supported by imgsh' -- \
    "$COMPAT_DIR/qemu-io" -s -f raw -c 'write 0 1' r.raw
expect "qemu-io -C with a backing file" 1 'copy-on-read \(-C\) is not supported by imgsh' -- \
    "$COMPAT_DIR/qemu-io" -C -c 'read 0 1' top.qcow2
expect "qemu-io --object of another type" 1 "object type 'throttle-group' is not supported" -- \
    "$COMPAT_DIR/qemu-io" --object throttle-group,id=t0 -c quit
expect "qemu-io wait_break" 1 'no blkdebug driver' -- \
    "$COMPAT_DIR/qemu-io" -f raw -c 'wait_break t' r.raw

## 2. commands
same_io -c help
same_io -c '? '
same_io -c 'help help'
helps=()
for c in abort aio_flush aio_read aio_write alloc break close discard flush help info length map \
    open quit read readv remove_break reopen resume sigraise sleep truncate wait_break write writev \
    r w f t l i d a '?' q o c bogus; do
    helps+=(-c "help $c")
done
same_io "${helps[@]}"
same_io -c 'help read write'
# argument counts and a missing image, for every command
counts=()
for c in abort aio_flush alloc break close flush info length map remove_break resume sigraise sleep \
    wait_break truncate; do
    counts+=(-c "$c x x x x x x")
done
same_io -f raw "${counts[@]}" r.raw
counts=()
for c in aio_read aio_write alloc break discard open read readv remove_break resume sigraise sleep \
    truncate wait_break write writev; do
    counts+=(-c "$c")
done
same_io -f raw "${counts[@]}" r.raw
same_io -c 'write 0 1' -c 'aio_write 0 1' -c 'writev 0 1' -c 'discard 0 1' -c 'truncate 1' -c alloc \
    -c map -c info -c length -c flush -c close -c 'resume x' -c reopen -c 'read'
same_io -c bogus -c 'h' -c 'read0' -c 'READ 0 1' -f raw r.raw
same_io -c '' -c '   ' -c ' length ' -f raw r.raw
# read
reads=()
for a in '0 512' '1 512' '0 0' '1M 0' '2M 0' '0 1G' '1023k 2k' '0 2G' '0 2147483136' '0x10 1' \
    '1.5k 1' '1k 1b' '0x1k 1' '99999999999999999999 1' '8E 1' '7E 1' '1e3 1' 'x 1' '0 x' '-1 1' \
    '0 -1' '-- 0 -1' '" 1" 1' '0 1 2' '-P 0x61 4k 8k' '-P 97 4k 8k' '-P 0141 4k 8k' '-P 0x62 4k 8k' \
    '-P 300 0 1' '-P -1 0 1' '-P 0x 0 1' '-P " 5" 0 1' '-P' '-P 0' '-P 0 0' \
    '-P 0 -s 2 -l 4 0 16' '-P 0x61 -s 4k -l 8k 0 16k' '-P 1 -s 2 -l 4 0 16' '-s 2 0 16' '-l 2 0 16' \
    '-P 0 -s 20 0 16' '-P 0 -l 20 0 16' '-P 0 -s 10 -l 7 0 16' '-P 0 -s x 0 16' '-P 0 -l 1G 0 16' \
    '-b 0 512' '-b 1 512' '-b 0 511' '-C 0 512' '-q 0 512' '-qv 0 16' '-p 0 16' '-a 0 16' \
    '-x 0 16' '-v 4090 20' '-v 100k 3100' '-Cv 0 40' '-v 1M 0' '-vq -P 0 0 4k'; do
    reads+=(-c "read $a")
    if [ ${#reads[@]} -ge 12 ]; then     # six reads a run: failures do not stop the others
        same_io -f raw "${reads[@]}" r.raw
        reads=()
    fi
done
same_io -f raw "${reads[@]}" r.raw
same_io -f raw -c 'r -v 0 8' r.raw
same_io -f raw -c 'read -v 990 34' -c 'read 0 1k' -c 'read 1k 1' odd.raw
same_io -f raw -c 'read 0 0' -c 'read 0 1' z.raw
# write (raw): writes one a run, refused ones six a run
for a in '0 512' '-P 0x11 1 3' '-P 0x11 4k 64k' '1M 0' '-z 4k 4k' '-zu 4k 4k' '-z -u 1 3' \
    '-zn 0 1M' '-f 0 512' '-C 0 512' '-q 0 512' '-p 0 512' '-s src.bin 0 4' '-s src.bin 0 25' \
    '-s src.bin 3 0' '-s hdr.bin 4k 512'; do
    same_io -f raw -c "write $a" -c 'read -v 0 32' r.raw
done
writes=()
for a in '1M 1' '1023k 2k' '0 2G' '0 3G' '-zn 0 3G' '-u 0 512' '-n 0 512' '-z -P 1 0 512' \
    '-c 0 512' '-c 1 512' '-c 0 511' '-c 2M 512' '-c 0 0' '-fc 0 512' '-b 0 512' '-bz 0 512' \
    '-bzu -n -f 0 512' '-fcun 0 512' '-un -P 1 -s x 0 512' '-n -f -c 0 512' '-s x -P 1 -u 0 512' \
    '-x 0 512' '0' '0 1 2' '-s nosuch 0 4' '-s src.bin -P 1 0 4' '-s src.bin -z 0 4' \
    '-s src.bin -c 0 512' '-s . 0 4' '-s empty.bin 0 4' '-P 0x100 0 1' '-P 1x 0 1' 'x 1' '0 1x'; do
    writes+=("write $a")
done
in_runs 6 -f raw r.raw -- "${writes[@]}"
same_io -c 'write -P 0x51 0 512' r.raw
same_io -c 'write -s hdr.bin 0 512' -c 'read -v 0 16' r.raw
same_io -c 'write -s hdr.bin 512 512' -c 'read -v 512 16' r.raw
same_io -f raw -c 'write -s hdr.bin 0 512' r.raw
same_io -f raw -c 'w -P 7 1000 24' -c 'write -P 7 1000 25' odd.raw
same_io -f raw -c 'write -P 7 0 1' z.raw
# readv, writev
in_runs 6 -f raw r.raw -- 'readv 0 512 1k' 'readv -P 0x61 4k 4k 4k' 'readv -P 1 0 512 512' \
    'readv -v 4k 3 5' 'readv 0' 'readv 0 x' 'readv x 1' 'readv 0 3G' 'readv 0 1G 1G' \
    'readv 0 1G 1G 1G' 'readv 1M 512' 'readv -C 0 512' 'readv -q 0 512' 'readv -x 0 512' \
    'readv 0 0' 'readv -P 256 0 1'
for a in '0 512 1k' '-P 3 0 1 2' '-f -C 0 512' '-q 0 512' '0 0 0'; do
    same_io -f raw -c "writev $a" -c 'readv -v 0 3 5' r.raw
done
in_runs 6 -f raw r.raw -- 'writev 1M 512' 'writev -x 0 512' 'writev -P 256 0 512' 'writev 0 3G' \
    'writev 1 x'
same_io -f raw -r -c 'writev 0 512' r.raw
# aio_read, aio_write, aio_flush
same_io -f raw -c 'aio_read 0 512' -c 'aio_write -P 1 0 512' -c aio_flush -c 'read -P 1 0 512' r.raw
same_io -f raw -c 'aio_read -P 1 0 512' -c aio_flush r.raw
# (qemu completes requests in an order of its own: one request a run)
for a in '-v 4k 8 8' '-q 0 1' '-C 0 1' '2M 512'; do same_io -f raw -c "aio_read $a" r.raw; done
same_io -f raw -c 'aio_write 2M 512' r.raw
same_io -f raw -c 'aio_read -i 0 512' -c 'aio_write -i 0 512' r.raw
same_io -f raw -c 'aio_write -z 0 512 512' r.raw
same_io -f raw -c 'aio_write -z -u 4k 4k' -c aio_flush -c 'read -P 0 4k 4k' r.raw
same_io -f raw -c 'aio_write -z -P 1 0 512' r.raw
same_io -f raw -c 'aio_write -u 0 512' r.raw
same_io -f raw -c 'aio_write -fq -P 9 0 3 4' -c 'read -v 0 8' r.raw
same_io -f raw -c 'aio_write -x 0 512' -c 'aio_read -x 0 512' -c 'aio_read x 1' r.raw
same_io -f raw -c 'aio_read 0 3G' -c 'aio_write 0 1G 2G' -c 'aio_write -z 0 x' r.raw
# discard
for a in '4k 4k' '1 512' '-C 0 512' '-q 0 512'; do
    same_io -f raw -c "discard $a" -c 'read -v 4k 16' r.raw
done
in_runs 8 -f raw r.raw -- 'discard -x 0 512' 'discard 0 1 2' 'discard 1M 1' 'discard 1M 0' \
    'discard 0 3G' 'discard 0 2G' 'discard 0 2147483136' 'discard x 1'
same_io -f raw -c 'd 4k 1k' r.raw
same_io -c 'discard 0 64k' -c 'read 0 1' -r q.qcow2
# alloc, map
in_runs 10 -f raw r.raw -- 'alloc 0' 'alloc 0 1M' 'alloc 1 1' 'alloc 1M' 'alloc 0 2M' \
    'alloc 1M 1' 'alloc 2M' 'alloc x' 'alloc 0 x' 'alloc 1k 1.5k'
same_io -f raw -c map -c 'alloc 0' -c 'a 0 1k' odd.raw
same_io -f raw -c map -c 'alloc 0' z.raw
for f in q.qcow2 top.qcow2 x.qcow2 v2.qcow2 big.qcow2; do
    same_io -c map -c 'alloc 0' -c 'alloc 0 4M' -c 'alloc 200k 100k' -c 'alloc 256k 128k' \
        -c 'alloc 1000k 200k' -c 'alloc 4M' -c 'alloc 3M 2M' -c 'alloc 100G' -r $f
done
same_io -c map -f raw r.raw
same_io -c map q.qcow2
# flush, length, info, truncate
for f in r.raw odd.raw z.raw q.qcow2 top.qcow2 x.qcow2 v2.qcow2 big.qcow2; do
    same_io -r -c length -c info -c flush -c l -c i -c f $f
done
same_io -c info -c flush q.qcow2
same_io -f raw -c info q.qcow2
for a in 2M 512k 1000 0 '1 2' '-m falloc 2M' '-m full 2M' '-m off 2M'; do
    same_io -f raw -c "truncate $a" -c length -c map r.raw
done
in_runs 8 -f raw r.raw -- 'truncate -m metadata 2M' 'truncate -m bogus 2M' 'truncate -m' \
    'truncate -x 2M' 'truncate x' 'truncate -m off x' 'truncate -m off 2M 1' length
same_io -f raw -c 't 3M' -c 'write -P 1 2M 1M' -c 'read -P 1 2M 1M' -c 'truncate 1M' -c length r.raw
same_io -r -f raw -c 'truncate 2M' r.raw
# break, remove_break, resume, sleep, sigraise, quit
same_io -f raw -c 'break a b' -c 'remove_break a' -c 'resume a' r.raw
same_io -c 'sleep 1' -c 'sleep 0x2' -c 'sleep x' -c 'sleep -1' -c 'sleep 1k'
same_io -c 'sigraise 100' -c 'sigraise x' -c 'sigraise 0'
same_io -c 'quit 1 2' -c length
same_io -f raw -c 'q' -c length r.raw
same_io -f raw -c 'read 0 1G' -c quit -c 'read 0 1' r.raw
# open, close, reopen
for a in '-o driver=raw r.raw' '-r -o driver=raw r.raw' '-o driver=raw,file.filename=r.raw' \
    '-o driver=raw -o file.filename=r.raw' '-o driver=raw r.raw -o read-only=on' 'nosuch' \
    '-o driver=raw' '-x r.raw' '-t bogus r.raw' '-d bogus r.raw' '-i bogus r.raw' '-U r.raw' \
    '-r -U -o driver=raw r.raw' '-o foo=bar r.raw' 'a b' '-n -o driver=raw r.raw' \
    '-t unsafe -d ignore -i threads q.qcow2' '-k q.qcow2' '-C -r q.qcow2' 'q.qcow2'; do
    same_io -c "open $a" -c length -c 'read 0 1'
done
same_io -c 'open -o driver=raw r.raw' -c 'write -P 3 0 3' -c close -c length -c 'o q.qcow2' -c info
same_io -f raw -c 'open r.raw' -c length r.raw
same_io -f raw -c 'close' -c close -c length r.raw
same_io -f raw -c c -c 'open -r -o driver=raw r.raw' -c 'write 0 1' r.raw
same_io --image-opts -c 'open driver=raw,file.filename=r.raw' -c length
same_io --image-opts -c 'open -o driver=raw r.raw' -c length
same_io --image-opts -c 'open -r driver=qcow2,file.filename=q.qcow2' -c map
for a in '-r' '-w' '-c none' '-c writeback' '-c bogus' '-r -w' '-w -r' '-o foo=bar' 'x' \
    '-r -o read-only=on' '-c none -o cache.direct=on' '-o cache.direct=on' '-o read-only=bogus'; do
    same_io -f raw -c "reopen $a" -c 'write -P 6 0 1' -c 'read -v 0 4' r.raw
done
same_io -f raw -r -c 'reopen -w' -c 'write -P 6 0 1' -c 'reopen -r' -c 'write 0 1' r.raw
same_io -f raw -c 'reopen -o read-only=off' -c 'write 0 1' r.raw

## 3. standard input
same_io_input 'read 0 512\nlength\n' -f raw r.raw
same_io_input 'read 0 512\nbogus\nhelp read\n' -f raw r.raw
same_io_input 'read 0 1G\n' -f raw r.raw
same_io_input 'length' -f raw r.raw
same_io_input '' -f raw r.raw
same_io_input ''
same_io_input 'read 0 1\n'
same_io_input 'open -o driver=raw r.raw\nwrite -P 1 0 1\nclose\nlength\n'
same_io_input "read$(printf ' %.0s' $(seq 1100))0 1\n" -f raw r.raw
same_io_input "$(printf 'x%.0s' $(seq 3000))\n" -f raw r.raw
same_io_input 'read\t0 1\nlength\r\nlength \n\n  length\nquit\nlength\n' -f raw r.raw
same_io_input 'leng\tth\n' -f raw r.raw
same_io_input 'length\nread 0 1G' -f raw r.raw
same_io_input 'length\n' nosuch.raw
same_io_input 'length\n' -c length -f raw r.raw
same_io_input 'write -P 0x41 0 16\nread -v 0 16\nquit\n' -f raw r.raw
