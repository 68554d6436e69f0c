/*
 * map.c - "map": which guest ranges are allocated, zero or data, in which
 * layer of the chain, and where they live on the host; qemu-img map's
 * human table and its one-object-per-line JSON.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "block.h"
#include "cmd.h"
#include "size.h"

/* Largest range asked of the block layer at once. */
#define MAP_CHUNK (1ULL << 30)

struct extent {
    uint64_t start, length;
    unsigned depth;
    bool present, zero, data, has_offset;
    uint64_t offset;
    const char *file;
};

/* qemu-img merges neighbours whose description continues unchanged. */
static bool extent_continues(const struct extent *a, const struct extent *b)
{
    if (a->depth != b->depth || a->present != b->present || a->zero != b->zero ||
        a->data != b->data || a->has_offset != b->has_offset) {
        return false;
    }
    if (a->has_offset && (a->offset + a->length != b->offset || strcmp(a->file, b->file))) {
        return false;
    }
    return true;
}

/* Print one extent; -1 when the human table cannot show it (qemu-img stops there). */
static int extent_print(const struct extent *e, enum output_format output, bool first)
{
    if (output == OUTPUT_HUMAN) {
        if (e->data && !e->has_offset) {
            error_printf("File contains external, encrypted or compressed clusters.");
            return -1;
        }
        if (e->data && !e->zero && e->length) {
            printf("%#-15" PRIx64 " %#-15" PRIx64 " %#-15" PRIx64 " %s\n", e->start, e->length,
                   e->offset, e->file);
        }
        return 0;
    }
    printf("%s{ \"start\": %" PRIu64 ", \"length\": %" PRIu64 ", \"depth\": %u, "
           "\"present\": %s, \"zero\": %s, \"data\": %s",
           first ? "" : ",\n", e->start, e->length, e->depth, e->present ? "true" : "false",
           e->zero ? "true" : "false", e->data ? "true" : "false");
    if (e->has_offset) {
        printf(", \"offset\": %" PRIu64, e->offset);
    }
    printf("}");
    return 0;
}

int cmd_map(struct cmd_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "format", required_argument, NULL, 'f' },
        { "output", required_argument, NULL, 'O' },
        { "start-offset", required_argument, NULL, 's' },
        { "max-length", required_argument, NULL, 'l' },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    enum output_format output = OUTPUT_HUMAN;
    const char *fmt = NULL;
    int64_t start = 0, max_len = -1;
    unsigned flags = 0;
    struct err err = { 0 };
    struct image *img;
    struct extent curr = { 0 };
    uint64_t off, end;
    bool first = true;
    int c, ret = 0;

    while ((c = getopt_long(argc, argv, ":f:hU", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            return cmd_help(ctx);
        case 'f':
            fmt = optarg;
            break;
        case 'O':
            if (cmd_parse_output(optarg, &output) < 0) {
                return 1;
            }
            break;
        case 's':
            if (cmd_parse_size("start offset", optarg, &start) < 0) {
                return 1;
            }
            break;
        case 'l':
            if (cmd_parse_size("max length", optarg, &max_len) < 0) {
                return 1;
            }
            break;
        case 'U':
            flags |= IMG_FORCE_SHARE;
            break;
        default:
            return cmd_getopt_error(ctx, c, argv);
        }
    }
    if (!cmd_one_image(ctx, &argc, &argv)) {
        return 1;
    }
    if (image_open(&img, argv[optind], fmt, flags, CACHE_WRITEBACK, &err) < 0) {
        err_report(&err);
        return 1;
    }
    if (output == OUTPUT_HUMAN) {
        printf("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to", "File");
    } else {
        printf("[");        /* qemu-img opens the list before the first lookup */
    }
    end = img->size;
    if (max_len >= 0 && (uint64_t)start + (uint64_t)max_len < end) {
        end = (uint64_t)start + (uint64_t)max_len;
    }
    curr.start = (uint64_t)start;
    for (off = (uint64_t)start; off < end;) {
        struct block_status bs;
        struct extent next = { 0 };

        int r = image_block_status(img, off, end - off < MAP_CHUNK ? end - off : MAP_CHUNK, &bs,
                                   &err);
        if (r < 0) {
            /* qemu-img's wording; the driver has said what is wrong already */
            error_printf("Could not read file metadata: %s", strerror(-r));
            ret = 1;
            break;
        }
        next.start = off;
        next.length = bs.pnum;
        next.depth = bs.depth;
        next.present = bs.flags & BS_ALLOCATED;
        next.zero = bs.flags & BS_ZERO;
        next.data = bs.flags & BS_DATA;
        next.has_offset = (bs.flags & BS_OFFSET_VALID) && bs.host;
        next.offset = bs.offset;
        next.file = next.has_offset ? bs.host->filename : NULL;
        if (curr.length && extent_continues(&curr, &next)) {
            curr.length += next.length;
        } else {
            if (curr.length) {
                if (extent_print(&curr, output, first) < 0) {
                    ret = 1;
                    break;
                }
                first = false;
            }
            curr = next;
        }
        off += bs.pnum;
    }
    if (ret == 0 && extent_print(&curr, output, first) < 0) {
        ret = 1;
    } else if (ret == 0) {
        if (output == OUTPUT_JSON) {
            printf("]\n");
        }
    }
    image_close(img);
    return ret;
}
