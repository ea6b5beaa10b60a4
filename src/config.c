/*
 * config.c - read loom.conf with libconfuse into a validated loom_config_t.
 *
 * libconfuse does the lexing, types and includes; this file adds what it
 * lacks: the file and line of every option (recorded by a validation
 * callback installed on every option), glob includes, load_module, and
 * the semantic checks.  Its callbacks take no user pointer, so the parse
 * in progress is reached through conf_cur, which is set only for the
 * duration of one loom_config_load call.
 */
#include "config.h"

#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus_int.h"
#include "loom_module.h"
#include "tls.h"

#define LOOM_MAX_MODULES 64

typedef struct {
    cfg_t *sec;
    const char *opt; /* the option table's name, stable while cfg lives */
    char *file;
    int line;
} conf_loc_t;

/* libconfuse 3.3 counts every '#' or '//' comment as three lines; this
 * table maps its line numbers back to real ones for one file. */
typedef struct {
    char *file;
    int *start; /* start[r] = libconfuse's number for real line r (1-based) */
    int n;      /* real lines */
    char *text; /* the file's text */
} conf_lines_t;

typedef struct {
    const char *file; /* the main file as given */
    const char *text; /* the text when parsing from memory */
    conf_lines_t *lines;
    size_t n_lines;
    conf_loc_t *locs;
    size_t n_locs, cap_locs;
    char err[1024];
    int have_err;
    int loaded_new;
    cfg_t *root; /* the tree being parsed */
} conf_parse_t;

static conf_parse_t *conf_cur;

/* Scan TEXT as libconfuse's lexer counts lines. */
static void conf_lines_scan(conf_lines_t *t, const char *text)
{
    int real = 1, bug = 1, cap = 64;
    const char *p = text;
    char quote = 0;
    int block = 0;

    t->start = loom_malloc((size_t)cap * sizeof(int));
    t->start[0] = 1;
    t->start[1] = 1;
    for (; *p; p++) {
        if (*p == '\n') {
            real++;
            bug++;
            if (real >= cap) {
                cap *= 2;
                t->start = loom_realloc(t->start, (size_t)cap * sizeof(int));
            }
            t->start[real] = bug;
            continue;
        }
        if (block) {
            if (p[0] == '*' && p[1] == '/') {
                block = 0;
                p++;
            }
        } else if (quote) {
            if (*p == '\\' && p[1] && p[1] != '\n')
                p++;
            else if (*p == quote)
                quote = 0;
        } else if (*p == '"' || *p == '\'') {
            quote = *p;
        } else if (p[0] == '/' && p[1] == '*') {
            block = 1;
            p++;
        } else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
            while (p[1] && p[1] != '\n')
                p++;
            bug += 2;
        }
    }
    t->n = real;
}

/* The line table of FILE (libconfuse's name for it), or NULL. */
static conf_lines_t *conf_lines_of(const char *file)
{
    conf_parse_t *p = conf_cur;
    conf_lines_t *t = NULL;
    size_t i;

    if (p == NULL || file == NULL)
        return NULL;
    for (i = 0; i < p->n_lines; i++) {
        if (strcmp(p->lines[i].file, file) == 0)
            t = &p->lines[i];
    }
    if (t == NULL) {
        char *text = NULL;

        if (p->text && strcmp(file, "[buf]") == 0)
            text = loom_strdup(p->text);
        else
            text = loom_read_file(file, 16 * 1024 * 1024, NULL);
        if (text == NULL)
            return NULL;
        p->lines = loom_realloc(p->lines, (p->n_lines + 1) * sizeof(*p->lines));
        t = &p->lines[p->n_lines++];
        t->file = loom_strdup(file);
        conf_lines_scan(t, text);
        t->text = text;
    }
    return t;
}

/* The real line of libconfuse's line LINE in FILE. */
static int conf_real_line(const char *file, int line)
{
    conf_lines_t *t = conf_lines_of(file);
    int r;

    if (t == NULL || line <= 0)
        return line;
    for (r = 1; r < t->n && t->start[r + 1] <= line; r++)
        ;
    return r;
}

/* The line, at or before real line FROM of FILE, where section NAME
 * "TITLE" opens; FROM when it cannot be found. */
static int conf_section_line(const char *file, const char *name,
                             const char *title, int from)
{
    conf_lines_t *t = conf_lines_of(file);
    const char *p, *lines[4096];
    int n = 0, r;

    if (t == NULL || name == NULL)
        return from;
    for (p = t->text, lines[n++] = p; *p && n < 4096; p++) {
        if (*p == '\n')
            lines[n++] = p + 1;
    }
    for (r = from < n ? from : n; r >= 1; r--) {
        const char *l = lines[r - 1], *hit = strstr(l, name);
        const char *eol = strchr(l, '\n');

        if (hit && (eol == NULL || hit < eol) &&
            (title == NULL ||
             (strstr(hit, title) && (eol == NULL || strstr(hit, title) < eol))))
            return r;
    }
    return from;
}

/* Is TARGET NODE or under it?  Then *FILE becomes the file of the
 * innermost section on the way that has one. */
static int conf_find_sec(cfg_t *node, cfg_t *target, const char **file)
{
    unsigned i, j;

    if (node == target) {
        *file = node->filename;
        return 1;
    }
    for (i = 0; node->opts && node->opts[i].name; i++) {
        cfg_opt_t *o = &node->opts[i];

        if (o->type != CFGT_SEC)
            continue;
        for (j = 0; j < cfg_opt_size(o); j++) {
            cfg_t *sub = cfg_opt_getnsec(o, j);

            if (sub && conf_find_sec(sub, target, file)) {
                if (*file == NULL)
                    *file = node->filename;
                return 1;
            }
        }
    }
    return 0;
}

