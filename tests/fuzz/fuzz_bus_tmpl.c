/*
 * fuzz_bus_tmpl.c - libFuzzer target: the bus's templates, matches and
 * rates (src/bus_tmpl.c).
 *
 * The input is TEXT, a NUL byte, then field data: lines "NAME=VALUE"
 * (VALUE any bytes but '\n', NUL too); a line without '=' is the body.
 * Without a NUL the whole input is TEXT and the message has no fields.
 * TEXT is compiled as a template and rendered against the message built
 * from the data (frozen, as the bus does), then compiled as a match and
 * tested, then parsed as a rate and run through a bucket.  Checks: a
 * rendering is NUL-terminated at its length and the same every time; a
 * constant template renders the same with no message and equals TEXT
 * with "$$" made '$' when it has no "${"; a match answers 0 or 1, and
 * "!NAME" answers the opposite of "NAME"; a bucket emptied at NOW has a
 * token again exactly at NOW plus its wait.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bus_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static loom_msg_t *build_msg(const char *p, size_t n)
{
    loom_msg_t *m = loom_msg_new("fuzz");
    const char *end = p + n;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *eq = memchr(p, '=', (size_t)(le - p));

        if (eq)
            loom_msg_add(m, p, (size_t)(eq - p), eq + 1, (size_t)(le - eq - 1));
        else
            loom_msg_set_body(m, p, (size_t)(le - p));
        p = nl ? nl + 1 : end;
    }
    loom_msg_freeze(m, "fuzz", "one", 1, 2);
    return m;
}

static void fuzz_template(const char *text, const loom_msg_t *m)
{
    char err[256];
    bus_tmpl_t *t = bus_tmpl_compile(text, err, sizeof(err));
    char *a, *b;
    size_t alen, blen;

    if (t == NULL) {
        assert(strlen(err) > 0);
        return;
    }
    a = bus_tmpl_render(t, m, &alen);
    b = bus_tmpl_render(t, m, &blen);
    assert(a[alen] == '\0' && alen == blen && memcmp(a, b, alen) == 0);
    free(b);
    if (bus_tmpl_constant(t)) {
        b = bus_tmpl_render(t, NULL, &blen);
        assert(alen == blen && memcmp(a, b, alen) == 0);
        free(b);
    }
    if (strstr(text, "${") == NULL) {
        /* the reference: "$$" is '$', every other byte itself */
        size_t i, o = 0, n = strlen(text);
        char *ref = malloc(n + 1);

        assert(bus_tmpl_constant(t));
        for (i = 0; i < n; i++) {
            ref[o++] = text[i];
            if (text[i] == '$' && text[i + 1] == '$')
                i++;
        }
        assert(alen == o && memcmp(a, ref, o) == 0);
        free(ref);
    }
    free(a);
    bus_tmpl_free(t);
}

static void fuzz_match(const char *text, const loom_msg_t *m)
{
    char err[256];
    bus_match_t *mt = bus_match_compile(text, err, sizeof(err));
    size_t n = strlen(text);

    if (mt == NULL) {
        assert(strlen(err) > 0);
        return;
    }
    {
        int r = bus_match_test(mt, m);

        assert(r == 0 || r == 1);
        /* a bare name: "!NAME" must say the opposite */
        if (n && strchr("! \t\r\n\f\v", text[0]) == NULL &&
            strpbrk(text, "=~<>!") == NULL) {
            char *neg = malloc(n + 2);
            bus_match_t *nm;

            neg[0] = '!';
            memcpy(neg + 1, text, n + 1);
            nm = bus_match_compile(neg, err, sizeof(err));
            assert(nm != NULL);
            assert(bus_match_test(nm, m) == !r);
            bus_match_free(nm);
            free(neg);
        }
    }
    bus_match_free(mt);
}

static void fuzz_rate(const char *text)
{
    uint64_t count, period, now = 1000, w;
    bus_bucket_t b;
    unsigned burst;
    int k;

    if (bus_rate_parse(text, &count, &period) != LOOM_OK)
        return;
    assert(count > 0 && period > 0);
    burst = (unsigned)(count % 7);
    bus_bucket_init(&b, count, period, burst, now);
    for (k = 0; k < 3; k++) {
        unsigned took = 0;

        while (bus_bucket_take(&b, now) && took < 100)
            took++;
        if (took == 100)
            return; /* a big burst: no need to empty it */
        w = bus_bucket_wait(&b, now);
        assert(w >= 1);
        if (w > 1) {
            bus_bucket_t copy = b;

            assert(bus_bucket_take(&copy, now + w - 1) == 0);
        }
        now += w;
        assert(bus_bucket_take(&b, now) == 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    const char *nul = memchr(p, '\0', size);
    size_t tlen = nul ? (size_t)(nul - p) : size;
    char *text = malloc(tlen + 1);
    loom_msg_t *m;

    memcpy(text, p, tlen);
    text[tlen] = '\0';
    m = nul ? build_msg(nul + 1, size - tlen - 1) : build_msg("", 0);
    fuzz_template(text, m);
    fuzz_match(text, m);
    fuzz_rate(text);
    loom_msg_unref(m);
    free(text);
    return 0;
}
