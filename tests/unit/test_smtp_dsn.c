/*
 * test_smtp_dsn.c - RFC 3464 delivery status notifications
 * (protocols/smtp/smtp_dsn.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp_dsn.h"

static void test_null_sender_refused(void **state)
{
    smtp_dsn_rcpt_t r = {.final_recipient = "bob@example.net",
                         .status = "5.1.1"};
    smtp_dsn_in_t in = {.reporting_mta = "mx.example.test",
                        .sender = "",
                        .arrival = 1,
                        .rcpts = &r,
                        .nrcpts = 1};
    smtp_dsn_out_t out;
    char err[128];

    (void)state;
    assert_int_equal(smtp_dsn_compose(&in, &out, err, sizeof(err)), LOOM_ERROR);
    assert_null(out.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_sender_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
