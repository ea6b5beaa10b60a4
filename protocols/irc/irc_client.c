/*
 * irc_client.c - clients: the transports (the instance's own TCP/TLS
 * connections and "irc.link/1" links, both behind irc_link_ops_t), line
 * splitting, flood control, the SendQ bound, the ping and registration
 * timers, labeled-response collection, the dispatcher, and quitting.
 *
 * A client's struct lives until its transport is done with it: for a
 * connection, until the connection's close callback; for a link, until a
 * deferred call after ops->close or detach.  Before that, irc_client_quit
 * unlinks it from every table, so nothing finds it any more.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "irc.h"

/* Process-wide: ids are never reused, whatever the instance. */
static uint64_t irc_next_id = 1;

irc_hclient_t *irc_hc(irc_client_t *c)
{
    return (irc_hclient_t *)c;
}

/* ---- the TCP/TLS transport -------------------------------------------- */

static int irc_tcp_write(void *io, loom_buf_t *line)
{
    return loom_conn_write_buf(io, line);
}

static size_t irc_tcp_pending(void *io)
{
    return loom_conn_pending(io);
}

static void irc_tcp_close(void *io, const char *reason)
{
    (void)reason;
    loom_conn_close(io);
}

static const irc_link_ops_t irc_tcp_ops = {irc_tcp_write, irc_tcp_pending,
                                           irc_tcp_close};

/* ---- tables ----------------------------------------------------------------
 */

static void irc_id_key(uint64_t id, char *buf, size_t len)
{
    snprintf(buf, len, "%llx", (unsigned long long)id);
}

irc_client_t *irc_client_by_id(irc_inst_t *irc, uint64_t id)
{
    char key[24];

    irc_id_key(id, key, sizeof(key));
    return irc_map_get(&irc->clients_by_id, key);
}

irc_client_t *irc_client_by_nick(irc_inst_t *irc, const char *nick)
{
    char key[IRC_NICK_BUF];
    irc_client_t *c;

    if (strlen(nick) >= sizeof(key))
        return NULL;
    c = irc_map_get(&irc->nicks, irc_fold(irc, nick, key, sizeof(key)));
    return c && irc_client_registered(c) ? c : NULL;
}

const char *irc_client_prefix(const irc_client_t *c, char *buf, size_t len)
{
    snprintf(buf, len, "%s!%s@%s", c->nick, c->user, c->host);
    return buf;
}

int irc_client_registered(const irc_client_t *c)
{
    return (c->reg & IRC_REG_DONE) != 0;
}

/* The per-address count (a uintptr_t in the map). */
static unsigned irc_ip_count(irc_inst_t *irc, const char *ip, int delta)
{
    irc_hub_t *hub = irc->priv;
    uintptr_t n = (uintptr_t)irc_map_get(&hub->ips, ip);

    if (delta > 0)
        n++;
    else if (n > 0)
        n--;
    irc_map_del(&hub->ips, ip);
    if (n)
        irc_map_put(&hub->ips, ip, (void *)n);
    return (unsigned)n;
}

/* ---- output -------------------------------------------------------------- */

int irc_client_write(irc_client_t *c, loom_buf_t *line)
{
    irc_hclient_t *hc = irc_hc(c);
    const irc_conf_t *conf;
    int rc;

    if (c->quitting)
        return LOOM_ERROR;
    if (c->ops == NULL)
        return LOOM_OK; /* the service user reads nothing */
    if (hc->collecting) {
        if (hc->ncollected == hc->capcollected) {
            hc->capcollected = hc->capcollected ? hc->capcollected * 2 : 8;
            hc->collected = loom_realloc(
                hc->collected, hc->capcollected * sizeof(loom_buf_t *));
        }
        hc->collected[hc->ncollected++] = loom_buf_ref(line);
        return LOOM_OK;
    }
    if (hc->dead)
        return LOOM_ERROR;
    rc = c->ops->write(c->io, line);
    conf = irc_conf(c->inst);
    if (rc != LOOM_ERROR && c->ops->pending(c->io) > conf->sendq) {
        irc_client_kill_later(c, "SendQ exceeded", 1);
        return LOOM_ERROR;
    }
    if (rc == LOOM_ERROR)
        irc_client_kill_later(c, "Write error", 0);
    return rc;
}

