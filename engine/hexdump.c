/*
 * hexdump.c - "hexdump" shows bytes of an image, and "export" copies them
 * into a new file. Both read either the guest data through the backing
 * chain (--guest, the block layer, any format it opens) or the image
 * file's bytes as they are stored (--host). Neither ever writes the image:
 * it is opened read-only, with the locks the read-only commands take.
 * docs/inspection.md gives the JSON.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block.h"
#include "err.h"
#include "file.h"
#include "inspect.h"
#include "json.h"
#include "size.h"
#include "util.h"

#define HEXDUMP_DEFAULT_LENGTH 512
#define HEXDUMP_MAX_LENGTH (16ULL << 20)
#define EXPORT_CHUNK (1U << 20)

/* What both commands were asked, after option parsing. */
struct hx_args {
    bool json;
    bool force_share;       /* -U */
    bool host;              /* --host (else the guest data) */
    bool scope_given;       /* --guest or --host was given */
    bool force;             /* export --force */
    const char *fmt;        /* -f, or NULL to probe */
    const char *file;
    char **args;            /* the positional arguments */
    int nargs;
};

/* The bytes being read: the guest disk or the image file. */
struct hx_source {
    const char *name;
    struct image *img;      /* --guest */
    struct file *f;         /* --host */
    uint64_t size;          /* virtual size, or file size */
};

/*
 * Options shared by hexdump and export ("--force" is export's alone).
 * Fills a with the options; the positional arguments are left in
 * argv[optind..argc). Returns 0, or -1 with *exit_code set after a usage
 * error or --help.
 */
static int hx_parse(struct cmd_ctx *ctx, int argc, char **argv, bool export,
                    struct hx_args *a, int *exit_code)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "json", no_argument, NULL, 'j' },
        { "output", required_argument, NULL, 'O' },
        { "force-share", no_argument, NULL, 'U' },
        { "guest", no_argument, NULL, 'g' },
        { "host", no_argument, NULL, 'H' },
        { "force", no_argument, NULL, 'F' },
        { NULL, 0, NULL, 0 },
    };
    enum output_format out = ctx->json ? OUTPUT_JSON : OUTPUT_HUMAN;
    bool guest = false, host = false;
    int c;

    memset(a, 0, sizeof(*a));
    while ((c = getopt_long(argc, argv, ":hUf:", longopts, NULL)) != -1) {
        int common = inspect_common_opt(ctx, c, &out, &a->force_share, exit_code);
        if (common) {
            if (common < 0) {
                return -1;
            }
            continue;
        }
        switch (c) {
        case 'f':
            a->fmt = optarg;
            break;
        case 'g':
            guest = true;
            break;
        case 'H':
            host = true;
            break;
        case 'F':
            if (!export) {
                *exit_code = cmd_usage_error(ctx, "unrecognized option '%s'", argv[optind - 1]);
                return -1;
            }
            a->force = true;
            break;
        default:
            *exit_code = cmd_getopt_error(ctx, c, argv);
            return -1;
        }
    }
    if (guest && host) {
        *exit_code = cmd_usage_error(ctx, "--guest and --host cannot be used together");
        return -1;
    }
    a->json = out == OUTPUT_JSON;
    a->host = host;
    a->scope_given = guest || host;
    return 0;
}

/* Does arg parse as inspect_number() parses it? Prints nothing. */
static bool is_number(const char *arg)
{
    uint64_t v;
    char *end;

    if (arg[0] < '0' || arg[0] > '9') {
        return false;
    }
    errno = 0;
    v = strtoull(arg, &end, 0);
    if (!errno && !*end) {
        return true;
    }
    return size_parse_quiet(arg, &v, false) == 0;
}

static const char *scope_name(const struct hx_args *a)
{
    return a->host ? "host" : "guest";
}

/* Open a->file as --guest or --host asks; prints the error (one line). */
static int source_open(const struct hx_args *a, struct hx_source *src)
{
    struct err err = { 0 };
    int64_t len;

    memset(src, 0, sizeof(*src));
    src->name = a->file;
    if (!a->host) {
        unsigned flags = IMG_QUIET | (a->force_share ? IMG_FORCE_SHARE : 0);

        if (image_open(&src->img, a->file, a->fmt, flags, CACHE_WRITEBACK, &err) < 0) {
            err_report(&err);
            return -1;
        }
        len = image_length(src->img);
        if (len < 0) {
            error_printf("'%s': %s", a->file, strerror((int)-len));
            image_close(src->img);
            return -1;
        }
        src->size = (uint64_t)len;
        return 0;
    }
    /* the file as stored: read-only, with the locks of the inspection commands */
    if (a->fmt && !fmt_find(a->fmt)) {
        error_printf("Could not open '%s': Unknown driver '%s'", a->file, a->fmt);
        return -1;
    }
    if (file_open(&src->f, a->file, 0, CACHE_WRITEBACK, &err) < 0 ||
        file_lock(src->f, PERM_CONSISTENT_READ, a->force_share ? 0 : PERM_WRITE | PERM_RESIZE,
                  &err) < 0 ||
        (len = file_length(src->f, &err)) < 0) {
        err_report(&err);
        file_close(src->f);
        return -1;
    }
    src->size = (uint64_t)len;
    return 0;
}

