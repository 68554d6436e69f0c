/*
 * edit.c - low-level edits of qcow2 metadata from the shell, staged until
 * "commit" and written through the undo journal, and "undo".
 *
 *   set header FIELD VALUE       a header field (qi_fields: offset and width)
 *   set l1 INDEX VALUE           an active L1 entry
 *   set l2 L1INDEX INDEX VALUE   an L2 entry (its first 64 bits)
 *   set refcount CLUSTER VALUE   a refcount, at the width the image uses
 *   feature set|clear NAME       a feature bit (dirty and corrupt are cleared
 *                                only after a clean check, or with --force)
 *   pending, rollback, commit    list, drop or write the staged edits
 *   undo [--list] [--force]      restore what the last writing command changed
 *
 * Edits are staged against the file as it is when they are made (their old
 * bytes are read then); commit refuses an edit whose bytes changed since,
 * and writes through the file layer, so the undo journal records them.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>

#include "../engine/block.h"
#include "../engine/err.h"
#include "../engine/inspect.h"
#include "../engine/json.h"
#include "../engine/undo.h"
#include "../engine/util.h"
#include "../formats/qcow2/inspect.h"
#include "shell.h"

void edits_free(struct session *s)
{
    for (size_t i = 0; i < s->nedits; i++) {
        free(s->edits[i].filename);
        free(s->edits[i].why);
    }
    free(s->edits);
    s->edits = NULL;
    s->nedits = 0;
}

/* The current image opened for inspection; prints the error. */
static struct qi *current_qi(struct session *s)
{
    struct err err = { 0 };
    struct qi *qi;

    if (s->current < 0) {
        say_error(s, "no image is open (open FILE opens one)");
        return NULL;
    }
    if (qi_open(&qi, s->images[s->current].filename, s->images[s->current].force_share,
                &err) < 0) {
        say_error(s, "%s", err.msg);
        return NULL;
    }
    return qi;
}

static int parse_u64(struct session *s, const char *what, const char *arg, uint64_t *v)
{
    char *end;

    errno = 0;
    *v = strtoull(arg, &end, 0);
    if (errno || !*arg || *end || arg[0] == '-') {
        say_error(s, "invalid %s '%s': a number (decimal or 0x hex) is expected", what, arg);
        return -1;
    }
    return 0;
}

