/*
 * finger.h - the finger module's validated configuration (finger_conf.c
 * builds it; finger.c serves it).
 */
#ifndef FINGER_H
#define FINGER_H

#include <confuse.h>
#include <stddef.h>

typedef struct {
    char *login, *name, *office, *phone, *email, *project;
    char *plan; /* text, from plan or plan_file; NULL when none */
} finger_user_t;

typedef struct {
    finger_user_t *users;
    size_t n_users;
    int list_users;
    int forwarding;
    int forward_port;
    int forward_timeout;
} finger_conf_t;

/* The option table of a finger section (CFG_END-terminated). */
extern cfg_opt_t finger_options[];

/* Build a finger_conf_t from a parsed section; LOOM_OK or LOOM_ERROR
 * (reported with loom_conf_error). */
int finger_configure(cfg_t *sec, void **conf);

/* Free what finger_configure built. */
void finger_conf_free(void *conf);

/* The user named LOGIN[0..LEN), or NULL. */
const finger_user_t *finger_find_user(const finger_conf_t *fc,
                                      const char *login, size_t len);

#endif
