/*
 * bus_conf.c - config glue for routes: `route "NAME" { ... }` sections
 * become a bus_table_t with every pattern, match and template compiled
 * and every action resolved, so that a broken route is an error at
 * FILE:LINE when the config is loaded (at start, by loomd -t, and on a
 * reload, which then keeps the old table).
 */
#include "config.h"

#include "bus_int.h"
#include "loom_module.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static cfg_opt_t bus_action_opts[] = {CFG_STR_LIST("set", NULL, CFGF_NONE),
                                      CFG_END()};

cfg_opt_t bus_route_opts[] = {
    CFG_STR_LIST("from", NULL, CFGF_NONE),
    CFG_STR_LIST("match", NULL, CFGF_NONE),
    CFG_STR_LIST("to", NULL, CFGF_NONE),
    CFG_STR_LIST("set", NULL, CFGF_NONE),
    CFG_SEC("action", bus_action_opts, CFGF_MULTI | CFGF_TITLE),
    CFG_STR("rate", NULL, CFGF_NONE),
    CFG_INT("burst", 0, CFGF_NONE),
    CFG_INT("queue", 100, CFGF_NONE),
    CFG_INT("inflight", 64, CFGF_NONE),
    CFG_INT("retry_for", 60, CFGF_NONE),
    CFG_STR("overflow", "drop-new", CFGF_NONE),
    CFG_END()};

/* Limits on what a route may ask for. */
#define BUS_QUEUE_MAX 1000000
#define BUS_INFLIGHT_MAX 100000
#define BUS_RETRY_FOR_MAX 86400

static int conf_from(cfg_t *sec, bus_route_t *r)
{
    size_t i, n = cfg_size(sec, "from");

    if (n == 0) {
        loom_conf_error(sec, NULL, "route \"%s\" needs a from", r->name);
        return LOOM_ERROR;
    }
    r->from = loom_calloc(n, sizeof(*r->from));
    for (i = 0; i < n; i++) {
        const char *v = cfg_getnstr(sec, "from", (unsigned)i);

        if (bus_pattern_parse(v, &r->from[i]) != LOOM_OK) {
            loom_conf_error(sec, "from",
                            "route \"%s\": from '%s' is not "
                            "MODULE:INSTANCE:TOPIC or TOPIC",
                            r->name, v);
            return LOOM_ERROR;
        }
        r->nfrom++;
    }
    return LOOM_OK;
}

static int conf_match(cfg_t *sec, bus_route_t *r)
{
    size_t i, n = cfg_size(sec, "match");
    char err[256];

    r->match = loom_calloc(n ? n : 1, sizeof(*r->match));
    for (i = 0; i < n; i++) {
        const char *v = cfg_getnstr(sec, "match", (unsigned)i);

        r->match[i] = bus_match_compile(v, err, sizeof(err));
        if (r->match[i] == NULL) {
            loom_conf_error(sec, "match", "route \"%s\": match '%s': %s",
                            r->name, v, err);
            return LOOM_ERROR;
        }
        r->nmatch++;
    }
    return LOOM_OK;
}

/* Resolve TARGET ("MODULE:INSTANCE:ACTION") into T. */
static int conf_target(cfg_t *sec, const char *opt, const bus_route_t *r,
                       const char *target, bus_to_t *t,
                       const loom_instance_conf_t *insts, size_t n)
{
    const char *a = strchr(target, ':'), *b = a ? strchr(a + 1, ':') : NULL;
    const loom_module_t *mod;
    size_t i;

    if (a == NULL || b == NULL || strchr(b + 1, ':') || a == target ||
        b == a + 1 || b[1] == '\0') {
        loom_conf_error(sec, opt,
                        "route \"%s\": '%s' is not MODULE:INSTANCE:ACTION",
                        r->name, target);
        return LOOM_ERROR;
    }
    t->module = loom_strndup(target, (size_t)(a - target));
    t->instance = loom_strndup(a + 1, (size_t)(b - a - 1));
    t->action = loom_strdup(b + 1);
    mod = loom_module_find(t->module);
    if (mod == NULL) {
        loom_conf_error(sec, opt, "route \"%s\": no module named '%s'", r->name,
                        t->module);
        return LOOM_ERROR;
    }
    for (i = 0; mod->actions && mod->actions[i].name; i++) {
        if (strcmp(mod->actions[i].name, t->action) == 0)
            t->act = &mod->actions[i];
    }
    if (t->act == NULL) {
        loom_conf_error(sec, opt, "route \"%s\": module %s has no action '%s'",
                        r->name, t->module, t->action);
        return LOOM_ERROR;
    }
    for (i = 0; i < n; i++) {
        if (insts[i].module == mod && strcmp(insts[i].name, t->instance) == 0)
            return LOOM_OK;
    }
    loom_conf_error(sec, opt, "route \"%s\": no %s instance named \"%s\"",
                    r->name, t->module, t->instance);
    return LOOM_ERROR;
}

