/*
 * bustest.c - a test-only module that drives the bus (loom_bus.h) through
 * a line protocol, so that tests/integration/test_bus.py can publish,
 * subscribe and watch action calls of a real loomd, and
 * tests/integration/test_http_events.py can publish in bulk.
 *
 * Commands (one per line; answers are one line unless said):
 *   PUB TOPIC [NAME=VALUE ...]  publish; "OK id=N matched=M queued=Q
 *                               dropped=D loop=L subs=S" or "ERR"
 *   PUBN TOPIC N PAD TEXT       publish N messages (volume for the events
 *                               tests), each with the one field text =
 *                               "TEXT #I" followed by PAD bytes of 'x';
 *                               "OK first=ID last=ID" or "ERR ..."
 *   SUB PATTERN                 this connection receives every matching
 *                               message as "MSG id topic hops=H
 *                               origin=M/I NAME=VALUE ..."; "OK"
 *   WATCH                       this connection receives a line per
 *                               action call: "ACT route text attempt=N"
 *                               and "END route text result"; "OK"
 *   RELEASE                     end every held call as done; "OK n"
 *
 * Action `record` (this module's): parameters text (required), outcome
 * (done: default; fail; retry:N -- retry until attempt N, then done;
 * retry -- always retry; hold -- keep until RELEASE or stop, which ends
 * it as failed; republish -- publish TOPIC while the call runs, then
 * done), topic (for republish).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom_module.h"

#define BT_MAX_WATCH 32
#define BT_MAX_HELD 1024

typedef struct {
    loom_conn_t *watch[BT_MAX_WATCH]; /* connections that asked WATCH */
    loom_action_call_t *held[BT_MAX_HELD];
    size_t nheld;
} bt_state_t;

typedef struct {
    loom_bus_sub_t *sub;
    int watching;
} bt_conn_t;

static bt_state_t *bt_state(loom_instance_t *inst)
{
    bt_state_t *st = loom_instance_data(inst);

    if (st == NULL) {
        st = loom_calloc(1, sizeof(*st));
        loom_instance_set_data(inst, st);
    }
    return st;
}

static void bt_tell(loom_instance_t *inst, const char *fmt, const char *route,
                    const char *text, const char *tail)
{
    bt_state_t *st = bt_state(inst);
    size_t i;

    for (i = 0; i < BT_MAX_WATCH; i++) {
        if (st->watch[i])
            loom_conn_printf(st->watch[i], fmt, route, text, tail);
    }
}

static void bt_end(loom_instance_t *inst, loom_action_call_t *call,
                   loom_act_result_t res, const char *why)
{
    static const char *const names[] = {"done", "retry", "failed"};

    bt_tell(inst, "END %s %s %s\r\n", loom_action_route(call),
            loom_action_param(call, "text", NULL), names[res]);
    loom_action_done(call, res, why);
}

/* Which attempt of its message's call this is: counted per message id
 * in a small table (tests retry a handful of messages at a time). */
static unsigned bt_attempt(uint64_t id)
{
    static struct {
        uint64_t id;
        unsigned n;
    } seen[256];
    size_t i, free_slot = 0;

    for (i = 0; i < LOOM_ARRAY_LEN(seen); i++) {
        if (seen[i].id == id)
            return ++seen[i].n;
        if (seen[i].id == 0)
            free_slot = i;
    }
    seen[free_slot].id = id;
    seen[free_slot].n = 1;
    return 1;
}

