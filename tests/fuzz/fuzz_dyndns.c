/*
 * fuzz_dyndns.c - libFuzzer target: the dyndns2 handler's parsers of
 * untrusted input (protocols/http/dyndns_parse.h).
 *
 * The input is given whole to each of: the query string parser (names
 * kept NUL-terminated and within bounds, at most DYNDNS_MAX_HOSTS of
 * them; each name's code for a user allowed "*.dyn.example.test" is one
 * of GOOD, NOTFQDN, NOHOST, and GOOD only for a lowercase name in the
 * zone), the Basic credentials decoder (user and password fit and hold no
 * NUL), and the users file parser (a table whose every user is found by
 * name and whose every pattern is a FQDN or "*." one, or a refusal with a
 * line number within the input).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dyndns_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_query(const char *s, size_t size)
{
    static const char users[] = "u:$y$a$b *.dyn.example.test\n";
    unsigned line = 0;
    char err[256];
    dyndns_users_t *t =
        dyndns_users_parse(users, sizeof(users) - 1, &line, err, sizeof(err));
    const dyndns_user_t *u = dyndns_user_find(t, "u", 1);
    dyndns_query_t *q = malloc(sizeof(*q));
    size_t i;

    assert(u != NULL);
    if (dyndns_query_parse(s, size, q) == 0) {
        assert(q->nhosts <= DYNDNS_MAX_HOSTS);
        for (i = 0; i < q->nhosts; i++) {
            dyndns_code_t c;

            assert(strlen(q->hosts[i]) <= DYNDNS_NAME_MAX + 1);
            c = dyndns_host_code(u, "dyn.example.test", q->hosts[i]);
            assert(c == DYNDNS_GOOD || c == DYNDNS_NOTFQDN ||
                   c == DYNDNS_NOHOST);
            if (c == DYNDNS_GOOD) {
                size_t n = strlen(q->hosts[i]);

                assert(n > 17 &&
                       strcmp(q->hosts[i] + n - 17, ".dyn.example.test") == 0);
            }
        }
    }
    free(q);
    dyndns_users_free(t);
}

static void check_users(const char *s, size_t size)
{
    unsigned line = 0;
    char err[256] = "";
    dyndns_users_t *t = dyndns_users_parse(s, size, &line, err, sizeof(err));
    size_t i, j, nl = 1;

    for (i = 0; i < size; i++)
        nl += s[i] == '\n';
    if (t == NULL) {
        assert(line >= 1 && line <= nl && err[0] != '\0');
        return;
    }
    for (i = 0; i < t->nusers; i++) {
        const dyndns_user_t *u = &t->users[i];

        assert(dyndns_user_find(t, u->name, strlen(u->name)) == u);
        assert(u->npatterns > 0 && u->hash[0] == '$');
        for (j = 0; j < u->npatterns; j++) {
            const char *p = u->patterns[j];
            char h[DYNDNS_NAME_MAX + 3];

            strcpy(h, p[0] == '*' ? p + 2 : p);
            assert(dyndns_fqdn(h) && strcmp(h, p[0] == '*' ? p + 2 : p) == 0);
            /* a pattern matches a name it stands for */
            if (p[0] != '*')
                assert(dyndns_user_may(u, p));
        }
    }
    dyndns_users_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char user[DYNDNS_USER_MAX + 1], pass[256];

    check_query(s, size);
    if (dyndns_basic_auth(s, size, user, sizeof(user), pass, sizeof(pass)) == 0)
        assert(strlen(user) < sizeof(user) && strlen(pass) < sizeof(pass));
    check_users(s, size);
    return 0;
}