/* The file libconfuse is reading CFG from.  Sections that exist before
 * parsing (log, limits) have no file name of their own: the file is
 * their parent's. */
static const char *conf_cfg_file(cfg_t *cfg)
{
    const char *file = NULL;

    if (cfg == NULL || cfg->filename || conf_cur == NULL ||
        conf_cur->root == NULL)
        return cfg ? cfg->filename : NULL;
    conf_find_sec(conf_cur->root, cfg, &file);
    return file;
}

/* The name to show for a file libconfuse names. */
static const char *conf_file_name(const char *file)
{
    conf_parse_t *p = conf_cur;

    if (p && p->text && (file == NULL || strcmp(file, "[buf]") == 0))
        return p->file;
    return file ? file : (p ? p->file : "?");
}

/* ---- the structure of a file -------------------------------------------- */

/* libconfuse accepts a file that ends inside a section, and reads an
 * unterminated string or comment on to the end of the file: a file cut
 * short by a partial deploy would load with whole services missing.  So
 * before libconfuse reads a file, this scan follows its tokens the way
 * libconfuse's lexer cuts them and refuses any section, list, function
 * call, string or comment that is not closed, naming the line where it
 * opens.  A quoted string must also end on the line where it starts
 * (or continue with a backslash at the end of the line): a forgotten
 * quote would otherwise swallow the lines after it. */

#define CONF_NEST_MAX 64

typedef struct {
    char open; /* '{' or '(' */
    int line;
    char what[160]; /* "section echo \"e\"", "list 'listen'", "include(" */
} conf_open_t;

typedef struct {
    const char *name; /* the file, as messages name it */
    char *err;
    size_t errlen;
    int line;
    int depth;
    conf_open_t stack[CONF_NEST_MAX];
    char kind[2];     /* the last two tokens: 'w' word, 's' string, or */
    char text[2][80]; /* the punctuation itself; [1] is the latest */
} conf_syn_t;

static int syn_fail(conf_syn_t *s, int line, const char *fmt, ...)
    LOOM_PRINTF(3, 4);

static int syn_fail(conf_syn_t *s, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(s->err, s->errlen, "%s:%d: %s", s->name, line, msg);
    return -1;
}

static void syn_token(conf_syn_t *s, char kind, const char *text, size_t len)
{
    s->kind[0] = s->kind[1];
    memcpy(s->text[0], s->text[1], sizeof(s->text[0]));
    s->kind[1] = kind;
    if (len >= sizeof(s->text[1]))
        len = sizeof(s->text[1]) - 1;
    memcpy(s->text[1], text, len);
    s->text[1][len] = '\0';
}

/* Can C be part of an unquoted word (libconfuse's character class)? */
static int syn_word_char(char c)
{
    return c != '\0' && strchr(" #\"'\t\n\r={}()+,*", c) == NULL;
}

static int syn_newlines(const char *from, const char *to)
{
    int n = 0;

    for (; from < to; from++)
        n += *from == '\n';
    return n;
}

/* Is a section KEYWORD open around the current token? */
static int syn_inside(const conf_syn_t *s, const char *keyword)
{
    size_t n = strlen(keyword);
    int i;

    for (i = 0; i < s->depth; i++) {
        if (strncmp(s->stack[i].what, "section ", 8) == 0 &&
            strncmp(s->stack[i].what + 8, keyword, n) == 0 &&
            s->stack[i].what[8 + n] == ' ')
            return 1;
    }
    return 0;
}

/* A quoted string at P; returns the byte after it, or NULL (error set). */
static const char *syn_string(conf_syn_t *s, const char *p)
{
    const char *start = p + 1, *close;
    char q = *p++;
    int open = s->line;

    for (; *p != q; p++) {
        if (*p == '\0') {
            syn_fail(s, open,
                     "the string opened here is never closed: the file ends "
                     "inside it");
            return NULL;
        }
        if (*p == '\n') {
            syn_fail(s, open,
                     "the string opened here is not closed on this line (end "
                     "it with %c, or end the line with a backslash to "
                     "continue it)",
                     q);
            return NULL;
        }
        if (*p == '\\' && p[1] != '\0') {
            s->line += p[1] == '\n';
            p++;
        } else if (q == '"' && p[0] == '$' && p[1] == '{' &&
                   syn_inside(s, "route")) {
            /* libconfuse would put an environment variable there: a
             * template's ${field} silently gone */
            syn_fail(s, s->line,
                     "in a double-quoted string ${...} is an environment "
                     "variable: write templates in single quotes "
                     "('body = ${text}') or escape the dollar (\\${text})");
            return NULL;
        } else if (q == '"' && p[0] == '$' && p[1] == '{' &&
                   (close = strchr(p + 2, '}')) != NULL) {
            s->line += syn_newlines(p, close); /* ${VAR}, as libconfuse */
            p = close;
        }
    }
    syn_token(s, 's', start, (size_t)(p - start));
    return p + 1;
}