typedef struct {
    irc_inst_t *irc;
    uint64_t id;
    char reason[64];
} irc_kill_t;

static void irc_client_kill_run(void *arg)
{
    irc_kill_t *k = arg;
    irc_client_t *c = irc_client_by_id(k->irc, k->id);

    if (c)
        irc_client_quit(c, k->reason, 0);
    free(k);
}

void irc_client_kill_later(irc_client_t *c, const char *reason, int error_line)
{
    irc_hclient_t *hc = irc_hc(c);
    irc_kill_t *k;

    if (hc->dead || c->quitting)
        return;
    hc->dead = 1;
    hc->dead_reason = reason;
    if (error_line && c->ops) {
        loom_buf_t *b = loom_buf_printf("ERROR :Closing Link: %s (%s)\r\n",
                                        c->host, reason);

        c->ops->write(c->io, b);
        loom_buf_unref(b);
    }
    if (hc->conn) {
        loom_conn_close(hc->conn);
    } else if (c->ops && !hc->link_gone) {
        c->ops->close(c->io, reason);
        hc->link_gone = 1;
    }
    k = loom_calloc(1, sizeof(*k));
    k->irc = c->inst;
    k->id = c->id;
    snprintf(k->reason, sizeof(k->reason), "%s", reason);
    loom_defer(c->inst->inst, irc_client_kill_run, k);
}

void irc_client_set_pacer(irc_client_t *c,
                          void (*fn)(irc_client_t *c, void *state),
                          void (*free_fn)(void *state), void *state)
{
    void (*old_free)(void *) = c->pacer_free;
    void *old = c->pacer_state;

    c->pacer = fn;
    c->pacer_free = free_fn;
    c->pacer_state = state;
    if (old_free && old && old != state)
        old_free(old);
}

/* The transport drained: run the pacer once. */
static void irc_client_drained(irc_client_t *c)
{
    void (*fn)(irc_client_t *, void *) = c->pacer;
    void *state = c->pacer_state;

    if (fn == NULL || c->quitting)
        return;
    c->pacer = NULL; /* it sets itself again when it has more */
    fn(c, state);
    if (c->pacer == NULL && c->pacer_state == state) {
        /* done: the pacer left its state behind for us to free */
        if (c->pacer_free && state)
            c->pacer_free(state);
        c->pacer_free = NULL;
        c->pacer_state = NULL;
    }
}

/* ---- labeled-response ------------------------------------------------------
 */

void irc_label_begin(irc_client_t *c, const char *label)
{
    irc_hclient_t *hc = irc_hc(c);

    if (label == NULL || !(c->caps & IRC_CAP_LABELED_RESPONSE) ||
        hc->collecting)
        return;
    snprintf(hc->label, sizeof(hc->label), "%s", label);
    hc->collecting = 1;
    hc->ncollected = 0;
}

/* LINE with TAG ("label=x", escaped) added to its tags, as a new buffer. */
static loom_buf_t *irc_add_tag(loom_buf_t *line, const char *tag)
{
    const char *p = loom_buf_data(line);
    size_t n = loom_buf_len(line);

    if (n && p[0] == '@')
        return loom_buf_printf("@%s;%.*s", tag, (int)(n - 1), p + 1);
    return loom_buf_printf("@%s %.*s", tag, (int)n, p);
}

