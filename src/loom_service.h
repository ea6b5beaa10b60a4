/*
 * loom_service.h - services between instances: one instance offers a
 * typed, versioned table of functions ("memcache.store/1"), another finds
 * it by the offering instance's module and name and calls it -- one store
 * reached from two protocols, no copy, no private struct shared (Redis's
 * shared module API in spirit).
 *
 * The name's version fixes the table's layout: a change that is not an
 * addition at the end is a new version.  A module states its tables in a
 * header of its own (protocols/<p>/<p>_service.h) that users include.
 *
 * Lifetimes: an instance's services are withdrawn by the core when a
 * reload removes the instance and before its stop callback runs, so a
 * holder never calls into a stopped instance -- provided it asks
 * loom_service_get() again in every callback that uses the service
 * (cheap: one compare when nothing changed) and keeps neither the table
 * nor SELF from one reactor turn to the next.
 */
#ifndef LOOM_SERVICE_H
#define LOOM_SERVICE_H

#include <stdint.h>

#include "loom.h"

#define LOOM_SERVICE_NAME_MAX 64

/* Offer VTABLE (a static table of function pointers laid out as NAME
 * says) under NAME, with SELF passed back to its functions.  Call from
 * start (or later); an instance offers each name once (a second export
 * of NAME replaces the first).  Returns LOOM_OK, or LOOM_ERROR when NAME
 * is not "what/VERSION" or longer than LOOM_SERVICE_NAME_MAX - 1. */
int loom_service_export(loom_instance_t *inst, const char *name,
                        const void *vtable, void *self);

/* Stop offering NAME (the core withdraws them all at removal and stop). */
void loom_service_withdraw(loom_instance_t *inst, const char *name);

/* A holder's reference to the service NAME of instance MODULE "INSTANCE";
 * embed it and use the functions below (the fields are the core's). */
typedef struct {
    loom_server_t *srv;
    char module[32], instance[64], name[LOOM_SERVICE_NAME_MAX];
    uint64_t gen;    /* the server's service generation last looked at */
    uint64_t export; /* id of the export found then; 0: none */
    uint64_t seen;   /* the last non-zero export a call returned */
    const void *vtable;
    void *self;
} loom_service_ref_t;

/* Point REF at service NAME of instance MODULE "INSTANCE" of SRV; nothing
 * is looked up yet.  Returns LOOM_ERROR when a string is too long. */
int loom_service_ref_init(loom_service_ref_t *ref, loom_server_t *srv,
                          const char *module, const char *instance,
                          const char *name);

/* The table of the service REF names, with its SELF in *SELF, or NULL
 * when no running instance offers it now (not configured, removed by a
 * reload, not started yet).  *REPLACED (may be NULL) is set to 1 when an
 * offer is found that differs from the last one an earlier call found --
 * the instance was removed and configured again, or withdrew and offered
 * again -- so that state the holder derived from the old one must be
 * dropped; else 0.  The table and SELF are valid until the calling
 * callback returns. */
const void *loom_service_get(loom_service_ref_t *ref, void **self,
                             int *replaced);

/* A running instance of SRV by module and instance name, or NULL (not
 * configured, or removed by a reload and draining). */
loom_instance_t *loom_instance_find(loom_server_t *srv, const char *module,
                                    const char *name);

/* The module name of INST ("memcache") and its instance name ("cache"). */
const char *loom_instance_module(loom_instance_t *inst);
const char *loom_instance_name(loom_instance_t *inst);

#endif