/* Add the parameters of list OPT of SEC ("NAME = TEMPLATE") to T. */
static int conf_params(cfg_t *sec, const char *opt, const bus_route_t *r,
                       bus_to_t *t)
{
    size_t i, j, n = cfg_size(sec, opt);
    char err[256];

    t->pnames = loom_calloc(n ? n : 1, sizeof(char *));
    t->ptmpl = loom_calloc(n ? n : 1, sizeof(bus_tmpl_t *));
    for (i = 0; i < n; i++) {
        const char *v = cfg_getnstr(sec, opt, (unsigned)i);
        const char *eq = strchr(v, '='), *ne, *val;
        const loom_action_param_t *p;

        if (eq == NULL) {
            loom_conf_error(sec, opt,
                            "route \"%s\": set '%s' is not NAME = TEMPLATE",
                            r->name, v);
            return LOOM_ERROR;
        }
        while (*v == ' ' || *v == '\t')
            v++;
        ne = eq;
        while (ne > v && (ne[-1] == ' ' || ne[-1] == '\t'))
            ne--;
        val = eq + 1;
        while (*val == ' ' || *val == '\t')
            val++;
        if (ne == v) {
            loom_conf_error(sec, opt, "route \"%s\": set '%s' has no name",
                            r->name, cfg_getnstr(sec, opt, (unsigned)i));
            return LOOM_ERROR;
        }
        for (p = t->act->params; p && p->name; p++) {
            if (strlen(p->name) == (size_t)(ne - v) &&
                memcmp(p->name, v, (size_t)(ne - v)) == 0)
                break;
        }
        if (p == NULL || p->name == NULL) {
            loom_conf_error(sec, opt,
                            "route \"%s\": action %s:%s:%s has no parameter "
                            "'%.*s'",
                            r->name, t->module, t->instance, t->action,
                            (int)(ne - v), v);
            return LOOM_ERROR;
        }
        for (j = 0; j < t->nparams; j++) {
            if (strcmp(t->pnames[j], p->name) == 0) {
                loom_conf_error(sec, opt,
                                "route \"%s\": parameter '%s' set twice",
                                r->name, p->name);
                return LOOM_ERROR;
            }
        }
        t->ptmpl[t->nparams] = bus_tmpl_compile(val, err, sizeof(err));
        if (t->ptmpl[t->nparams] == NULL) {
            loom_conf_error(sec, opt, "route \"%s\": set %s: %s", r->name,
                            p->name, err);
            return LOOM_ERROR;
        }
        t->pnames[t->nparams++] = loom_strdup(p->name);
    }
    for (i = 0; t->act->params && t->act->params[i].name; i++) {
        const loom_action_param_t *p = &t->act->params[i];

        if (!p->required)
            continue;
        for (j = 0; j < t->nparams && strcmp(t->pnames[j], p->name); j++)
            ;
        if (j == t->nparams) {
            loom_conf_error(sec, NULL,
                            "route \"%s\": action %s:%s:%s needs parameter "
                            "'%s' (set = {\"%s = ...\"})",
                            r->name, t->module, t->instance, t->action, p->name,
                            p->name);
            return LOOM_ERROR;
        }
    }
    return LOOM_OK;
}

static int conf_to(cfg_t *sec, bus_route_t *r,
                   const loom_instance_conf_t *insts, size_t n)
{
    size_t nto = cfg_size(sec, "to"), nact = cfg_size(sec, "action"), i;

    if (nto + nact == 0) {
        loom_conf_error(sec, NULL,
                        "route \"%s\" needs a to (or an action section)",
                        r->name);
        return LOOM_ERROR;
    }
    if (nto == 0 && cfg_size(sec, "set")) {
        loom_conf_error(sec, "set",
                        "route \"%s\": set applies to the actions in to, and "
                        "there are none (an action section has its own set)",
                        r->name);
        return LOOM_ERROR;
    }
    r->to = loom_calloc(nto + nact, sizeof(*r->to));
    for (i = 0; i < nto; i++) {
        bus_to_t *t = &r->to[r->nto++];

        if (conf_target(sec, "to", r, cfg_getnstr(sec, "to", (unsigned)i), t,
                        insts, n) != LOOM_OK ||
            conf_params(sec, "set", r, t) != LOOM_OK)
            return LOOM_ERROR;
    }
    for (i = 0; i < nact; i++) {
        cfg_t *as = cfg_getnsec(sec, "action", (unsigned)i);
        bus_to_t *t = &r->to[r->nto++];

        if (conf_target(as, NULL, r, cfg_title(as), t, insts, n) != LOOM_OK ||
            conf_params(as, "set", r, t) != LOOM_OK)
            return LOOM_ERROR;
    }
    return LOOM_OK;
}