static void bt_record(loom_instance_t *inst, loom_action_call_t *call)
{
    bt_state_t *st = bt_state(inst);
    const char *text = loom_action_param(call, "text", NULL);
    const char *outcome = loom_action_param(call, "outcome", NULL);
    unsigned attempt = bt_attempt(loom_msg_id(loom_action_msg(call)));
    char tail[32];

    snprintf(tail, sizeof(tail), "attempt=%u", attempt);
    bt_tell(inst, "ACT %s %s %s\r\n", loom_action_route(call), text, tail);
    if (outcome == NULL || *outcome == '\0' || strcmp(outcome, "done") == 0) {
        bt_end(inst, call, LOOM_ACT_DONE, NULL);
    } else if (strcmp(outcome, "fail") == 0) {
        bt_end(inst, call, LOOM_ACT_FAILED, "told to fail");
    } else if (strcmp(outcome, "retry") == 0) {
        bt_end(inst, call, LOOM_ACT_RETRY, "told to retry");
    } else if (strncmp(outcome, "retry:", 6) == 0) {
        if (attempt < (unsigned)atoi(outcome + 6))
            bt_end(inst, call, LOOM_ACT_RETRY, "not yet");
        else
            bt_end(inst, call, LOOM_ACT_DONE, NULL);
    } else if (strcmp(outcome, "hold") == 0 && st->nheld < BT_MAX_HELD) {
        st->held[st->nheld++] = call;
    } else if (strcmp(outcome, "republish") == 0) {
        const char *topic = loom_action_param(call, "topic", NULL);
        loom_msg_t *m = loom_msg_new(topic ? topic : "again");

        loom_msg_add(m, "text", 4, text, strlen(text));
        loom_bus_publish(inst, m, NULL);
        bt_end(inst, call, LOOM_ACT_DONE, NULL);
    } else {
        bt_end(inst, call, LOOM_ACT_FAILED, "unknown outcome");
    }
}

static void bt_on_msg(loom_msg_t *m, void *arg)
{
    loom_conn_t *c = arg;
    size_t i;

    loom_conn_printf(c, "MSG %llu %s hops=%zu origin=%s/%s",
                     (unsigned long long)loom_msg_id(m), loom_msg_topic(m),
                     loom_msg_hops(m), loom_msg_module(m),
                     loom_msg_instance(m));
    for (i = 0; i < loom_msg_nfields(m); i++) {
        const loom_field_t *f = loom_msg_field(m, i);

        loom_conn_printf(c, " %s=%s", f->name.p, f->value.p);
    }
    loom_conn_printf(c, "\r\n");
}

static void bt_publish(loom_conn_t *c, char *arg)
{
    char *save = NULL, *tok = strtok_r(arg, " ", &save);
    loom_publish_result_t res;
    loom_msg_t *m;

    if (tok == NULL) {
        loom_conn_printf(c, "ERR PUB TOPIC [NAME=VALUE ...]\r\n");
        return;
    }
    m = loom_msg_new(tok);
    while ((tok = strtok_r(NULL, " ", &save)) != NULL) {
        char *eq = strchr(tok, '=');

        if (eq)
            loom_msg_add(m, tok, (size_t)(eq - tok), eq + 1, strlen(eq + 1));
    }
    if (loom_bus_publish(loom_conn_instance(c), loom_msg_ref(m), &res) !=
        LOOM_OK) {
        loom_msg_unref(m);
        loom_conn_printf(c, "ERR\r\n");
        return;
    }
    loom_conn_printf(c,
                     "OK id=%llu matched=%u queued=%u dropped=%u loop=%u "
                     "subs=%u\r\n",
                     (unsigned long long)loom_msg_id(m), res.matched,
                     res.queued, res.dropped, res.dropped_loop,
                     res.subscribers);
    loom_msg_unref(m);
}

/* PUBN TOPIC N PAD TEXT (ARG is what follows the command). */
static void bt_publish_n(loom_conn_t *c, const char *arg)
{
    char topic[256], text[512], *val;
    unsigned long n, pad, i;
    uint64_t first = 0, last = 0;

    if (sscanf(arg, "%255s %lu %lu %511[^\n]", topic, &n, &pad, text) != 4 ||
        n == 0 || n > 100000 || pad > 1000000) {
        loom_conn_printf(c, "ERR PUBN TOPIC N PAD TEXT\r\n");
        return;
    }
    val = loom_malloc(strlen(text) + 32 + pad);
    for (i = 0; i < n; i++) {
        loom_msg_t *m = loom_msg_new(topic);
        int len = sprintf(val, "%s #%lu", text, i + 1);

        memset(val + (size_t)len, 'x', pad);
        loom_msg_add(m, "text", 4, val, (size_t)len + pad);
        if (loom_bus_publish(loom_conn_instance(c), loom_msg_ref(m), NULL) !=
            LOOM_OK) {
            loom_msg_unref(m);
            free(val);
            loom_conn_printf(c, "ERR not published\r\n");
            return;
        }
        if (first == 0)
            first = loom_msg_id(m);
        last = loom_msg_id(m);
        loom_msg_unref(m);
    }
    free(val);
    loom_conn_printf(c, "OK first=%llu last=%llu\r\n",
                     (unsigned long long)first, (unsigned long long)last);
}