void irc_label_end(irc_client_t *c)
{
    irc_hclient_t *hc = irc_hc(c);
    const char *srv = irc_conf(c->inst)->server_name;
    char tag[IRC_LABEL_MAX * 2 + 16], esc[IRC_LABEL_MAX * 2 + 1];
    size_t n = hc->ncollected;
    loom_buf_t **lines = hc->collected, *b;

    if (!hc->collecting)
        return;
    hc->collecting = 0;
    hc->collected = NULL;
    hc->ncollected = hc->capcollected = 0;
    if (irc_tag_escape(hc->label, esc, sizeof(esc)) == (size_t)-1)
        esc[0] = '\0';
    snprintf(tag, sizeof(tag), "label=%s", esc);
    if (c->quitting) {
        /* nothing more goes out */
    } else if (n == 0 && (hc->oper_busy || hc->sasl_busy)) {
        /* the answer comes with the check's result (async_label) */
    } else if (n == 0) {
        b = loom_buf_printf("@%s :%s ACK\r\n", tag, srv);
        irc_client_write(c, b);
        loom_buf_unref(b);
    } else if (n == 1) {
        b = irc_add_tag(lines[0], tag);
        irc_client_write(c, b);
        loom_buf_unref(b);
    } else if (c->caps & IRC_CAP_BATCH) {
        char id[32];

        snprintf(id, sizeof(id), "L%llu",
                 (unsigned long long)++irc_hub(c->inst)->batch_seq);
        b = loom_buf_printf("@%s :%s BATCH +%s labeled-response\r\n", tag, srv,
                            id);
        irc_client_write(c, b);
        loom_buf_unref(b);
        snprintf(tag, sizeof(tag), "batch=%s", id);
        for (size_t i = 0; i < n; i++) {
            b = irc_add_tag(lines[i], tag);
            irc_client_write(c, b);
            loom_buf_unref(b);
        }
        b = loom_buf_printf(":%s BATCH -%s\r\n", srv, id);
        irc_client_write(c, b);
        loom_buf_unref(b);
    } else {
        for (size_t i = 0; i < n; i++)
            irc_client_write(c, lines[i]);
    }
    for (size_t i = 0; i < n; i++)
        loom_buf_unref(lines[i]);
    free(lines);
}

/* ---- timers -------------------------------------------------------------- */

static void irc_client_tick(loom_timer_t *t, void *arg)
{
    irc_hclient_t *hc = arg;
    irc_client_t *c = &hc->c;
    const irc_conf_t *conf = irc_conf(c->inst);
    uint64_t now = loom_now_ms(), due;
    char why[64];

    (void)t;
    if (c->quitting)
        return;
    if (!irc_client_registered(c)) {
        irc_client_quit(c, "Registration timed out", 1);
        return;
    }
    if (hc->ping_sent_ms) {
        if (hc->last_pong_ms < hc->ping_sent_ms &&
            c->last_input_ms < hc->ping_sent_ms) {
            snprintf(why, sizeof(why), "Ping timeout: %u seconds",
                     conf->ping_timeout);
            irc_client_quit(c, why, 1);
            return;
        }
        hc->ping_sent_ms = 0;
    }
    due = c->last_input_ms + (uint64_t)conf->ping_interval * 1000;
    if (due > now) {
        loom_timer_arm(&hc->tick, due - now);
        return;
    }
    irc_send(c, "PING :%s", conf->server_name);
    hc->ping_sent_ms = now;
    loom_timer_arm(&hc->tick, (uint64_t)conf->ping_timeout * 1000);
}

/* ---- creation and destruction ---------------------------------------------
 */

/* A new client for IRC on OPS/IO from address IP, or NULL when refused
 * (the refusal is sent as ERROR when SEND_ERROR). */
static irc_hclient_t *irc_client_new(irc_inst_t *irc, const irc_link_ops_t *ops,
                                     void *io, const char *ip, int secure,
                                     const char **why)
{
    const irc_conf_t *conf = irc_conf(irc);
    irc_hclient_t *hc;
    char key[24];

    if (irc->stopping) {
        *why = "Server shutting down";
        return NULL;
    }
    if (irc->nclients + irc->nunknown >= conf->max_clients) {
        *why = "Too many clients on this server";
        return NULL;
    }
    if (irc_ip_count(irc, ip, +1) > conf->clients_per_ip) {
        irc_ip_count(irc, ip, -1);
        *why = "Too many connections from your address";
        return NULL;
    }
    hc = loom_calloc(1, sizeof(*hc));
    hc->c.inst = irc;
    hc->c.id = irc_next_id++;
    hc->c.ops = ops;
    hc->c.io = io;
    hc->c.secure = secure;
    hc->c.priv = hc;
    snprintf(hc->c.nick, sizeof(hc->c.nick), "*");
    snprintf(hc->c.ip, sizeof(hc->c.ip), "%s", ip);
    /* a host starting with ':' would end the prefix: "0::1" */
    snprintf(hc->c.host, sizeof(hc->c.host), "%s%s", ip[0] == ':' ? "0" : "",
             ip);
    hc->c.last_input_ms = hc->c.last_active_ms = loom_now_ms();
    hc->flood_ms = hc->c.last_input_ms;
    irc_id_key(hc->c.id, key, sizeof(key));
    irc_map_put(&irc->clients_by_id, key, hc);
    irc->nunknown++;
    loom_timer_init(&hc->tick, irc->inst, irc_client_tick, hc);
    loom_timer_arm(&hc->tick, (uint64_t)conf->register_timeout * 1000);
    loom_timer_init(&hc->flood_timer, irc->inst, irc_flood_release, hc);
    return hc;
}

