/*
 * test_config.c - loom_config_load: good configs load into the expected
 * structs, and every error is one "FILE:LINE: message" naming the file and
 * line of the offending option or section.
 *
 * Each test writes its files into a fresh mkdtemp directory and passes
 * absolute paths, so FILE in messages is predictable.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/* src/config.h by path: a bare "config.h" finds autoconf's in the
 * build directory first. */
#include "config.h"
#include "loom_module.h"

typedef struct {
    char dir[256];
} tmp_t;

static int tmp_setup(void **state)
{
    tmp_t *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return -1;
    snprintf(t->dir, sizeof(t->dir), "/tmp/loom-test-config.XXXXXX");
    if (mkdtemp(t->dir) == NULL) {
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

/* Remove DIR and everything under it (two levels is all we create). */
static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        char path[512];
        struct stat st;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            rm_tree(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static int tmp_teardown(void **state)
{
    tmp_t *t = *state;

    rm_tree(t->dir);
    free(t);
    return 0;
}

/* Write TEXT to DIR/NAME (creating one level of subdirectory if NAME has
 * one) and put the full path in PATH. */
static void put_file(const tmp_t *t, const char *name, const char *text,
                     char *path, size_t len)
{
    const char *slash = strchr(name, '/');
    FILE *f;

    if (slash) {
        char sub[512];

        snprintf(sub, sizeof(sub), "%s/%.*s", t->dir, (int)(slash - name),
                 name);
        mkdir(sub, 0700);
    }
    snprintf(path, len, "%s/%s", t->dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* Load a config that must fail; its error must be exactly one line
 * "WANT_FILE:WANT_LINE: message" and the message must contain WHAT
 * (when not NULL). */
static void expect_error(const char *file, const char *text,
                         const char *want_file, int want_line, const char *what)
{
    char err[1024] = "", prefix[600];
    loom_config_t *cfg = loom_config_load(file, text, err, sizeof(err));

    print_message("# %s\n", err);
    if (cfg != NULL) {
        loom_config_free(cfg);
        fail_msg("config %s loaded, but should fail at line %d", file,
                 want_line);
    }
    snprintf(prefix, sizeof(prefix), "%s:%d: ", want_file, want_line);
    if (strncmp(err, prefix, strlen(prefix)) != 0)
        fail_msg("error '%s' does not start with '%s'", err, prefix);
    assert_true(strlen(err) > strlen(prefix));
    assert_null(strchr(err, '\n'));
    if (what && strstr(err, what) == NULL)
        fail_msg("error '%s' does not mention '%s'", err, what);
}

/* Write a one-file config and expect an error at WANT_LINE of it. */
static void file_error(void **state, const char *text, int want_line,
                       const char *what)
{
    char path[512];

    put_file(*state, "loom.conf", text, path, sizeof(path));
    expect_error(path, NULL, path, want_line, what);
}

static void test_unknown_option(void **state)
{
    file_error(state,
               "# a comment\n"
               "shutdown_grace = 5\n"
               "bogus_option = 1\n",
               3, "bogus_option");
}

static void test_unknown_option_in_module(void **state)
{
    file_error(state,
               "echo \"e\" {\n"
               "    listen = {\"tcp:7007\"}\n"
               "    colour = \"blue\"\n"
               "}\n",
               3, "colour");
}

static void test_bad_type(void **state)
{
    file_error(state,
               "\n"
               "shutdown_grace = \"x\"\n",
               2, NULL);
}

static void test_bad_log_level(void **state)
{
    file_error(state,
               "shutdown_grace = 1\n"
               "log {\n"
               "    level = \"loud\"\n"
               "}\n",
               3, "loud");
}

static void test_negative_grace(void **state)
{
    file_error(state,
               "user = \"nobody\"\n"
               "shutdown_grace = -1\n",
               2, NULL);
}

static void test_bad_endpoint(void **state)
{
    file_error(state,
               "echo \"e\" {\n"
               "    listen = {\"tcp:7007\", \"tcp:99999\"}\n"
               "}\n",
               2, "endpoint 'tcp:99999': ");
}

static void test_unknown_module(void **state)
{
    file_error(state,
               "shutdown_grace = 1\n"
               "gopher \"g\" {\n"
               "    listen = {\"tcp:70\"}\n"
               "}\n",
               2, "gopher");
}

static void test_duplicate_instance(void **state)
{
    file_error(state,
               "echo \"a\" {\n"
               "    listen = {\"tcp:7007\"}\n"
               "}\n"
               "echo \"a\" {\n"
               "    listen = {\"tcp:7008\"}\n"
               "}\n",
               4, "duplicate");
}

static void test_missing_plan_file(void **state)
{
    file_error(state,
               "finger \"users\" {\n"
               "    listen = {\"tcp:7979\"}\n"
               "    user \"alice\" {\n"
               "        name = \"Alice\"\n"
               "        plan_file = \"missing.plan\"\n"
               "    }\n"
               "}\n",
               5, "missing.plan");
}

/* A directory is not a readable plan file either. */
static void test_plan_file_is_dir(void **state)
{
    tmp_t *t = *state;
    char sub[512];

    snprintf(sub, sizeof(sub), "%s/plandir", t->dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    file_error(state,
               "finger \"users\" {\n"
               "    user \"alice\" {\n"
               "        plan_file = \"plandir\"\n"
               "    }\n"
               "}\n",
               3, "plandir");
}

static void test_include_missing(void **state)
{
    file_error(state,
               "shutdown_grace = 1\n"
               "include(\"nope.conf\")\n",
               2, "nope.conf");
}

static void test_load_module_missing(void **state)
{
    file_error(state,
               "\n"
               "\n"
               "load_module(\"nope.so\")\n",
               3, "nope.so");
}

/* A module built for another ABI is refused at its load_module line. */
static void test_load_module_bad_abi(void **state)
{
    const char *bd = getenv("LOOM_BUILDDIR");
    char so[512], text[700];

    if (bd == NULL) {
        print_message("# LOOM_BUILDDIR not set: skipped\n");
        skip();
    }
    snprintf(so, sizeof(so), "%s/tests/modules/.libs/badabi.so", bd);
    if (access(so, R_OK) != 0) {
        print_message("# %s not built: skipped\n", so);
        skip();
    }
    snprintf(text, sizeof(text), "shutdown_grace = 1\nload_module(\"%s\")\n",
             so);
    file_error(state, text, 2, "ABI");
}

/* An error inside an included file names that file and its line. */
static void test_error_in_include(void **state)
{
    tmp_t *t = *state;
    char main_path[512], inc_path[512];

    put_file(t, "conf.d/a.conf",
             "echo \"inc\" {\n"
             "    listen = {\"tcp:7007\"}\n"
             "    max_connections = \"many\"\n"
             "}\n",
             inc_path, sizeof(inc_path));
    put_file(t, "loom.conf",
             "shutdown_grace = 1\n"
             "include(\"conf.d/*.conf\")\n",
             main_path, sizeof(main_path));
    expect_error(main_path, NULL, inc_path, 3, NULL);
}

/* ---- files that do not close what they open ---------------------------- */

/* A file cut short inside a section is refused at the section's line: it
 * must never load with the rest of the section (and what follows it)
 * silently missing. */
static void test_unclosed_section(void **state)
{
    file_error(state,
               "echo \"a\" {\n"
               "    listen = {\"tcp:7007\"}\n"
               "}\n"
               "memcache \"m\" {\n"
               "    listen = {\"tcp:7008\"}\n",
               4, "memcache \"m\"");
    /* with a comment or two between, libconfuse's own line count is off */
    file_error(state,
               "# one\n"
               "# two\n"
               "echo \"a\" {\n"
               "    # three\n"
               "    listen = {\"tcp:7007\"}\n",
               3, "never closed");
}

static void test_unclosed_list(void **state)
{
    file_error(state,
               "echo \"a\" {\n"
               "    listen = {\"tcp:7007\",\n"
               "              \"tcp:7008\"\n",
               2, "list 'listen'");
}

/* A string must end on its line: a forgotten quote would swallow the
 * lines after it (and libconfuse would report a later line). */
static void test_unclosed_string(void **state)
{
    file_error(state,
               "shutdown_grace = 1\n"
               "\n"
               "\n"
               "\n"
               "\n"
               "finger \"f\" {\n"
               "    user \"d\" { plan = \"gone fishing }\n"
               "    listen = {\"tcp:7979\"}\n"
               "}\n",
               7, "string");
    /* cut inside a string on the last line */
    file_error(state,
               "echo \"a\" {\n"
               "    listen = {\"tcp:70",
               2, "string");
    file_error(state, "user = 'nob", 1, "string");
}

static void test_unclosed_comment(void **state)
{
    file_error(state,
               "shutdown_grace = 1\n"
               "/* a comment\n"
               "   that goes on\n",
               2, "comment");
}

static void test_unclosed_call(void **state)
{
    file_error(state,
               "shutdown_grace = 1\n"
               "include(\"x.conf\"\n",
               2, "include(");
}

static void test_stray_closer(void **state)
{
    file_error(state,
               "echo \"a\" {\n"
               "    listen = {\"tcp:7007\"}\n"
               "}\n"
               "}\n",
               4, "closes nothing");
    file_error(state,
               "echo \"a\" {\n"
               "    listen = {\"tcp:7007\")\n"
               "}\n",
               2, "list 'listen' opened on line 2");
}

/* An included file is scanned too, and named in the message. */
static void test_unclosed_in_include(void **state)
{
    tmp_t *t = *state;
    char main_path[512], inc_path[512];

    put_file(t, "conf.d/a.conf",
             "\n"
             "echo \"inc\" {\n"
             "    listen = {\"tcp:7007\"}\n",
             inc_path, sizeof(inc_path));
    put_file(t, "loom.conf",
             "shutdown_grace = 1\n"
             "include(\"conf.d/*.conf\")\n"
             "echo \"after\" {\n"
             "    listen = {\"tcp:7008\"}\n"
             "}\n",
             main_path, sizeof(main_path));
    expect_error(main_path, NULL, inc_path, 2, "echo \"inc\"");
}

/* What closes properly loads, however it is spread over lines: braces,
 * quotes and comment marks inside strings and comments do not count; a
 * string may go on over a backslash at the end of its line. */
static void test_structure_good(void **state)
{
    tmp_t *t = *state;
    char path[512], err[1024] = "";
    loom_config_t *cfg;

    put_file(t, "loom.conf",
             "/* a comment with { and \" and\n"
             "   // and # in it */\n"
             "# another { \"\n"
             "// and another }\n"
             "finger \"f\" { # a comment after a brace {\n"
             "    listen = {\n"
             "        \"tcp:7979\",\n"
             "        'tcp:7980'\n"
             "    }\n"
             "    user \"d\" {\n"
             "        plan = \"braces } { and # and // in a string\"\n"
             "        office = \"one line \\\n"
             "continued\"\n"
             "        project = 'single \\' quoted'\n"
             "    }\n"
             "}\n",
             path, sizeof(path));
    cfg = loom_config_load(path, NULL, err, sizeof(err));
    if (cfg == NULL)
        fail_msg("well-formed config refused: %s", err);
    loom_config_free(cfg);
}

/* An integer too large for its option names the line, also inside a
 * section that exists before parsing (limits, log). */
static void test_int_out_of_range(void **state)
{
    file_error(state,
               "# a\n"
               "# b\n"
               "limits {\n"
               "    # c\n"
               "    max_connections = 99999999999999999999\n"
               "}\n",
               5, "max_connections");
    file_error(state,
               "echo \"e\" {\n"
               "    listen = {\"tcp:7007\"}\n"
               "    max_connections = 99999999999999999999\n"
               "}\n",
               3, "out of range");
}

/* ---- what loom_config_check finds ------------------------------------- */

/* The same socket twice is reported at the second user in file order
 * (not in module order: memcache comes after echo in the module table),
 * naming the first. */
static void test_duplicate_listener(void **state)
{
    file_error(state,
               "memcache \"m\" {\n"
               "    listen = {\"tcp:7007:interface=127.0.0.1\"}\n"
               "}\n"
               "\n"
               "echo \"e\" {\n"
               "    listen = {\"tcp:7008\",\n"
               "              \"tcp:7007:interface=127.0.0.1\"}\n"
               "}\n",
               6, "already used by memcache \"m\"");
}

/* A wildcard and an address it covers cannot share a port. */
static void test_wildcard_conflict(void **state)
{
    file_error(state,
               "echo \"a\" {\n"
               "    listen = {\"tcp:7007\"}\n"
               "}\n"
               "echo \"b\" {\n"
               "    listen = {\"tls:7007:interface=127.0.0.1:profile=p\"}\n"
               "}\n"
               "tls \"p\" { self_signed = yes }\n",
               5, "conflicts with 'tcp:7007' of echo \"a\"");
    file_error(state,
               "echo \"a\" {\n"
               "    listen = {\"udp:7007:interface=127.0.0.1\"}\n"
               "}\n"
               "echo \"b\" {\n"
               "    listen = {\"udp:7007\"}\n"
               "}\n",
               5, "udp:7007:interface=127.0.0.1");
    file_error(state,
               "echo \"a\" {\n"
               "    listen = {\"tcp:7007:interface=[::1]\"}\n"
               "}\n"
               "echo \"b\" {\n"
               "    listen = {\"tcp:7007:interface=[::]\"}\n"
               "}\n",
               5, "conflicts");
    /* :: is bound dual-stack: it covers IPv4 addresses too */
    file_error(state,
               "echo \"a\" {\n"
               "    listen = {\"tcp:7007:interface=127.0.0.1\"}\n"
               "}\n"
               "echo \"b\" {\n"
               "    listen = {\"tcp:7007:interface=[::]\"}\n"
               "}\n",
               5, "conflicts");
}

/* What does not conflict loads: another port, another protocol, distinct
 * addresses, 0.0.0.0 beside an IPv6 address, port 0. */
static void test_no_conflict(void **state)
{
    char err[1024] = "";
    loom_config_t *cfg;

    (void)state;
    cfg = loom_config_load("virtual.conf",
                           "echo \"a\" {\n"
                           "    listen = {\"tcp:7007\", \"udp:7007\",\n"
                           "              \"tcp:7008:interface=127.0.0.1\",\n"
                           "              \"tcp:7008:interface=127.0.0.2\",\n"
                           "              \"tcp:7007:interface=[::1]\",\n"
                           "              \"tcp:0\", \"tcp:0\"}\n"
                           "}\n",
                           err, sizeof(err));
    if (cfg == NULL)
        fail_msg("config refused: %s", err);
    loom_config_free(cfg);
}

static void test_interface_not_an_address(void **state)
{
    file_error(state,
               "echo \"a\" {\n"
               "    listen = {\"tcp:7007:interface=300.1.1.1\"}\n"
               "}\n",
               2, "'300.1.1.1' is not an IP address");
    file_error(state,
               "echo \"a\" {\n"
               "\n"
               "    listen = {\"udp:7007:interface=eth0\"}\n"
               "}\n",
               3, "'eth0' is not an IP address");
}

static void test_unix_path_too_long(void **state)
{
    char text[600], path[300];

    (void)state;
    memset(path, 'a', 120);
    path[120] = '\0';
    snprintf(text, sizeof(text),
             "echo \"a\" {\n"
             "    listen = {\"unix:/tmp/%s.sock\"}\n"
             "}\n",
             path);
    file_error(state, text, 2, "at most 82");
    file_error(state,
               "echo \"a\" {\n"
               "    listen = {\"unix:/nonexistent-loom-dir/a.sock\"}\n"
               "}\n",
               2, "No such file or directory");
}

static void test_tls_files(void **state)
{
    file_error(state,
               "tls \"t\" {\n"
               "    cert = \"no-cert.pem\"\n"
               "    key = \"no-key.pem\"\n"
               "}\n",
               2, "no-cert.pem: No such file or directory");
    file_error(state,
               "echo \"a\" {\n"
               "    listen = {\"tls:7007:cert=c.pem:key=k.pem\"}\n"
               "}\n",
               2, "c.pem: No such file or directory");
}

static void test_access_log_dir_missing(void **state)
{
    file_error(state,
               "echo \"a\" {\n"
               "    listen = {\"tcp:7007\"}\n"
               "    access_log = \"no-such-dir/echo.log\"\n"
               "}\n",
               3, "no-such-dir");
}

static const loom_instance_conf_t *find_inst(const loom_config_t *cfg,
                                             const char *mod, const char *name,
                                             size_t *idx)
{
    size_t i;

    for (i = 0; i < cfg->n_inst; i++) {
        if (strcmp(cfg->inst[i].module->name, mod) == 0 &&
            strcmp(cfg->inst[i].name, name) == 0) {
            if (idx)
                *idx = i;
            return &cfg->inst[i];
        }
    }
    fail_msg("no instance %s \"%s\"", mod, name);
    return NULL;
}

static void test_good_config(void **state)
{
    tmp_t *t = *state;
    char main_path[512], p[512], where[600];
    char err[1024] = "";
    const loom_instance_conf_t *e, *f;
    size_t i_main, i_a, i_b;
    loom_config_t *cfg;

    /* written in reverse order: the include must sort, not use readdir */
    put_file(t, "conf.d/20-b.conf",
             "echo \"b\" {\n"
             "    listen = {\"tcp:7102\"}\n"
             "}\n"
             "finger \"users\" {\n"
             "    listen = {\"tcp:7979:interface=127.0.0.1\"}\n"
             "    user \"alice\" {\n"
             "        name = \"Alice Liddell\"\n"
             "        plan_file = \"alice.plan\"\n"
             "    }\n"
             "}\n",
             p, sizeof(p));
    put_file(t, "conf.d/10-a.conf",
             "echo \"a\" {\n"
             "    listen = {\"tcp:7101\"}\n"
             "}\n",
             p, sizeof(p));
    /* the plan sits next to the included file; next to loom.conf is a
     * directory of that name, which would fail to load as a plan */
    put_file(t, "conf.d/alice.plan", "Tea at four.\n", p, sizeof(p));
    snprintf(p, sizeof(p), "%s/alice.plan", t->dir);
    assert_int_equal(mkdir(p, 0700), 0);
    put_file(t, "conf.d/notes.txt", "not a config\n", p, sizeof(p));
    put_file(t, "loom.conf",
             "# test config\n"
             "shutdown_grace = 3\n"
             "log {\n"
             "    level = \"debug\"\n"
             "}\n"
             "echo \"main\" {\n"
             "    listen = {\"tcp:7007:interface=127.0.0.1\",\n"
             "              \"udp:7007:interface=127.0.0.1\"}\n"
             "}\n"
             "include(\"conf.d/*.conf\")\n",
             main_path, sizeof(main_path));

    cfg = loom_config_load(main_path, NULL, err, sizeof(err));
    if (cfg == NULL)
        fail_msg("good config refused: %s", err);
    assert_string_equal(cfg->file, main_path);
    assert_int_equal(cfg->shutdown_grace, 3);
    assert_int_equal(cfg->log_level, LOOM_LOG_DEBUG);
    assert_int_equal(cfg->n_inst, 4);

    e = find_inst(cfg, "echo", "main", &i_main);
    assert_int_equal(e->n_listen, 2);
    assert_int_equal(e->listen[0].ep.kind, LOOM_EP_TCP);
    assert_int_equal(e->listen[0].ep.port, 7007);
    assert_string_equal(e->listen[0].ep.host, "127.0.0.1");
    assert_string_equal(e->listen[0].text, "tcp:7007:interface=127.0.0.1");
    assert_int_equal(e->listen[1].ep.kind, LOOM_EP_UDP);
    assert_int_equal(e->listen[1].ep.port, 7007);
    snprintf(where, sizeof(where), "%s:", main_path);
    assert_memory_equal(e->where, where, strlen(where));

    e = find_inst(cfg, "echo", "a", &i_a);
    assert_int_equal(e->n_listen, 1);
    assert_int_equal(e->listen[0].ep.port, 7101);
    /* located in the included file */
    snprintf(where, sizeof(where), "%s/conf.d/10-a.conf:", t->dir);
    assert_memory_equal(e->where, where, strlen(where));
    e = find_inst(cfg, "echo", "b", &i_b);
    assert_int_equal(e->listen[0].ep.port, 7102);
    /* echo instances in file order, the included files sorted by name */
    assert_true(i_main < i_a);
    assert_true(i_a < i_b);

    f = find_inst(cfg, "finger", "users", NULL);
    assert_int_equal(f->n_listen, 1);
    assert_int_equal(f->listen[0].ep.port, 7979);
    assert_non_null(f->mod_conf);
    loom_config_free(cfg);
}

/* An instance is located at its header line, a listen option at the line
 * where it starts, however the text is laid out. */
static void test_where(void **state)
{
    char err[1024] = "";
    loom_config_t *cfg;
    const loom_instance_conf_t *e;
    int failed = 0;

    (void)state;
    cfg = loom_config_load("virtual.conf",
                           "# where things are\n"
                           "echo \"one\" {\n"
                           "    listen = {\"tcp:7101\",\n"
                           "              \"tcp:7102\"}\n"
                           "}\n"
                           "\n"
                           "echo \"two\"\n"
                           "{\n"
                           "    max_connections = 3\n"
                           "    listen = {\"tcp:7103\"}\n"
                           "}\n",
                           err, sizeof(err));
    if (cfg == NULL)
        fail_msg("config refused: %s", err);
    e = find_inst(cfg, "echo", "one", NULL);
    if (strcmp(e->where, "virtual.conf:2") != 0) {
        print_message("# FAIL one at %s, want virtual.conf:2\n", e->where);
        failed++;
    }
    if (strcmp(e->listen[0].where, "virtual.conf:3") != 0) {
        print_message("# FAIL one's listen at %s, want virtual.conf:3\n",
                      e->listen[0].where);
        failed++;
    }
    e = find_inst(cfg, "echo", "two", NULL);
    if (strcmp(e->where, "virtual.conf:7") != 0) {
        print_message("# FAIL two at %s, want virtual.conf:7\n", e->where);
        failed++;
    }
    if (strcmp(e->listen[0].where, "virtual.conf:10") != 0) {
        print_message("# FAIL two's listen at %s, want virtual.conf:10\n",
                      e->listen[0].where);
        failed++;
    }
    loom_config_free(cfg);
    assert_int_equal(failed, 0);
}

/* The defaults when almost nothing is set. */
static void test_defaults(void **state)
{
    char err[1024] = "";
    loom_config_t *cfg;

    (void)state;
    cfg = loom_config_load("empty.conf", "", err, sizeof(err));
    if (cfg == NULL)
        fail_msg("empty config refused: %s", err);
    assert_int_equal(cfg->n_inst, 0);
    assert_int_equal(cfg->shutdown_grace, 10);
    assert_int_equal(cfg->log_level, LOOM_LOG_INFO);
    assert_int_equal(cfg->user_set, 0);
    loom_config_free(cfg);
}

/* TEXT non-NULL: parsed instead of the file, FILE names it in messages. */
static void test_text(void **state)
{
    char err[1024] = "";
    loom_config_t *cfg;

    (void)state;
    cfg = loom_config_load("virtual.conf",
                           "user = \"nobody\"\n"
                           "echo \"t\" {\n"
                           "    listen = {\"tcp:1\", \"unix:/tmp/t.sock\"}\n"
                           "}\n"
                           "finger \"f\" {\n"
                           "    list_users = no\n"
                           "    user \"bob\" { name = \"Bob\" }\n"
                           "}\n",
                           err, sizeof(err));
    if (cfg == NULL)
        fail_msg("text config refused: %s", err);
    assert_string_equal(cfg->user, "nobody");
    assert_int_equal(cfg->user_set, 1);
    assert_int_equal(cfg->n_inst, 2);
    assert_int_equal(find_inst(cfg, "echo", "t", NULL)->n_listen, 2);
    assert_string_equal(find_inst(cfg, "echo", "t", NULL)->listen[1].ep.path,
                        "/tmp/t.sock");
    loom_config_free(cfg);

    expect_error("virtual.conf",
                 "echo \"t\" {\n"
                 "}\n"
                 "bogus = 1\n",
                 "virtual.conf", 3, "bogus");
    expect_error("virtual.conf",
                 "echo \"t\" {\n"
                 "    listen = {\"tcp\"}\n"
                 "}\n",
                 "virtual.conf", 2, "endpoint 'tcp': ");
}

/* A TLS profile section is read into cfg->tls. */
static void test_tls_profile(void **state)
{
    char err[1024] = "";
    loom_config_t *cfg;
    loom_tls_profile_conf_t *tp;

    (void)state;
    cfg = loom_config_load("tls.conf",
                           "tls \"local\" {\n"
                           "    self_signed = yes\n"
                           "    server_names = {\"a.test\", \"*.b.test\"}\n"
                           "}\n",
                           err, sizeof(err));
    if (cfg == NULL)
        fail_msg("tls config refused: %s", err);
    tp = loom_config_tls(cfg, "local");
    assert_non_null(tp);
    assert_int_equal(tp->self_signed, 1);
    assert_int_equal(tp->n_server_names, 2);
    assert_string_equal(tp->server_names[1], "*.b.test");
    assert_null(loom_config_tls(cfg, "other"));
    loom_config_free(cfg);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tmp_setup, tmp_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_unknown_option),
        T(test_unknown_option_in_module),
        T(test_bad_type),
        T(test_bad_log_level),
        T(test_negative_grace),
        T(test_bad_endpoint),
        T(test_unknown_module),
        T(test_duplicate_instance),
        T(test_missing_plan_file),
        T(test_plan_file_is_dir),
        T(test_include_missing),
        T(test_load_module_missing),
        T(test_load_module_bad_abi),
        T(test_error_in_include),
        T(test_good_config),
        T(test_where),
        T(test_defaults),
        T(test_text),
        T(test_tls_profile),
        T(test_unclosed_section),
        T(test_unclosed_list),
        T(test_unclosed_string),
        T(test_unclosed_comment),
        T(test_unclosed_call),
        T(test_stray_closer),
        T(test_unclosed_in_include),
        T(test_structure_good),
        T(test_int_out_of_range),
        T(test_duplicate_listener),
        T(test_wildcard_conflict),
        T(test_no_conflict),
        T(test_interface_not_an_address),
        T(test_unix_path_too_long),
        T(test_tls_files),
        T(test_access_log_dir_missing),
    };

    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
