/*
 * ctl_cmds.c - what the control socket can be asked: the core's commands
 * (status, reload, stop, listeners, connections, routes, log-level,
 * reopen-logs, help) in one table, and `MODULE[/NAME] COMMAND ARGS`
 * through the modules' own tables (loom_module_t.commands).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "ctl.h"

typedef struct {
    const char *name, *usage, *help;
    unsigned min_args, max_args;
    loom_ctl_later_t (*run)(loom_server_t *srv, int argc, char **argv,
                            loom_ctl_t *out, long *grace);
} ctl_core_cmd_t;

static const ctl_core_cmd_t ctl_core_cmds[];

/* ---- helpers ------------------------------------------------------------ */

static const char *ctl_transport(const loom_endpoint_t *ep)
{
    static const char *const names[] = {"?", "tcp", "udp", "unix", "tls"};

    return (unsigned)ep->kind < LOOM_ARRAY_LEN(names) ? names[ep->kind] : "?";
}

/* Does INST answer to the name WORD: "module/name", "name" or "module"? */
static int ctl_inst_match(const loom_instance_t *inst, const char *word)
{
    size_t n = strlen(inst->mod->name);

    if (strcmp(inst->who, word) == 0 || strcmp(inst->name, word) == 0 ||
        strcmp(inst->mod->name, word) == 0)
        return 1;
    return strncmp(word, inst->mod->name, n) == 0 && word[n] == '/' &&
           strcmp(word + n + 1, inst->name) == 0;
}

static int ctl_parse_seconds(const char *s, long *out)
{
    char *end;
    long v;

    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v > 86400)
        return -1;
    *out = v;
    return 0;
}

/* ---- core commands ------------------------------------------------------ */

/* Is SAMPLE (an element of loom_metrics_json's array) one of INST's: its
 * instance label, and its module label or its family's module prefix? */
static int ctl_sample_of(json_t *sample, const loom_instance_t *inst)
{
    const char *in = json_string_value(json_object_get(sample, "instance"));
    const char *name = json_string_value(json_object_get(sample, "name"));
    const char *mod = json_string_value(
        json_object_get(json_object_get(sample, "labels"), "module"));
    size_t n = strlen(inst->mod->name);

    if (in == NULL || name == NULL || strcmp(in, inst->name) != 0)
        return 0;
    if (mod)
        return strcmp(mod, inst->mod->name) == 0;
    return strncmp(name, "loom_", 5) == 0 &&
           strncmp(name + 5, inst->mod->name, n) == 0 && name[5 + n] == '_';
}

/* The collector's samples: those of no instance into R's "metrics", each
 * instance's into its object of INSTS ("module", "name"). */
static void ctl_status_metrics(loom_server_t *srv, json_t *r, json_t *insts)
{
    loom_metrics_t *m = loom_metrics_collect(srv);
    char *text = loom_metrics_json(m, NULL);
    json_t *all = text ? json_loads(text, 0, NULL) : NULL, *core, *sample;
    loom_instance_t *inst;
    size_t i, k;

    loom_metrics_free(m);
    free(text);
    if (!json_is_array(all)) {
        json_decref(all);
        return;
    }
    core = json_array();
    json_array_foreach(all, i, sample)
    {
        if (json_is_null(json_object_get(sample, "instance")))
            json_array_append(core, sample);
    }
    json_object_set_new(r, "metrics", core);
    for (k = 0; k < json_array_size(insts); k++) {
        json_t *o = json_array_get(insts, k), *mine = json_array();

        for (inst = srv->instances; inst; inst = inst->next) {
            if (!inst->removed &&
                strcmp(inst->mod->name,
                       json_string_value(json_object_get(o, "module"))) == 0 &&
                strcmp(inst->name,
                       json_string_value(json_object_get(o, "name"))) == 0)
                break;
        }
        json_array_foreach(all, i, sample)
        {
            if (inst && ctl_sample_of(sample, inst))
                json_array_append(mine, sample);
        }
        json_object_set_new(o, "metrics", mine);
    }
    json_decref(all);
}

