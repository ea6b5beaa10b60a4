/*
 * finger_conf.c - the finger module's options and their validation.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "finger.h"
#include "loom_module.h"

/* Largest plan file read into memory. */
#define FINGER_PLAN_MAX (64 * 1024)

static cfg_opt_t finger_user_opts[] = {
    CFG_STR("name", NULL, CFGF_NONE),      CFG_STR("office", NULL, CFGF_NONE),
    CFG_STR("phone", NULL, CFGF_NONE),     CFG_STR("email", NULL, CFGF_NONE),
    CFG_STR("project", NULL, CFGF_NONE),   CFG_STR("plan", NULL, CFGF_NONE),
    CFG_STR("plan_file", NULL, CFGF_NONE), CFG_END()};

cfg_opt_t finger_options[] = {
    CFG_BOOL("list_users", cfg_true, CFGF_NONE),
    CFG_BOOL("forwarding", cfg_false, CFGF_NONE),
    CFG_INT("forward_port", 79, CFGF_NONE),
    CFG_INT("forward_timeout", 10, CFGF_NONE),
    CFG_SEC("user", finger_user_opts,
            CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_END()};

static char *finger_optdup(cfg_t *sec, const char *opt)
{
    const char *v = cfg_getstr(sec, opt);

    return v ? loom_strdup(v) : NULL;
}

/* A login is what a query can name: printable ASCII without space or @. */
static int finger_login_ok(const char *s)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > 64)
        return 0;
    for (i = 0; i < n; i++) {
        if (s[i] <= ' ' || s[i] >= 0x7f || s[i] == '@' || s[i] == '/')
            return 0;
    }
    return 1;
}

static int finger_user_build(cfg_t *us, finger_user_t *u)
{
    const char *plan = cfg_getstr(us, "plan");
    const char *plan_file = cfg_getstr(us, "plan_file");

    u->login = loom_strdup(cfg_title(us));
    if (!finger_login_ok(u->login)) {
        loom_conf_error(us, NULL,
                        "finger user \"%s\": a login is 1-64 printable "
                        "characters without space, '@' or '/'",
                        u->login);
        return LOOM_ERROR;
    }
    u->name = finger_optdup(us, "name");
    u->office = finger_optdup(us, "office");
    u->phone = finger_optdup(us, "phone");
    u->email = finger_optdup(us, "email");
    u->project = finger_optdup(us, "project");
    if (plan && plan_file) {
        loom_conf_error(us, "plan_file",
                        "finger user \"%s\": give plan or plan_file, not both",
                        u->login);
        return LOOM_ERROR;
    }
    if (plan) {
        u->plan = loom_strdup(plan);
    } else if (plan_file) {
        char *path = loom_conf_path(us, "plan_file", plan_file);

        u->plan = loom_read_file(path, FINGER_PLAN_MAX, NULL);
        if (u->plan == NULL) {
            loom_conf_error(us, "plan_file", "cannot read plan_file %s: %s",
                            path, strerror(errno));
            free(path);
            return LOOM_ERROR;
        }
        free(path);
    }
    return LOOM_OK;
}

int finger_configure(cfg_t *sec, void **conf)
{
    finger_conf_t *fc = loom_calloc(1, sizeof(*fc));
    size_t i, n = cfg_size(sec, "user");
    long port = cfg_getint(sec, "forward_port");
    long timeout = cfg_getint(sec, "forward_timeout");

    *conf = fc;
    fc->list_users = cfg_getbool(sec, "list_users") == cfg_true;
    fc->forwarding = cfg_getbool(sec, "forwarding") == cfg_true;
    if (port < 1 || port > 65535) {
        loom_conf_error(sec, "forward_port",
                        "forward_port must be 1-65535, not %ld", port);
        return LOOM_ERROR;
    }
    if (timeout < 1 || timeout > 3600) {
        loom_conf_error(sec, "forward_timeout",
                        "forward_timeout must be 1-3600 seconds, not %ld",
                        timeout);
        return LOOM_ERROR;
    }
    fc->forward_port = (int)port;
    fc->forward_timeout = (int)timeout;
    fc->users = loom_calloc(n ? n : 1, sizeof(*fc->users));
    for (i = 0; i < n; i++) {
        fc->n_users++;
        if (finger_user_build(cfg_getnsec(sec, "user", (unsigned)i),
                              &fc->users[i]) != LOOM_OK)
            return LOOM_ERROR;
    }
    return LOOM_OK;
}

void finger_conf_free(void *conf)
{
    finger_conf_t *fc = conf;
    size_t i;

    if (fc == NULL)
        return;
    for (i = 0; i < fc->n_users; i++) {
        finger_user_t *u = &fc->users[i];

        free(u->login);
        free(u->name);
        free(u->office);
        free(u->phone);
        free(u->email);
        free(u->project);
        free(u->plan);
    }
    free(fc->users);
    free(fc);
}

const finger_user_t *finger_find_user(const finger_conf_t *fc,
                                      const char *login, size_t len)
{
    size_t i;

    for (i = 0; i < fc->n_users; i++) {
        if (strlen(fc->users[i].login) == len &&
            memcmp(fc->users[i].login, login, len) == 0)
            return &fc->users[i];
    }
    return NULL;
}
