/*
 * http_proxy.h - the reverse proxy handler: `proxy` locations forward
 * requests over HTTP/1.1 to an upstream pool (`upstream` sections) of
 * core connect endpoints, with keep-alive connection pools, balancing,
 * passive health checks, safe retries, timeouts and WebSocket tunnels.
 *
 * Config glue (called from http_conf.c) is apart from the runtime (called
 * from http.c's module lifecycle).
 */
#ifndef HTTP_PROXY_H
#define HTTP_PROXY_H

#include "http.h"

/* The `upstream "name" { ... }` section's options (http_options holds
 * CFG_SEC("upstream", http_upstream_opts, ...)) and the proxy options a
 * location may carry (merged into location_opts). */
extern cfg_opt_t http_upstream_opts[];

/* From http_configure(): build hc->upstreams from SEC's `upstream`
 * sections.  Reports errors with loom_conf_error and returns LOOM_ERROR. */
int http_proxy_conf(cfg_t *sec, http_conf_t *hc);

/* From location_build() for `handler = proxy`: build l->proxy from the
 * location section LS (proxy_pass names an upstream of HC, or is a
 * connect endpoint).  Returns LOOM_OK or LOOM_ERROR (reported). */
int http_proxy_location(cfg_t *ls, http_location_t *l, http_conf_t *hc);

/* Free what http_proxy_location / http_proxy_conf built (NULL-safe). */
void http_proxy_location_free(http_location_t *l);
void http_proxy_conf_free(http_conf_t *hc);

/* Runtime state of instance HI: start once, reload after HI's conf was
 * replaced (pools of upstreams that left the config are closed), stop
 * when the instance goes (every pooled connection closed). */
void http_proxy_start(http_instance_t *hi);
void http_proxy_reload(http_instance_t *hi);
void http_proxy_stop(http_instance_t *hi);

/* The daemon begins a graceful stop: close the idle pooled connections
 * (they would hold the shutdown for its whole grace period) and pool no
 * more.  Call from the module's quiesce, after setting hi->quiescing. */
void http_proxy_quiesce(http_instance_t *hi);

#endif
