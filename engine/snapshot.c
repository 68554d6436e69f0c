/* snapshot.c - "snapshot": list, create, apply and delete internal snapshots, as qemu-img. */
#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "block.h"
#include "cmd.h"
#include "info.h"
#include "util.h"

enum snapshot_action { SN_NONE, SN_LIST, SN_APPLY, SN_CREATE, SN_DELETE };

static int list(struct image *img, bool json)
{
    struct snapshot_info *sn = NULL;
    size_t n = 0;
    struct err err = { 0 };

    if (img->drv->snapshot_list && img->drv->snapshot_list(img, &sn, &n, &err) < 0) {
        err_report(&err);
        return 1;
    }
    if (json) {
        snapshot_list_print_json(sn, n);
    } else if (n) {
        snapshot_list_print(sn, n);
    }
    snapshot_info_free(sn, n);
    return 0;
}

/*
 * -d finds the snapshot by name, as qemu-img does (not by id); the driver
 * is then asked to delete it by its id. Returns the id (free it) or NULL.
 */
static char *find_by_name(struct image *img, const char *name)
{
    struct snapshot_info *sn = NULL;
    size_t n = 0;
    char *id = NULL;

    if (!img->drv->snapshot_list || img->drv->snapshot_list(img, &sn, &n, NULL) < 0) {
        return NULL;
    }
    for (size_t i = 0; i < n && !id; i++) {
        if (!strcmp(sn[i].name, name)) {
            id = xstrdup(sn[i].id);
        }
    }
    snapshot_info_free(sn, n);
    return id;
}

int cmd_snapshot(struct cmd_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    enum snapshot_action action = SN_NONE;   /* no option: qemu-img does nothing */
    const char *name = NULL;
    unsigned flags = 0;
    bool chosen = false;
    struct err err = { 0 };
    struct image *img;
    int c, ret = 0;

    while ((c = getopt_long(argc, argv, ":la:c:d:hqU", longopts, NULL)) != -1) {
        enum snapshot_action a = SN_LIST;
        switch (c) {
        case 'h':
            return cmd_help(ctx);
        case 'q':
            continue;
        case 'U':
            flags |= IMG_FORCE_SHARE;
            continue;
        case 'l':
            a = SN_LIST;
            break;
        case 'a':
            a = SN_APPLY;
            break;
        case 'c':
            a = SN_CREATE;
            break;
        case 'd':
            a = SN_DELETE;
            break;
        default:
            return cmd_getopt_error(ctx, c, argv);
        }
        if (chosen) {
            return cmd_usage_error(ctx, "Cannot mix '-l', '-a', '-c', '-d'");
        }
        chosen = true;
        action = a;
        name = a == SN_LIST ? NULL : optarg;
    }
    if (!cmd_one_image(ctx, &argc, &argv)) {
        return 1;
    }
    if (action != SN_LIST && action != SN_NONE) {
        flags |= IMG_RDWR;
    }
    if (image_open(&img, argv[optind], NULL, flags, CACHE_WRITEBACK, &err) < 0) {
        err_report(&err);
        return 1;
    }
    switch (action) {
    case SN_NONE:
        break;
    case SN_LIST:
        ret = list(img, ctx->json);
        break;
    case SN_CREATE:
        if (!img->drv->snapshot_create) {
            error_printf("Could not create snapshot '%s': %d (%s)", name, -ENOTSUP,
                         strerror(ENOTSUP));
            ret = 1;
        } else if (img->drv->snapshot_create(img, name, &err) < 0) {
            error_printf("Could not create snapshot '%s': %d (%s)", name, err.code,
                         strerror(-err.code));
            ret = 1;
        }
        break;
    case SN_APPLY:
        if (!img->drv->snapshot_apply) {
            if ((img->flags & IMG_PROBED) && !strcmp(img->drv->name, "raw")) {
                /* qemu reopens the image after asking its file layer: the warning again */
                image_warn_probed_raw(img->filename);
            }
            error_printf("Could not apply snapshot '%s': Block driver does not support "
                         "snapshots", name);
            ret = 1;
        } else if (img->drv->snapshot_apply(img, name, &err) < 0) {
            error_printf("Could not apply snapshot '%s': %s", name, err.msg);
            ret = 1;
        }
        break;
    case SN_DELETE: {
        char *id = find_by_name(img, name);
        if (!id) {
            error_printf("Could not delete snapshot '%s': snapshot not found", name);
            ret = 1;
        } else if (!img->drv->snapshot_delete) {
            error_printf("Could not delete snapshot '%s': Block driver does not support "
                         "snapshots", name);
            ret = 1;
        } else if (img->drv->snapshot_delete(img, id, &err) < 0) {
            error_printf("Could not delete snapshot '%s': %s", name, err.msg);
            ret = 1;
        }
        free(id);
        break;
    }
    }
    if (ret == 0 && image_flush(img, &err) < 0) {
        err_report(&err);
        ret = 1;
    }
    image_close(img);
    return ret;
}
