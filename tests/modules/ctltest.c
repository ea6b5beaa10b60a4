/*
 * ctltest.c - a test-only module with loomctl commands, so that
 * tests/integration/test_loomctl.py can run module commands through the
 * real control socket without depending on any protocol module's:
 *
 *   ctltest[/NAME] words ARG...  a table of the arguments as received
 *                                (shows the quoting survives the trip)
 *   ctltest[/NAME] say TEXT      a message naming the instance
 *   ctltest[/NAME] fail          an error (loomctl exits 1)
 *
 * Its stream side answers a line with the instance's name and writes
 * "PEER LENGTH" to the instance's access log.
 */
#include <stdio.h>
#include <string.h>

#include "loom_ctl.h"
#include "loom_module.h"

static int ct_words(loom_instance_t *inst, int argc, char **argv,
                    loom_ctl_t *out)
{
    char n[24];
    int i;

    (void)inst;
    loom_ctl_columns(out, "n", "word", "bytes", NULL);
    for (i = 0; i < argc; i++) {
        char len[24];

        snprintf(n, sizeof(n), "%d", i + 1);
        snprintf(len, sizeof(len), "%zu", strlen(argv[i]));
        loom_ctl_row(out, n, argv[i], len, NULL);
    }
    return LOOM_OK;
}

static int ct_say(loom_instance_t *inst, int argc, char **argv, loom_ctl_t *out)
{
    (void)argc;
    loom_ctl_message(out, "%s says: %s", loom_instance_who(inst), argv[0]);
    return LOOM_OK;
}

static int ct_fail(loom_instance_t *inst, int argc, char **argv,
                   loom_ctl_t *out)
{
    (void)argc;
    (void)argv;
    return loom_ctl_error(out, "%s failed on purpose", loom_instance_who(inst));
}

static const loom_ctl_cmd_t ct_commands[] = {
    {"words", "ARG...", "a table of the arguments as received", 0, 16,
     ct_words},
    {"say", "TEXT", "a message", 1, 1, ct_say},
    {"fail", "", "an error", 0, 0, ct_fail},
    {NULL, NULL, NULL, 0, 0, NULL},
};

static size_t ct_data(loom_conn_t *c, const char *buf, size_t len)
{
    const char *nl = memchr(buf, '\n', len);

    loom_instance_t *inst = loom_conn_instance(c);
    loom_alog_t *al = loom_instance_alog(inst);

    if (nl == NULL)
        return 0;
    if (al)
        loom_alog_write(al, "%s %zu", loom_conn_peer(c), (size_t)(nl - buf));
    loom_conn_printf(c, "%s\n", loom_instance_who(inst));
    return (size_t)(nl - buf) + 1;
}

/* Exported for dlsym; no prototype needed elsewhere. */
extern loom_module_t loom_module_entry;

loom_module_t loom_module_entry = {
    .abi = LOOM_MODULE_ABI,
    .name = "ctltest",
    .stream = {.data = ct_data},
    .commands = ct_commands,
};
