/*
 * smtp_ctl.h - the smtp module's samples (smtp_metrics.c) and loomctl
 * commands (smtp_ctl.c).
 */
#ifndef SMTP_CTL_H
#define SMTP_CTL_H

#include "loom_module.h"

/* The module's metrics hook: INST's loom_smtp_* samples into M. */
void smtp_metrics(loom_instance_t *inst, loom_metrics_t *m);

/* The module's command table: queue, flush, delete ID. */
extern const loom_ctl_cmd_t smtp_ctl_commands[];

#endif
