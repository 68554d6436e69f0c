# info on raw images: human and JSON layouts, probing, format errors.
setup() {
    qemu-img create -q -f raw a.raw 10M
    qemu-io -f raw -c 'write -P 0xab 1M 64k' a.raw
    qemu-img create -q -f raw empty.raw 0
    printf 'x' >odd.raw                 # 1 byte: virtual size rounds up to 512
    head -c 4096 /dev/zero >.dmg
    head -c 20000001 /dev/zero >big.raw
    mkdir dir
    f=$(printf 'we"ird\\\\nam\te\001\303\251\177.raw')
    qemu-img create -q -f raw "$f" 1M
    printf 'b\200c\303.raw' | xargs -0 -I{} qemu-img create -q -f raw {} 1k
}
same info a.raw
same info -f raw a.raw
same info --output=json a.raw
same_json info --output=json a.raw
same info --output=human a.raw
same info --output json a.raw
same info --out=json a.raw
same info --backing-chain a.raw
same info --backing-chain --output=json a.raw
same info -U a.raw
same info a.raw -f raw
same info -f file a.raw
same info empty.raw
same info --output=json empty.raw
same info odd.raw
same info big.raw
same info --output=json big.raw
same info --output=xml a.raw
same info -f qcow2x a.raw
same info nonexistent.raw
same info dir
same info ""
same info
same info a.raw empty.raw
same info --bogus a.raw
same info --output
same info -Zf raw a.raw
same info --output=json "$(printf 'we"ird\\\\nam\te\001\303\251\177.raw')"
same info --output=json "$(printf 'b\200c\303.raw')"
# -f file counts whole sectors too; a zero-filled file called .dmg is raw
same info -f file big.raw
same info --output=json -f file odd.raw
same info .dmg
