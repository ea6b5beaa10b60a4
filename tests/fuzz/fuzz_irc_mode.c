/*
 * fuzz_irc_mode.c - libFuzzer target: the MODE parser, the mode
 * formatter and mask normalisation/matching.  The first byte picks the
 * MODES limit (low 3 bits) and channel or user modes (bit 3); the rest is
 * a mode string and its params separated by spaces.  Invariants: at most
 * IRC_MODE_CHANGES_MAX changes, each of a known letter of its class with
 * a param exactly when the class rules allow, no more param-carrying
 * changes than the limit, unknown letters listed once; formatting the
 * changes in MODE-sized pieces and parsing each piece again gives the
 * same changes (when no param is optional); the first two params as mask
 * and subject: normalising is idempotent and matching terminates.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "irc_mode.h"
#include "irc_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXP 32

static void check_changes(const irc_modeset_t *ms, const irc_modes_t *m,
                          const char *const *params, size_t np,
                          size_t max_param, int chan)
{
    size_t with = 0;

    assert(m->n <= IRC_MODE_CHANGES_MAX);
    assert(m->used_params <= np);
    for (size_t i = 0; i < m->n; i++) {
        const irc_mode_change_t *c = &m->ch[i];

        assert(c->dir == '+' || c->dir == '-');
        if (chan) {
            assert(c->cls == irc_modeset_class(ms, c->letter));
            if (c->cls == IRC_MODE_D || (c->cls == IRC_MODE_C && c->dir == '-'))
                assert(c->param == NULL);
            if (c->cls == IRC_MODE_PREFIX ||
                (c->cls == IRC_MODE_B && c->dir == '+') ||
                (c->cls == IRC_MODE_C && c->dir == '+'))
                assert(c->param != NULL);
        } else {
            assert(c->cls == IRC_MODE_D && c->param == NULL);
            assert(strchr(IRC_USERMODES_DEFAULT, c->letter) != NULL);
        }
        if (c->param) {
            int found = 0;

            assert(c->param[0] != '\0');
            for (size_t k = 0; k < m->used_params && !found; k++)
                found = c->param == params[k];
            assert(found);
            with++;
        }
    }
    if (max_param)
        assert(with <= max_param);
    for (size_t i = 0; m->unknown[i]; i++)
        assert(strchr(m->unknown + i + 1, m->unknown[i]) == NULL);
}

static int optional_param(const irc_modes_t *m)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->ch[i].param == NULL &&
            (m->ch[i].cls == IRC_MODE_A || m->ch[i].cls == IRC_MODE_B))
            return 1;
    return 0;
}

static void check_round_trip(const irc_modeset_t *ms, const irc_modes_t *m,
                             size_t max_param)
{
    static char out[512];
    static irc_modes_t m2;
    size_t done = 0;

    if (optional_param(m))
        return;
    while (done < m->n) {
        const char *p2[MAXP];
        size_t np = 0, k;
        char *s;

        k = irc_mode_format(m->ch + done, m->n - done, max_param, out,
                            sizeof(out));
        if (k == 0)
            return; /* a param too long for OUT */
        s = strchr(out, ' ');
        if (s) {
            *s++ = '\0';
            while (s && np < MAXP) {
                p2[np++] = s;
                s = strchr(s, ' ');
                if (s)
                    *s++ = '\0';
            }
        }
        irc_mode_parse_chan(ms, out, p2, np, max_param, &m2);
        assert(m2.n == k && m2.unknown[0] == '\0' && m2.missing == 0 &&
               m2.dropped == 0);
        for (size_t i = 0; i < k; i++) {
            const irc_mode_change_t *a = &m->ch[done + i], *b = &m2.ch[i];

            assert(a->dir == b->dir && a->letter == b->letter);
            assert((a->param == NULL) == (b->param == NULL));
            if (a->param)
                assert(strcmp(a->param, b->param) == 0);
        }
        done += k;
    }
}

static void check_masks(const char *const *params, size_t np)
{
    static char n1[1024], n2[1024];
    size_t a;

    if (np < 2)
        return;
    (void)irc_mask_match(IRC_CASEMAP_RFC1459, params[0], params[1]);
    a = irc_mask_normalize(params[0], n1, sizeof(n1));
    if (a != (size_t)-1) {
        assert(irc_mask_normalize(n1, n2, sizeof(n2)) == a);
        assert(strcmp(n1, n2) == 0);
        assert(strchr(n1, '!') && strchr(n1, '@'));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static irc_modeset_t ms;
    static irc_modes_t m;
    static int ready;
    const char *params[MAXP];
    size_t np = 0, max_param;
    char *buf, *s, *modestr;
    int chan;

    if (size < 1 || size > 4096)
        return 0;
    if (!ready) {
        assert(irc_modeset_init(&ms, IRC_CHANMODES_DEFAULT,
                                IRC_PREFIX_DEFAULT) == 0);
        ready = 1;
    }
    max_param = data[0] & 7;
    chan = !(data[0] & 8);
    buf = malloc(size);
    if (buf == NULL)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    modestr = buf;
    s = strchr(buf, ' ');
    if (s) {
        *s++ = '\0';
        while (s && np < MAXP) {
            params[np++] = s;
            s = strchr(s, ' ');
            if (s)
                *s++ = '\0';
        }
    }
    if (chan) {
        irc_mode_parse_chan(&ms, modestr, params, np, max_param, &m);
        check_changes(&ms, &m, params, np, max_param, 1);
        check_round_trip(&ms, &m, max_param);
    } else {
        irc_mode_parse_user(IRC_USERMODES_DEFAULT, modestr, &m);
        check_changes(&ms, &m, params, np, 0, 0);
    }
    check_masks(params, np);
    free(buf);
    return 0;
}