static int conf_limits(cfg_t *sec, bus_route_t *r)
{
    const char *rate = cfg_getstr(sec, "rate"), *ov;
    long v;

    if (rate) {
        if (bus_rate_parse(rate, &r->rate_count, &r->rate_period) != LOOM_OK) {
            loom_conf_error(sec, "rate",
                            "route \"%s\": rate '%s' is not COUNT/PERIOD "
                            "(20/60s, 5/s, 100/m, 1000/h)",
                            r->name, rate);
            return LOOM_ERROR;
        }
        r->has_rate = 1;
    }
    v = cfg_getint(sec, "burst");
    if (v < 0 || v > BUS_QUEUE_MAX) {
        loom_conf_error(sec, "burst", "route \"%s\": burst must be 0 to %d",
                        r->name, BUS_QUEUE_MAX);
        return LOOM_ERROR;
    }
    if (v > 0 && !rate) {
        loom_conf_error(sec, "burst", "route \"%s\": burst needs a rate",
                        r->name);
        return LOOM_ERROR;
    }
    /* without burst, a whole period's count may come at once */
    r->burst = v ? (unsigned)v
                 : (unsigned)(r->rate_count < BUS_QUEUE_MAX ? r->rate_count
                                                            : BUS_QUEUE_MAX);
    v = cfg_getint(sec, "queue");
    if (v < 1 || v > BUS_QUEUE_MAX) {
        loom_conf_error(sec, "queue", "route \"%s\": queue must be 1 to %d",
                        r->name, BUS_QUEUE_MAX);
        return LOOM_ERROR;
    }
    r->queue_max = (unsigned)v;
    v = cfg_getint(sec, "inflight");
    if (v < 1 || v > BUS_INFLIGHT_MAX) {
        loom_conf_error(sec, "inflight",
                        "route \"%s\": inflight must be 1 to %d", r->name,
                        BUS_INFLIGHT_MAX);
        return LOOM_ERROR;
    }
    r->inflight_max = (unsigned)v;
    v = cfg_getint(sec, "retry_for");
    if (v < 0 || v > BUS_RETRY_FOR_MAX) {
        loom_conf_error(sec, "retry_for",
                        "route \"%s\": retry_for must be 0 to %d seconds",
                        r->name, BUS_RETRY_FOR_MAX);
        return LOOM_ERROR;
    }
    r->retry_for = (uint64_t)v * 1000;
    ov = cfg_getstr(sec, "overflow");
    if (strcmp(ov, "drop-new") == 0) {
        r->drop_oldest = 0;
    } else if (strcmp(ov, "drop-oldest") == 0) {
        r->drop_oldest = 1;
    } else {
        loom_conf_error(sec, "overflow",
                        "route \"%s\": overflow must be drop-new or "
                        "drop-oldest, not '%s'",
                        r->name, ov);
        return LOOM_ERROR;
    }
    r->q = loom_calloc(r->queue_max, sizeof(*r->q));
    return LOOM_OK;
}

static int conf_name_ok(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
            return 0;
    }
    return 1;
}

bus_table_t *bus_conf_build(cfg_t *root, const loom_instance_conf_t *insts,
                            size_t n)
{
    size_t i, j, nr = cfg_size(root, "route");
    bus_table_t *t = loom_calloc(1, sizeof(*t));

    t->routes = loom_calloc(nr ? nr : 1, sizeof(*t->routes));
    for (i = 0; i < nr; i++) {
        cfg_t *sec = cfg_getnsec(root, "route", (unsigned)i);
        bus_route_t *r = loom_calloc(1, sizeof(*r));

        r->refs = 1;
        t->routes[t->n++] = r;
        r->name = loom_strdup(cfg_title(sec));
        if (!conf_name_ok(r->name)) {
            loom_conf_error(sec, NULL,
                            "route \"%s\": a route name is letters, digits, "
                            "'-', '_' and '.'",
                            r->name);
            goto fail;
        }
        r->id = bus_route_id(r->name);
        for (j = 0; j + 1 < t->n; j++) {
            if (t->routes[j]->id == r->id) { /* a hash collision */
                loom_conf_error(sec, NULL,
                                "route \"%s\": choose another name (it "
                                "collides with route \"%s\")",
                                r->name, t->routes[j]->name);
                goto fail;
            }
        }
        if (conf_from(sec, r) || conf_match(sec, r) ||
            conf_to(sec, r, insts, n) || conf_limits(sec, r))
            goto fail;
    }
    return t;
fail:
    bus_table_free(t);
    return NULL;
}
