/*
 * readimg [-f FMT] [-l SNAPSHOT] IMAGE OUT - read the whole guest disk of IMAGE through
 * imgsh's block layer (in uneven request sizes, to cross cluster and
 * subcluster boundaries) and write it to OUT as raw bytes. The harness
 * compares OUT with what the real qemu-img reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/block.h"

int main(int argc, char **argv)
{
    static const size_t steps[] = { 65536, 4096, 1000, 131072 + 512, 7, 1 << 20 };
    const char *fmt = NULL, *snap = NULL;
    struct err err = { 0 };
    struct image *img;
    uint8_t *buf;
    FILE *out;
    uint64_t off = 0;
    size_t k = 0;
    int argi = 1;

    while (argc - argi > 2) {
        if (!strcmp(argv[argi], "-f")) {
            fmt = argv[argi + 1];
        } else if (!strcmp(argv[argi], "-l")) {
            snap = argv[argi + 1];
        } else {
            break;
        }
        argi += 2;
    }
    if (argc - argi != 2) {
        fprintf(stderr, "usage: readimg [-f FMT] [-l SNAPSHOT] IMAGE OUT\n");
        return 2;
    }
    if (image_open(&img, argv[argi], fmt, 0, CACHE_WRITEBACK, &err) < 0) {
        err_report(&err);
        return 1;
    }
    /* like qemu-img's -l ID_OR_NAME: an id first, then a name */
    if (snap && image_snapshot_load(img, snap, NULL, NULL) < 0 &&
        image_snapshot_load(img, NULL, snap, &err) < 0) {
        err_report(&err);
        return 1;
    }
    out = fopen(argv[argi + 1], "wb");
    buf = malloc(2 << 20);
    if (!out || !buf) {
        perror(argv[argi + 1]);
        return 1;
    }
    while (off < img->size) {
        size_t n = steps[k++ % (sizeof(steps) / sizeof(steps[0]))];
        if (n > img->size - off) {
            n = (size_t)(img->size - off);
        }
        if (image_read(img, off, buf, n, &err) < 0) {
            err_report(&err);
            return 1;
        }
        if (fwrite(buf, 1, n, out) != n) {
            perror(argv[argi + 1]);
            return 1;
        }
        off += n;
    }
    free(buf);
    image_close(img);
    return fclose(out) ? 1 : 0;
}