static void source_close(struct hx_source *src)
{
    image_close(src->img);
    file_close(src->f);
}

static int source_read(struct hx_source *src, uint64_t off, void *buf, size_t len)
{
    struct err err = { 0 };
    int ret;

    if (src->img) {
        ret = image_read(src->img, off, buf, len, &err);
    } else {
        ret = file_pread(src->f, off, buf, len, &err);
    }
    if (ret < 0) {
        err_prepend(&err, "'%s': ", src->name);
        err_report(&err);
        return -1;
    }
    return 0;
}

/*
 * Is [off, off + len) inside the source? Prints the error naming the
 * virtual size (guest) or the file size (host) when it is not.
 */
static int source_check_range(const struct hx_source *src, const struct hx_args *a,
                              uint64_t off, uint64_t len)
{
    uint64_t end;

    if (!ADD_OVERFLOW(off, len, &end) && end <= src->size) {
        return 0;
    }
    if (a->host) {
        error_printf("'%s': offset %" PRIu64 " + length %" PRIu64 " is past the end of the "
                     "file (%" PRIu64 " bytes)", src->name, off, len, src->size);
    } else {
        error_printf("'%s': offset %" PRIu64 " + length %" PRIu64 " is past the end of the "
                     "guest data (virtual size %" PRIu64 ")", src->name, off, len, src->size);
    }
    return -1;
}

/* ------------------------------------------------------------------------ */
/* hexdump                                                                   */