/* Stage len bytes (big-endian value, or raw bytes when bytes is set) at off. */
static int stage(struct session *s, struct qi *qi, uint64_t off, unsigned len,
                 const uint8_t *bytes, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int stage(struct session *s, struct qi *qi, uint64_t off, unsigned len,
                 const uint8_t *bytes, const char *fmt, ...)
{
    struct edit e = { 0 };
    struct err err = { 0 };
    va_list ap;

    e.filename = xstrdup(qi->filename);
    e.offset = off;
    e.len = len;
    memcpy(e.new, bytes, len);
    if (qi_pread(qi, off, e.old, len, &err) < 0) {
        say_error(s, "%s", err.msg);
        free(e.filename);
        return 1;
    }
    va_start(ap, fmt);
    if (vasprintf(&e.why, fmt, ap) < 0) {
        e.why = NULL;
    }
    va_end(ap);
    s->edits = xrealloc(s->edits, (s->nedits + 1) * sizeof(*s->edits));
    s->edits[s->nedits++] = e;
    printf("staged: %s (%u bytes at %#" PRIx64 "); 'pending' lists, 'commit' writes\n",
           e.why ? e.why : "", len, off);
    return 0;
}

static void be_bytes(uint8_t *out, uint64_t v, unsigned len)
{
    for (unsigned i = 0; i < len; i++) {
        out[i] = (uint8_t)(v >> (8 * (len - 1 - i)));
    }
}

static int set_header(struct session *s, struct qi *qi, int argc, char **argv)
{
    uint64_t v;
    uint8_t b[8];

    if (argc != 4) {
        say_error(s, "usage: set header FIELD VALUE");
        return 1;
    }
    for (const struct qi_field *f = qi_fields; f->name; f++) {
        if (strcmp(f->name, argv[2])) {
            continue;
        }
        if (f->min_version > qi->version) {
            say_error(s, "'%s' is a version 2 image: it has no field '%s'", qi->filename, f->name);
            return 1;
        }
        if (parse_u64(s, "value", argv[3], &v) < 0) {
            return 1;
        }
        if (f->size < 8 && v >> (8 * f->size)) {
            say_error(s, "%s is %u bytes wide: %s does not fit", f->name, f->size, argv[3]);
            return 1;
        }
        be_bytes(b, v, f->size);
        return stage(s, qi, f->offset, f->size, b, "header %s = %#" PRIx64, f->name, v);
    }
    say_error(s, "no header field '%s' ('header' lists them)", argv[2]);
    return 1;
}

static int set_l1(struct session *s, struct qi *qi, int argc, char **argv)
{
    uint64_t i, v;
    uint8_t b[8];

    if (argc != 4) {
        say_error(s, "usage: set l1 INDEX VALUE");
        return 1;
    }
    if (parse_u64(s, "L1 index", argv[2], &i) < 0 || parse_u64(s, "value", argv[3], &v) < 0) {
        return 1;
    }
    if (i >= qi->l1_size) {
        say_error(s, "'%s': L1 index %" PRIu64 " is past the end of the L1 table (%" PRIu32
                  " entries)", qi->filename, i, qi->l1_size);
        return 1;
    }
    be_bytes(b, v, 8);
    return stage(s, qi, qi->l1_offset + i * 8, 8, b, "L1 entry %" PRIu64 " = 0x%016" PRIx64, i, v);
}

static int set_l2(struct session *s, struct qi *qi, int argc, char **argv)
{
    uint64_t l1i, i, v, l2;
    uint8_t b[8];
    struct err err = { 0 };

    if (argc != 5) {
        say_error(s, "usage: set l2 L1INDEX INDEX VALUE");
        return 1;
    }
    if (parse_u64(s, "L1 index", argv[2], &l1i) < 0 || parse_u64(s, "L2 index", argv[3], &i) < 0 ||
        parse_u64(s, "value", argv[4], &v) < 0) {
        return 1;
    }
    if (l1i >= qi->l1_size || i >= qi->l2_entries) {
        say_error(s, "'%s': no L2 entry %" PRIu64 " of L1 entry %" PRIu64 " (%" PRIu32 " L1 "
                  "entries, %" PRIu64 " per L2 table)", qi->filename, i, l1i, qi->l1_size,
                  qi->l2_entries);
        return 1;
    }
    if (qi_pread(qi, qi->l1_offset + l1i * 8, b, 8, &err) < 0) {
        say_error(s, "%s", err.msg);
        return 1;
    }
    l2 = be64(b) & QI_OFFSET_MASK;
    if (!l2) {
        say_error(s, "'%s': L1 entry %" PRIu64 " has no L2 table", qi->filename, l1i);
        return 1;
    }
    be_bytes(b, v, 8);
    return stage(s, qi, l2 + i * qi->l2_entry_size, 8, b, "L2 entry %" PRIu64 " of L1 entry %"
                 PRIu64 " = 0x%016" PRIx64, i, l1i, v);
}

static int set_refcount(struct session *s, struct qi *qi, int argc, char **argv)
{
    uint64_t cl, v, per = qi_refblock_entries(qi), n, rb, bit, byte;
    const uint64_t *t;
    unsigned order = qi->refcount_order, width;
    struct err err = { 0 };
    uint8_t b[8] = { 0 };

    if (argc != 4) {
        say_error(s, "usage: set refcount CLUSTER VALUE");
        return 1;
    }
    if (parse_u64(s, "cluster", argv[2], &cl) < 0 || parse_u64(s, "refcount", argv[3], &v) < 0) {
        return 1;
    }
    if (order < 6 && v >> (1u << order)) {
        say_error(s, "'%s' has %u-bit refcounts: %s does not fit", qi->filename, 1u << order,
                  argv[3]);
        return 1;
    }
    if (qi_reftable(qi, &t, &n, &err) < 0) {
        say_error(s, "%s", err.msg);
        return 1;
    }
    if (cl / per >= n || !(rb = t[cl / per] & ~0x1ffULL)) {
        say_error(s, "'%s': no refcount block covers cluster %" PRIu64 " (stage 'set reftable' "
                  "is not offered: rebuild refcounts with 'repair plan all')", qi->filename, cl);
        return 1;
    }
    bit = (cl % per) << order;
    byte = bit / 8;
    width = order >= 3 ? 1u << (order - 3) : 1;
    if (qi_pread(qi, rb + byte, b, width, &err) < 0) {
        say_error(s, "%s", err.msg);
        return 1;
    }
    if (order >= 3) {
        be_bytes(b, v, width);
    } else {
        unsigned shift = bit % 8, mask = ((1u << (1u << order)) - 1) << shift;
        b[0] = (uint8_t)((b[0] & ~mask) | ((v << shift) & mask));
    }
    return stage(s, qi, rb + byte, width, b, "refcount of cluster %" PRIu64 " = %" PRIu64, cl, v);
}

int edit_set(struct session *s, int argc, char **argv)
{
    struct qi *qi;
    int ret;

    close_handles(s);           /* the session's own handle would refuse to share */
    qi = current_qi(s);
    if (!qi) {
        reopen_handles(s);
        return 1;
    }
    if (!strcmp(argv[1], "header")) {
        ret = set_header(s, qi, argc, argv);
    } else if (!strcmp(argv[1], "l1")) {
        ret = set_l1(s, qi, argc, argv);
    } else if (!strcmp(argv[1], "l2")) {
        ret = set_l2(s, qi, argc, argv);
    } else {
        ret = set_refcount(s, qi, argc, argv);
    }
    qi_close(qi);
    reopen_handles(s);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* features                                                                  */

/* "Dirty bit", "dirty_bit", "dirty" all name the dirty bit. */
static void normalize(const char *in, char *out, size_t len)
{
    size_t n = 0;

    for (; *in && n + 1 < len; in++) {
        out[n++] = (*in == '_' || *in == '-') ? ' ' : (char)tolower((unsigned char)*in);
    }
    out[n] = '\0';
    if (n > 4 && !strcmp(out + n - 4, " bit")) {
        out[n - 4] = '\0';
    }
}

/* A clean check (no corruptions, leaks or errors) of the image, read-only. */
static bool clean_check(const char *filename, bool share)
{
    struct image *img;
    struct check_result res = { 0 };
    struct err err = { 0 };
    FILE *null = fopen("/dev/null", "w");
    int saved = dup(STDERR_FILENO), ok;

    if (image_open(&img, filename, "qcow2", IMG_CHECK | (share ? IMG_FORCE_SHARE : 0),
                   CACHE_WRITEBACK, &err) < 0) {
        if (null) {
            fclose(null);
        }
        close(saved);
        return false;
    }
    fflush(stderr);
    if (null) {
        dup2(fileno(null), STDERR_FILENO);
    }
    ok = img->drv->check && img->drv->check(img, &res, 0, &err) == 0 && !res.corruptions &&
         !res.leaks && !res.check_errors;
    image_close(img);
    fflush(stderr);
    if (saved >= 0) {
        dup2(saved, STDERR_FILENO);
        close(saved);
    }
    if (null) {
        fclose(null);
    }
    return ok;
}

static int feature(struct session *s, int argc, char **argv);

int sc_feature(struct session *s, int argc, char **argv)
{
    int ret;

    close_handles(s);
    ret = feature(s, argc, argv);
    reopen_handles(s);
    return ret;
}

static int feature(struct session *s, int argc, char **argv)
{
    static const unsigned field_off[] = { 72, 80, 88 };
    bool set, force = argc == 4 && !strcmp(argv[3], "--force");
    char want[64], have[64];
    struct qi *qi;
    int ret = 1;

    if ((argc != 3 && !force) || (strcmp(argv[1], "set") && strcmp(argv[1], "clear"))) {
        say_error(s, "usage: feature set|clear NAME [--force]");
        return 1;
    }
    set = !strcmp(argv[1], "set");
    normalize(argv[2], want, sizeof(want));
    if (!(qi = current_qi(s))) {
        return 1;
    }
    if (qi->version < 3) {
        say_error(s, "'%s' is a version 2 image: it has no feature bits", qi->filename);
        qi_close(qi);
        return 1;
    }
    for (unsigned t = 0; t < 3; t++) {
        for (unsigned bit = 0; bit < 64; bit++) {
            const char *name = qi_feature_name(qi, t, bit);
            uint64_t v;
            uint8_t b[8];
            if (!name) {
                continue;
            }
            normalize(name, have, sizeof(have));
            if (strcmp(have, want)) {
                continue;
            }
            if (!set && t == 0 && bit <= 1 && !force &&
                !clean_check(qi->filename, s->images[s->current].force_share)) {
                say_error(s, "'%s' does not check clean: clearing the %s would hide damage "
                          "(repair it first, or feature clear %s --force)", qi->filename, name,
                          argv[2]);
                qi_close(qi);
                return 1;
            }
            v = be64(qi->hdr + field_off[t]);
            v = set ? v | (1ULL << bit) : v & ~(1ULL << bit);
            be_bytes(b, v, 8);
            ret = stage(s, qi, field_off[t], 8, b, "%s %s (%s feature bit %u)",
                        set ? "set" : "clear", name,
                        t == 0 ? "incompatible" : t == 1 ? "compatible" : "autoclear", bit);
            qi_close(qi);
            return ret;
        }
    }
    say_error(s, "no feature named '%s' ('features' lists them)", argv[2]);
    qi_close(qi);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* pending, rollback, commit                                                 */

static void hex(char *out, const uint8_t *b, unsigned len)
{
    for (unsigned i = 0; i < len; i++) {
        sprintf(out + 2 * i, "%02x", b[i]);
    }
}

int sc_pending(struct session *s, int argc, char **argv)
{
    json_t *list = json_array();

    (void)argv;
    if (argc != 1) {
        say_error(s, "usage: pending");
        json_decref(list);
        return 1;
    }
    if (!s->json) {
        printf("%zu staged edit%s\n", s->nedits, s->nedits == 1 ? "" : "s");
    }
    for (size_t i = 0; i < s->nedits; i++) {
        const struct edit *e = &s->edits[i];
        char o[17], n[17];
        hex(o, e->old, e->len);
        hex(n, e->new, e->len);
        if (s->json) {
            json_t *x = json_object();
            json_obj_set_str(x, "file", e->filename);
            json_object_set_new(x, "offset", inspect_u64(e->offset));
            json_obj_set_str(x, "old", o);
            json_obj_set_str(x, "new", n);
            json_obj_set_str(x, "why", e->why ? e->why : "");
            json_array_append_new(list, x);
        } else {
            printf("  %zu. %s: %u bytes at %#" PRIx64 ": %s -> %s  (%s)\n", i + 1, e->filename,
                   e->len, e->offset, o, n, e->why ? e->why : "");
        }
    }
    if (s->json) {
        json_print_pretty(stdout, list);
    }
    json_decref(list);
    return 0;
}

int sc_rollback(struct session *s, int argc, char **argv)
{
    size_t n = s->nedits;

    (void)argv;
    if (argc != 1) {
        say_error(s, "usage: rollback");
        return 1;
    }
    edits_free(s);
    printf("dropped %zu staged edit%s\n", n, n == 1 ? "" : "s");
    return 0;
}

/* Write the edits of one file (checked against their old bytes first). */
static int commit_file(struct session *s, const char *filename)
{
    struct file *f = NULL;
    struct err err = { 0 };
    int ret;

    if (image_open_guard && image_open_guard(filename, &err) < 0) {
        say_error(s, "%s", err.msg);
        return 1;
    }
    ret = file_open(&f, filename, FILE_RDWR, CACHE_WRITEBACK, &err);
    if (ret == 0) {
        ret = file_lock(f, PERM_CONSISTENT_READ | PERM_WRITE | PERM_RESIZE, PERM_WRITE |
                        PERM_RESIZE, &err);
    }
    for (size_t i = 0; ret == 0 && i < s->nedits; i++) {
        const struct edit *e = &s->edits[i];
        uint8_t now[8];
        if (strcmp(e->filename, filename)) {
            continue;
        }
        ret = file_pread(f, e->offset, now, e->len, &err);
        if (ret == 0 && memcmp(now, e->old, e->len)) {
            ret = err_set(&err, -ESTALE, "'%s' changed at %#" PRIx64 " since '%s' was staged: "
                          "nothing was written (rollback, then stage it again)", filename,
                          e->offset, e->why ? e->why : "");
        }
    }
    for (size_t i = 0; ret == 0 && i < s->nedits; i++) {
        const struct edit *e = &s->edits[i];
        if (!strcmp(e->filename, filename)) {
            ret = file_pwrite(f, e->offset, e->new, e->len, &err);
        }
    }
    if (ret == 0) {
        ret = file_flush(f, &err);
    }
    if (f) {
        file_close(f);
    }
    if (ret < 0) {
        say_error(s, "%s", err.msg);
        return 1;
    }
    return 0;
}

int sc_commit(struct session *s, int argc, char **argv,
              int (*qemu_commit)(struct session *, int, char **))
{
    size_t n = s->nedits;
    int ret = 0;

    if (argc > 1 || !s->nedits) {
        return qemu_commit(s, argc, argv);      /* qemu-img's commit */
    }
    close_handles(s);
    for (size_t i = 0; i < s->nedits && !ret; i++) {
        bool first = true;
        for (size_t j = 0; j < i; j++) {
            first &= strcmp(s->edits[j].filename, s->edits[i].filename) != 0;
        }
        if (first) {
            ret = commit_file(s, s->edits[i].filename);
        }
    }
    reopen_handles(s);
    if (!ret) {
        edits_free(s);
        printf("wrote %zu edit%s ('undo' restores the old bytes)\n", n, n == 1 ? "" : "s");
    }
    return ret;
}

/* ------------------------------------------------------------------------ */
/* undo                                                                      */

/* undo --list, or undo, on filename (close_handles around it when the session holds it). */
static int undo_file(struct session *s, const char *filename, bool list, bool force)
{
    struct err err = { 0 };
    struct undo_txn done;
    int ret;

    if (list) {
        struct undo_txn *t;
        size_t n;
        if (undo_list(filename, &t, &n, &err) < 0) {
            say_error(s, "%s", err.msg);
            return 1;
        }
        printf("%zu change%s can be undone in '%s', newest last:\n", n, n == 1 ? "" : "s",
               filename);
        for (size_t k = 0; k < n; k++) {
            char date[32];
            time_t tt = (time_t)t[k].time;
            struct tm tm;
            strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", localtime_r(&tt, &tm));
            printf("  %zu. %s  %-30s %" PRIu64 " bytes saved%s\n", k + 1, date,
                   t[k].description, t[k].bytes, t[k].complete ? "" : " (interrupted)");
        }
        undo_txns_free(t, n);
        return 0;
    }
    close_handles(s);
    ret = undo_last(filename, force, &done, &err);
    reopen_handles(s);
    if (ret < 0) {
        say_error(s, "%s", err.msg);
        free(done.description);
        return 1;
    }
    printf("undid '%s': %" PRIu64 " bytes restored, length %" PRIu64 "\n", done.description,
           done.bytes, done.orig_len);
    free(done.description);
    return 0;
}

int sc_undo(struct session *s, int argc, char **argv)
{
    bool list = false, force = false;
    const char *name = NULL;
    long i;

    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--list")) {
            list = true;
        } else if (!strcmp(argv[a], "--force")) {
            force = true;
        } else if (argv[a][0] == '-' || name) {
            say_error(s, "usage: undo [--list] [--force] [NAME|FILE]");
            return 1;
        } else {
            name = argv[a];
        }
    }
    if (name && find_image_name(s, name) < 0) {
        return undo_file(s, name, list, force);     /* a file the session does not hold */
    }
    {
        char *args[] = { "undo", (char *)name, NULL };
        i = image_arg(s, name ? 2 : 1, args, 1);
    }
    if (i < 0) {
        return 1;
    }
    if (!list && !s->images[i].rw) {
        say_error(s, "'%s' is open read-only in this session; run 'reopen -w %s' to allow writes",
                  s->images[i].name, s->images[i].name);
        return 1;
    }
    return undo_file(s, s->images[i].filename, list, force);
}