/* Free HC (unlinked already). */
static void irc_client_free(irc_hclient_t *hc)
{
    loom_timer_disarm(&hc->tick);
    loom_timer_disarm(&hc->flood_timer);
    irc_client_set_pacer(&hc->c, NULL, NULL, NULL);
    irc_flood_clear(hc);
    for (size_t i = 0; i < hc->ncollected; i++)
        loom_buf_unref(hc->collected[i]);
    free(hc->collected);
    free(hc->c.away);
    free(hc->c.certfp);
    free(hc->pass);
    if (hc->sasl) {
        irc_sasl_wipe(hc->sasl, sizeof(*hc->sasl));
        free(hc->sasl);
    }
    free(hc);
}

static void irc_client_free_deferred(void *arg)
{
    irc_client_free(arg);
}

void irc_client_quit(irc_client_t *c, const char *reason, int error_line)
{
    irc_hclient_t *hc = irc_hc(c);
    irc_inst_t *irc = c->inst;
    char key[IRC_NICK_BUF], text[IRC_LINE_MAX];

    if (c->quitting)
        return;
    if (c->ops != NULL) /* not the service user */
        irc_hub(irc)->stats.gone[irc_gone_class(reason)]++;
    if (irc_client_registered(c)) {
        irc_out_t o = {0};

        snprintf(text, sizeof(text), "QUIT :%s", reason);
        o.from = c;
        o.text = text;
        irc_fanout_common(c, &o);
        irc_who_remember(c);
        irc_chan_part_all(c);
        irc->nclients--;
        if (c->umodes & IRC_UMODE_OPER)
            irc->nopers--;
    } else {
        irc->nunknown--;
    }
    if (c->nick[0] != '*' &&
        irc_map_get(&irc->nicks, irc_fold(irc, c->nick, key, sizeof(key))) == c)
        irc_map_del(&irc->nicks, key);
    if (hc->label[0] && hc->collecting)
        irc_label_end(c);
    if (error_line && c->ops && !hc->link_gone && !hc->dead) {
        loom_buf_t *b = loom_buf_printf("ERROR :Closing Link: %s (%s)\r\n",
                                        c->host, reason);

        c->ops->write(c->io, b);
        loom_buf_unref(b);
    }
    c->quitting = 1;
    if (irc->service == c)
        irc->service = NULL;
    irc_id_key(c->id, key, sizeof(key));
    irc_map_del(&irc->clients_by_id, key);
    if (!c->is_service)
        irc_ip_count(irc, c->ip, -1);
    irc_client_set_pacer(c, NULL, NULL, NULL);
    loom_timer_disarm(&hc->tick);
    loom_timer_disarm(&hc->flood_timer);
    if (hc->conn) {
        /* freed by the connection's close callback */
        loom_conn_close(hc->conn);
        return;
    }
    if (c->ops && !hc->link_gone)
        c->ops->close(c->io, reason);
    hc->link_gone = 1;
    if (irc->stopping || c->is_service)
        irc_client_free(hc);
    else
        loom_defer(irc->inst, irc_client_free_deferred, hc);
}

/* ---- input --------------------------------------------------------------- */

