/*
 * repl.c - the interactive shell: libedit line editing, history in
 * ~/.imgsh_history, tab completion (command names, then open image names,
 * snapshot and bitmap names of the current image, and file names), a
 * prompt naming the current image ("imgsh disk.qcow2(rw)> ").
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <editline/readline.h>

#include "../engine/qemuio.h"
#include "../engine/util.h"
#include "../formats/format.h"
#include "../formats/qcow2/inspect.h"
#include "shell.h"

#define HISTORY_FILE ".imgsh_history"
#define HISTORY_MAX 1000

static struct session *repl_session;
static volatile sig_atomic_t interrupted;

/* Ctrl-C at the prompt drops the line being typed (a running command is stopped by run_command). */
static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}
static char **candidates;
static size_t ncandidates, next_candidate;

static void add_candidate(const char *word)
{
    for (size_t i = 0; i < ncandidates; i++) {
        if (!strcmp(candidates[i], word)) {
            return;
        }
    }
    candidates = xrealloc(candidates, (ncandidates + 1) * sizeof(*candidates));
    candidates[ncandidates++] = xstrdup(word);
}

static void clear_candidates(void)
{
    for (size_t i = 0; i < ncandidates; i++) {
        free(candidates[i]);
    }
    free(candidates);
    candidates = NULL;
    ncandidates = next_candidate = 0;
}

static char *next_match(const char *text, int state)
{
    (void)state;
    while (next_candidate < ncandidates) {
        const char *c = candidates[next_candidate++];
        if (!strncmp(c, text, strlen(text))) {
            return xstrdup(c);
        }
    }
    return NULL;
}

/* Names of the current image's snapshots and bitmaps. */
static void add_image_names(struct session *s)
{
    struct image *img;

    if (s->current < 0 || !(img = s->images[s->current].img)) {
        return;
    }
    if (img->drv->snapshot_list) {
        struct snapshot_info *sn = NULL;
        size_t n = 0;
        if (img->drv->snapshot_list(img, &sn, &n, NULL) == 0) {
            for (size_t i = 0; i < n; i++) {
                add_candidate(sn[i].name);
            }
            snapshot_info_free(sn, n);
        }
    }
    if (img->drv->bitmap_list) {
        struct bitmap_info *bm = NULL;
        size_t n = 0;
        if (img->drv->bitmap_list(img, &bm, &n, NULL) == 0) {
            for (size_t i = 0; i < n; i++) {
                add_candidate(bm[i].name);
            }
            free(bm);
        }
    }
}

/* The options a synopsis names ("[-f fmt] [--output=ofmt]" gives -f and --output=). */
static void add_options(const char *syn)
{
    for (const char *p = syn; p && *p; p++) {
        if (*p == '-' && (p == syn || strchr(" [(|", p[-1]))) {
            size_t n = strcspn(p, " ]|)=");
            char opt[64];

            if (p[n] == '=') {
                n++;
            }
            if (n > 1 && n < sizeof(opt)) {
                memcpy(opt, p, n);
                opt[n] = '\0';
                add_candidate(opt);
            }
            p += n - 1;
        }
    }
}

/* The options of the command the line starts with. */
static void add_command_options(void)
{
    char name[64] = "";
    const char *p = rl_line_buffer + strspn(rl_line_buffer, " \t");
    size_t n = strcspn(p, " \t");
    const struct cmd *c;

    if (n >= sizeof(name)) {
        return;
    }
    memcpy(name, p, n);
    name[n] = '\0';
    c = cmd_lookup(name);
    if (c) {
        add_options(c->synopsis);
        add_candidate("--help");
        return;
    }
    if (session_cmd_synopsis(name)) {
        add_options(session_cmd_synopsis(name));
        return;
    }
    for (const struct qemuio_cmd *k = qemuio_commands; k->name; k++) {
        if (!strcmp(k->name, name)) {
            add_options(k->args);
        }
    }
}

/*
 * Words that only fit after what the line already holds: the subcommands
 * of set, feature, repair, snapshot and bitmap, header field and feature
 * names, repair modes. Returns true when the line was one of those.
 */
