/*
 * smtp_store_sync.c - measure how the SMTP group commit makes a batch
 * durable (protocols/smtp/smtp_store.h): SMTP_SYNC_FSYNC (fsync per file
 * + per distinct directory) against SMTP_SYNC_SYNCFS (syncfs twice per
 * batch), with S concurrent submitters.
 *
 * Each submitter thread is a closed loop like one smtp-source session: it
 * builds a transaction (one message of SIZE bytes to one of D Maildirs,
 * each with a Return-Path head), hands it to the committer and waits until
 * it is durable, then sends the next.  The committer thread does what the
 * reactor-side committer does: whatever waits when it is free becomes one
 * batch, run by smtp_batch_run (the code the worker pool runs).
 *
 * Output, one line: mode, submitters, messages, seconds, messages/s,
 * syncs, syncs per message, batches, mean batch size.
 *
 * Usage: smtp_store_sync DIR fsync|syncfs|auto SUBMITTERS MESSAGES [SIZE [D]]
 * (DIR is emptied of nothing: give a fresh directory.)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smtp_store.h"

typedef struct req_s req_t;
struct req_s {
    req_t *next;
    smtp_txn_t *t;
    int done, ok;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER; /* committer */
static pthread_cond_t fin = PTHREAD_COND_INITIALIZER;  /* submitters */
static req_t *waiting;
static int stopping;
static smtp_sync_t mode;
static long per_submitter, size, ndirs;
static char root[512];
static uint64_t syncs, batches, txns, failures;

static void *committer(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    for (;;) {
        req_t *batch, *r;
        smtp_txn_t *prev = NULL;

        while (waiting == NULL && !stopping)
            pthread_cond_wait(&wake, &lock);
        if (waiting == NULL)
            break;
        batch = waiting;
        waiting = NULL;
        pthread_mutex_unlock(&lock);
        for (r = batch; r; r = r->next) {
            smtp_txn_link(prev, r->t);
            prev = r->t;
        }
        smtp_batch_run(batch->t, mode, &syncs);
        pthread_mutex_lock(&lock);
        batches++;
        for (r = batch; r; r = r->next) {
            r->ok = smtp_txn_ok(r->t);
            if (!r->ok) {
                fprintf(stderr, "failed: %s\n", smtp_txn_error(r->t));
                failures++;
            }
            txns++;
            r->done = 1;
        }
        pthread_cond_broadcast(&fin);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

static void *submitter(void *arg)
{
    long id = (long)(intptr_t)arg;
    char *msg = malloc((size_t)size);
    char dir[600];

    memset(msg, 'x', (size_t)size);
    for (long i = 0; i + 1 < size; i += 64)
        msg[i] = '\r', msg[i + 1] = '\n';
    for (long i = 0; i < per_submitter; i++) {
        req_t r = {0};

        r.t = smtp_txn_new();
        snprintf(dir, sizeof(dir), "%s/user%ld", root, (id + i) % ndirs);
        smtp_txn_append(r.t, msg, (size_t)size);
        smtp_txn_add_maildir(r.t, dir, "Return-Path: <s@example.org>\r\n");
        pthread_mutex_lock(&lock);
        r.next = waiting; /* order within a batch does not matter here */
        waiting = &r;
        pthread_cond_signal(&wake);
        while (!r.done)
            pthread_cond_wait(&fin, &lock);
        pthread_mutex_unlock(&lock);
        smtp_txn_free(r.t);
    }
    free(msg);
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t c, *s;
    long nsub, total;
    struct timespec t0, t1;
    double secs;

    if (argc < 5) {
        fprintf(stderr,
                "usage: %s DIR fsync|syncfs|auto SUBMITTERS MESSAGES "
                "[SIZE [MAILDIRS]]\n",
                argv[0]);
        return 2;
    }
    snprintf(root, sizeof(root), "%s", argv[1]);
    mode = strcmp(argv[2], "syncfs") == 0 ? SMTP_SYNC_SYNCFS
           : strcmp(argv[2], "auto") == 0 ? SMTP_SYNC_AUTO
                                          : SMTP_SYNC_FSYNC;
    nsub = atol(argv[3]);
    total = atol(argv[4]);
    size = argc > 5 ? atol(argv[5]) : 1024;
    ndirs = argc > 6 ? atol(argv[6]) : 2;
    if (nsub < 1 || total < nsub || size < 2 || ndirs < 1)
        return 2;
    per_submitter = total / nsub;
    total = per_submitter * nsub;
    s = calloc((size_t)nsub, sizeof(*s));
    pthread_create(&c, NULL, committer, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < nsub; i++)
        pthread_create(&s[i], NULL, submitter, (void *)(intptr_t)i);
    for (long i = 0; i < nsub; i++)
        pthread_join(s[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_mutex_lock(&lock);
    stopping = 1;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    pthread_join(c, NULL);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("mode=%s submitters=%ld messages=%ld seconds=%.2f msg/s=%.0f "
           "syncs=%llu syncs/msg=%.3f batches=%llu batch=%.1f failures=%llu\n",
           argv[2], nsub, total, secs, (double)total / secs,
           (unsigned long long)syncs, (double)syncs / (double)total,
           (unsigned long long)batches, (double)txns / (double)batches,
           (unsigned long long)failures);
    free(s);
    return failures ? 1 : 0;
}