/* One "hexdump -C" line of n (1..16) bytes at offset off. */
static void dump_line(uint64_t off, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char line[128];
    size_t k;

    k = (size_t)snprintf(line, sizeof(line), "%08" PRIx64 " ", off);
    for (size_t i = 0; i < 16; i++) {
        if (i == 8) {
            line[k++] = ' ';
        }
        line[k++] = ' ';
        if (i < n) {
            line[k++] = digits[p[i] >> 4];
            line[k++] = digits[p[i] & 15];
        } else {
            line[k++] = ' ';
            line[k++] = ' ';
        }
    }
    line[k++] = ' ';
    line[k++] = ' ';
    line[k++] = '|';
    for (size_t i = 0; i < n; i++) {
        line[k++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '.';
    }
    line[k++] = '|';
    line[k++] = '\n';
    fwrite(line, 1, k, stdout);
}

/*
 * Human output as "hexdump -C" gives it, with absolute offsets: 16 bytes
 * a line, a line that repeats the one before (all 16 bytes) shown as a
 * single "*" for the whole run, and the offset after the last byte.
 */
static void dump_human(uint64_t off, const uint8_t *buf, size_t len)
{
    bool starred = false;

    for (size_t i = 0; i < len; i += 16) {
        size_t n = MIN(16, len - i);

        if (i > 0 && n == 16 && !memcmp(buf + i, buf + i - 16, 16)) {
            if (!starred) {
                printf("*\n");
                starred = true;
            }
            continue;
        }
        starred = false;
        dump_line(off + i, buf + i, n);
    }
    if (len) {
        printf("%08" PRIx64 "\n", off + len);
    }
}

static json_t *hex_json(const uint8_t *buf, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *s = xmalloc(2 * len + 1);
    json_t *v;

    for (size_t i = 0; i < len; i++) {
        s[2 * i] = digits[buf[i] >> 4];
        s[2 * i + 1] = digits[buf[i] & 15];
    }
    s[2 * len] = '\0';
    v = json_stringn(s, 2 * len);
    free(s);
    return v;
}

int cmd_hexdump(struct cmd_ctx *ctx, int argc, char **argv)
{
    struct hx_args a;
    struct hx_source src;
    uint64_t off, len = HEXDUMP_DEFAULT_LENGTH, shown;
    uint8_t *buf = NULL;
    bool has_file;
    char **pos;
    int n, ret;

    if (hx_parse(ctx, argc, argv, false, &a, &ret) < 0) {
        return ret;
    }
    pos = argv + optind;
    n = argc - optind;
    /*
     * The positional arguments are [FILE] OFFSET [LENGTH], FILE being left
     * out only in a session (the current image then). The first one is
     * FILE when there are 3 of them, or when there are 2 and the first
     * does not parse as a number, or when not in a session at all.
     */
    has_file = n == 3 || (n == 2 && !is_number(pos[0])) || !ctx->default_image;
    if (n < 1 + has_file || n > 2 + has_file) {
        return cmd_usage_error(ctx, "usage: %s %s", argv[0], ctx->cmd->synopsis);
    }
    a.file = has_file ? pos[0] : ctx->default_image;
    a.args = pos + has_file;
    a.nargs = n - has_file;
    if (inspect_number("offset", a.args[0], &off) < 0) {
        return 1;
    }
    if (a.nargs > 1 && inspect_number("length", a.args[1], &len) < 0) {
        return 1;
    }
    if (len > HEXDUMP_MAX_LENGTH) {
        error_printf("invalid length '%s': hexdump shows at most 16 MiB (export copies more)",
                     a.args[1]);
        return 1;
    }

    if (source_open(&a, &src) < 0) {
        return 1;
    }
    ret = 1;
    shown = len;
    if (a.host) {
        /* the file's bytes: only what exists, stopping at its end */
        shown = off >= src.size ? 0 : MIN(len, src.size - off);
    } else if (source_check_range(&src, &a, off, len) < 0) {
        goto out;
    }
    buf = xmalloc(MAX(shown, 1));
    if (shown && source_read(&src, off, buf, (size_t)shown) < 0) {
        goto out;
    }
    if (a.json) {
        json_t *o = json_object();

        json_obj_set_str(o, "file", a.file);
        json_obj_set_str(o, "scope", scope_name(&a));
        json_object_set_new(o, "offset", inspect_u64(off));
        json_object_set_new(o, "length", inspect_u64(shown));
        json_object_set_new(o, "hex", hex_json(buf, (size_t)shown));
        inspect_print_json(o);
    } else {
        dump_human(off, buf, (size_t)shown);
        if (shown < len) {
            printf("(end of file: '%s' is %" PRIu64 " bytes long; %" PRIu64 " of %" PRIu64
                   " bytes shown)\n", a.file, src.size, shown, len);
        }
    }
    ret = 0;
out:
    free(buf);
    source_close(&src);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* export                                                                    */

/* The file being written. */
struct hx_out {
    const char *name;
    int fd;
    bool regular;           /* a regular file: zeros become holes, size set at the end */
    uint64_t pos;           /* bytes written (or skipped) so far */
};

/* Write n bytes of buf (NULL: zeros) at the current position. */
static int out_write(struct hx_out *o, const uint8_t *buf, size_t n)
{
    static const uint8_t zeros[65536];

    if (o->regular && (!buf || buf_is_zero(buf, n))) {
        o->pos += n;        /* a hole: the file is truncated to its length at the end */
        return 0;
    }
    while (n > 0) {
        const uint8_t *p = buf ? buf : zeros;
        size_t want = buf ? n : MIN(n, sizeof(zeros));
        ssize_t w;

        if (o->regular) {
            w = pwrite(o->fd, p, want, (off_t)o->pos);
        } else {
            w = write(o->fd, p, want);
        }
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            error_printf("could not write '%s': %s", o->name, w < 0 ? strerror(errno) :
                         "short write");
            return -1;
        }
        o->pos += (uint64_t)w;
        n -= (size_t)w;
        if (buf) {
            buf += w;
        }
    }
    return 0;
}

/* Is fd the file behind one of the source's layers? Sets *which to its name. */
static bool out_is_source(const struct hx_source *src, int fd, const char **which)
{
    struct stat so, si;

    if (fstat(fd, &so) < 0) {
        return false;
    }
    if (src->f) {
        *which = src->name;
        return fstat(src->f->fd, &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino;
    }
    for (const struct image *l = src->img; l; l = l->backing) {
        if (fstat(l->file->fd, &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino) {
            *which = l->filename;
            return true;
        }
    }
    return false;
}

/*
 * Open OUTFILE for writing: created (mode 0644) when it does not exist,
 * refused when it does unless --force. An existing file is truncated only
 * after checking that it is not the image or a layer of its chain, and
 * not an image a session holds read-only. *created tells whether we made it.
 */
static int out_open(const struct hx_args *a, const struct hx_source *src, struct hx_out *o,
                    bool *created)
{
    struct err err = { 0 };
    const char *which = NULL;
    struct stat st;

    *created = false;
    o->fd = open(o->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (o->fd >= 0) {
        *created = true;
    } else if (errno == EEXIST) {
        if (!a->force) {
            error_printf("'%s' exists (--force overwrites it)", o->name);
            return -1;
        }
        if (image_open_guard && image_open_guard(o->name, &err) < 0) {
            err_report(&err);
            return -1;
        }
        o->fd = open(o->name, O_WRONLY | O_CLOEXEC);
    }
    if (o->fd < 0) {
        error_printf("could not create '%s': %s", o->name, strerror(errno));
        return -1;
    }
    if (out_is_source(src, o->fd, &which)) {
        if (!strcmp(which, a->file)) {
            error_printf("'%s' is the image '%s' itself: it is never written", o->name, a->file);
        } else {
            error_printf("'%s' is '%s', a backing file of '%s': it is never written", o->name,
                         which, a->file);
        }
        close(o->fd);
        return -1;
    }
    if (fstat(o->fd, &st) < 0) {
        error_printf("could not stat '%s': %s", o->name, strerror(errno));
        close(o->fd);
        return -1;
    }
    o->regular = S_ISREG(st.st_mode);
    if (o->regular && !*created && ftruncate(o->fd, 0) < 0) {
        error_printf("could not truncate '%s': %s", o->name, strerror(errno));
        close(o->fd);
        return -1;
    }
    return 0;
}

/*
 * Copy [off, off + len) of the source into o, a chunk at a time. Guest
 * ranges that block status reports as zeros are not read.
 */
static int export_copy(struct hx_source *src, uint64_t off, uint64_t len, struct hx_out *o)
{
    uint8_t *buf = xmalloc_io(EXPORT_CHUNK);
    uint64_t pos = off, end = off + len;
    int ret = -1;

    while (pos < end) {
        uint64_t n = MIN(end - pos, EXPORT_CHUNK);
        bool zero = false;

        if (src->img) {
            struct block_status bs = { 0 };
            struct err err = { 0 };

            if (image_block_status(src->img, pos, n, &bs, &err) < 0) {
                err_prepend(&err, "'%s': ", src->name);
                err_report(&err);
                goto out;
            }
            n = bs.pnum;
            zero = (bs.flags & BS_ZERO) != 0;
        }
        if (zero) {
            if (out_write(o, NULL, (size_t)n) < 0) {
                goto out;
            }
        } else if (source_read(src, pos, buf, (size_t)n) < 0 ||
                   out_write(o, buf, (size_t)n) < 0) {
            goto out;
        }
        pos += n;
    }
    if (o->regular && ftruncate(o->fd, (off_t)o->pos) < 0) {
        error_printf("could not write '%s': %s", o->name, strerror(errno));
        goto out;
    }
    ret = 0;
out:
    free(buf);
    return ret;
}

int cmd_export(struct cmd_ctx *ctx, int argc, char **argv)
{
    struct hx_args a;
    struct hx_source src;
    struct hx_out o = { .fd = -1 };
    uint64_t off, len;
    bool created = false;
    int ret;

    if (hx_parse(ctx, argc, argv, true, &a, &ret) < 0) {
        return ret;
    }
    /* [FILE] OFFSET LENGTH OUTFILE: FILE is the current image in a session when left out */
    cmd_default_image(ctx, &argc, &argv, 4);
    if (argc - optind != 4) {
        return cmd_usage_error(ctx, "usage: %s %s", argv[0], ctx->cmd->synopsis);
    }
    if (!a.scope_given) {
        return cmd_usage_error(ctx, "%s needs --guest or --host", argv[0]);
    }
    a.file = argv[optind];
    a.args = argv + optind + 1;
    a.nargs = 3;
    o.name = a.args[2];
    if (inspect_number("offset", a.args[0], &off) < 0 ||
        inspect_number("length", a.args[1], &len) < 0) {
        return 1;
    }

    if (source_open(&a, &src) < 0) {
        return 1;
    }
    ret = 1;
    if (source_check_range(&src, &a, off, len) < 0 || out_open(&a, &src, &o, &created) < 0) {
        goto out;
    }
    if (export_copy(&src, off, len, &o) < 0) {
        goto out;
    }
    if (close(o.fd) < 0) {
        o.fd = -1;
        error_printf("could not write '%s': %s", o.name, strerror(errno));
        goto out;
    }
    o.fd = -1;
    if (a.json) {
        json_t *j = json_object();

        json_obj_set_str(j, "file", a.file);
        json_obj_set_str(j, "scope", scope_name(&a));
        json_object_set_new(j, "offset", inspect_u64(off));
        json_object_set_new(j, "length", inspect_u64(len));
        json_obj_set_str(j, "output", o.name);
        inspect_print_json(j);
    } else {
        printf("Exported %" PRIu64 " bytes from %s offset %" PRIu64 " of %s to %s\n", len,
               scope_name(&a), off, a.file, o.name);
    }
    ret = 0;
out:
    if (o.fd >= 0) {
        close(o.fd);
    }
    if (ret && created) {
        unlink(o.name);     /* no partial file left behind by a failed export */
    }
    source_close(&src);
    return ret;
}