static bool add_context_words(void)
{
    char w[3][32] = { "", "", "" };
    const char *p = rl_line_buffer;
    int n = 0;

    /* the words before the one being completed */
    while (n < 3) {
        size_t len;
        p += strspn(p, " \t");
        len = strcspn(p, " \t");
        if (!p[len] || !len) {
            break;              /* the last word is the one being completed */
        }
        snprintf(w[n++], sizeof(w[0]), "%.*s", (int)len, p);
        p += len;
    }
    if (n == 1 && !strcmp(w[0], "set")) {
        static const char *const words[] = { "errexit", "json", "header", "l1", "l2", "refcount",
                                             NULL };
        for (size_t i = 0; words[i]; i++) {
            add_candidate(words[i]);
        }
    } else if (n == 2 && !strcmp(w[0], "set") && !strcmp(w[1], "header")) {
        for (const struct qi_field *f = qi_fields; f->name; f++) {
            add_candidate(f->name);
        }
    } else if (n == 1 && !strcmp(w[0], "feature")) {
        add_candidate("set");
        add_candidate("clear");
    } else if (n == 2 && !strcmp(w[0], "feature")) {
        const char *known;
        unsigned type, bit;
        for (size_t i = 0; (known = qi_known_feature(i, &type, &bit)); i++) {
            char name[64];
            size_t k;
            snprintf(name, sizeof(name), "%s", known);
            for (k = 0; name[k]; k++) {
                name[k] = name[k] == ' ' ? '_' : name[k];
            }
            if (k > 4 && !strcmp(name + k - 4, "_bit")) {
                name[k - 4] = '\0';
            }
            add_candidate(name);
        }
    } else if (n == 1 && !strcmp(w[0], "repair")) {
        add_candidate("plan");
        add_candidate("apply");
    } else if (n >= 2 && !strcmp(w[0], "repair")) {
        add_candidate("leaks");
        add_candidate("all");
    } else if (n == 1 && (!strcmp(w[0], "snapshot") || !strcmp(w[0], "bitmap"))) {
        add_candidate("show");
        return false;           /* and what the command takes anyway */
    } else {
        return false;
    }
    return true;
}

static char **complete(const char *text, int start, int end)
{
    struct session *s = repl_session;
    static const char *const session_words[] = {
        "open", "close", "images", "use", "reopen", "set", "echo", "source", "help", "exit",
        "quit", "io", "read", "write", "discard", "alloc", "length", "truncate", "flush", NULL,
    };
    char **m;

    (void)end;
    clear_candidates();
    if (start == 0 || strspn(rl_line_buffer, " \t") == (size_t)start) {
        for (size_t i = 0; session_words[i]; i++) {
            add_candidate(session_words[i]);
        }
        for (const struct cmd *c = commands; c->name; c++) {
            if (!strchr(c->name, ' ')) {
                add_candidate(c->name);     /* "snapshot show": "show" comes next */
            }
        }
    } else if (text[0] == '-') {
        add_command_options();
    } else if (!add_context_words()) {
        for (size_t i = 0; i < s->nimages; i++) {
            add_candidate(s->images[i].name);
        }
        add_image_names(s);
    }
    rl_attempted_completion_over = 0;
    m = rl_completion_matches(text, next_match);
    if (!m && start > 0) {
        return NULL;    /* file names */
    }
    rl_attempted_completion_over = 1;
    return m;
}

static char *history_path(void)
{
    const char *home = getenv("HOME");
    char *p;

    if (!home || !*home) {
        return NULL;
    }
    p = xmalloc(strlen(home) + sizeof(HISTORY_FILE) + 2);
    sprintf(p, "%s/%s", home, HISTORY_FILE);
    return p;
}

static void prompt(const struct session *s, char *buf, size_t len)
{
    if (s->current < 0) {
        snprintf(buf, len, "imgsh> ");
    } else {
        snprintf(buf, len, "imgsh %s%s> ", s->images[s->current].name,
                 s->images[s->current].rw ? "(rw)" : "");
    }
}

int session_repl(struct session *s)
{
    char *hist = history_path();
    char p[1100];
    char *line;

    repl_session = s;
    rl_readline_name = "imgsh";
    rl_attempted_completion_function = complete;
    using_history();
    if (hist) {
        read_history(hist);
    }
    sigaction(SIGINT, &(struct sigaction){ .sa_handler = on_sigint }, NULL);
    for (;;) {
        prompt(s, p, sizeof(p));
        interrupted = 0;
        line = readline(p);
        if (!line && interrupted) {
            printf("\n");
            continue;       /* Ctrl-C: a fresh prompt */
        }
        if (!line) {
            printf("\n");
            break;          /* Ctrl-D */
        }
        if (line[strspn(line, " \t")]) {
            add_history(line);
            if (hist) {
                stifle_history(HISTORY_MAX);
                write_history(hist);
            }
        }
        session_run_line(s, line);
        free(line);
        if (s->exit_requested) {
            break;
        }
    }
    clear_candidates();
    free(hist);
    return session_exit_status(s);
}