static void bt_command(loom_conn_t *c, char *line)
{
    bt_conn_t *bc = loom_conn_data(c);
    loom_instance_t *inst = loom_conn_instance(c);
    bt_state_t *st = bt_state(inst);
    char *arg = strchr(line, ' ');
    size_t i, n;

    if (arg)
        *arg++ = '\0';
    if (strcmp(line, "PUB") == 0 && arg) {
        bt_publish(c, arg);
    } else if (strcmp(line, "PUBN") == 0 && arg) {
        bt_publish_n(c, arg);
    } else if (strcmp(line, "SUB") == 0 && arg && bc->sub == NULL) {
        bc->sub = loom_bus_subscribe(inst, arg, bt_on_msg, c);
        loom_conn_printf(c, bc->sub ? "OK\r\n" : "ERR bad pattern\r\n");
    } else if (strcmp(line, "WATCH") == 0) {
        for (i = 0; i < BT_MAX_WATCH && st->watch[i]; i++)
            ;
        if (i == BT_MAX_WATCH) {
            loom_conn_printf(c, "ERR full\r\n");
            return;
        }
        st->watch[i] = c;
        bc->watching = 1;
        loom_conn_printf(c, "OK\r\n");
    } else if (strcmp(line, "RELEASE") == 0) {
        n = st->nheld;
        st->nheld = 0;
        for (i = 0; i < n; i++)
            bt_end(inst, st->held[i], LOOM_ACT_DONE, NULL);
        loom_conn_printf(c, "OK %zu\r\n", n);
    } else {
        loom_conn_printf(c, "500 unknown command\r\n");
    }
}

static int bt_open(loom_conn_t *c)
{
    (void)c;
    return LOOM_OK;
}

static size_t bt_data(loom_conn_t *c, const char *buf, size_t len)
{
    size_t used = 0;

    while (used < len) {
        const char *nl = memchr(buf + used, '\n', len - used);
        char line[2048];
        size_t n;

        if (nl == NULL)
            break;
        n = (size_t)(nl - (buf + used));
        if (n && buf[used + n - 1] == '\r')
            n--;
        if (n >= sizeof(line))
            n = sizeof(line) - 1;
        memcpy(line, buf + used, n);
        line[n] = '\0';
        used = (size_t)(nl - buf) + 1;
        bt_command(c, line);
    }
    return used;
}

static void bt_close(loom_conn_t *c)
{
    bt_conn_t *bc = loom_conn_data(c);
    bt_state_t *st = bt_state(loom_conn_instance(c));
    size_t i;

    loom_bus_unsubscribe(bc->sub);
    bc->sub = NULL;
    for (i = 0; i < BT_MAX_WATCH; i++) {
        if (st->watch[i] == c)
            st->watch[i] = NULL;
    }
}

static void bt_stop(loom_instance_t *inst)
{
    bt_state_t *st = loom_instance_data(inst);
    size_t i;

    if (st == NULL)
        return;
    for (i = 0; i < st->nheld; i++)
        loom_action_done(st->held[i], LOOM_ACT_FAILED, "stopping");
    free(st);
    loom_instance_set_data(inst, NULL);
}

static const loom_action_param_t bt_record_params[] = {
    {"text", 1}, {"outcome", 0}, {"topic", 0}, {NULL, 0}};
static const loom_action_t bt_actions[] = {
    {"record", bt_record_params, bt_record}, {NULL, NULL, NULL}};

extern const loom_module_t loom_module_entry;

const loom_module_t loom_module_entry = {
    .abi = LOOM_MODULE_ABI,
    .name = "bustest",
    .conn_size = sizeof(bt_conn_t),
    .idle_timeout = 120,
    .stop = bt_stop,
    .stream = {bt_open, bt_data, NULL, bt_close},
    .actions = bt_actions,
};
