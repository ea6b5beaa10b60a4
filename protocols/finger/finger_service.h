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
} finger_users_service_t;

/* The table finger instances export (SELF is their loom_instance_t). */
extern const finger_users_service_t finger_users_service;

#endif
