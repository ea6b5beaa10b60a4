/*
 * smtp_ctl.h - the smtp module's samples (smtp_metrics.c) and loomctl
 * commands (smtp_ctl.c).
 */
#ifndef SMTP_CTL_H
#define SMTP_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "loom_module.h"

/* The module's metrics hook: INST's loom_smtp_* samples into M. */
void smtp_metrics(loom_instance_t *inst, loom_metrics_t *m);

/* The module's command table: queue, flush, delete ID. */
extern const loom_ctl_cmd_t smtp_ctl_commands[];

/* SECS (negative: 0) as a short duration into BUF: "42s", "5m3s",
 * "2h10m", "3d4h". */
void smtp_ctl_duration(int64_t secs, char *buf, size_t len);

#endif
