/*
 * smtp_local.c - where a recipient goes: local domains, the mailbox
 * table, aliases (one to many, nested up to SMTP_ALIAS_DEPTH), the
 * catch-all, and who may relay.  Pure functions of the configuration.
 */
#include <string.h>

#include "smtp.h"

int smtp_is_local_domain(const smtp_conf_t *c, const char *domain)
{
    for (size_t i = 0; i < c->ndomains; i++)
        if (strcmp(c->domains[i], domain) == 0)
            return 1;
    return 0;
}

static int smtp_net_match(const smtp_net_t *n, const uint8_t *a)
{
    unsigned bytes = n->prefix / 8, bits = n->prefix % 8;

    if (memcmp(n->addr, a, bytes) != 0)
        return 0;
    if (bits) {
        uint8_t mask = (uint8_t)(0xffu << (8 - bits));

        return (n->addr[bytes] & mask) == (a[bytes] & mask);
    }
    return 1;
}

int smtp_peer_may_relay(const smtp_conf_t *c, const struct sockaddr_storage *ss)
{
    uint8_t a4[4], a6[16];
    int have4 = 0, have6 = 0;

    if (ss->ss_family == AF_INET) {
        memcpy(a4, &((const struct sockaddr_in *)ss)->sin_addr, 4);
        have4 = 1;
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

        memcpy(a6, &s6->sin6_addr, 16);
        have6 = 1;
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
            memcpy(a4, a6 + 12, 4);
            have4 = 1;
        }
    }
    for (size_t i = 0; i < c->nnets; i++) {
        const smtp_net_t *n = &c->nets[i];

        if ((n->family == AF_INET && have4 && smtp_net_match(n, a4)) ||
            (n->family == AF_INET6 && have6 && smtp_net_match(n, a6)))
            return 1;
    }
    return 0;
}

static const smtp_alias_t *smtp_alias_find(const smtp_conf_t *c,
                                           const char *addr)
{
    for (size_t i = 0; i < c->naliases; i++)
        if (strcmp(c->aliases[i].addr, addr) == 0)
            return &c->aliases[i];
    return NULL;
}

static const smtp_mailbox_t *smtp_box_find(const smtp_conf_t *c,
                                           const char *addr)
{
    for (size_t i = 0; i < c->nboxes; i++)
        if (strcmp(c->boxes[i].addr, addr) == 0)
            return &c->boxes[i];
    return NULL;
}

/* Add a destination unless it is there already. */
static void smtp_dest_add(smtp_dest_t *out, size_t max, size_t *n,
                          const char *maildir, const char *addr)
{
    for (size_t i = 0; i < *n; i++) {
        if (maildir && out[i].maildir == maildir)
            return;
        if (!maildir && !out[i].maildir && strcmp(out[i].addr, addr) == 0)
            return;
    }
    if (*n == max)
        return;
    out[*n].maildir = maildir;
    out[*n].addr[0] = '\0';
    if (addr) {
        size_t len = strlen(addr);

        if (len > SMTP_ADDR_MAX)
            len = SMTP_ADDR_MAX;
        memcpy(out[*n].addr, addr, len);
        out[*n].addr[len] = '\0';
    }
    (*n)++;
}

static smtp_dest_kind_t smtp_resolve(const smtp_conf_t *c, const char *addr,
                                     unsigned depth, smtp_dest_t *out,
                                     size_t max, size_t *n)
{
    const char *at = strrchr(addr, '@');
    const smtp_alias_t *a;
    const smtp_mailbox_t *b;

    if (depth > SMTP_ALIAS_DEPTH)
        return SMTP_DEST_LOOP;
    if (at == NULL || !smtp_is_local_domain(c, at + 1)) {
        if (depth == 0)
            return SMTP_DEST_REMOTE;
        smtp_dest_add(out, max, n, NULL, addr);
        return SMTP_DEST_LOCAL;
    }
    if ((a = smtp_alias_find(c, addr)) != NULL) {
        for (size_t i = 0; i < a->ntargets; i++) {
            smtp_dest_kind_t k =
                smtp_resolve(c, a->targets[i], depth + 1, out, max, n);

            if (k != SMTP_DEST_LOCAL)
                return k == SMTP_DEST_UNKNOWN ? SMTP_DEST_LOOP : k;
        }
        return SMTP_DEST_LOCAL;
    }
    if ((b = smtp_box_find(c, addr)) != NULL) {
        smtp_dest_add(out, max, n, b->maildir, addr);
        return SMTP_DEST_LOCAL;
    }
    if (c->catch_all && strcmp(c->catch_all, addr) != 0)
        return smtp_resolve(c, c->catch_all, depth + 1, out, max, n);
    return SMTP_DEST_UNKNOWN;
}

smtp_dest_kind_t smtp_resolve_rcpt(const smtp_conf_t *c, const char *addr,
                                   smtp_dest_t *out, size_t max, size_t *n)
{
    smtp_dest_kind_t k;

    *n = 0;
    k = smtp_resolve(c, addr, 0, out, max, n);
    if (k == SMTP_DEST_LOCAL && *n == 0)
        return SMTP_DEST_LOOP;
    return k;
}

int smtp_publishes(const smtp_conf_t *c, const char *addr)
{
    const char *at = strrchr(addr, '@');

    for (size_t i = 0; i < c->npublish; i++) {
        const char *p = c->publish[i];

        if (p[0] == '@' ? (at && strcmp(at, p) == 0) : strcmp(p, addr) == 0)
            return 1;
    }
    return 0;
}