/* One line LINE[0..LEN) (no CR LF) from HC: through flood control to the
 * dispatcher. */
static void irc_client_line(irc_hclient_t *hc, const char *line, size_t len)
{
    irc_client_t *c = &hc->c;

    if (c->quitting)
        return;
    c->last_input_ms = loom_now_ms();
    if (len == 0)
        return;
    if (irc_flood_admit(hc, line, len))
        irc_dispatch(c, line, len);
}

/* Split BUF[0..LEN) into lines for HC; returns the bytes consumed. */
static size_t irc_client_split(irc_hclient_t *hc, const char *buf, size_t len)
{
    size_t used = 0;

    while (used < len && !hc->c.quitting) {
        const char *p = buf + used, *nl = memchr(p, '\n', len - used);
        size_t n;

        if (nl == NULL) {
            if (len - used > IRC_INPUT_MAX + 2) {
                /* no end in sight: refuse it and drop it up to its LF */
                if (!hc->discarding)
                    irc_numeric(&hc->c, 417, ":Input line was too long");
                hc->discarding = 1;
                used = len;
            }
            break;
        }
        n = (size_t)(nl - p);
        used += n + 1;
        if (hc->discarding) {
            hc->discarding = 0;
            continue;
        }
        if (n && p[n - 1] == '\r')
            n--;
        irc_client_line(hc, p, n);
    }
    return used;
}

/* ---- the connection handler ---------------------------------------------- */

int irc_conn_open(loom_conn_t *conn)
{
    irc_inst_t *irc = irc_inst(loom_conn_instance(conn));
    irc_hclient_t **slot = loom_conn_data(conn), *hc;
    loom_tls_info_t tls;
    const char *why = NULL;
    char ip[IRC_HOST_BUF];
    int secure = loom_conn_tls_info(conn, &tls) == 0;

    if (*slot) /* the open callback again after STARTTLS: nothing to do */
        return LOOM_OK;
    snprintf(ip, sizeof(ip), "%s", loom_conn_peer(conn));
    hc = irc_client_new(irc, &irc_tcp_ops, conn, ip, secure, &why);
    if (hc == NULL) {
        irc_hub(irc)->stats.refused++;
        loom_conn_printf(conn, "ERROR :Closing Link: %s (%s)\r\n", ip, why);
        loom_conn_close(conn);
        return LOOM_OK;
    }
    hc->conn = conn;
    *slot = hc;
    /* the core's own cut, above the SendQ check (which closes first) */
    loom_conn_set_max_output(conn, irc_conf(irc)->sendq + IRC_OUT_MAX * 4);
    loom_conn_set_max_input(conn, IRC_INPUT_MAX * 4);
    /* SASL EXTERNAL: the certificate the client showed, when the
     * listener's TLS profile asks for one (client_certs = yes) */
    if (secure && tls.peer_sha256)
        hc->c.certfp = loom_strdup(tls.peer_sha256);
    return LOOM_OK;
}

size_t irc_conn_data(loom_conn_t *conn, const char *buf, size_t len)
{
    irc_hclient_t *hc = *(irc_hclient_t **)loom_conn_data(conn);

    if (hc == NULL || hc->c.quitting)
        return len;
    return irc_client_split(hc, buf, len);
}

void irc_conn_drain(loom_conn_t *conn)
{
    irc_hclient_t *hc = *(irc_hclient_t **)loom_conn_data(conn);

    if (hc)
        irc_client_drained(&hc->c);
}

void irc_conn_close(loom_conn_t *conn)
{
    irc_hclient_t **slot = loom_conn_data(conn), *hc = *slot;

    if (hc == NULL)
        return;
    *slot = NULL;
    hc->link_gone = 1;
    irc_client_quit(&hc->c,
                    hc->dead_reason ? hc->dead_reason : "Connection closed", 0);
    irc_client_free(hc);
}

/* ---- the "irc.link/1" service ---------------------------------------------
 */

