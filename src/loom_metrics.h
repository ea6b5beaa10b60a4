/*
 * loom_metrics.h - counters and gauges for status pages, Prometheus and
 * loomctl.  A collection (loom_metrics_t) is made on demand: the core asks
 * every running instance's module for its samples (loom_module_t.metrics)
 * and adds its own (connections, accepts, TLS, worker pool, bus routes).
 * A module only adds samples; the core groups them by family, so samples
 * of one family from several instances come out together, as the
 * Prometheus text format requires.
 *
 * Naming: loom_<module>_<thing>_total for counters, loom_<module>_<thing>
 * for gauges, base units (seconds, bytes); every sample a module adds
 * carries instance="<instance name>" first, then its own labels.
 */
#ifndef LOOM_METRICS_H
#define LOOM_METRICS_H

#include <stddef.h>

#include "loom.h"

typedef struct loom_metrics_s loom_metrics_t;

typedef enum { LOOM_METRIC_COUNTER, LOOM_METRIC_GAUGE } loom_metric_type_t;

/* Add one sample of family NAME to M.  The family is declared by its first
 * sample (TYPE and HELP are kept from it; HELP is a static string).  The
 * sample's labels are instance="<the instance being collected>" (none for
 * the core's own samples) followed by the (key, value) string pairs after
 * VALUE, ended by NULL; values are escaped as the format requires, keys
 * must be [a-z_][a-z0-9_]*.  VALUE is printed as an integer when it is
 * one. */
void loom_metric(loom_metrics_t *m, loom_metric_type_t type, const char *name,
                 const char *help, double value, ...) LOOM_SENTINEL;

/* Collect the samples of every running instance of SRV and of the core.
 * The caller frees the collection with loom_metrics_free. */
loom_metrics_t *loom_metrics_collect(loom_server_t *srv);

/* Render M in the Prometheus text exposition format 0.0.4.  Returns a
 * NUL-terminated heap string (*LEN set to its length) the caller frees. */
char *loom_metrics_prometheus(const loom_metrics_t *m, size_t *len);

/* Render M as a JSON array of samples,
 * [{"name":N,"type":"counter"|"gauge","instance":I|null,
 *   "labels":{K:V,...},"value":V},...], in family order.  Returns a
 * NUL-terminated heap string (*LEN set) the caller frees. */
char *loom_metrics_json(const loom_metrics_t *m, size_t *len);

/* loom_metrics_json for the samples of one instance: those collected for
 * instance INSTANCE of MODULE (MODULE NULL: of any module), or with
 * INSTANCE NULL the core's own that carry no instance (bus, worker pool,
 * datagrams).  Same ownership. */
char *loom_metrics_json_instance(const loom_metrics_t *m, const char *module,
                                 const char *instance, size_t *len);

/* Free M and everything in it (NULL is allowed). */
void loom_metrics_free(loom_metrics_t *m);

#endif