static int syn_open(conf_syn_t *s, char open)
{
    conf_open_t *o;

    if (s->depth == CONF_NEST_MAX)
        return syn_fail(s, s->line, "sections nested more than %d deep",
                        CONF_NEST_MAX);
    o = &s->stack[s->depth++];
    o->open = open;
    o->line = s->line;
    if (open == '(')
        snprintf(o->what, sizeof(o->what), "%s(",
                 s->kind[1] == 'w' ? s->text[1] : "");
    else if (s->kind[1] == '=' && s->kind[0] == 'w')
        snprintf(o->what, sizeof(o->what), "list '%s'", s->text[0]);
    else if (s->kind[1] == 's' && s->kind[0] == 'w')
        snprintf(o->what, sizeof(o->what), "section %s \"%s\"", s->text[0],
                 s->text[1]);
    else if (s->kind[1] == 'w')
        snprintf(o->what, sizeof(o->what), "section %s", s->text[1]);
    else
        snprintf(o->what, sizeof(o->what), "'{'");
    return 0;
}

static int syn_close(conf_syn_t *s, char close)
{
    char open = close == '}' ? '{' : '(';
    const conf_open_t *top;

    if (s->depth == 0)
        return syn_fail(s, s->line, "'%c' here closes nothing: no %s is open",
                        close, close == '}' ? "section or list" : "'('");
    top = &s->stack[s->depth - 1];
    if (top->open != open)
        return syn_fail(s, s->line,
                        "'%c' here, but %s opened on line %d is not closed "
                        "yet (it needs '%c')",
                        close, top->what, top->line,
                        top->open == '{' ? '}' : ')');
    s->depth--;
    return 0;
}

/* Check the structure of TEXT, the file NAME.  Returns 0, or -1 with
 * "NAME:LINE: message" in ERR. */
static int conf_syntax_scan(const char *name, const char *text, char *err,
                            size_t errlen)
{
    conf_syn_t s;
    const char *p = text, *q;

    memset(&s, 0, sizeof(s));
    s.name = name;
    s.err = err;
    s.errlen = errlen;
    s.line = 1;
    while (*p) {
        size_t slashes = 0, word = 0;

        if (*p == '\n') {
            s.line++;
            p++;
            continue;
        }
        if (p[0] == '/')
            while (p[slashes] == '/')
                slashes++;
        while (syn_word_char(p[word]))
            word++;
        if (*p == '#' || (slashes >= 2 && word <= slashes)) {
            while (*p && *p != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            q = strstr(p + 2, "*/");
            if (q == NULL)
                return syn_fail(&s, s.line,
                                "the comment opened here with /* is never "
                                "closed: the file ends inside it");
            s.line += syn_newlines(p, q);
            p = q + 2;
        } else if (*p == '"' || *p == '\'') {
            if ((p = syn_string(&s, p)) == NULL)
                return -1;
        } else if (p[0] == '$' && p[1] == '{' &&
                   (q = strchr(p + 2, '}')) != NULL) {
            s.line += syn_newlines(p, q);
            syn_token(&s, 's', p, (size_t)(q + 1 - p));
            p = q + 1;
        } else if (word > 0) {
            syn_token(&s, 'w', p, word);
            p += word;
        } else if (*p == '{' || *p == '(') {
            if (syn_open(&s, *p) != 0)
                return -1;
            syn_token(&s, *p, p, 1);
            p++;
        } else if (*p == '}' || *p == ')') {
            if (syn_close(&s, *p) != 0)
                return -1;
            syn_token(&s, *p, p, 1);
            p++;
        } else if (*p == '=' || *p == ',' || (p[0] == '+' && p[1] == '=')) {
            syn_token(&s, *p == ',' ? ',' : '=', p, 1);
            p += *p == '+' ? 2 : 1;
        } else {
            p++; /* blanks, and what libconfuse skips too */
        }
    }
    if (s.depth > 0) {
        const conf_open_t *top = &s.stack[s.depth - 1];

        return syn_fail(&s, top->line,
                        "%s opened here is never closed: the file ends "
                        "before its '%c' (is the file complete?)",
                        top->what, top->open == '{' ? '}' : ')');
    }
    return 0;
}

/* Scan FILE (libconfuse's name for it) before libconfuse reads it.
 * Returns 0, or -1 with the error recorded in the parse.  A file that
 * cannot be read is left to libconfuse to report. */
static int conf_scan_file(const char *file)
{
    conf_parse_t *p = conf_cur;
    conf_lines_t *t = conf_lines_of(file);

    if (p == NULL || t == NULL || p->have_err)
        return 0;
    if (conf_syntax_scan(conf_file_name(file), t->text, p->err,
                         sizeof(p->err)) != 0) {
        p->have_err = 1;
        return -1;
    }
    return 0;
}

/* ---- locations ---------------------------------------------------------- */

static void conf_loc_add(cfg_t *sec, const char *opt, const char *file,
                         int line)
{
    conf_parse_t *p = conf_cur;
    conf_loc_t *l;

    if (p == NULL)
        return;
    if (p->n_locs == p->cap_locs) {
        p->cap_locs = p->cap_locs ? p->cap_locs * 2 : 64;
        p->locs = loom_realloc(p->locs, p->cap_locs * sizeof(*p->locs));
    }
    l = &p->locs[p->n_locs++];
    l->sec = sec;
    l->opt = opt;
    l->line = line;
    l->file = loom_strdup(conf_file_name(file));
}

/* Where OPT of SEC was set; with OPT NULL (or never set), where SEC
 * starts: its first recorded option, else its closing line. */
static void conf_where(cfg_t *sec, const char *opt, const char **file,
                       int *line)
{
    conf_parse_t *p = conf_cur;
    const conf_loc_t *best = NULL;
    size_t i;

    *file = p ? p->file : "?";
    *line = 0;
    if (p == NULL || sec == NULL)
        return;
    if (opt) {
        for (i = 0; i < p->n_locs; i++) {
            if (p->locs[i].sec == sec && strcmp(p->locs[i].opt, opt) == 0)
                best = &p->locs[i];
        }
    }
    if (best == NULL) {
        for (i = 0; i < p->n_locs; i++) {
            if (p->locs[i].sec == sec &&
                (best == NULL || p->locs[i].line < best->line))
                best = &p->locs[i];
        }
    }
    if (best) {
        *file = best->file;
        *line = best->line;
    } else if (sec->filename) {
        *line = conf_real_line(sec->filename, sec->line);
        *file = conf_file_name(sec->filename);
    }
    /* A section is located by its opening line. */
    if ((opt == NULL || best == NULL || best->sec != sec ||
         strcmp(best->opt, opt) != 0) &&
        sec->name && strcmp(sec->name, "root") != 0 && sec->filename)
        *line = conf_section_line(sec->filename, sec->name, sec->title, *line);
}

static char *conf_where_str(cfg_t *sec, const char *opt)
{
    const char *file;
    int line;
    char buf[1200];

    conf_where(sec, opt, &file, &line);
    snprintf(buf, sizeof(buf), "%s:%d", file, line);
    return loom_strdup(buf);
}

/* Where OPT of SEC comes in the files as read (the index of its first
 * record); past every record when it was never set. */
static size_t conf_order(cfg_t *sec, const char *opt)
{
    conf_parse_t *p = conf_cur;
    size_t i;

    for (i = 0; p && i < p->n_locs; i++) {
        if (p->locs[i].sec == sec && strcmp(p->locs[i].opt, opt) == 0)
            return i;
    }
    return p ? p->n_locs : 0;
}

void loom_conf_error(cfg_t *sec, const char *opt, const char *fmt, ...)
{
    conf_parse_t *p = conf_cur;
    const char *file;
    char msg[768];
    va_list ap;
    int line;

    if (p == NULL || p->have_err)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    conf_where(sec, opt, &file, &line);
    snprintf(p->err, sizeof(p->err), "%s:%d: %s", file, line, msg);
    p->have_err = 1;
}

void loom_conf_error_plain(const char *fmt, ...)
{
    conf_parse_t *p = conf_cur;
    va_list ap;

    if (p == NULL || p->have_err)
        return;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof(p->err), fmt, ap);
    va_end(ap);
    p->have_err = 1;
}

