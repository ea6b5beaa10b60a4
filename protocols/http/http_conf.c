/*
 * http_conf.c - the http module's options, their validation, and the
 * lookups over the validated tree (virtual hosts, locations).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http.h"
#include "http_proxy.h"

#define HTTP_ERRPAGE_MAX (64 * 1024)
#define HTTP_SYSTEM_MIME "/etc/mime.types"
#define HTTP_STATUS_UNSET (-1000000) /* `status` not given */

static cfg_opt_t location_opts[] = {
    CFG_STR("handler", "static", CFGF_NONE),
    CFG_STR("max_body", "1M", CFGF_NONE), CFG_STR("root", NULL, CFGF_NONE),
    CFG_STR_LIST("index", "{\"index.html\"}", CFGF_NONE),
    CFG_BOOL("autoindex", cfg_false, CFGF_NONE),
    CFG_BOOL("gzip_static", cfg_false, CFGF_NONE),
    CFG_BOOL("follow_symlinks", cfg_false, CFGF_NONE),
    CFG_INT("status", HTTP_STATUS_UNSET, CFGF_NONE),
    CFG_STR("redirect", NULL, CFGF_NONE), CFG_STR("body", NULL, CFGF_NONE),
    CFG_STR("content_type", "text/plain", CFGF_NONE),
    CFG_STR("format", "json", CFGF_NONE),
    CFG_STR("proxy_pass", NULL, CFGF_NONE),
    CFG_STR("proxy_prefix", NULL, CFGF_NONE),
    CFG_STR("proxy_host", NULL, CFGF_NONE),
    /* publish (http_publish.c) and events (http_events.c) */
    CFG_STR("topic", NULL, CFGF_NONE),
    /* publish */
    CFG_STR_LIST("publish_headers", "{}", CFGF_NONE),
    CFG_STR("bearer_token", NULL, CFGF_NONE),
    CFG_STR("bearer_token_file", NULL, CFGF_NONE),
    CFG_STR("hmac_secret", NULL, CFGF_NONE),
    CFG_STR("hmac_secret_file", NULL, CFGF_NONE),
    CFG_STR("hmac_header", "X-Hub-Signature-256", CFGF_NONE),
    /* events */
    CFG_INT("history", 1000, CFGF_NONE), CFG_INT("keepalive", 15, CFGF_NONE),
    CFG_STR("max_buffer", "1M", CFGF_NONE),
    CFG_INT("max_streams", 10000, CFGF_NONE),
    CFG_STR("memcache", NULL, CFGF_NONE),
    CFG_STR("kv_type", "application/octet-stream", CFGF_NONE),
    CFG_STR("finger", NULL, CFGF_NONE), CFG_STR("irc", NULL, CFGF_NONE),
    /* doh (http_doh.c) */
    CFG_STR("dns", NULL, CFGF_NONE),
    /* dyndns (http_dyndns.c; dns and topic above) */
    CFG_STR("zone", NULL, CFGF_NONE), CFG_STR("users_file", NULL, CFGF_NONE),
    CFG_INT("ttl", 60, CFGF_NONE), CFG_INT("fail_delay", 1000, CFGF_NONE),
    CFG_INT("max_failures", 5, CFGF_NONE),
    CFG_INT("failure_window", 300, CFGF_NONE), CFG_END()};

