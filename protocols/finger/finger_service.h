/*
 * finger_service.h - a finger instance's user table as a service to
 * other instances (loom_service.h): finger over HTTP, a bridge that
 * announces a user's plan.  The entries are the configuration's; they
 * change on reload, so use them within the callback that looked them up.
 */
#ifndef FINGER_SERVICE_H
#define FINGER_SERVICE_H

#include <stddef.h>

#include "finger.h"

#define FINGER_USERS_SERVICE "finger.users/1"

/* Where answer() writes: LEN bytes at P, already as the finger protocol
 * sends them (filtered, CRLF line ends); called any number of times. */
typedef void (*finger_out_fn)(void *arg, const char *p, size_t len);

/* What answer() made of a query line. */
typedef enum {
    FINGER_ANS_OK = 0,     /* a user's entry, or the listing */
    FINGER_ANS_UNKNOWN,    /* "finger: USER: no such user." */
    FINGER_ANS_NO_LISTING, /* listing asked for, list_users = no */
    FINGER_ANS_NO_FORWARD, /* USER@HOST: refused */
    FINGER_ANS_ERROR       /* malformed or too long a query */
} finger_answer_t;

typedef struct {
    /* The entry of user LOGIN[0..LEN) (what `finger LOGIN` shows), or
     * NULL.  Valid until the calling callback returns. */
    const finger_user_t *(*lookup)(void *self, const char *login, size_t len);
    /* Call FN on every user in configuration order until it returns
     * non-zero; returns the number of users.  Honours nothing: the caller
     * decides whether listing is allowed (see listing). */
    size_t (*each)(void *self, int (*fn)(const finger_user_t *u, void *arg),
                   void *arg);
    /* Whether the instance lists its users to finger clients
     * (list_users). */
    int (*listing)(void *self);
    /* The finger protocol's answer to query LINE[0..LEN) (no CRLF), as
     * finger.c renders it, written to OUT(ARG, ...) before it returns;
     * returns a finger_answer_t.  It never forwards: a query naming a
     * host gets the refusal text whatever `forwarding` says. */
    int (*answer)(void *self, const char *line, size_t len, finger_out_fn out,
                  void *arg);
} finger_users_service_t;

/* The table finger instances export (SELF is their loom_instance_t). */
extern const finger_users_service_t finger_users_service;

#endif