int loom_conf_size(cfg_t *sec, const char *opt, size_t *out)
{
    const char *v = cfg_getstr(sec, opt);

    if (loom_parse_size(v, out) != LOOM_OK) {
        loom_conf_error(sec, opt,
                        "%s: \"%s\" is not a size (a number of bytes, "
                        "optionally with K, M or G)",
                        opt, v ? v : "");
        return LOOM_ERROR;
    }
    return LOOM_OK;
}

char *loom_conf_path(cfg_t *sec, const char *opt, const char *value)
{
    const char *file;
    int line;

    conf_where(sec, opt, &file, &line);
    return loom_path_resolve(file, value);
}

/* ---- libconfuse callbacks ----------------------------------------------- */

static void conf_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
    conf_parse_t *p = conf_cur;
    char msg[768];
    const char *q, *file;

    if (p == NULL || p->have_err)
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    /* At the top level an unknown word is most often a module name. */
    if (cfg && cfg->name && strcmp(cfg->name, "root") == 0 &&
        strncmp(msg, "no such option '", 16) == 0 &&
        (q = strchr(msg + 16, '\'')) != NULL) {
        char word[256];

        snprintf(word, sizeof(word), "%.*s", (int)(q - (msg + 16)), msg + 16);
        snprintf(msg, sizeof(msg), "unknown module or option '%s'", word);
    }
    if (strncmp(msg, "found duplicate title '", 23) == 0 &&
        (q = strchr(msg + 23, '\'')) != NULL) {
        char word[256];

        snprintf(word, sizeof(word), "%.*s", (int)(q - (msg + 23)), msg + 23);
        snprintf(msg, sizeof(msg),
                 "duplicate name \"%s\": another section of this kind has it",
                 word);
    }
    file = conf_cfg_file(cfg);
    if (file)
        snprintf(p->err, sizeof(p->err), "%s:%d: %s", conf_file_name(file),
                 conf_real_line(file, cfg->line), msg);
    else
        snprintf(p->err, sizeof(p->err), "%s: %s", p->file, msg);
    p->have_err = 1;
}

static int conf_section_line(const char *file, const char *name,
                             const char *title, int from);

static int conf_validcb(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *file = conf_cfg_file(cfg);
    int line = conf_real_line(file, cfg->line);

    /* A list spanning lines is reported where it ends: find its start. */
    if (opt->type != CFGT_SEC)
        line = conf_section_line(file, opt->name, NULL, line);
    conf_loc_add(cfg, opt->name, file, line);
    return 0;
}

/* Record locations for every option of OPTS, recursively. */
static void conf_install_validcb(cfg_opt_t *opts)
{
    for (; opts && opts->name; opts++) {
        if (opts->type == CFGT_FUNC)
            continue;
        if (opts->validcb == NULL)
            opts->validcb = conf_validcb;
        if (opts->type == CFGT_SEC)
            conf_install_validcb(opts->subopts);
    }
}

