/*
 * metrics.h - the core's side of the metrics collector (loom_metrics.h):
 * making an empty collection and saying which instance the samples added
 * next belong to.  loom_metrics_collect uses it; unit tests use it to
 * build collections by hand.
 */
#ifndef LOOM_METRICS_INT_H
#define LOOM_METRICS_INT_H

#include "loom_metrics.h"

/* An empty collection; free it with loom_metrics_free. */
loom_metrics_t *loom_metrics_new(void);

/* Samples added to M from now on get instance="NAME" first and belong to
 * that instance of MODULE (both copied); NAME NULL: no instance label
 * (the core's own samples). */
void loom_metrics_set_instance(loom_metrics_t *m, const char *module,
                               const char *name);

/* How many samples and families M holds. */
size_t loom_metrics_count(const loom_metrics_t *m, size_t *families);

#endif