static loom_ctl_later_t cmd_status(loom_server_t *srv, int argc, char **argv,
                                   loom_ctl_t *out, long *grace)
{
    json_t *r = json_object(), *insts = json_array();
    loom_instance_t *inst;
    loom_listener_t *ls;

    (void)argc;
    (void)argv;
    (void)grace;
    json_object_set_new(r, "version", json_string(LOOM_VERSION_STRING));
    json_object_set_new(r, "pid", json_integer((json_int_t)getpid()));
    json_object_set_new(
        r, "uptime",
        json_integer((json_int_t)((loom_now_ms() - srv->started_ms) / 1000)));
    json_object_set_new(
        r, "config", srv->conf_abs ? json_string(srv->conf_abs) : json_null());
    json_object_set_new(r, "connections", json_integer(srv->nconns));
    for (inst = srv->instances; inst; inst = inst->next) {
        json_t *o, *l = json_array();

        if (inst->removed)
            continue;
        for (ls = srv->listeners; ls; ls = ls->next) {
            if (ls->inst == inst && !ls->closed)
                json_array_append_new(l, json_string(ls->text));
        }
        o = json_pack("{sssssosi}", "module", inst->mod->name, "name",
                      inst->name, "listeners", l, "connections",
                      (int)inst->nconns);
        /* status lists instances in config order, as the list is kept
         * newest first */
        json_array_insert_new(insts, 0, o);
    }
    json_object_set_new(r, "instances", insts);
    ctl_status_metrics(srv, r, insts);
    loom_ctl_set_result(out, r);
    return LOOM_CTL_NOW;
}

static loom_ctl_later_t cmd_reload(loom_server_t *srv, int argc, char **argv,
                                   loom_ctl_t *out, long *grace)
{
    (void)srv;
    (void)argc;
    (void)argv;
    (void)out;
    (void)grace;
    return LOOM_CTL_RELOAD;
}

static loom_ctl_later_t cmd_stop(loom_server_t *srv, int argc, char **argv,
                                 loom_ctl_t *out, long *grace)
{
    long g = srv->cfg ? srv->cfg->shutdown_grace : 10;

    /* `stop --grace N` and `stop N` alike. */
    if (argc == 2 && strcmp(argv[0], "--grace") == 0) {
        argc--;
        argv++;
    } else if (argc == 2 || (argc == 1 && strcmp(argv[0], "--grace") == 0)) {
        loom_ctl_error(out, "usage: stop [--grace] [SECONDS]");
        return LOOM_CTL_NOW;
    }
    if (argc == 1 && ctl_parse_seconds(argv[0], &g) != 0) {
        loom_ctl_error(out,
                       "GRACE must be a number of seconds (0 to 86400), "
                       "not '%s'",
                       argv[0]);
        return LOOM_CTL_NOW;
    }
    if (srv->daemon == NULL || srv->daemon->stop == NULL) {
        loom_ctl_error(out, "stop is not available: no daemon to stop");
        return LOOM_CTL_NOW;
    }
    if (srv->shutting_down) {
        loom_ctl_error(out, "loomd is already stopping");
        return LOOM_CTL_NOW;
    }
    *grace = g;
    loom_ctl_message(out, "stopping: %u connection(s) open, grace %ld s",
                     srv->nconns, g);
    return LOOM_CTL_STOP;
}

static loom_ctl_later_t cmd_listeners(loom_server_t *srv, int argc, char **argv,
                                      loom_ctl_t *out, long *grace)
{
    loom_listener_t *ls;
    char n[32];

    (void)argc;
    (void)argv;
    (void)grace;
    loom_ctl_columns(out, "instance", "endpoint", "transport", "connections",
                     "adopted", NULL);
    for (ls = srv->listeners; ls; ls = ls->next) {
        if (ls->closed)
            continue;
        snprintf(n, sizeof(n), "%u", ls->nconns);
        loom_ctl_row(out, ls->inst ? ls->inst->who : "-", ls->text,
                     ctl_transport(&ls->ep), n, ls->adopted ? "yes" : "no",
                     NULL);
    }
    return LOOM_CTL_NOW;
}

