/*
 * busunit.c - the module half of tests/unit/test_bus.c: a loadable
 * module whose start, stop and actions are the test's own functions,
 * found in the test binary when this is loaded (the test is linked with
 * -export-dynamic).  The registry only knows modules that are built in or
 * loaded, so a test that wants routes to reach actions it defines itself
 * goes through load_module() as a user's config would.
 */
#include "loom_module.h"

/* Defined in tests/unit/test_bus.c. */
extern const loom_action_t busunit_actions[];
void busunit_start(loom_instance_t *inst);
void busunit_stop(loom_instance_t *inst);

extern const loom_module_t loom_module_entry;

const loom_module_t loom_module_entry = {
    .abi = LOOM_MODULE_ABI,
    .name = "busunit",
    .start = busunit_start,
    .stop = busunit_stop,
    .actions = busunit_actions,
};
