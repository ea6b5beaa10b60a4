/*
 * fuzz_endpoint.c - libFuzzer target: both endpoint parsers on arbitrary
 * text.  Invariants: no crash or overread; an error always names the
 * string; a parsed endpoint has sane fields and formats without overflow.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *str, int rc, const loom_endpoint_t *ep,
                  const char *err)
{
    char out[2 * LOOM_EP_VALUE_MAX + 32];

    if (rc != 0) {
        assert(rc == -1);
        assert(strncmp(err, "endpoint '", 10) == 0);
        return;
    }
    assert(ep->kind >= LOOM_EP_TCP && ep->kind <= LOOM_EP_TLS);
    assert(ep->port >= 0 && ep->port <= 65535);
    assert(strlen(ep->host) < LOOM_EP_VALUE_MAX);
    assert(strlen(ep->path) < LOOM_EP_VALUE_MAX);
    loom_endpoint_format(ep, out, sizeof(out));
    assert(strlen(out) < sizeof(out));
    loom_endpoint_format(ep, out, 5); /* truncation stays in bounds */
    assert(strlen(out) <= 4);
    (void)str;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    loom_endpoint_t ep;
    char err[256];
    char *str = malloc(size + 1);
    int rc;

    if (str == NULL)
        return 0;
    memcpy(str, data, size);
    str[size] = '\0';
    rc = loom_endpoint_parse_listen(str, &ep, err, sizeof(err));
    check(str, rc, &ep, err);
    rc = loom_endpoint_parse_connect(str, &ep, err, sizeof(err));
    check(str, rc, &ep, err);
    free(str);
    return 0;
}