static const char *ctl_conn_state(const loom_conn_t *c)
{
    if (c->flags & (LOOM_CF_DEAD | LOOM_CF_ABORT))
        return "closed";
    if (c->flags & LOOM_CF_CLOSING)
        return "closing";
    if (c->flags & LOOM_CF_HANDSHAKE)
        return "handshake";
    if (c->flags & LOOM_CF_FULL)
        return "output-full";
    if (c->flags & LOOM_CF_PAUSED)
        return "paused";
    return "open";
}

/* C's peer with its port ("127.0.0.1:54321", "[::1]:54321") in BUF, or
 * loom_conn_peer's word for one without ("unix", "memory"). */
static void ctl_conn_peer(loom_conn_t *c, char *buf, size_t len)
{
    loom_addr_t a;

    memset(&a, 0, sizeof(a));
    if (loom_conn_peer_addr(c, &a.addr, &a.len) == LOOM_OK &&
        (a.addr.ss_family == AF_INET || a.addr.ss_family == AF_INET6))
        loom_addr_format(&a, buf, len);
    else
        snprintf(buf, len, "%s", loom_conn_peer(c));
}

static loom_ctl_later_t cmd_connections(loom_server_t *srv, int argc,
                                        char **argv, loom_ctl_t *out,
                                        long *grace)
{
    loom_instance_t *inst;
    loom_conn_t *c;
    uint64_t now = loom_now_ms();
    char age[32], in[32], outb[32], peer[128];
    int found = 0;

    (void)grace;
    for (inst = srv->instances; argc == 1 && inst; inst = inst->next)
        found |= !inst->removed && ctl_inst_match(inst, argv[0]);
    if (argc == 1 && !found) {
        loom_ctl_error(out, "no instance '%s' (see status)", argv[0]);
        return LOOM_CTL_NOW;
    }
    loom_ctl_columns(out, "instance", "peer", "age", "bytes_in", "bytes_out",
                     "state", NULL);
    for (inst = srv->instances; inst; inst = inst->next) {
        if (argc == 1 && !ctl_inst_match(inst, argv[0]))
            continue;
        for (c = inst->lru_head; c; c = c->next) {
            snprintf(age, sizeof(age), "%llu",
                     (unsigned long long)((now - c->since_ms) / 1000));
            snprintf(in, sizeof(in), "%llu", (unsigned long long)c->bytes_in);
            snprintf(outb, sizeof(outb), "%llu",
                     (unsigned long long)c->bytes_out);
            ctl_conn_peer(c, peer, sizeof(peer));
            loom_ctl_row(out, inst->who, peer, age, in, outb, ctl_conn_state(c),
                         NULL);
        }
    }
    return LOOM_CTL_NOW;
}

static loom_ctl_later_t cmd_routes(loom_server_t *srv, int argc, char **argv,
                                   loom_ctl_t *out, long *grace)
{
    loom_route_stat_t rs[256];
    size_t n = loom_bus_routes(srv, rs, LOOM_ARRAY_LEN(rs)), i;
    char v[9][24];

    (void)argc;
    (void)argv;
    (void)grace;
    loom_ctl_columns(out, "route", "matched", "delivered", "failed", "retried",
                     "dropped_rate", "dropped_queue", "dropped_loop", "queued",
                     "inflight", NULL);
    for (i = 0; i < n && i < LOOM_ARRAY_LEN(rs); i++) {
        const uint64_t c[9] = {
            rs[i].matched,      rs[i].delivered,    rs[i].failed,
            rs[i].retried,      rs[i].dropped_rate, rs[i].dropped_queue,
            rs[i].dropped_loop, rs[i].queued,       rs[i].inflight};
        size_t k;

        for (k = 0; k < 9; k++)
            snprintf(v[k], sizeof(v[k]), "%llu", (unsigned long long)c[k]);
        loom_ctl_row(out, rs[i].name, v[0], v[1], v[2], v[3], v[4], v[5], v[6],
                     v[7], v[8], NULL);
    }
    if (n > LOOM_ARRAY_LEN(rs))
        loom_ctl_message(out, "%zu more routes not shown",
                         n - LOOM_ARRAY_LEN(rs));
    return LOOM_CTL_NOW;
}

