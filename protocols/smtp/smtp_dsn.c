/*
 * smtp_dsn.c - RFC 3464 delivery status notifications (see smtp_dsn.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_dsn.h"

int smtp_dsn_compose(const smtp_dsn_in_t *in, smtp_dsn_out_t *out, char *err,
                     size_t errlen)
{
    memset(out, 0, sizeof(*out));
    snprintf(err, errlen, "not implemented");
    return LOOM_ERROR;
}

void smtp_dsn_free(smtp_dsn_out_t *out)
{
    if (out == NULL)
        return;
    free(out->data);
    free(out->rcpt);
    free(out->message_id);
    memset(out, 0, sizeof(*out));
}

int smtp_dsn_wanted(int notify, smtp_dsn_action_t action)
{
    return 0;
}

char *smtp_dsn_xtext_decode(const char *in, size_t len)
{
    return NULL;
}
