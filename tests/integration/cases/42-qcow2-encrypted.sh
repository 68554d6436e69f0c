# Encrypted qcow2 without the key: info shows the encryption (for LUKS the
# whole LUKS header), reads are refused. Damaged LUKS headers and CRYPTO
# header extensions get qemu-img's messages, in qemu-img's order.

# str TEXT: TEXT as a 32-byte NUL-padded LUKS header field, in hex
str() {
    h=$(printf '%s' "$1" | od -An -tx1 | tr -d ' \n')
    while [ ${#h} -lt 64 ]; do h=${h}00; done
    echo "$h"
}
# the LUKS header of luks.qcow2 (qemu-img puts it in cluster 4)
B=262144
# variants: NAME OFFSET HEX [OFFSET HEX ...], each a copy of luks.qcow2 poked
variants() {
    cat <<EOF
magic $B 00
version2 $((B + 6)) 0002
version2name32 $((B + 6)) 0002 $((B + 8)) $(str aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa)
name32 $((B + 8)) $(str aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa)
mode32 $((B + 40)) $(str aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa)
hash32 $((B + 72)) $(str aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa)
payload0 $((B + 104)) 00000000
payload7 $((B + 104)) 00000007
payload8 $((B + 104)) 00000008
payloadmax $((B + 104)) ffffffff
keywrap $((B + 108)) 00418938
keyhuge $((B + 108)) 7fffffff
key0 $((B + 108)) 00000000
key1 $((B + 108)) 00000001
stripes0 $((B + 252)) 00000000
state $((B + 208)) 00000000
stateiters $((B + 208)) 00000000 $((B + 212)) 00000000
stripesstate $((B + 208)) 00000000 $((B + 252)) 00000000
iters0 $((B + 212)) 00000000
itersmax $((B + 212)) ffffffff $((B + 164)) ffffffff
slot1stripes $((B + 300)) 00000000
slot1iters0 $((B + 260)) 00000000
keyoff0 $((B + 248)) 00000000
keyoffmax $((B + 248)) ffffffff
overlap $((B + 296)) 00000008
overlap0 $((B + 296)) 00000000
payload0state $((B + 104)) 00000000 $((B + 208)) 00000000
hashstate $((B + 72)) $(str md9) $((B + 208)) 00000000
uuid40 $((B + 168)) 61616161616161616161616161616161616161616161616161616161616161616161616161616161
uuidutf8 $((B + 168)) ff
nameempty $((B + 8)) $(str '')
namefoo $((B + 8)) $(str foo)
nameAES $((B + 8)) $(str AES)
namefoomode $((B + 8)) $(str foo) $((B + 40)) $(str xts)
namefooivgen $((B + 8)) $(str foo) $((B + 40)) $(str xts-foo)
namefoohash $((B + 8)) $(str foo) $((B + 72)) $(str md9)
namefoomodefoo $((B + 8)) $(str foo) $((B + 40)) $(str foo-plain64)
namefooivhash $((B + 8)) $(str foo) $((B + 40)) $(str cbc-essiv:md9)
cast5 $((B + 8)) $(str cast5) $((B + 40)) $(str cbc-plain64) $((B + 108)) 00000010 $((B + 72)) $(str md5)
serpent $((B + 8)) $(str serpent) $((B + 72)) $(str ripemd160)
serpent192 $((B + 8)) $(str serpent) $((B + 40)) $(str cbc-plain64) $((B + 108)) 00000018
twofish $((B + 8)) $(str twofish) $((B + 108)) 00000030
twofish128 $((B + 8)) $(str twofish) $((B + 40)) $(str cbc-plain64) $((B + 108)) 00000010
sm4 $((B + 8)) $(str sm4) $((B + 108)) 00000020
des $((B + 8)) $(str des) $((B + 40)) $(str cbc-plain64) $((B + 108)) 00000008
essivnohash $((B + 40)) $(str cbc-essiv) $((B + 108)) 00000020
essivnohashmd9 $((B + 40)) $(str cbc-essiv) $((B + 108)) 00000020 $((B + 72)) $(str md9)
essivsha1 $((B + 40)) $(str cbc-essiv:sha1) $((B + 108)) 00000020
essivsha1md9 $((B + 40)) $(str cbc-essiv:sha1) $((B + 108)) 00000020 $((B + 72)) $(str md9)
essivsha224 $((B + 40)) $(str cbc-essiv:sha224) $((B + 108)) 00000020
essivsha384 $((B + 40)) $(str cbc-essiv:sha384) $((B + 108)) 00000020
essivsha512 $((B + 40)) $(str cbc-essiv:sha512) $((B + 108)) 00000020
essivsha256 $((B + 40)) $(str cbc-essiv:sha256) $((B + 108)) 00000020
essivmd5 $((B + 40)) $(str cbc-essiv:md5) $((B + 108)) 00000020
essivkey64 $((B + 40)) $(str cbc-essiv:sha256)
essivxts $((B + 40)) $(str xts-essiv:sha256)
twofishessiv $((B + 8)) $(str twofish) $((B + 40)) $(str cbc-essiv:sha256) $((B + 108)) 00000020
twofishessivsha1 $((B + 8)) $(str twofish) $((B + 40)) $(str cbc-essiv:sha1) $((B + 108)) 00000020
serpentessivsha1 $((B + 8)) $(str serpent) $((B + 40)) $(str cbc-essiv:sha1) $((B + 108)) 00000020
cast5essiv $((B + 8)) $(str cast5) $((B + 40)) $(str cbc-essiv:sha256) $((B + 108)) 00000010
cast5essivmd5 $((B + 8)) $(str cast5) $((B + 40)) $(str cbc-essiv:md5) $((B + 108)) 00000010
modexts $((B + 40)) $(str xts)
modeempty $((B + 40)) $(str '')
modeecb $((B + 40)) $(str ecb)
modeecbplain $((B + 40)) $(str ecb-plain64) $((B + 108)) 00000020 $((B + 72)) $(str sha224)
modectr $((B + 40)) $(str ctr-plain64) $((B + 108)) 00000018 $((B + 72)) $(str sha384)
modecbcplain $((B + 40)) $(str cbc-plain) $((B + 108)) 00000010 $((B + 72)) $(str sha1)
modexts128 $((B + 108)) 00000020 $((B + 72)) $(str sha512)
modeXTS $((B + 40)) $(str XTS-plain64)
modePLAIN $((B + 40)) $(str xts-PLAIN64)
modefoo $((B + 40)) $(str foo-plain64)
modeivfoo $((B + 40)) $(str xts-foo)
modeivfoohash $((B + 40)) $(str xts-foo) $((B + 72)) $(str md9)
modedash $((B + 40)) $(str cbc-)
modenomode $((B + 40)) $(str -plain)
modetwodash $((B + 40)) $(str xts-plain64-x)
modeivhash $((B + 40)) $(str cbc-plain64:sha256) $((B + 108)) 00000020
modeivhashempty $((B + 40)) $(str cbc-plain64:) $((B + 108)) 00000020
modefooivhash $((B + 40)) $(str foo-essiv:md9)
hashmd9 $((B + 72)) $(str md9)
hashempty $((B + 72)) $(str '')
hashSHA $((B + 72)) $(str SHA256)
hashsha3 $((B + 72)) $(str sha3)
extlen8 116 00000008
extmethod0 35 00
extmethod1 35 01
extmethod1len8 35 01 116 00000008
offunaligned 120 0000000000040001
offunalignedl1 120 0000000000040001 40 0000000000030001
offunalignedincompat 120 0000000000040001 72 0000000000000100
offeof 120 0000000000100000
offmaxok 120 7fffffffbfff0000
offmaxio 120 7fffffffc0000000
offtop 120 8000000000000000
len16 128 0000000000000010
len0 128 0000000000000000
lenhuge 128 ffffffffffffffff
len16l1 128 0000000000000010 40 0000000000030001
magicl1 $B 00 40 0000000000030001
magicreftable $B 00 48 0000000000010001
magicbacking $B 00 8 00000000000003e8 16 000007d0
magicl2 $B 00 $((3 * 65536)) 8000000000050001
magicdirty $B 00 72 0000000000000001
EOF
}
setup() {
    qemu-img create -q --object secret,id=s0,data=abc -f qcow2 \
        -o encrypt.format=aes,encrypt.key-secret=s0 aes.qcow2 1M
    retry qemu-img create -q --object secret,id=s0,data=abc -f qcow2 \
        -o encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10 luks.qcow2 1M
    # luks.qcow2's CRYPTO extension must say what the variants assume
    [ "$(od -An -tx1 -j 112 -N 24 luks.qcow2 | tr -d ' \n')" = \
        0537be7700000010000000000004000000000000001f9000 ] || return 1
    variants | poke_variants luks.qcow2 l || return 1
    cp luks.qcow2 l-noext.qcow2 && poke l-noext.qcow2 112 00000000
}
for f in aes.qcow2 luks.qcow2; do
    ONLY=$f
    same info $f
    same info --output=json $f
    same map $f
    same map --output=json $f
    same convert -O raw $f o.raw
    same compare $f $f
done
for name in $(variants | cut -d' ' -f1); do
    ONLY=l-$name.qcow2
    same info l-$name.qcow2
    same map l-$name.qcow2
done
# the JSON layout of headers that open (the messages are the same as above)
for name in uuid40 uuidutf8 cast5 essivsha256 twofish keyoffmax payloadmax; do
    ONLY=l-$name.qcow2
    same info --output=json l-$name.qcow2
done
# qemu-img crashes (SIGSEGV) on a LUKS image without its CRYPTO extension
ONLY=l-noext.qcow2
expect "LUKS image without CRYPTO extension" 1 \
    "^imgsh: Could not open 'l-noext.qcow2': qcow2 image is LUKS-encrypted but has no CRYPTO header extension$" \
    -- "$IMGSH" info l-noext.qcow2
ONLY=
