/*
 * irc_map.c - the string-keyed hash table behind the nick, channel and
 * client tables (keys case-folded by the caller).  Chained buckets, a
 * power-of-two slot count doubled at load 1 and never shrunk.
 */
#include <stdlib.h>
#include <string.h>

#include "irc_int.h"

static uint32_t irc_map_hash(const char *key)
{
    uint32_t h = 2166136261u;

    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 16777619u;
    return h;
}

void irc_map_free(irc_map_t *m)
{
    for (size_t i = 0; i < m->nslots; i++) {
        while (m->slots[i]) {
            irc_map_ent_t *e = m->slots[i];

            m->slots[i] = e->next;
            free(e);
        }
    }
    free(m->slots);
    m->slots = NULL;
    m->nslots = m->count = 0;
}

static irc_map_ent_t **irc_map_find(const irc_map_t *m, const char *key,
                                    uint32_t h)
{
    irc_map_ent_t **pp;

    if (m->nslots == 0)
        return NULL;
    for (pp = &m->slots[h & (m->nslots - 1)]; *pp; pp = &(*pp)->next)
        if ((*pp)->hash == h && strcmp((*pp)->key, key) == 0)
            return pp;
    return NULL;
}

void *irc_map_get(const irc_map_t *m, const char *key)
{
    irc_map_ent_t **pp = irc_map_find(m, key, irc_map_hash(key));

    return pp ? (*pp)->value : NULL;
}

static void irc_map_grow(irc_map_t *m)
{
    size_t n = m->nslots ? m->nslots * 2 : 16;
    irc_map_ent_t **slots = loom_calloc(n, sizeof(*slots));

    for (size_t i = 0; i < m->nslots; i++) {
        while (m->slots[i]) {
            irc_map_ent_t *e = m->slots[i];

            m->slots[i] = e->next;
            e->next = slots[e->hash & (n - 1)];
            slots[e->hash & (n - 1)] = e;
        }
    }
    free(m->slots);
    m->slots = slots;
    m->nslots = n;
}

int irc_map_put(irc_map_t *m, const char *key, void *value)
{
    uint32_t h = irc_map_hash(key);
    size_t klen = strlen(key);
    irc_map_ent_t *e;

    if (irc_map_find(m, key, h))
        return LOOM_DECLINED;
    if (m->count >= m->nslots)
        irc_map_grow(m);
    e = loom_malloc(sizeof(*e) + klen + 1);
    memcpy(e->key, key, klen + 1);
    e->hash = h;
    e->value = value;
    e->next = m->slots[h & (m->nslots - 1)];
    m->slots[h & (m->nslots - 1)] = e;
    m->count++;
    return LOOM_OK;
}

void *irc_map_del(irc_map_t *m, const char *key)
{
    irc_map_ent_t **pp = irc_map_find(m, key, irc_map_hash(key)), *e;
    void *v;

    if (pp == NULL)
        return NULL;
    e = *pp;
    *pp = e->next;
    v = e->value;
    free(e);
    m->count--;
    return v;
}

irc_map_ent_t *irc_map_next(const irc_map_t *m, size_t *i, irc_map_ent_t *e)
{
    if (e && e->next)
        return e->next;
    if (e)
        (*i)++;
    for (; *i < m->nslots; (*i)++)
        if (m->slots[*i])
            return m->slots[*i];
    return NULL;
}
