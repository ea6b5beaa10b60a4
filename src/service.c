/*
 * service.c - services between instances (loom_service.h): a list of
 * offers on the server and a generation counter bumped on every change,
 * so that a holder's lookup costs one compare while nothing changed.
 */
#include "core.h"

#include <stdlib.h>
#include <string.h>

struct loom_service_s {
    loom_instance_t *inst;
    char name[LOOM_SERVICE_NAME_MAX];
    const void *vtable;
    void *self;
    uint64_t id; /* never reused */
    struct loom_service_s *next;
};

/* "what/VERSION": something, a slash, digits. */
static int service_name_ok(const char *name)
{
    const char *slash = strrchr(name, '/');
    size_t n = strlen(name);

    if (n == 0 || n >= LOOM_SERVICE_NAME_MAX || slash == NULL ||
        slash == name || slash[1] == '\0')
        return 0;
    for (slash++; *slash; slash++) {
        if (*slash < '0' || *slash > '9')
            return 0;
    }
    return 1;
}

int loom_service_export(loom_instance_t *inst, const char *name,
                        const void *vtable, void *self)
{
    loom_server_t *srv = inst->srv;
    struct loom_service_s *s;

    if (!service_name_ok(name) || vtable == NULL)
        return LOOM_ERROR;
    loom_service_withdraw(inst, name);
    s = loom_calloc(1, sizeof(*s));
    s->inst = inst;
    strcpy(s->name, name);
    s->vtable = vtable;
    s->self = self;
    s->id = ++srv->svc_ids;
    s->next = srv->services;
    srv->services = s;
    srv->svc_gen++;
    return LOOM_OK;
}

/* Withdraw INST's offers named NAME, or all of them when NAME is NULL. */
void loom_services_withdraw(loom_instance_t *inst, const char *name)
{
    loom_server_t *srv = inst->srv;
    struct loom_service_s **pp = &srv->services, *s;

    while ((s = *pp) != NULL) {
        if (s->inst == inst && (name == NULL || strcmp(s->name, name) == 0)) {
            *pp = s->next;
            free(s);
            srv->svc_gen++;
        } else {
            pp = &s->next;
        }
    }
}

void loom_service_withdraw(loom_instance_t *inst, const char *name)
{
    if (name)
        loom_services_withdraw(inst, name);
}

void loom_services_free(loom_server_t *srv)
{
    while (srv->services) {
        struct loom_service_s *s = srv->services;

        srv->services = s->next;
        free(s);
    }
}

int loom_service_ref_init(loom_service_ref_t *ref, loom_server_t *srv,
                          const char *module, const char *instance,
                          const char *name)
{
    memset(ref, 0, sizeof(*ref));
    if (strlen(module) >= sizeof(ref->module) ||
        strlen(instance) >= sizeof(ref->instance) ||
        strlen(name) >= sizeof(ref->name))
        return LOOM_ERROR;
    ref->srv = srv;
    strcpy(ref->module, module);
    strcpy(ref->instance, instance);
    strcpy(ref->name, name);
    return LOOM_OK;
}

const void *loom_service_get(loom_service_ref_t *ref, void **self,
                             int *replaced)
{
    loom_server_t *srv = ref->srv;
    struct loom_service_s *s;

    if (ref->gen != srv->svc_gen || ref->gen == 0) {
        ref->gen = srv->svc_gen;
        ref->export = 0;
        ref->vtable = NULL;
        ref->self = NULL;
        for (s = srv->services; s; s = s->next) {
            if (!s->inst->removed && !s->inst->stopped &&
                strcmp(s->name, ref->name) == 0 &&
                strcmp(s->inst->mod->name, ref->module) == 0 &&
                strcmp(s->inst->name, ref->instance) == 0) {
                ref->export = s->id;
                ref->vtable = s->vtable;
                ref->self = s->self;
                break;
            }
        }
    }
    if (replaced)
        *replaced =
            ref->export != 0 && ref->seen != 0 && ref->export != ref->seen;
    if (ref->export)
        ref->seen = ref->export;
    if (self)
        *self = ref->self;
    return ref->vtable;
}

loom_instance_t *loom_instance_find(loom_server_t *srv, const char *module,
                                    const char *name)
{
    loom_instance_t *inst = loom_server_instance(srv, module, name);

    return inst && inst->started && !inst->stopped ? inst : NULL;
}

const char *loom_instance_module(loom_instance_t *inst)
{
    return inst->mod->name;
}

const char *loom_instance_name(loom_instance_t *inst)
{
    return inst->name;
}