static int conf_fn_include(cfg_t *cfg, cfg_opt_t *opt, int argc,
                           const char **argv)
{
    glob_t g;
    char *pattern;
    int i, r;

    if (argc != 1) {
        cfg_error(cfg, "include() takes one file name or pattern");
        return 1;
    }
    pattern = loom_path_resolve(cfg->filename, argv[0]);
    r = glob(pattern, GLOB_ERR, NULL, &g);
    if (r == GLOB_NOMATCH) {
        /* A pattern may match nothing; a plain name must exist. */
        int wild = strpbrk(argv[0], "*?[") != NULL;

        if (!wild)
            cfg_error(cfg, "cannot open include file %s: %s", pattern,
                      strerror(ENOENT));
        free(pattern);
        return wild ? 0 : 1;
    }
    if (r != 0) {
        cfg_error(cfg, "cannot read include pattern %s", pattern);
        free(pattern);
        return 1;
    }
    free(pattern);
    /* libconfuse stacks includes: push the last first so the files are
     * read in sorted order. */
    for (i = (int)g.gl_pathc - 1; i >= 0; i--) {
        const char *one = g.gl_pathv[i];

        if (access(one, R_OK) != 0) {
            cfg_error(cfg, "cannot open include file %s: %s", one,
                      strerror(errno));
            globfree(&g);
            return 1;
        }
        if (conf_scan_file(one) != 0 || cfg_include(cfg, opt, 1, &one) != 0) {
            globfree(&g);
            return 1;
        }
    }
    globfree(&g);
    return 0;
}

static int conf_fn_load_module(cfg_t *cfg, cfg_opt_t *opt, int argc,
                               const char **argv)
{
    char err[512], *path;
    int r;

    (void)opt;
    if (argc != 1) {
        cfg_error(cfg, "load_module() takes one path");
        return 1;
    }
    path = loom_path_resolve(cfg->filename, argv[0]);
    r = loom_module_load(path, err, sizeof(err));
    free(path);
    if (r == LOOM_ERROR) {
        cfg_error(cfg, "%s", err);
        return 1;
    }
    if (r == LOOM_OK && conf_cur)
        conf_cur->loaded_new = 1;
    return 0;
}

/* ---- option tables ------------------------------------------------------ */

/* Options every module instance has, whatever its module. */
static cfg_opt_t conf_inst_core[] = {CFG_STR_LIST("listen", "{}", CFGF_NONE),
                                     CFG_STR("access_log", NULL, CFGF_NONE),
                                     CFG_INT("max_connections", 0, CFGF_NONE),
                                     CFG_INT("idle_timeout", -1, CFGF_NONE),
                                     CFG_INT("read_timeout", 60, CFGF_NONE),
                                     CFG_INT("write_timeout", 60, CFGF_NONE),
                                     CFG_STR_LIST("alpn", NULL, CFGF_NONE),
                                     CFG_END()};

static cfg_opt_t conf_log_opts[] = {CFG_STR("level", "info", CFGF_NONE),
                                    CFG_STR("target", "stderr", CFGF_NONE),
                                    CFG_END()};

static cfg_opt_t conf_limits_opts[] = {
    CFG_INT("max_connections", 10000, CFGF_NONE), CFG_END()};

static cfg_opt_t conf_tls_opts[] = {
    CFG_STR("cert", NULL, CFGF_NONE),
    CFG_STR("key", NULL, CFGF_NONE),
    CFG_STR("chain", NULL, CFGF_NONE),
    CFG_BOOL("self_signed", cfg_false, CFGF_NONE),
    CFG_STR_LIST("server_names", NULL, CFGF_NONE),
    CFG_STR("min_version", "TLSv1.2", CFGF_NONE),
    CFG_STR("ciphers", NULL, CFGF_NONE),
    CFG_BOOL("client_certs", cfg_false, CFGF_NONE),
    CFG_END()};

static size_t conf_opts_len(const cfg_opt_t *o)
{
    size_t n = 0;

    while (o && o[n].name)
        n++;
    return n;
}

/* The whole option table for the modules known now.  *TOFREE collects the
 * arrays to free after cfg_init (which copies them). */
