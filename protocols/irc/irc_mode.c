/*
 * irc_mode.c - MODE strings by CHANMODES classes, user modes, and the
 * formatting of applied changes (see irc_mode.h for the rules chosen).
 */
#include <string.h>

#include "loom.h"
#include "irc_mode.h"

static int mode_letter(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int irc_modeset_init(irc_modeset_t *ms, const char *chanmodes,
                     const char *prefix)
{
    static const unsigned char group_cls[4] = {IRC_MODE_A, IRC_MODE_B,
                                               IRC_MODE_C, IRC_MODE_D};
    size_t group = 0;

    memset(ms, 0, sizeof(*ms));
    for (const char *p = chanmodes ? chanmodes : ""; *p; p++) {
        if (*p == ',') {
            if (++group == 4)
                return LOOM_ERROR;
            continue;
        }
        if (!mode_letter(*p) || ms->cls[(unsigned char)*p] != IRC_MODE_NONE)
            return LOOM_ERROR;
        ms->cls[(unsigned char)*p] = group_cls[group];
    }
    if (prefix && *prefix) {
        const char *close = strchr(prefix, ')');
        size_t nm, nc;

        if (prefix[0] != '(' || close == NULL)
            return LOOM_ERROR;
        nm = (size_t)(close - prefix - 1);
        nc = strlen(close + 1);
        if (nm != nc || nm == 0 || nm >= sizeof(ms->prefix_modes))
            return LOOM_ERROR;
        for (size_t i = 0; i < nm; i++) {
            char m = prefix[1 + i], c = close[1 + i];

            if (!mode_letter(m) || ms->cls[(unsigned char)m] != IRC_MODE_NONE ||
                mode_letter(c) || (unsigned char)c <= ' ' || c == ',' ||
                memchr(ms->prefix_chars, c, i) != NULL)
                return LOOM_ERROR;
            ms->cls[(unsigned char)m] = IRC_MODE_PREFIX;
            ms->prefix_modes[i] = m;
            ms->prefix_chars[i] = c;
        }
    }
    return LOOM_OK;
}

irc_mode_class_t irc_modeset_class(const irc_modeset_t *ms, char letter)
{
    return (unsigned char)letter < 128
               ? (irc_mode_class_t)ms->cls[(unsigned char)letter]
               : IRC_MODE_NONE;
}

char irc_modeset_prefix_char(const irc_modeset_t *ms, char letter)
{
    const char *p = letter ? strchr(ms->prefix_modes, letter) : NULL;

    return p ? ms->prefix_chars[p - ms->prefix_modes] : 0;
}

static void modes_reset(irc_modes_t *out)
{
    out->n = 0;
    out->unknown[0] = '\0';
    out->missing = 0;
    out->dropped = 0;
    out->used_params = 0;
}

static void add_unknown(irc_modes_t *out, char c)
{
    size_t n = strlen(out->unknown);

    if (c != '\0' && strchr(out->unknown, c) == NULL &&
        n + 1 < sizeof(out->unknown)) {
        out->unknown[n] = c;
        out->unknown[n + 1] = '\0';
    }
}

static void add_change(irc_modes_t *out, char dir, char letter,
                       irc_mode_class_t cls, const char *param)
{
    irc_mode_change_t *c;

    if (out->n == IRC_MODE_CHANGES_MAX) {
        out->dropped++;
        return;
    }
    c = &out->ch[out->n++];
    c->dir = dir;
    c->letter = letter;
    c->cls = (unsigned char)cls;
    c->param = param;
}

/* Whether a change of class CLS in direction DIR takes a param: 2 it
 * must have one, 1 it takes one when there is one left, 0 never. */
static int wants_param(irc_mode_class_t cls, char dir)
{
    static const unsigned char want[][2] = {
        /* [cls] = {for '+', for '-'} */
        [IRC_MODE_NONE] = {0, 0}, [IRC_MODE_A] = {1, 1},
        [IRC_MODE_B] = {2, 1},    [IRC_MODE_C] = {2, 0},
        [IRC_MODE_D] = {0, 0},    [IRC_MODE_PREFIX] = {2, 2},
    };

    return want[cls][dir == '-'];
}

size_t irc_mode_parse_chan(const irc_modeset_t *ms, const char *modestr,
                           const char *const *params, size_t nparams,
                           size_t max_param, irc_modes_t *out)
{
    size_t pi = 0, nwith = 0;
    char dir = '+';

    modes_reset(out);
    for (const char *p = modestr; *p; p++) {
        irc_mode_class_t cls;
        const char *param = NULL;
        int want;

        if (*p == '+' || *p == '-') {
            dir = *p;
            continue;
        }
        cls = irc_modeset_class(ms, *p);
        if (cls == IRC_MODE_NONE) {
            add_unknown(out, *p);
            continue;
        }
        want = wants_param(cls, dir);
        if (want && pi < nparams)
            param = params[pi++];
        if (param && *param == '\0')
            param = NULL; /* an empty param counts as none */
        if (param == NULL && want == 2) {
            out->missing++;
            continue;
        }
        if (param && max_param && nwith == max_param) {
            out->dropped++; /* its param stays consumed: later ones align */
            continue;
        }
        if (param)
            nwith++;
        add_change(out, dir, *p, cls, param);
    }
    out->used_params = pi;
    return out->n;
}

size_t irc_mode_parse_user(const char *known, const char *modestr,
                           irc_modes_t *out)
{
    char dir = '+';

    modes_reset(out);
    for (const char *p = modestr; *p; p++) {
        if (*p == '+' || *p == '-')
            dir = *p;
        else if (mode_letter(*p) && strchr(known, *p) != NULL)
            add_change(out, dir, *p, IRC_MODE_D, NULL);
        else
            add_unknown(out, *p);
    }
    return out->n;
}

size_t irc_mode_format(const irc_mode_change_t *ch, size_t n, size_t max_param,
                       char *out, size_t cap)
{
    size_t k, nl = 0, np = 0, nwith = 0, o;
    char last = 0;

    for (k = 0; k < n; k++) {
        size_t add = ch[k].dir != last ? 2 : 1;
        size_t padd = ch[k].param ? 1 + strlen(ch[k].param) : 0;

        if (ch[k].param && max_param && nwith == max_param)
            break;
        if (nl + add + np + padd + 1 > cap)
            break;
        nl += add;
        np += padd;
        last = ch[k].dir;
        nwith += ch[k].param != NULL;
    }
    if (k == 0) {
        if (cap)
            out[0] = '\0';
        return 0;
    }
    o = 0;
    last = 0;
    for (size_t i = 0; i < k; i++) {
        if (ch[i].dir != last)
            out[o++] = ch[i].dir;
        out[o++] = ch[i].letter;
        last = ch[i].dir;
    }
    for (size_t i = 0; i < k; i++)
        if (ch[i].param) {
            size_t pl = strlen(ch[i].param);

            out[o++] = ' ';
            memcpy(out + o, ch[i].param, pl);
            o += pl;
        }
    out[o] = '\0';
    return k;
}