static loom_ctl_later_t cmd_log_level(loom_server_t *srv, int argc, char **argv,
                                      loom_ctl_t *out, long *grace)
{
    int lvl = loom_log_level_parse(argv[0]);

    (void)srv;
    (void)argc;
    (void)grace;
    if (lvl < 0) {
        loom_ctl_error(out,
                       "log level must be error, warn, info or debug, not '%s'",
                       argv[0]);
        return LOOM_CTL_NOW;
    }
    loom_log_set_level((loom_log_level_t)lvl);
    loom_log(LOOM_LOG_INFO, NULL, "log level set to %s (control socket)",
             argv[0]);
    loom_ctl_message(out, "log level set to %s until the next reload", argv[0]);
    return LOOM_CTL_NOW;
}

static loom_ctl_later_t cmd_reopen_logs(loom_server_t *srv, int argc,
                                        char **argv, loom_ctl_t *out,
                                        long *grace)
{
    int n = loom_alog_reopen_all();

    (void)srv;
    (void)argc;
    (void)argv;
    (void)grace;
    if (n) {
        loom_log(LOOM_LOG_ERROR, NULL, "%d access log(s) could not be reopened",
                 n);
        loom_ctl_error(
            out, "%d access log(s) could not be reopened (see the log)", n);
    } else {
        loom_log(LOOM_LOG_INFO, NULL, "access logs reopened");
        loom_ctl_message(out, "access logs reopened");
    }
    return LOOM_CTL_NOW;
}

/* The modules with a running instance and a command table, each once. */
static size_t ctl_modules(loom_server_t *srv, const loom_module_t **mods,
                          size_t max)
{
    loom_instance_t *inst;
    size_t n = 0, i;

    for (inst = srv->instances; inst; inst = inst->next) {
        if (inst->removed || inst->mod->commands == NULL)
            continue;
        for (i = 0; i < n && mods[i] != inst->mod; i++)
            ;
        if (i == n && n < max)
            mods[n++] = inst->mod;
    }
    return n;
}

static loom_ctl_later_t cmd_help(loom_server_t *srv, int argc, char **argv,
                                 loom_ctl_t *out, long *grace)
{
    const loom_module_t *mods[64];
    size_t n = ctl_modules(srv, mods, LOOM_ARRAY_LEN(mods)), i;
    const ctl_core_cmd_t *cc;
    const loom_ctl_cmd_t *mc;
    char name[160];

    (void)grace;
    loom_ctl_columns(out, "command", "arguments", "description", NULL);
    for (cc = ctl_core_cmds; argc == 0 && cc->name; cc++)
        loom_ctl_row(out, cc->name, cc->usage, cc->help, NULL);
    for (i = 0; i < n; i++) {
        if (argc == 1 && strcmp(argv[0], mods[i]->name) != 0)
            continue;
        for (mc = mods[i]->commands; mc->name; mc++) {
            snprintf(name, sizeof(name), "%s[/NAME] %s", mods[i]->name,
                     mc->name);
            loom_ctl_row(out, name, mc->usage ? mc->usage : "",
                         mc->help ? mc->help : "", NULL);
        }
        if (argc == 1)
            return LOOM_CTL_NOW;
    }
    if (argc == 1)
        loom_ctl_error(out, "no running module '%s' with commands", argv[0]);
    return LOOM_CTL_NOW;
}