static cfg_opt_t *conf_build_opts(cfg_opt_t ***tofree, size_t *n_tofree)
{
    static cfg_opt_t top[] = {
        CFG_STR("user", NULL, CFGF_NONE),
        CFG_STR("group", NULL, CFGF_NONE),
        CFG_STR("pidfile", NULL, CFGF_NONE),
        CFG_INT("shutdown_grace", 10, CFGF_NONE),
        CFG_INT("workers", LOOM_WORK_DEFAULT_THREADS, CFGF_NONE),
        CFG_STR("ktls", "auto", CFGF_NONE),
        CFG_SEC("log", conf_log_opts, CFGF_NONE),
        CFG_SEC("limits", conf_limits_opts, CFGF_NONE),
        CFG_SEC("tls", conf_tls_opts,
                CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
        CFG_SEC("route", bus_route_opts,
                CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
        CFG_FUNC("include", conf_fn_include),
        CFG_FUNC("load_module", conf_fn_load_module),
        CFG_END()};
    const loom_module_t *mods[LOOM_MAX_MODULES];
    size_t n_mods = loom_module_all(mods, LOOM_MAX_MODULES), i, n_top;
    size_t n_core = conf_opts_len(conf_inst_core);
    cfg_opt_t *all;

    n_top = conf_opts_len(top);
    all = loom_calloc(n_top + n_mods + 1, sizeof(*all));
    memcpy(all, top, n_top * sizeof(*all));
    *tofree = loom_calloc(n_mods + 1, sizeof(cfg_opt_t *));
    *n_tofree = 0;
    (*tofree)[(*n_tofree)++] = all;
    for (i = 0; i < n_mods; i++) {
        size_t n_mod = conf_opts_len(mods[i]->options);
        cfg_opt_t *inst = loom_calloc(n_core + n_mod + 1, sizeof(*inst));
        /* A LOOM_MODULE_SINGLE module's section has no title; conf_build
         * refuses a second one. */
        cfg_opt_t sec[] = {
            CFG_SEC(mods[i]->name, inst,
                    (mods[i]->flags & LOOM_MODULE_SINGLE)
                        ? CFGF_MULTI
                        : CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
            CFG_END()};

        memcpy(inst, conf_inst_core, n_core * sizeof(*inst));
        if (n_mod)
            memcpy(inst + n_core, mods[i]->options, n_mod * sizeof(*inst));
        all[n_top + i] = sec[0];
        (*tofree)[(*n_tofree)++] = inst;
    }
    return all;
}

/* ---- building the typed config ------------------------------------------ */

static char **conf_strlist(cfg_t *sec, const char *opt, size_t *n)
{
    size_t i, count = cfg_size(sec, opt);
    char **out = loom_calloc(count + 1, sizeof(char *));

    for (i = 0; i < count; i++)
        out[i] = loom_strdup(cfg_getnstr(sec, opt, (unsigned)i));
    *n = count;
    return out;
}

static char *conf_opt_path(cfg_t *sec, const char *opt)
{
    const char *v = cfg_getstr(sec, opt);

    return v ? loom_conf_path(sec, opt, v) : NULL;
}

static int conf_nonneg(cfg_t *sec, const char *opt, long *out)
{
    long v = cfg_getint(sec, opt);

    if (v < 0) {
        loom_conf_error(sec, opt, "%s must be 0 or more, not %ld", opt, v);
        return -1;
    }
    *out = v;
    return 0;
}

static int conf_build_tls(loom_config_t *c, cfg_t *root)
{
    size_t i, n = cfg_size(root, "tls");
    const char *v;

    c->tls = loom_calloc(n ? n : 1, sizeof(*c->tls));
    for (i = 0; i < n; i++) {
        cfg_t *sec = cfg_getnsec(root, "tls", (unsigned)i);
        loom_tls_profile_conf_t *t = &c->tls[c->n_tls++];

        t->name = loom_strdup(cfg_title(sec));
        t->where = conf_where_str(sec, NULL);
        t->cert = conf_opt_path(sec, "cert");
        t->key = conf_opt_path(sec, "key");
        t->chain = conf_opt_path(sec, "chain");
        t->cert_where = t->cert ? conf_where_str(sec, "cert") : NULL;
        t->key_where = t->key ? conf_where_str(sec, "key") : NULL;
        t->chain_where = t->chain ? conf_where_str(sec, "chain") : NULL;
        t->self_signed = cfg_getbool(sec, "self_signed") == cfg_true;
        t->server_names = conf_strlist(sec, "server_names", &t->n_server_names);
        v = cfg_getstr(sec, "min_version");
        if (strcmp(v, "TLSv1.2") != 0 && strcmp(v, "TLSv1.3") != 0) {
            loom_conf_error(sec, "min_version",
                            "min_version must be TLSv1.2 or TLSv1.3, not '%s'",
                            v);
            return -1;
        }
        t->min_version = loom_strdup(v);
        v = cfg_getstr(sec, "ciphers");
        t->ciphers = v ? loom_strdup(v) : NULL;
        t->client_certs = cfg_getbool(sec, "client_certs") == cfg_true;
        if (!t->self_signed && (!t->cert || !t->key)) {
            loom_conf_error(
                sec, NULL,
                "tls \"%s\" needs cert and key, or self_signed = yes", t->name);
            return -1;
        }
        if (t->self_signed && (t->cert || t->key)) {
            loom_conf_error(sec, "self_signed",
                            "tls \"%s\": self_signed excludes cert and key",
                            t->name);
            return -1;
        }
    }
    return 0;
}

/* Resolve a relative path held in a fixed endpoint buffer. */
static int conf_ep_path(cfg_t *sec, char *buf, size_t size)
{
    char *p;

    if (buf[0] == '\0' || buf[0] == '/')
        return 0;
    p = loom_conf_path(sec, "listen", buf);
    if (strlen(p) >= size) {
        free(p);
        loom_conf_error(sec, "listen", "path too long: %s", buf);
        return -1;
    }
    strcpy(buf, p);
    free(p);
    return 0;
}

static int conf_build_listen(loom_config_t *c, loom_instance_conf_t *ic,
                             cfg_t *sec)
{
    size_t i, n = cfg_size(sec, "listen");
    char err[512];

    ic->listen = loom_calloc(n ? n : 1, sizeof(*ic->listen));
    for (i = 0; i < n; i++) {
        loom_listen_conf_t *lc = &ic->listen[ic->n_listen];
        const char *text = cfg_getnstr(sec, "listen", (unsigned)i);

        if (loom_endpoint_parse_listen(text, &lc->ep, err, sizeof(err)) != 0) {
            loom_conf_error(sec, "listen", "%s", err);
            return -1;
        }
        ic->n_listen++;
        lc->text = loom_strdup(text);
        lc->where = conf_where_str(sec, "listen");
        lc->order = conf_order(sec, "listen") * 1024 + i;
        if (conf_ep_path(sec, lc->ep.path, sizeof(lc->ep.path)) ||
            conf_ep_path(sec, lc->ep.cert, sizeof(lc->ep.cert)) ||
            conf_ep_path(sec, lc->ep.key, sizeof(lc->ep.key)))
            return -1;
        if (lc->ep.profile[0] && loom_config_tls(c, lc->ep.profile) == NULL) {
            loom_conf_error(sec, "listen",
                            "endpoint '%s': no tls profile named '%s'", text,
                            lc->ep.profile);
            return -1;
        }
        if (lc->ep.kind == LOOM_EP_UDP && ic->module->datagram == NULL) {
            loom_conf_error(sec, "listen",
                            "endpoint '%s': module %s does not speak UDP", text,
                            ic->module->name);
            return -1;
        }
        /* Listeners that conflict are found by loom_config_check. */
    }
    return 0;
}

static int conf_build_instance(loom_config_t *c, const loom_module_t *mod,
                               cfg_t *sec)
{
    loom_instance_conf_t *ic = &c->inst[c->n_inst];
    long v;

    memset(ic, 0, sizeof(*ic));
    ic->module = mod;
    ic->name = loom_strdup(cfg_title(sec) ? cfg_title(sec) : mod->name);
    ic->where = conf_where_str(sec, NULL);
    if (conf_build_listen(c, ic, sec) != 0)
        goto fail;
    ic->access_log = conf_opt_path(sec, "access_log");
    if (ic->access_log)
        ic->access_log_where = conf_where_str(sec, "access_log");
    if (conf_nonneg(sec, "max_connections", &ic->max_connections) ||
        conf_nonneg(sec, "read_timeout", &ic->read_timeout) ||
        conf_nonneg(sec, "write_timeout", &ic->write_timeout))
        goto fail;
    v = cfg_getint(sec, "idle_timeout");
    if (v < -1) { /* -1, the default, means the module's own default */
        loom_conf_error(sec, "idle_timeout", "idle_timeout must be 0 or more");
        goto fail;
    }
    if (v >= 0)
        ic->idle_timeout = v;
    else if (mod->idle_timeout == LOOM_TIMEOUT_NONE)
        ic->idle_timeout = 0;
    else
        ic->idle_timeout = mod->idle_timeout ? mod->idle_timeout : 300;
    if (cfg_size(sec, "alpn")) {
        ic->alpn = conf_strlist(sec, "alpn", &ic->n_alpn);
    } else if (mod->alpn) {
        size_t n = 0;

        while (mod->alpn[n])
            n++;
        ic->alpn = loom_calloc(n + 1, sizeof(char *));
        for (ic->n_alpn = 0; ic->n_alpn < n; ic->n_alpn++)
            ic->alpn[ic->n_alpn] = loom_strdup(mod->alpn[ic->n_alpn]);
    }
    if (mod->configure && mod->configure(sec, &ic->mod_conf) != LOOM_OK) {
        if (!conf_cur->have_err)
            loom_conf_error(sec, NULL, "%s \"%s\": invalid configuration",
                            mod->name, ic->name);
        goto fail;
    }
    c->n_inst++;
    return 0;
fail:
    c->n_inst++; /* so that loom_config_free releases what was built */
    return -1;
}

static int conf_build(loom_config_t *c, cfg_t *root)
{
    const loom_module_t *mods[LOOM_MAX_MODULES];
    size_t n_mods = loom_module_all(mods, LOOM_MAX_MODULES), i, j, total = 0;
    cfg_t *sec;
    const char *v;
    int lvl;

    v = cfg_getstr(root, "user");
    c->user = v ? loom_strdup(v) : NULL;
    c->user_set = v != NULL;
    v = cfg_getstr(root, "group");
    c->group = v ? loom_strdup(v) : NULL;
    c->pidfile = conf_opt_path(root, "pidfile");
    if (conf_nonneg(root, "shutdown_grace", &c->shutdown_grace))
        return -1;
    c->workers = cfg_getint(root, "workers");
    if (c->workers < 1 || c->workers > LOOM_WORK_MAX_THREADS) {
        loom_conf_error(root, "workers", "workers must be 1 to %d, not %ld",
                        LOOM_WORK_MAX_THREADS, c->workers);
        return -1;
    }
    v = cfg_getstr(root, "ktls");
    if (strcmp(v, "auto") == 0) {
        c->ktls = LOOM_KTLS_AUTO;
    } else if (strcmp(v, "on") == 0) {
        c->ktls = LOOM_KTLS_ON;
    } else if (strcmp(v, "off") == 0) {
        c->ktls = LOOM_KTLS_OFF;
    } else {
        loom_conf_error(root, "ktls", "ktls must be auto, on or off, not '%s'",
                        v);
        return -1;
    }
    sec = cfg_getsec(root, "log");
    lvl = loom_log_level_parse(cfg_getstr(sec, "level"));
    if (lvl < 0) {
        loom_conf_error(
            sec, "level",
            "log level must be error, warn, info or debug, not '%s'",
            cfg_getstr(sec, "level"));
        return -1;
    }
    c->log_level = lvl;
    v = cfg_getstr(sec, "target");
    if (strcmp(v, "stderr") != 0 && strcmp(v, "syslog") != 0) {
        loom_conf_error(sec, "target",
                        "log target must be stderr or syslog, not '%s'", v);
        return -1;
    }
    c->log_syslog = strcmp(v, "syslog") == 0;
    if (conf_nonneg(cfg_getsec(root, "limits"), "max_connections",
                    &c->max_connections))
        return -1;
    if (conf_build_tls(c, root) != 0)
        return -1;
    for (i = 0; i < n_mods; i++)
        total += cfg_size(root, mods[i]->name);
    c->inst = loom_calloc(total ? total : 1, sizeof(*c->inst));
    for (i = 0; i < n_mods; i++) {
        for (j = 0; j < cfg_size(root, mods[i]->name); j++) {
            sec = cfg_getnsec(root, mods[i]->name, (unsigned)j);
            if (j > 0 && (mods[i]->flags & LOOM_MODULE_SINGLE)) {
                loom_conf_error(sec, NULL, "only one %s section is allowed",
                                mods[i]->name);
                return -1;
            }
            if (conf_build_instance(c, mods[i], sec) != 0)
                return -1;
        }
    }
    c->routes = bus_conf_build(root, c->inst, c->n_inst);
    return c->routes ? 0 : -1;
}

loom_config_t *loom_config_load(const char *file, const char *text, char *err,
                                size_t errlen)
{
    conf_parse_t ctx;
    loom_config_t *c = NULL;
    cfg_t *root = NULL;
    int attempt, r = CFG_PARSE_ERROR;

    memset(&ctx, 0, sizeof(ctx));
    ctx.file = file;
    ctx.text = text;
    conf_cur = &ctx;
    if (conf_scan_file(text ? "[buf]" : file) != 0) {
        snprintf(err, errlen, "%s", ctx.err);
        goto out;
    }
    /* load_module() makes new section keywords known only once it has run:
     * a parse that loaded a module is parsed again with it in the table. */
    for (attempt = 0; attempt < LOOM_MAX_MODULES; attempt++) {
        cfg_opt_t **tofree;
        size_t n_tofree, i;
        cfg_opt_t *opts = conf_build_opts(&tofree, &n_tofree);

        /* Before cfg_init: it copies the tables into the sections it
         * creates for defaults. */
        conf_install_validcb(opts);
        root = cfg_init(opts, CFGF_NONE);
        for (i = 0; i < n_tofree; i++)
            free(tofree[i]);
        free(tofree);
        cfg_set_error_function(root, conf_errfunc);
        ctx.root = root;
        ctx.have_err = 0;
        ctx.loaded_new = 0;
        ctx.err[0] = '\0';
        if (text)
            r = cfg_parse_buf(root, text);
        else
            r = cfg_parse(root, file);
        if (!ctx.loaded_new)
            break;
        cfg_free(root);
        root = ctx.root = NULL;
        for (i = 0; i < ctx.n_locs; i++)
            free(ctx.locs[i].file);
        ctx.n_locs = 0;
    }
    if (r == CFG_FILE_ERROR) {
        snprintf(err, errlen, "%s: cannot open: %s", file, strerror(errno));
    } else if (r != CFG_SUCCESS) {
        snprintf(err, errlen, "%s",
                 ctx.have_err ? ctx.err : "configuration parse error");
    } else {
        c = loom_calloc(1, sizeof(*c));
        c->file = loom_strdup(file);
        if (conf_build(c, root) != 0) {
            snprintf(err, errlen, "%s",
                     ctx.have_err ? ctx.err : "invalid configuration");
            loom_config_free(c);
            c = NULL;
        } else if (loom_config_check(c, err, errlen) != LOOM_OK) {
            loom_config_free(c);
            c = NULL;
        }
    }
    if (root)
        cfg_free(root);
out:
    for (attempt = 0; (size_t)attempt < ctx.n_locs; attempt++)
        free(ctx.locs[attempt].file);
    free(ctx.locs);
    for (attempt = 0; (size_t)attempt < ctx.n_lines; attempt++) {
        free(ctx.lines[attempt].file);
        free(ctx.lines[attempt].start);
        free(ctx.lines[attempt].text);
    }
    free(ctx.lines);
    conf_cur = NULL;
    return c;
}

loom_tls_profile_conf_t *loom_config_tls(loom_config_t *c, const char *name)
{
    size_t i;

    for (i = 0; i < c->n_tls; i++) {
        if (strcmp(c->tls[i].name, name) == 0)
            return &c->tls[i];
    }
    return NULL;
}

static void conf_free_strv(char **v, size_t n)
{
    size_t i;

    if (v == NULL)
        return;
    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void loom_config_free(loom_config_t *c)
{
    size_t i, j;

    if (c == NULL)
        return;
    for (i = 0; i < c->n_tls; i++) {
        loom_tls_profile_conf_t *t = &c->tls[i];

        free(t->name);
        free(t->cert);
        free(t->key);
        free(t->chain);
        conf_free_strv(t->server_names, t->n_server_names);
        free(t->min_version);
        free(t->ciphers);
        free(t->where);
        free(t->cert_where);
        free(t->key_where);
        free(t->chain_where);
    }
    free(c->tls);
    for (i = 0; i < c->n_inst; i++) {
        loom_instance_conf_t *ic = &c->inst[i];

        for (j = 0; j < ic->n_listen; j++) {
            free(ic->listen[j].text);
            free(ic->listen[j].where);
        }
        free(ic->listen);
        free(ic->name);
        free(ic->where);
        free(ic->access_log);
        free(ic->access_log_where);
        conf_free_strv(ic->alpn, ic->n_alpn);
        if (ic->mod_conf && ic->module->conf_free)
            ic->module->conf_free(ic->mod_conf);
    }
    free(c->inst);
    loom_tls_free(c->tls_built);
    bus_table_free(c->routes);
    free(c->file);
    free(c->user);
    free(c->group);
    free(c->pidfile);
    free(c);
}
