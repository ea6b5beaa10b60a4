/*
 * test_smtp_mime.c - the GMime summary of received messages and the send
 * action's composer (protocols/smtp/smtp_mime.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp_mime.h"

static void test_rfc5322_date(void **state)
{
    char buf[64];

    (void)state;
    assert_string_equal(smtp_mime_rfc5322_date(0, buf, sizeof(buf)),
                        "Thu, 01 Jan 1970 00:00:00 +0000");
    assert_string_equal(smtp_mime_rfc5322_date(1796653433, buf, sizeof(buf)),
                        "Mon, 07 Dec 2026 14:23:53 +0000");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc5322_date),
    };

    smtp_mime_init();
    smtp_mime_init(); /* a second call is harmless */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
