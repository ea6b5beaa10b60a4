/*
 * smtp_mime.c - the bus summary of a received message and the send
 * action's composer, on GMime 3 (see smtp_mime.h for the contracts).
 */
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "smtp_mime.h"

static int mime_initialised;

static void mime_at_exit(void)
{
    g_mime_shutdown();
}

int smtp_mime_init(void)
{
    if (mime_initialised)
        return LOOM_OK;
    mime_initialised = 1;
    g_mime_init();
    atexit(mime_at_exit);
    return LOOM_OK;
}

char *smtp_mime_rfc5322_date(time_t t, char *buf, size_t size)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    if (strftime(buf, size, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0 &&
        size > 0)
        buf[0] = '\0';
    return buf;
}

int smtp_mime_summarize_iov(const struct iovec *iov, int iovcnt,
                            smtp_mime_summary_t *out)
{
    memset(out, 0, sizeof(*out));
    return LOOM_ERROR;
}

int smtp_mime_summarize(const char *msg, size_t len, smtp_mime_summary_t *out)
{
    struct iovec iov = {(void *)msg, len};

    return smtp_mime_summarize_iov(&iov, 1, out);
}

void smtp_mime_summary_free(smtp_mime_summary_t *s)
{
    if (s == NULL)
        return;
    free(s->from);
    free(s->to);
    free(s->subject);
    free(s->message_id);
    free(s->date);
    free(s->text);
    memset(s, 0, sizeof(*s));
}

int smtp_mime_compose(const smtp_compose_in_t *in, smtp_compose_out_t *out,
                      char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    snprintf(err, errlen, "not implemented");
    return LOOM_ERROR;
}

void smtp_mime_compose_free(smtp_compose_out_t *out)
{
    if (out == NULL)
        return;
    free(out->data);
    free(out->sender);
    for (size_t i = 0; i < out->nrcpts; i++)
        free(out->rcpts[i]);
    free(out->rcpts);
    free(out->message_id);
    memset(out, 0, sizeof(*out));
}
