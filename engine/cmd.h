/*
 * cmd.h - the command table. Each subcommand is declared once, in
 * engine/cmdtable.c, and serves the CLI (imgsh CMD ..., qemu-img CMD ...),
 * one-shot -c commands, scripts and the interactive shell alike: all of them
 * end in cmd_run().
 *
 * A handler receives argv with argv[0] the command name, parses its options
 * with getopt_long (optstring starting with ':' and cmd_getopt_error() for
 * the ':' and '?' cases) and returns the process exit code.
 */
#ifndef IMGSH_CMD_H
#define IMGSH_CMD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct cmd_ctx;
struct image;

enum cmd_flags {
    CMD_COMPAT = 1 << 0,    /* also a qemu-img command: output matches qemu-img 7.2 */
    CMD_WRITES = 1 << 1,    /* may modify an image */
    CMD_INSPECT = 1 << 2,   /* shows qcow2 metadata as stored (docs/inspection.md) */
};

struct cmd {
    const char *name;
    int (*handler)(struct cmd_ctx *ctx, int argc, char **argv);
    const char *summary;    /* one line for help */
    const char *synopsis;   /* arguments, as qemu-img's "Command syntax" shows them */
    const char *details;    /* option descriptions for "imgsh CMD --help", or NULL */
    unsigned flags;         /* enum cmd_flags */
};

enum output_format {
    OUTPUT_HUMAN,
    OUTPUT_JSON,
};

/* What a command runs in. */
struct cmd_ctx {
    bool qemu_img;          /* invoked as qemu-img: qemu-img's help and messages */
    const char *prog;       /* "imgsh" or "qemu-img" */
    const struct cmd *cmd;  /* the command being run */
    /*
     * In a session: the current image, for commands whose image argument
     * is left out (cmd_default_image); NULL on the command line.
     */
    const char *default_image;
    /*
     * A session's --json (or "set json on"): commands that list data but
     * have no --output option in qemu-img (snapshot -l) print it as JSON.
     */
    bool json;
    char **argv_alloc;      /* an argv cmd_default_image() made, freed by cmd_run() */
};

extern const struct cmd commands[];

const struct cmd *cmd_lookup(const char *name);
/* A two-word command ("snapshot show", "repair plan") that argv starts with, or NULL. */
const struct cmd *cmd_lookup_words(int argc, char **argv);
/* Run argv[0] with its arguments; returns the exit code. */
int cmd_run(struct cmd_ctx *ctx, int argc, char **argv);

/*
 * After getopt: a command expecting want positional arguments (the image
 * first) that got one fewer works on ctx->default_image, which is put in
 * front of them (*argc and *argv are updated). Does nothing outside a
 * session.
 */
void cmd_default_image(struct cmd_ctx *ctx, int *argc, char ***argv, int want);
/*
 * After getopt, for commands taking exactly one image: its name (the
 * current image in a session when left out), or NULL after qemu-img's
 * "Expecting one image file name" usage error.
 */
const char *cmd_one_image(struct cmd_ctx *ctx, int *argc, char ***argv);

/* Top-level help: qemu-img's when ctx->qemu_img, else imgsh's. Returns 0. */
int cmd_print_help(struct cmd_ctx *ctx, FILE *f);
/* The commands with (CMD_INSPECT) or without (0) that flag, a line each. */
void cmd_print_list(FILE *f, unsigned inspect);
/* Help for the running command ("imgsh info --help"); qemu-img prints the full help. */
int cmd_help(struct cmd_ctx *ctx);
void cmd_print_version(struct cmd_ctx *ctx, FILE *f);

/*
 * Print "<prog>: <msg>" and "Try '<prog> --help' for more information"
 * on stderr; returns 1 (qemu-img's error_exit).
 */
int cmd_usage_error(struct cmd_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* For getopt's ':' (missing argument) and '?' (unknown option) results. */
int cmd_getopt_error(struct cmd_ctx *ctx, int c, char **argv);
/* Parse --output; prints qemu-img's message and returns -1 when invalid. */
int cmd_parse_output(const char *arg, enum output_format *out);
/*
 * Parse a size argument as qemu-img's cvtnum does (suffixes, 0..INT64_MAX),
 * printing its messages with WHAT ("image size", "start offset", ...) on
 * failure. Returns 0, or -1 after printing.
 */
int cmd_parse_size(const char *what, const char *arg, int64_t *out);

/*
 * -l of convert and measure: "snapshot.id=ID,snapshot.name=NAME" (qemu's
 * option syntax, ",," for a comma) or a bare ID_OR_NAME. As in qemu-img,
 * the last of each form counts, and a snapshot.* form wins over a bare one.
 */
struct snapshot_arg {
    bool has_opts;              /* a snapshot.* form was given */
    char *id, *name;            /* from it */
    const char *id_or_name;     /* the bare form */
};
/* Take one -l argument; prints qemu-img's messages, -1 on error. */
int cmd_parse_snapshot_arg(const char *arg, struct snapshot_arg *sa);
bool cmd_snapshot_arg_given(const struct snapshot_arg *sa);
/* Show the selected snapshot's data on img; prints qemu-img's messages, -1 on error. */
int cmd_load_snapshot(struct image *img, const struct snapshot_arg *sa);
void cmd_snapshot_arg_free(struct snapshot_arg *sa);

/* -o handling shared by create, convert and amend (engine/create.c). */
/* Append one -o argument as qemu-img does; prints its message, -1 if malformed. */
int cmd_accumulate_options(char **options, const char *arg);
/* "-o help" for format fmt; the protocol's options too when filename is known. */
int cmd_print_create_help(const char *fmt, const char *filename);

/* Handlers, one file each under engine/. */
int cmd_info(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_create(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_resize(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_map(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_compare(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_convert(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_dd(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_measure(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_snapshot(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_commit(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_amend(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_bitmap(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_check(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_rebase(struct cmd_ctx *ctx, int argc, char **argv);

#endif
