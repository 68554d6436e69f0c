# workload.awk - a random qemu-io workload and its raw reference.
#   awk -v seed=N -v ops=N -v size=BYTES -v cs=CLUSTER -v img=FILE -v ref=FILE -f workload.awk
# writes to img the qemu-io commands for a qcow2 image (writes, zero writes
# with and without unmap, discards, compressed writes; some unaligned) and to
# ref the commands that give a raw image the same guest data: a discard
# zeros the whole clusters it covers (qcow2 v3 ignores partial clusters);
# compressed writes only go to clusters no earlier command touched, where
# they always succeed.
function rnd(n) { return int(rand() * n) }
function touch(a, b,   c) { for (c = int(a / cs); c * cs < b; c++) used[c] = 1 }
BEGIN {
    srand(seed)
    maxlen = 3 * cs
    if (maxlen > 262144) maxlen = 262144
    for (i = 0; i < ops; i++) {
        if (rnd(2)) {
            off = rnd(size); len = 1 + rnd(maxlen)
        } else {
            off = rnd(size / 512) * 512; len = (1 + rnd(8)) * 512 * (rnd(4) ? 1 : 64)
        }
        if (off + len > size) len = size - off
        if (len <= 0) continue
        k = rnd(100)
        if (k < 55) {
            p = 1 + rnd(254)
            print "write -P " p " " off " " len >img
            print "write -P " p " " off " " len >ref
        } else if (k < 65) {
            print "write -z " off " " len >img
            print "write -z " off " " len >ref
        } else if (k < 75) {
            print "write -z -u " off " " len >img
            print "write -z " off " " len >ref
        } else if (k < 88) {
            print "discard " off " " len >img
            a = int((off + cs - 1) / cs) * cs
            b = (off + len == size) ? size : int((off + len) / cs) * cs
            if (b > a) print "write -z " a " " (b - a) >ref
        } else {
            c = rnd(int(size / cs))
            if (used[c]) { i--; continue }
            off = c * cs; len = cs
            if (off + len > size) len = size - off
            p = 1 + rnd(254)
            print "write -c -P " p " " off " " len >img
            print "write -P " p " " off " " len >ref
        }
        touch(off, off + len)
    }
}
