/*
 * badabi.c - a module built for another ABI: loading it must be refused.
 */
#include "loom_module.h"

/* Exported for dlsym; no prototype needed elsewhere. */
extern loom_module_t loom_module_entry;

loom_module_t loom_module_entry = {
    .abi = LOOM_MODULE_ABI + 1000,
    .name = "badabi",
};