static uint64_t irc_link_attach(void *self, const irc_link_ops_t *ops, void *io,
                                const struct sockaddr_storage *peer, int secure,
                                const char *certfp)
{
    irc_inst_t *irc = self;
    irc_hclient_t *hc;
    const char *why;
    char ip[IRC_HOST_BUF] = "unknown";

    if (peer && peer->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)peer)->sin_addr, ip,
                  sizeof(ip));
    else if (peer && peer->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)peer)->sin6_addr, ip,
                  sizeof(ip));
    hc = irc_client_new(irc, ops, io, ip, secure, &why);
    if (hc == NULL) {
        irc_hub(irc)->stats.refused++;
        return 0;
    }
    if (certfp && certfp[0])
        hc->c.certfp = loom_strdup(certfp);
    return hc->c.id;
}

static int irc_link_input(void *self, uint64_t id, const char *line, size_t len)
{
    irc_client_t *c = irc_client_by_id(self, id);

    if (c == NULL || c->is_service)
        return LOOM_ERROR;
    if (len > IRC_INPUT_MAX) {
        irc_numeric(c, 417, ":Input line was too long");
        return LOOM_OK;
    }
    irc_client_line(irc_hc(c), line, len);
    return LOOM_OK;
}

static void irc_link_drained(void *self, uint64_t id)
{
    irc_client_t *c = irc_client_by_id(self, id);

    if (c && !c->is_service)
        irc_client_drained(c);
}

static void irc_link_detach(void *self, uint64_t id, const char *reason)
{
    irc_client_t *c = irc_client_by_id(self, id);

    if (c == NULL || c->is_service || irc_hc(c)->conn)
        return;
    irc_hc(c)->link_gone = 1;
    if (irc_hc(c)->dead_reason)
        reason = irc_hc(c)->dead_reason;
    irc_client_quit(c, reason ? reason : "Connection closed", 0);
}

const irc_link_service_t irc_link_service = {irc_link_attach, irc_link_input,
                                             irc_link_drained, irc_link_detach};

/* ---- the service user ------------------------------------------------------
 */

irc_client_t *irc_service_user_new(irc_inst_t *irc, const char *nick)
{
    const irc_conf_t *conf = irc_conf(irc);
    irc_hclient_t *hc = loom_calloc(1, sizeof(*hc));
    char key[IRC_NICK_BUF];

    if (irc_map_get(&irc->nicks, irc_fold(irc, nick, key, sizeof(key)))) {
        free(hc);
        return NULL;
    }
    hc->c.inst = irc;
    hc->c.id = irc_next_id++;
    hc->c.priv = hc;
    hc->c.is_service = 1;
    hc->c.reg = IRC_REG_DONE;
    hc->c.umodes = 0;
    snprintf(hc->c.nick, sizeof(hc->c.nick), "%s", nick);
    snprintf(hc->c.user, sizeof(hc->c.user), "service");
    snprintf(hc->c.host, sizeof(hc->c.host), "%s", conf->server_name);
    snprintf(hc->c.ip, sizeof(hc->c.ip), "0");
    snprintf(hc->c.realname, sizeof(hc->c.realname), "loom bus service");
    hc->c.signon = time(NULL);
    hc->c.last_input_ms = hc->c.last_active_ms = loom_now_ms();
    irc_map_put(&irc->nicks, key, hc);
    irc_id_key(hc->c.id, key, sizeof(key));
    irc_map_put(&irc->clients_by_id, key, hc);
    irc->nclients++;
    return &hc->c;
}

/* ---- the instance's end -----------------------------------------------------
 */

void irc_clients_close_all(irc_inst_t *irc, const char *reason)
{
    size_t n = irc->clients_by_id.count, k = 0, i = 0;
    uint64_t *ids = loom_calloc(n ? n : 1, sizeof(*ids));
    irc_map_ent_t *e;

    /* ids first: a quit may make others quit (SendQ) under the walk */
    for (e = irc_map_next(&irc->clients_by_id, &i, NULL); e && k < n;
         e = irc_map_next(&irc->clients_by_id, &i, e))
        ids[k++] = ((irc_client_t *)e->value)->id;
    for (i = 0; i < k; i++) {
        irc_client_t *c = irc_client_by_id(irc, ids[i]);

        if (c)
            irc_client_quit(c, reason, 1);
    }
    free(ids);
}
