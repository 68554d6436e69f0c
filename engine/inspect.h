/*
 * inspect.h - what the qcow2 inspection commands (engine/inspect.c,
 * translate.c, owner.c) share: their option parsing, number parsing and
 * output.
 */
#ifndef IMGSH_INSPECT_H
#define IMGSH_INSPECT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "../formats/qcow2/inspect.h"
#include "cmd.h"

enum inspect_opt {
    IO_ALL = 1 << 0,        /* --all */
    IO_SNAPSHOT = 1 << 1,   /* --snapshot ID */
    IO_GUEST = 1 << 2,      /* --guest OFFSET */
};

struct inspect_args {
    bool json;              /* --json, --output=json, or the session's --json */
    bool force_share;       /* -U */
    bool all;
    const char *snapshot;
    const char *guest;
    const char *file;       /* the image */
    char **args;            /* the positional arguments after it */
    int nargs;
};

/*
 * Parse "[--json|--output=F] [-U] [-f qcow2] [allowed options] [FILE] ARG..."
 * with nargs positional arguments after FILE (none with --guest), FILE
 * being the current image in a session when left out. Returns 0, or -1
 * with *exit_code set after a usage error or --help.
 */
int inspect_parse(struct cmd_ctx *ctx, int argc, char **argv, unsigned allowed, int nargs,
                  struct inspect_args *a, int *exit_code);
/*
 * The options every inspection command takes, for its getopt loop (the
 * long options "help" 'h', "json" 'j', "output" 'O', "force-share" 'U'):
 * returns 1 when c was one of them (handled), 0 when it was not, -1 with
 * *exit_code set after --help or an error.
 */
int inspect_common_opt(struct cmd_ctx *ctx, int c, enum output_format *out, bool *force_share,
                       int *exit_code);
/* Open a.file for inspection; prints the error (one line) and returns NULL. */
struct qi *inspect_open(const struct inspect_args *a);
/* Parse a number: decimal, 0x hex or a size with a suffix (1M). Prints WHAT's error. */
int inspect_number(const char *what, const char *arg, uint64_t *out);
/* A raw 64-bit value as docs/inspection.md writes it: "0x" and 16 hex digits. */
json_t *inspect_hex64(uint64_t v);
/* An integer that may not fit a signed 64-bit one (then written as inspect_hex64). */
json_t *inspect_u64(uint64_t v);
/* [{"offset", "length", "depth", "snapshot"}]: a guest range a finding or change affects. */
json_t *inspect_guest_range(uint64_t off, uint64_t len, unsigned depth, const char *snapshot);
/* Print v (pretty JSON) and free it; returns 0. */
int inspect_print_json(json_t *v);
/* Find a snapshot by ID, then by name; prints the error and returns -1. */
int inspect_find_snapshot(const struct qi_snapshot *sn, size_t n, const char *id_or_name,
                          const char *file);
json_t *inspect_snapshot_json(const struct qi_snapshot *s, bool extra);

/*
 * A census of a qcow2 file's clusters (clusters.c): for each cluster of
 * the file, what references it (one kind, CENSUS_MIXED when different
 * kinds do, CENSUS_FREE/LEAKED when nothing does), how many references
 * (saturating at 255) and its stored refcount.
 */
enum {
    CENSUS_FREE = 0,            /* no reference, refcount 0 */
    CENSUS_LEAKED = 1,          /* no reference, refcount > 0 */
    CENSUS_MIXED = 2,           /* referenced as different kinds */
    CENSUS_KIND0 = 3,           /* CENSUS_KIND0 + enum qi_kind */
    CENSUS_NKINDS = CENSUS_KIND0 + QI_KIND_CRYPTO + 1,
};

struct census_past_end {
    uint64_t cluster, refcount;
};

struct census {
    unsigned cluster_bits;
    uint64_t n;                 /* clusters in the file */
    uint8_t *kind, *nref;
    uint64_t *refcount;
    uint64_t refs_past_end;     /* references to clusters past the end of the file */
    struct census_past_end *past_end;   /* clusters past the end with a refcount */
    uint64_t npast_end;
};
int census_build(struct qi *qi, struct census *c, struct err *err);
/*
 * The references to each of n clusters (ascending, no repeats), in one walk
 * of the metadata: kinds[i], the kinds' names, and guest[i], the guest
 * ranges ({"offset", "length", "depth", "snapshot"}) whose data or L2 table
 * is in clusters[i] (json_decref each). -1 on error (all NULL).
 */
int census_refs(struct qi *qi, const uint64_t *clusters, size_t n, json_t **kinds,
                json_t **guest, struct err *err);
void census_free(struct census *c);
const char *census_kind_name(unsigned k);

int cmd_header(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_features(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_extensions(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_l1(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_l2(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_reftable(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_refblock(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_refcount(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_snapshots(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_snapshot_show(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_bitmaps(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_bitmap_show(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_translate(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_owner(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_clusters(struct cmd_ctx *ctx, int argc, char **argv);   /* clusters.c */
int cmd_leaks(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_carve(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_diagnose(struct cmd_ctx *ctx, int argc, char **argv);   /* diagnose.c */
int cmd_repair(struct cmd_ctx *ctx, int argc, char **argv, bool apply);    /* repair.c */
int cmd_repair_plan(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_repair_apply(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_hash(struct cmd_ctx *ctx, int argc, char **argv);       /* hash.c */
int cmd_hexdump(struct cmd_ctx *ctx, int argc, char **argv);    /* hexdump.c */
int cmd_export(struct cmd_ctx *ctx, int argc, char **argv);

#endif