static cfg_opt_t server_opts[] = {
    CFG_STR_LIST("names", "{}", CFGF_NONE),
    CFG_BOOL("default", cfg_false, CFGF_NONE),
    CFG_STR_LIST("error_page", "{}", CFGF_NONE),
    CFG_SEC("location", location_opts,
            CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_END()};

cfg_opt_t http_options[] = {
    CFG_INT("header_timeout", 10, CFGF_NONE),
    CFG_INT("body_timeout", 60, CFGF_NONE),
    CFG_STR("max_request_line", "8K", CFGF_NONE),
    CFG_STR("max_header_size", "32K", CFGF_NONE),
    CFG_INT("max_headers", 100, CFGF_NONE),
    CFG_INT("keepalive_requests", 1000, CFGF_NONE),
    CFG_BOOL("server_tokens", cfg_true, CFGF_NONE),
    CFG_STR("mime_types", NULL, CFGF_NONE),
    CFG_STR("default_type", "application/octet-stream", CFGF_NONE),
    CFG_STR("charset", "utf-8", CFGF_NONE),
    CFG_STR("file_cache_max", "16K", CFGF_NONE),
    CFG_INT("file_cache_valid", 1, CFGF_NONE),
    CFG_INT("h2_max_streams", 128, CFGF_NONE),
    CFG_STR("h2_window", "256K", CFGF_NONE),
    CFG_STR("h2_connection_window", "4M", CFGF_NONE),
    CFG_INT("post_concurrency", 64, CFGF_NONE),
    CFG_STR("post_ca_file", NULL, CFGF_NONE),
    CFG_SEC("upstream", http_upstream_opts,
            CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_SEC("server", server_opts,
            CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_END()};

static int conf_range(cfg_t *sec, const char *opt, long lo, long hi,
                      unsigned *out)
{
    long v = cfg_getint(sec, opt);

    if (v < lo || v > hi) {
        loom_conf_error(sec, opt, "%s must be %ld-%ld, not %ld", opt, lo, hi,
                        v);
        return LOOM_ERROR;
    }
    *out = (unsigned)v;
    return LOOM_OK;
}

static int location_static(cfg_t *ls, http_location_t *l)
{
    const char *root = cfg_getstr(ls, "root");
    size_t i, n = cfg_size(ls, "index");
    struct stat st;
    char *path, *real;

    if (root == NULL || root[0] == '\0') {
        loom_conf_error(ls, NULL,
                        "location \"%s\": the static handler "
                        "needs a root",
                        cfg_title(ls));
        return LOOM_ERROR;
    }
    path = loom_conf_path(ls, "root", root);
    real = realpath(path, NULL);
    if (real == NULL || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
        loom_conf_error(ls, "root", "root %s: %s", path,
                        real ? "not a directory" : strerror(errno));
        free(real);
        free(path);
        return LOOM_ERROR;
    }
    free(path);
    l->root = real;
    l->root_fd = open(real, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (l->root_fd < 0) {
        loom_conf_error(ls, "root", "root %s: %s", real, strerror(errno));
        return LOOM_ERROR;
    }
    l->index = loom_calloc(n + 1, sizeof(char *));
    for (i = 0; i < n; i++) {
        const char *ix = cfg_getnstr(ls, "index", (unsigned)i);

        if (ix[0] == '\0' || strchr(ix, '/')) {
            loom_conf_error(ls, "index", "index \"%s\" must be a file name",
                            ix);
            return LOOM_ERROR;
        }
        l->index[i] = loom_strdup(ix);
    }
    l->autoindex = cfg_getbool(ls, "autoindex") == cfg_true;
    l->gzip_static = cfg_getbool(ls, "gzip_static") == cfg_true;
    l->follow_symlinks = cfg_getbool(ls, "follow_symlinks") == cfg_true;
    return LOOM_OK;
}

static int location_return(cfg_t *ls, http_location_t *l)
{
    const char *redirect = cfg_getstr(ls, "redirect");
    const char *body = cfg_getstr(ls, "body");
    long st = cfg_getint(ls, "status");

    if (st == HTTP_STATUS_UNSET)
        st = redirect ? 302 : 200;
    if (st < 100 || st > 599) {
        loom_conf_error(ls, "status", "status must be 100-599, not %ld", st);
        return LOOM_ERROR;
    }
    if (redirect && st != 301 && st != 302 && st != 303 && st != 307 &&
        st != 308) {
        loom_conf_error(ls, "status",
                        "a redirect needs status 301, 302, "
                        "303, 307 or 308, not %ld",
                        st);
        return LOOM_ERROR;
    }
    if (redirect && body) {
        loom_conf_error(ls, "body", "give redirect or body, not both");
        return LOOM_ERROR;
    }
    l->ret_status = (int)st;
    l->ret_location = redirect ? loom_strdup(redirect) : NULL;
    l->ret_body = body ? loom_strdup(body) : NULL;
    l->ret_type = loom_strdup(cfg_getstr(ls, "content_type"));
    return LOOM_OK;
}

/* kv: the memcache instance is named here; whether one by that name runs
 * is known only when a request comes (503 if not). */
static int location_kv(cfg_t *ls, http_location_t *l)
{
    const char *mc = cfg_getstr(ls, "memcache");
    const char *type = cfg_getstr(ls, "kv_type");

    if (mc == NULL || mc[0] == '\0') {
        loom_conf_error(ls, NULL,
                        "location \"%s\": the kv handler needs "
                        "memcache = \"INSTANCE\"",
                        cfg_title(ls));
        return LOOM_ERROR;
    }
    if (strlen(mc) >= sizeof(((loom_service_ref_t *)0)->instance)) {
        loom_conf_error(ls, "memcache", "memcache \"%s\": name too long", mc);
        return LOOM_ERROR;
    }
    if (type[0] == '\0' || strpbrk(type, "\r\n")) {
        loom_conf_error(ls, "kv_type", "kv_type must be a media type");
        return LOOM_ERROR;
    }
    l->kv_memcache = loom_strdup(mc);
    l->kv_type = loom_strdup(type);
    l->kv_ref = loom_calloc(1, sizeof(*l->kv_ref));
    return LOOM_OK;
}

/* doh: the dns instance is named here; whether one by that name runs is
 * known only when a request comes (503 if not). */
static int location_doh(cfg_t *ls, http_location_t *l)
{
    const char *dns = cfg_getstr(ls, "dns");

    if (dns == NULL || dns[0] == '\0') {
        loom_conf_error(ls, NULL,
                        "location \"%s\": the doh handler needs "
                        "dns = \"INSTANCE\"",
                        cfg_title(ls));
        return LOOM_ERROR;
    }
    if (strlen(dns) >= sizeof(((loom_service_ref_t *)0)->instance)) {
        loom_conf_error(ls, "dns", "dns \"%s\": name too long", dns);
        return LOOM_ERROR;
    }
    l->doh_dns = loom_strdup(dns);
    return LOOM_OK;
}

static int location_build(cfg_t *ls, http_location_t *l, http_conf_t *hc)
{
    const char *title = cfg_title(ls), *h = cfg_getstr(ls, "handler");
    const char *fmt;

    l->root_fd = -1;
    if (strncmp(title, "= ", 2) == 0) {
        l->exact = 1;
        title += 2;
    }
    if (title[0] != '/') {
        loom_conf_error(ls, NULL,
                        "location \"%s\" must start with \"/\" "
                        "(or \"= /\" for an exact match)",
                        cfg_title(ls));
        return LOOM_ERROR;
    }
    l->prefix = loom_strdup(title);
    l->prefix_len = strlen(title);
    if (loom_conf_size(ls, "max_body", &l->max_body) != LOOM_OK)
        return LOOM_ERROR;
    if (strcmp(h, "static") == 0) {
        l->handler = &http_handler_static;
        return location_static(ls, l);
    }
    if (strcmp(h, "return") == 0) {
        l->handler = &http_handler_return;
        return location_return(ls, l);
    }
    if (strcmp(h, "echo") == 0) {
        l->handler = &http_handler_echo;
        return LOOM_OK;
    }
    if (strcmp(h, "status") == 0) {
        l->handler = &http_handler_status;
        fmt = cfg_getstr(ls, "format");
        if (strcmp(fmt, "json") == 0) {
            l->status_format = HTTP_STATUS_JSON;
        } else if (strcmp(fmt, "prometheus") == 0) {
            l->status_format = HTTP_STATUS_PROMETHEUS;
        } else {
            loom_conf_error(ls, "format",
                            "format must be \"json\" or "
                            "\"prometheus\", not \"%s\"",
                            fmt);
            return LOOM_ERROR;
        }
        return LOOM_OK;
    }
    if (strcmp(h, "proxy") == 0) {
        l->handler = &http_handler_proxy;
        return http_proxy_location(ls, l, hc);
    }
    if (strcmp(h, "publish") == 0) {
        l->handler = &http_handler_publish;
        return http_publish_location(ls, l);
    }
    if (strcmp(h, "events") == 0) {
        l->handler = &http_handler_events;
        return http_events_location(ls, l);
    }
    if (strcmp(h, "kv") == 0) {
        l->handler = &http_handler_kv;
        return location_kv(ls, l);
    }
    if (strcmp(h, "finger") == 0) {
        l->handler = &http_handler_finger;
        return http_finger_location(ls, l);
    }
    if (strcmp(h, "doh") == 0) {
        l->handler = &http_handler_doh;
        return location_doh(ls, l);
    }
    if (strcmp(h, "dyndns") == 0) {
        l->handler = &http_handler_dyndns;
        return http_dyndns_location(ls, l);
    }
    if (strcmp(h, "irc") == 0) {
        l->handler = &http_handler_irc;
        return http_irc_location(ls, l);
    }
    loom_conf_error(ls, "handler",
                    "unknown handler \"%s\" (static, return, "
                    "status, echo, proxy, publish, events, kv, finger, "
                    "doh, dyndns or irc)",
                    h);
    return LOOM_ERROR;
}

/* "404 500 502 errors/50x.html": statuses then a file. */
static int errpage_build(cfg_t *ss, const char *spec, http_vhost_t *vh,
                         const http_conf_t *hc)
{
    char *copy = loom_strdup(spec), *save = NULL, *tok, *file = NULL;
    int codes[16], n = 0, i;
    char *body, *path;
    size_t len;

    for (tok = strtok_r(copy, " \t", &save); tok;
         tok = strtok_r(NULL, " \t", &save)) {
        char *end;
        long v;

        if (file) { /* a token after the file */
            file = NULL;
            break;
        }
        v = strtol(tok, &end, 10);
        if (isdigit((unsigned char)tok[0]) && *end == '\0') {
            if (v < 300 || v > 599 || n == (int)LOOM_ARRAY_LEN(codes)) {
                loom_conf_error(ss, "error_page",
                                "error_page \"%s\": "
                                "status %s is not 300-599",
                                spec, tok);
                free(copy);
                return LOOM_ERROR;
            }
            codes[n++] = (int)v;
        } else {
            file = tok;
        }
    }
    if (n == 0 || file == NULL) {
        loom_conf_error(ss, "error_page",
                        "error_page \"%s\" must be "
                        "\"STATUS... FILE\"",
                        spec);
        free(copy);
        return LOOM_ERROR;
    }
    path = loom_conf_path(ss, "error_page", file);
    body = loom_read_file(path, HTTP_ERRPAGE_MAX, &len);
    if (body == NULL) {
        loom_conf_error(ss, "error_page", "error_page %s: %s", path,
                        strerror(errno));
        free(path);
        free(copy);
        return LOOM_ERROR;
    }
    vh->errpages = loom_realloc(vh->errpages, (vh->nerrpages + (size_t)n) *
                                                  sizeof(http_errpage_t));
    for (i = 0; i < n; i++) {
        http_errpage_t *e = &vh->errpages[vh->nerrpages++];

        e->status = codes[i];
        e->body = i == 0 ? body : loom_strndup(body, len);
        e->len = len;
        e->ctype = http_mime_type(hc->mime, path, "text/html");
    }
    free(path);
    free(copy);
    return LOOM_OK;
}

static int vhost_build(cfg_t *ss, http_vhost_t *vh, http_conf_t *hc)
{
    size_t i, n;

    vh->label = loom_strdup(cfg_title(ss));
    vh->is_default = cfg_getbool(ss, "default") == cfg_true;
    n = cfg_size(ss, "names");
    vh->names = loom_calloc(n ? n : 1, sizeof(char *));
    for (i = 0; i < n; i++) {
        const char *nm = cfg_getnstr(ss, "names", (unsigned)i);
        char *low = loom_strdup(nm), *p;
        size_t len = strlen(low);

        for (p = low; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (len && low[len - 1] == '.')
            low[--len] = '\0';
        vh->names[vh->nnames++] = low;
        if (len == 0 || strchr(low, '*') != strrchr(low, '*') ||
            (strchr(low, '*') && strncmp(low, "*.", 2) != 0) ||
            strpbrk(low, " /:")) {
            loom_conf_error(ss, "names",
                            "server name \"%s\" must be a host "
                            "name or \"*.suffix\"",
                            nm);
            return LOOM_ERROR;
        }
    }
    n = cfg_size(ss, "location");
    if (n == 0) {
        loom_conf_error(ss, NULL, "server \"%s\" has no location", vh->label);
        return LOOM_ERROR;
    }
    vh->locs = loom_calloc(n, sizeof(http_location_t));
    for (i = 0; i < n; i++) {
        vh->nlocs++;
        if (location_build(cfg_getnsec(ss, "location", (unsigned)i),
                           &vh->locs[i], hc) != LOOM_OK)
            return LOOM_ERROR;
    }
    n = cfg_size(ss, "error_page");
    for (i = 0; i < n; i++) {
        if (errpage_build(ss, cfg_getnstr(ss, "error_page", (unsigned)i), vh,
                          hc) != LOOM_OK)
            return LOOM_ERROR;
    }
    return LOOM_OK;
}

/* A name two servers both claim. */
static const char *vhost_dup_name(const http_conf_t *hc, size_t upto,
                                  const http_vhost_t *vh)
{
    size_t i, j, k;

    for (k = 0; k < vh->nnames; k++) {
        for (i = 0; i < upto; i++) {
            for (j = 0; j < hc->vhosts[i].nnames; j++) {
                if (strcmp(hc->vhosts[i].names[j], vh->names[k]) == 0)
                    return vh->names[k];
            }
        }
    }
    return NULL;
}

int http_configure(cfg_t *sec, void **conf)
{
    http_conf_t *hc = loom_calloc(1, sizeof(*hc));
    size_t i, n = cfg_size(sec, "server"), line, head;
    unsigned maxh;
    const char *mime;

    *conf = hc;
    if (conf_range(sec, "header_timeout", 1, 3600, &hc->header_timeout) ||
        conf_range(sec, "body_timeout", 1, 3600, &hc->body_timeout) ||
        conf_range(sec, "max_headers", 1, 1000, &maxh) ||
        conf_range(sec, "keepalive_requests", 1, 1000000000,
                   &hc->keepalive_requests) ||
        conf_range(sec, "file_cache_valid", 0, 3600, &hc->file_cache_valid) ||
        loom_conf_size(sec, "max_request_line", &line) ||
        loom_conf_size(sec, "max_header_size", &head) ||
        loom_conf_size(sec, "file_cache_max", &hc->file_cache_max) ||
        conf_range(sec, "h2_max_streams", 1, 65536, &hc->h2_max_streams) ||
        loom_conf_size(sec, "h2_window", &hc->h2_window) ||
        loom_conf_size(sec, "h2_connection_window", &hc->h2_conn_window))
        return LOOM_ERROR;
    if (hc->h2_window < 65535 || hc->h2_window > 0x7fffffff) {
        loom_conf_error(sec, "h2_window",
                        "h2_window must be 65535 bytes "
                        "to 2G-1");
        return LOOM_ERROR;
    }
    if (hc->h2_conn_window < 65535 || hc->h2_conn_window > 0x7fffffff) {
        loom_conf_error(sec, "h2_connection_window",
                        "h2_connection_window "
                        "must be 65535 bytes to 2G-1");
        return LOOM_ERROR;
    }
    if (line < 64 || line > 1024 * 1024) {
        loom_conf_error(sec, "max_request_line",
                        "max_request_line must be 64 bytes to 1M");
        return LOOM_ERROR;
    }
    if (head < 256 || head > 1024 * 1024) {
        loom_conf_error(sec, "max_header_size",
                        "max_header_size must be 256 bytes to 1M");
        return LOOM_ERROR;
    }
    if (hc->file_cache_max > 1024 * 1024) {
        loom_conf_error(sec, "file_cache_max",
                        "file_cache_max must be at most 1M");
        return LOOM_ERROR;
    }
    hc->limits.max_line = line;
    hc->limits.max_head = head;
    hc->limits.max_fields = maxh;
    hc->server_tokens = cfg_getbool(sec, "server_tokens") == cfg_true;
    hc->default_type = loom_strdup(cfg_getstr(sec, "default_type"));
    hc->charset = loom_strdup(cfg_getstr(sec, "charset"));
    mime = cfg_getstr(sec, "mime_types");
    if (mime) { /* named: it must be there */
        char *path = loom_conf_path(sec, "mime_types", mime);

        if (access(path, R_OK) != 0) {
            loom_conf_error(sec, "mime_types", "mime_types %s: %s", path,
                            strerror(errno));
            free(path);
            return LOOM_ERROR;
        }
        hc->mime = http_mime_load(path);
        free(path);
    } else { /* the system's table when there is one */
        hc->mime = http_mime_load(
            access(HTTP_SYSTEM_MIME, R_OK) == 0 ? HTTP_SYSTEM_MIME : NULL);
    }
    if (n == 0) {
        loom_conf_error(sec, NULL, "http instance needs at least one server");
        return LOOM_ERROR;
    }
    if (http_proxy_conf(sec, hc) != LOOM_OK ||
        http_post_conf(sec, hc) != LOOM_OK)
        return LOOM_ERROR;
    hc->vhosts = loom_calloc(n, sizeof(http_vhost_t));
    for (i = 0; i < n; i++) {
        cfg_t *ss = cfg_getnsec(sec, "server", (unsigned)i);
        http_vhost_t *vh = &hc->vhosts[i];
        const char *dup;

        hc->nvhosts++;
        if (vhost_build(ss, vh, hc) != LOOM_OK)
            return LOOM_ERROR;
        if ((dup = vhost_dup_name(hc, i, vh)) != NULL) {
            loom_conf_error(ss, "names",
                            "server name \"%s\" is already "
                            "used by another server",
                            dup);
            return LOOM_ERROR;
        }
        if (vh->is_default) {
            if (hc->deflt) {
                loom_conf_error(ss, "default",
                                "servers \"%s\" and \"%s\" "
                                "are both the default",
                                hc->deflt->label, vh->label);
                return LOOM_ERROR;
            }
            hc->deflt = vh;
        }
    }
    if (hc->deflt == NULL)
        hc->deflt = &hc->vhosts[0];
    return LOOM_OK;
}

static void location_free(http_location_t *l)
{
    size_t i;

    free(l->prefix);
    free(l->root);
    if (l->root_fd >= 0)
        close(l->root_fd);
    for (i = 0; l->index && l->index[i]; i++)
        free(l->index[i]);
    free(l->index);
    free(l->ret_location);
    free(l->ret_body);
    free(l->ret_type);
    free(l->kv_memcache);
    free(l->kv_type);
    free(l->kv_ref);
    free(l->doh_dns);
    http_proxy_location_free(l);
    http_publish_location_free(l);
    http_events_location_free(l);
    http_finger_location_free(l);
    http_dyndns_location_free(l);
    http_irc_location_free(l);
}

void http_conf_free(void *conf)
{
    http_conf_t *hc = conf;
    size_t i, j;

    if (hc == NULL)
        return;
    for (i = 0; i < hc->nvhosts; i++) {
        http_vhost_t *vh = &hc->vhosts[i];

        free(vh->label);
        for (j = 0; j < vh->nnames; j++)
            free(vh->names[j]);
        free(vh->names);
        for (j = 0; j < vh->nlocs; j++)
            location_free(&vh->locs[j]);
        free(vh->locs);
        for (j = 0; j < vh->nerrpages; j++)
            free(vh->errpages[j].body);
        free(vh->errpages);
    }
    free(hc->vhosts);
    http_proxy_conf_free(hc);
    http_post_conf_free(hc);
    free(hc->default_type);
    free(hc->charset);
    if (hc->mime)
        http_mime_free(hc->mime);
    free(hc);
}

const http_vhost_t *http_find_vhost(const http_conf_t *hc, loom_slice_t host)
{
    const http_vhost_t *best = NULL;
    size_t len = host.len, i, j, best_len = 0;
    char low[256];

    if (len == 0 || hc->nvhosts == 1)
        return hc->deflt;
    len = http_host_len(host);
    if (len && host.p[len - 1] == '.') /* one trailing dot */
        len--;
    if (len == 0 || len >= sizeof(low))
        return hc->deflt;
    for (i = 0; i < len; i++)
        low[i] = (char)tolower((unsigned char)host.p[i]);
    low[len] = '\0';
    for (i = 0; i < hc->nvhosts; i++) {
        const http_vhost_t *vh = &hc->vhosts[i];

        for (j = 0; j < vh->nnames; j++) {
            const char *nm = vh->names[j];
            size_t nl;

            if (nm[0] != '*') {
                if (strcmp(nm, low) == 0)
                    return vh;
                continue;
            }
            nl = strlen(nm) - 1; /* ".suffix" */
            if (len > nl && memcmp(low + len - nl, nm + 1, nl) == 0 &&
                nl > best_len) {
                best = vh;
                best_len = nl;
            }
        }
    }
    return best ? best : hc->deflt;
}

const http_location_t *http_find_location(const http_vhost_t *vh,
                                          const char *path, size_t len)
{
    const http_location_t *best = NULL;
    size_t i;

    for (i = 0; i < vh->nlocs; i++) {
        const http_location_t *l = &vh->locs[i];

        if (l->exact) {
            if (l->prefix_len == len && memcmp(l->prefix, path, len) == 0)
                return l;
        } else if (l->prefix_len <= len &&
                   memcmp(l->prefix, path, l->prefix_len) == 0 &&
                   (best == NULL || l->prefix_len > best->prefix_len)) {
            best = l;
        }
    }
    return best;
}
