/*
 * conn_mem.c - the in-memory transport: a connection with no socket, for
 * session tests.  Input is fed by the test, output is collected.
 */
#include "core.h"

#include <stdlib.h>

static ssize_t mem_read(loom_conn_t *c, char *buf, size_t len)
{
    (void)c;
    (void)buf;
    (void)len;
    return LOOM_AGAIN; /* input arrives only through loom_mem_feed */
}

static int mem_flush(loom_conn_t *c)
{
    evbuffer_add_buffer(c->tp_data, c->out);
    return LOOM_OK;
}

const loom_transport_t loom_transport_mem = {"memory", mem_read, mem_flush,
                                             NULL};

loom_conn_t *loom_mem_conn_new(loom_instance_t *inst)
{
    loom_conn_t *c = loom_conn_new(inst->srv, inst, &inst->mod->stream, -1,
                                   &loom_transport_mem, inst->mod->conn_size);

    c->flags |= LOOM_CF_MEM;
    c->tp_data = evbuffer_new();
    loom_conn_start(c);
    return c;
}

int loom_mem_feed(loom_conn_t *c, const char *buf, size_t len)
{
    if (c->flags & (LOOM_CF_DEAD | LOOM_CF_CLOSING))
        return LOOM_ERROR;
    loom_conn_enter(c);
    loom_conn_input(c, buf, len);
    loom_conn_leave(c);
    return LOOM_OK;
}

const char *loom_mem_output(loom_conn_t *c, size_t *len)
{
    struct evbuffer *b = c->tp_data;

    *len = evbuffer_get_length(b);
    return (const char *)evbuffer_pullup(b, -1);
}

int loom_mem_closed(loom_conn_t *c)
{
    return (c->flags & (LOOM_CF_DEAD | LOOM_CF_CLOSING)) != 0;
}

void loom_mem_conn_free(loom_conn_t *c)
{
    loom_conn_t **pp;

    if (c->flags & LOOM_CF_DEFERRED) { /* the struct goes now */
        for (pp = &c->srv->deferred; *pp; pp = &(*pp)->dnext) {
            if (*pp == c) {
                *pp = c->dnext;
                break;
            }
        }
        c->flags &= ~LOOM_CF_DEFERRED;
    }
    c->holds++;
    loom_conn_finalize(c);
    evbuffer_free(c->tp_data);
    free(c);
}
