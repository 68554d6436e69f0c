/*
 * snapmask IN OUT - copy the qcow2 image IN to OUT with the date of every
 * internal snapshot zeroed, so that images made by qemu-img and by imgsh
 * at different moments can be compared byte for byte.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

int main(int argc, char **argv)
{
    FILE *in, *out;
    uint8_t *d;
    long len;
    uint64_t n, off;

    if (argc != 3 || !(in = fopen(argv[1], "rb"))) {
        fprintf(stderr, "usage: snapmask IN OUT\n");
        return 2;
    }
    fseek(in, 0, SEEK_END);
    len = ftell(in);
    rewind(in);
    d = calloc(1, (size_t)len + 1);
    if (!d || fread(d, 1, (size_t)len, in) != (size_t)len || len < 72) {
        fprintf(stderr, "snapmask: cannot read %s\n", argv[1]);
        return 2;
    }
    fclose(in);
    n = be(d + 60, 4);
    off = be(d + 64, 8);
    for (uint64_t i = 0; i < n; i++) {
        off = (off + 7) / 8 * 8;
        if (off + 40 > (uint64_t)len) {
            fprintf(stderr, "snapmask: snapshot table past the end of %s\n", argv[1]);
            return 2;
        }
        for (int k = 16; k < 24; k++) {
            d[off + k] = 0;
        }
        off += 40 + be(d + off + 36, 4) + be(d + off + 12, 2) + be(d + off + 14, 2);
    }
    out = fopen(argv[2], "wb");
    if (!out || fwrite(d, 1, (size_t)len, out) != (size_t)len || fclose(out) != 0) {
        fprintf(stderr, "snapmask: cannot write %s\n", argv[2]);
        return 2;
    }
    free(d);
    return 0;
}
