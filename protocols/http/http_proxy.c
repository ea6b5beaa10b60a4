/* http_proxy.c - placeholder while the proxy is written (replaced). */
#include "http_proxy.h"

cfg_opt_t http_upstream_opts[] = {CFG_END()};

int http_proxy_conf(cfg_t *sec, http_conf_t *hc)
{
    (void)sec;
    (void)hc;
    return LOOM_OK;
}

int http_proxy_location(cfg_t *ls, http_location_t *l, http_conf_t *hc)
{
    (void)l;
    (void)hc;
    loom_conf_error(ls, "handler", "proxy: not built yet");
    return LOOM_ERROR;
}

void http_proxy_location_free(http_location_t *l)
{
    (void)l;
}

void http_proxy_conf_free(http_conf_t *hc)
{
    (void)hc;
}

void http_proxy_start(http_instance_t *hi)
{
    (void)hi;
}

void http_proxy_reload(http_instance_t *hi)
{
    (void)hi;
}

void http_proxy_stop(http_instance_t *hi)
{
    (void)hi;
}

static void proxy_process(http_req_t *r)
{
    http_resp_error(r, 502);
}

const http_handler_t http_handler_proxy = {"proxy", proxy_process};
