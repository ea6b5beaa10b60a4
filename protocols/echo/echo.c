/*
 * echo.c - RFC 862 echo over TCP, TLS, UNIX and UDP.
 *
 * The smallest complete module, and the template for new ones:
 *   - a loom_module_t names the module, its ABI, options and callbacks;
 *   - stream.data receives every unconsumed input byte and returns how many
 *     it consumed; it writes with loom_conn_write, which buffers and tells
 *     the core to stop reading while the peer is not reading our output;
 *   - datagram answers UDP through loom_dgram_reply.
 * Built twice: into loomd (registered in src/modules.c as
 * loom_echo_module) and as protocols/echo/echo.so for load_module(), which
 * exports the same struct as loom_module_entry.
 */
#include "loom_module.h"

/* Everything that arrives goes straight back.  If the peer stops reading,
 * the output buffer passes its high-water mark and the core pauses input
 * until it drains: no unbounded buffering, nothing for echo to do. */
static size_t echo_data(loom_conn_t *c, const char *buf, size_t len)
{
    loom_conn_write(c, buf, len);
    return len;
}

static void echo_datagram(loom_instance_t *inst, const loom_dgram_t *from,
                          const char *buf, size_t len)
{
    (void)inst;
    loom_dgram_reply(from, buf, len);
}

#ifdef LOOM_SHARED_MODULE
#define ECHO_MODULE loom_module_entry
#else
#define ECHO_MODULE loom_echo_module
#endif

extern const loom_module_t ECHO_MODULE;

const loom_module_t ECHO_MODULE = {
    .abi = LOOM_MODULE_ABI,
    .name = "echo",
    .idle_timeout = 300,
    .stream = {.data = echo_data},
    .datagram = echo_datagram,
};