static const ctl_core_cmd_t ctl_core_cmds[] = {
    {"status", "", "version, uptime, instances, listeners and counters", 0, 0,
     cmd_status},
    {"reload", "", "re-read the configuration (kept when invalid)", 0, 0,
     cmd_reload},
    {"stop", "[--grace] [SECONDS]", "stop; connections get SECONDS to finish",
     0, 2, cmd_stop},
    {"listeners", "", "open listeners and their connections", 0, 0,
     cmd_listeners},
    {"connections", "[INSTANCE]", "open connections (of one instance)", 0, 1,
     cmd_connections},
    {"routes", "", "bus routes and their counters", 0, 0, cmd_routes},
    {"log-level", "LEVEL", "error, warn, info or debug until the next reload",
     1, 1, cmd_log_level},
    {"reopen-logs", "", "reopen the access logs (after rotation)", 0, 0,
     cmd_reopen_logs},
    {"help", "[MODULE]", "this list (or one module's commands)", 0, 1,
     cmd_help},
    {NULL, NULL, NULL, 0, 0, NULL}};

/* ---- module commands ---------------------------------------------------- */

static void ctl_list_commands(const loom_module_t *mod, char *buf, size_t len)
{
    const loom_ctl_cmd_t *mc;
    size_t used = 0;

    buf[0] = '\0';
    for (mc = mod->commands; mc && mc->name && used < len; mc++) {
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
                         mc->name);

        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static void ctl_module_command(loom_server_t *srv, int argc, char **argv,
                               loom_ctl_t *out)
{
    char modname[128], names[512], cmds[512];
    const char *slash = strchr(argv[0], '/'), *iname = NULL;
    loom_instance_t *inst, *found = NULL;
    const loom_ctl_cmd_t *mc;
    unsigned count = 0, nargs;
    size_t used = 0;

    if (slash) {
        snprintf(modname, sizeof(modname), "%.*s", (int)(slash - argv[0]),
                 argv[0]);
        iname = slash + 1;
    } else {
        snprintf(modname, sizeof(modname), "%s", argv[0]);
    }
    names[0] = '\0';
    for (inst = srv->instances; inst; inst = inst->next) {
        if (inst->removed || strcmp(inst->mod->name, modname) != 0)
            continue;
        if (iname == NULL || strcmp(inst->name, iname) == 0)
            found = inst;
        count++;
        if (used < sizeof(names)) {
            int n = snprintf(names + used, sizeof(names) - used, "%s%s",
                             used ? ", " : "", inst->name);
            if (n > 0)
                used += (size_t)n;
        }
    }
    if (count == 0) {
        if (loom_module_find(modname))
            loom_ctl_error(out, "no instance of module %s is running", modname);
        else
            loom_ctl_error(out, "unknown command '%s' (see help)", argv[0]);
        return;
    }
    if (iname && found == NULL) {
        loom_ctl_error(out, "no instance %s/%s (instances: %s)", modname, iname,
                       names);
        return;
    }
    if (iname == NULL && count > 1) {
        loom_ctl_error(out,
                       "module %s has %u instances (%s): name one as %s/NAME",
                       modname, count, names, modname);
        return;
    }
    inst = found;
    if (inst->mod->commands == NULL || inst->mod->commands[0].name == NULL) {
        loom_ctl_error(out, "module %s has no commands", modname);
        return;
    }
    ctl_list_commands(inst->mod, cmds, sizeof(cmds));
    if (argc < 2) {
        loom_ctl_error(out, "usage: %s COMMAND [ARGS] (commands: %s)", argv[0],
                       cmds);
        return;
    }
    for (mc = inst->mod->commands; mc->name; mc++) {
        if (strcmp(mc->name, argv[1]) == 0)
            break;
    }
    if (mc->name == NULL) {
        loom_ctl_error(out, "module %s has no command '%s' (commands: %s)",
                       modname, argv[1], cmds);
        return;
    }
    nargs = (unsigned)argc - 2;
    if (nargs < mc->min_args || nargs > mc->max_args) {
        loom_ctl_error(out, "usage: %s %s%s%s", argv[0], mc->name,
                       mc->usage && mc->usage[0] ? " " : "",
                       mc->usage ? mc->usage : "");
        return;
    }
    if (mc->run(inst, argc - 2, argv + 2, out) != LOOM_OK &&
        loom_ctl_error_text(out) == NULL)
        loom_ctl_error(out, "%s %s failed", inst->who, mc->name);
}

/* ---- dispatch ----------------------------------------------------------- */

loom_ctl_later_t loom_ctl_dispatch(loom_server_t *srv, int argc, char **argv,
                                   loom_ctl_t *out, long *grace)
{
    const ctl_core_cmd_t *cc;
    unsigned nargs;

    *grace = -1;
    if (argc < 1) {
        loom_ctl_error(out, "empty request");
        return LOOM_CTL_NOW;
    }
    nargs = (unsigned)argc - 1;
    for (cc = ctl_core_cmds; cc->name; cc++) {
        if (strcmp(cc->name, argv[0]) != 0)
            continue;
        if (nargs < cc->min_args || nargs > cc->max_args) {
            loom_ctl_error(out, "usage: %s%s%s", cc->name,
                           cc->usage[0] ? " " : "", cc->usage);
            return LOOM_CTL_NOW;
        }
        return cc->run(srv, argc - 1, argv + 1, out, grace);
    }
    ctl_module_command(srv, argc, argv, out);
    return LOOM_CTL_NOW;
}

void loom_ctl_reload(loom_server_t *srv, loom_ctl_t *out)
{
    char err[1024];
    int rc;

    err[0] = '\0';
    if (srv->daemon && srv->daemon->reload)
        rc = srv->daemon->reload(srv->daemon_arg, err, sizeof(err));
    else
        rc = srv->conf_file ? loom_server_reload(srv, err, sizeof(err))
                            : (snprintf(err, sizeof(err),
                                        "no configuration file to re-read"),
                               LOOM_ERROR);
    if (rc == LOOM_OK)
        loom_ctl_message(out, "configuration reloaded");
    else
        loom_ctl_error(out, "%s; old configuration kept",
                       err[0] ? err : "reload failed");
}

int loom_ctl_stop(loom_server_t *srv, long grace)
{
    if (srv->daemon == NULL || srv->daemon->stop == NULL)
        return LOOM_ERROR;
    srv->daemon->stop(srv->daemon_arg, grace);
    return LOOM_OK;
}

char *loom_ctl_run_line(loom_server_t *srv, const char *line)
{
    size_t n = strlen(line);
    char *buf = loom_malloc(n + 2), err[256], *reply;
    loom_ctl_req_t req;
    loom_ctl_t *out;
    long grace, rc;

    memcpy(buf, line, n);
    if (n == 0 || line[n - 1] != '\n')
        buf[n++] = '\n';
    rc = loom_ctl_parse(buf, n, &req, err, sizeof(err));
    free(buf);
    if (rc < 0)
        return loom_ctl_render_error(
            rc == LOOM_AGAIN ? "incomplete request" : err, NULL);
    out = loom_ctl_new();
    switch (loom_ctl_dispatch(srv, req.argc, req.argv, out, &grace)) {
    case LOOM_CTL_RELOAD:
        loom_ctl_reload(srv, out);
        break;
    case LOOM_CTL_STOP:
        loom_ctl_stop(srv, grace);
        break;
    default:
        break;
    }
    reply = loom_ctl_render(out, NULL);
    loom_ctl_free(out);
    loom_ctl_req_free(&req);
    return reply;
}
