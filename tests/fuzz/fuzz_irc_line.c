/*
 * fuzz_irc_line.c - libFuzzer target: the IRC line parser and tag codec.
 * The input is one line without CR LF.  Invariants: the result is one of
 * the enum's values; a parsed line's pointers lie inside the buffer, its
 * command is upper-case letters or 3 digits, at most 15 params of which
 * only the last may hold a space or start with ':', the limits hold, tag
 * keys are non-empty without ';' ' ' '='; escaping any value and
 * unescaping it gives it back; the line formatted again (irc_format)
 * parses to the same command and params; relayed client tags parse to
 * the same last values.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "irc_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const char *p, const char *buf, size_t len)
{
    assert(p >= buf && p <= buf + len);
    assert(strlen(p) <= (size_t)(buf + len - p));
}

static void check_tags(const irc_msg_t *m, const char *buf, size_t len)
{
    static char esc[3 * IRC_INPUT_MAX], back[3 * IRC_INPUT_MAX];

    assert(m->ntags <= IRC_TAGS_COUNT_MAX);
    assert(m->tags_len <= IRC_CLIENT_TAGS_MAX);
    for (size_t i = 0; i < m->ntags; i++) {
        const irc_tag_t *t = &m->tags[i];
        size_t n;

        inside(t->key, buf, len);
        assert(t->key[0] != '\0');
        assert(strpbrk(t->key, "; =") == NULL);
        assert(t->client == (t->key[0] == '+'));
        if (!t->has_value)
            assert(t->value[0] == '\0');
        else
            inside(t->value, buf, len);
        n = irc_tag_escape(t->value, esc, sizeof(esc));
        assert(n != (size_t)-1);
        assert(strpbrk(esc, "; \r\n") == NULL);
        irc_tag_unescape(esc, n, back);
        assert(strcmp(back, t->value) == 0);
    }
}

/* The client tags relayed, parsed again, carry the last values. */
static void check_relay(const irc_msg_t *m)
{
    static char out[IRC_TAGS_SECTION_MAX + 16], line[IRC_TAGS_SECTION_MAX + 16];
    irc_msg_t m2;
    size_t n = irc_msg_client_tags(m, out, sizeof(out));

    if (n == (size_t)-1 || n == 0 || n > IRC_CLIENT_TAGS_MAX)
        return;
    memcpy(line, "@", 1);
    memcpy(line + 1, out, n);
    memcpy(line + 1 + n, " X", 3);
    assert(irc_parse(line, n + 3, &m2) == IRC_PARSE_OK);
    for (size_t i = 0; i < m2.ntags; i++) {
        const char *v = irc_msg_tag(m, m2.tags[i].key);

        assert(m2.tags[i].client);
        assert(v != NULL && strcmp(v, m2.tags[i].value) == 0);
    }
}

static void check_reformat(const irc_msg_t *m, size_t len)
{
    static char out[IRC_OUT_MAX + 16];
    irc_msg_t m2;
    size_t n = irc_format(out, sizeof(out), NULL, m->prefix, m->command,
                          m->params, m->nparams, 0);

    if (n == (size_t)-1) {
        /* only an empty prefix, or a line at the limit that grows by the
         * ':' its 15th param needs, cannot be written back */
        assert((m->prefix && m->prefix[0] == '\0') || len >= IRC_LINE_MAX - 3);
        return;
    }
    assert(n >= 2 && out[n - 2] == '\r' && out[n - 1] == '\n');
    assert(n <= IRC_LINE_MAX);
    assert(irc_parse(out, n - 2, &m2) == IRC_PARSE_OK);
    assert(strcmp(m2.command, m->command) == 0);
    assert(m2.nparams == m->nparams);
    for (size_t i = 0; i < m->nparams; i++)
        assert(strcmp(m2.params[i], m->params[i]) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf;
    irc_msg_t *m;
    irc_perr_t r;

    if (size > 3 * IRC_INPUT_MAX)
        return 0;
    buf = malloc(size + 1);
    m = malloc(sizeof(*m));
    if (buf == NULL || m == NULL) {
        free(buf);
        free(m);
        return 0;
    }
    memcpy(buf, data, size);
    r = irc_parse(buf, size, m);
    assert(r >= IRC_PARSE_OK && r <= IRC_PERR_BYTE);
    (void)irc_perr_numeric(r);
    assert(irc_perr_str(r) != NULL);
    if (r == IRC_PARSE_OK) {
        const char *c = m->command;
        size_t cl = strlen(c);

        inside(c, buf, size);
        assert(cl > 0);
        if (c[0] >= '0' && c[0] <= '9')
            assert(cl == 3 && c[1] >= '0' && c[1] <= '9' && c[2] >= '0' &&
                   c[2] <= '9');
        else
            for (size_t i = 0; i < cl; i++)
                assert(c[i] >= 'A' && c[i] <= 'Z');
        if (m->prefix)
            inside(m->prefix, buf, size);
        assert(m->nparams <= IRC_PARAMS_MAX);
        for (size_t i = 0; i < m->nparams; i++) {
            inside(m->params[i], buf, size);
            if (i + 1 < m->nparams) {
                assert(m->params[i][0] != '\0' && m->params[i][0] != ':');
                assert(strchr(m->params[i], ' ') == NULL);
            }
        }
        check_tags(m, buf, size);
        check_relay(m);
        check_reformat(m, size - (m->tags_len ? m->tags_len + 2 : 0));
    }
    free(buf);
    free(m);
    return 0;
}
