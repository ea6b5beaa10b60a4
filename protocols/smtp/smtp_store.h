/*
 * smtp_store.h - durable storage for SMTP: Maildir delivery and the group
 * commit that makes a message durable (in every local recipient's Maildir
 * and/or in the relay queue) before the session answers 250.
 *
 * THIS IS THE AGREED INTERFACE between helpers smtp-store (owner), smtp
 * and smtp-out (issue 16).  It only grows: nothing here changes meaning.
 *
 * Two halves:
 *   - worker side [blocking]: smtp_maildir_* run on a worker thread (or at
 *     start-up), blocking calls only, no loom_* except allocation;
 *   - reactor side: smtp_commit_* / smtp_txn_*, called on the reactor
 *     thread only.  A session builds one transaction (smtp_txn_t) per
 *     message: the bytes (shared by every target), the Maildirs, at most
 *     one queue file.  smtp_commit_submit hands it to the instance's
 *     committer: transactions submitted while a batch is on the worker
 *     pool wait and go together as the next batch (one loom_work_submit
 *     per batch), so 20 sessions finishing together share the syncs.
 *
 * A batch, on the worker: every target's file is written to its tmp/
 * (Maildir) or QDIR/tmp/ (queue), then made durable, then linked into
 * new/ (Maildir) or renamed into QDIR (queue), then the directories are
 * made durable.  How (smtp_sync_t): SMTP_SYNC_FSYNC fsyncs each file and
 * then each distinct directory once per batch; SMTP_SYNC_SYNCFS calls
 * syncfs(2) once per filesystem after the writes and once after the
 * links; SMTP_SYNC_AUTO picks FSYNC for a batch of one file, else
 * SYNCFS.  Either way no file appears in new/ or QDIR before its bytes
 * are on disk, and the done callback runs only after the directory
 * entries are too (a directory made on the way has its parent fsync'd). Maildir
 * file names follow the Maildir spec: <sec>.M<usec>P<pid>Q<seq>.<host>, unique
 * across threads.
 */
#ifndef SMTP_STORE_H
#define SMTP_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "loom.h"
#include "smtp_queue.h"

/* ---- worker side: Maildir ----------------------------------------------
 */

#define SMTP_MAILDIR_NAME_MAX 256

/* [blocking] Create DIR and DIR/tmp, DIR/new, DIR/cur if missing (parents
 * too, mode 0700).  Returns 0, or -1 with a reason in ERR. */
int smtp_maildir_make(const char *dir, char *err, size_t errlen);

/* A fresh Maildir file name (no directory) in OUT (SMTP_MAILDIR_NAME_MAX
 * bytes): <sec>.M<usec>P<pid>Q<seq>.<host>, where host is gethostname()
 * with '/' and ':' written as \057 and \072.  Thread-safe. */
void smtp_maildir_name(char *out);

/* [blocking] Deliver one message into the Maildir DIR, durably and alone
 * (no batching): create the directories if missing, write DIR/tmp/<name>
 * from IOV/IOVCNT, fsync it, link it to DIR/new/<name>, remove the tmp
 * name, fsync DIR/new.  The name goes to NAME (SMTP_MAILDIR_NAME_MAX
 * bytes) if not NULL.  Returns 0, or -1 with ERR (nothing left in new/). */
int smtp_maildir_deliver(const char *dir, const struct iovec *iov, int iovcnt,
                         char *name, char *err, size_t errlen);

/* ---- reactor side: the group commit ------------------------------------
 */

typedef enum {
    SMTP_SYNC_FSYNC = 0,  /* fsync per file + per distinct directory */
    SMTP_SYNC_SYNCFS = 1, /* syncfs per filesystem, twice per batch */
    SMTP_SYNC_AUTO = 2    /* per batch: FSYNC for a batch of one file
                             (2 syncs either way, and fsync waits only for
                             our own data), SYNCFS for more */
} smtp_sync_t;

/* The default: what the measurement (tests/bench/smtp_store_sync.sh)
 * chose.  With 20 concurrent submitters SYNCFS made 0.2 syncs per message
 * against FSYNC's 1.2 and was faster in 7 of 8 paired runs; alone, a
 * message costs 2 syncs either way and fsync does not wait for other
 * writers' dirty data. */
#define SMTP_SYNC_DEFAULT SMTP_SYNC_AUTO

/* The mode named S ("fsync", "syncfs" or "auto", as a config option
 * would spell it) in *OUT: returns 0, or -1 for any other name. */
int smtp_sync_parse(const char *s, smtp_sync_t *out);

/* The name of MODE ("fsync", "syncfs", "auto"; "?" if unknown). */
const char *smtp_sync_name(smtp_sync_t mode);

typedef struct smtp_commit_s smtp_commit_t;
typedef struct smtp_txn_s smtp_txn_t;

/* Called on the reactor exactly once per submitted transaction that was
 * not cancelled, after its batch: T is readable during the call
 * (smtp_txn_ok, smtp_txn_error, smtp_txn_queue_id, smtp_txn_target_name)
 * and freed by the committer when the callback returns. */
typedef void (*smtp_txn_done_fn)(void *arg, smtp_txn_t *t);

/* A committer for instance INST syncing with MODE.  Owned by the caller
 * (smtp_commit_free).  One per instance is the point (batching). */
smtp_commit_t *smtp_commit_new(loom_instance_t *inst, smtp_sync_t mode);

/* Change the sync mode for batches started from now on (a reload). */
void smtp_commit_set_mode(smtp_commit_t *gc, smtp_sync_t mode);

/* Free GC, from the module's stop callback (the worker pool has by then
 * delivered every done: no batch is running).  Transactions still
 * waiting get their done with a failure ("shutting down") first. */
void smtp_commit_free(smtp_commit_t *gc);

/* A new, empty transaction.  Owned by the caller until submitted (then by
 * the committer); smtp_txn_free drops one never submitted. */
smtp_txn_t *smtp_txn_new(void);

/* Free a transaction that was never submitted. */
void smtp_txn_free(smtp_txn_t *t);

/* Append N bytes at P to the message bytes, copied.  Every target gets
 * the same bytes, in append order, after its own head (below). */
void smtp_txn_append(smtp_txn_t *t, const void *p, size_t n);

/* Append N bytes at P, taking the malloc'd buffer P (freed with free()
 * when T is): no copy for a large body. */
void smtp_txn_append_owned(smtp_txn_t *t, void *p, size_t n);

/* Add a delivery into the Maildir DIR (copied; created if missing on the
 * worker) with HEAD (copied; NULL: none) written before the message
 * bytes, e.g. "Return-Path: <a@b>\r\n".  The file name is chosen now:
 * smtp_txn_target_name.  Returns the target's index (0, 1, ...). */
size_t smtp_txn_add_maildir(smtp_txn_t *t, const char *dir, const char *head);

/* Add the queue file for M in QDIR (copied).  M's envelope is encoded now
 * (M is only read: it may be freed after this call); M->id is set to the
 * new queue id (also smtp_txn_queue_id).  The message bytes are the
 * queue file's body.  At most one per transaction: returns the target's
 * index, or (size_t)-1 if T has one already. */
size_t smtp_txn_add_queue(smtp_txn_t *t, const char *qdir, smtp_qmsg_t *m);

/* Number of targets added. */
size_t smtp_txn_ntargets(const smtp_txn_t *t);

/* The file name target I got (Maildir name or queue id; NUL-terminated,
 * valid as long as T). */
const char *smtp_txn_target_name(const smtp_txn_t *t, size_t i);

/* The queue id if T has a queue target, else NULL. */
const char *smtp_txn_queue_id(const smtp_txn_t *t);

/* In the done callback: 1 if every target is durable, 0 if any failed
 * (then smtp_txn_error says which and why, and the message must not be
 * acknowledged: answer 451 4.3.0; targets that did succeed stay, the
 * client's retry may make a duplicate, never a loss). */
int smtp_txn_ok(const smtp_txn_t *t);

/* The first failure's text ("" if none), valid as long as T. */
const char *smtp_txn_error(const smtp_txn_t *t);

/* Submit T to GC; DONE(ARG, T) runs later on the reactor (never inside
 * this call), after T's batch (or with a failure if the instance stops
 * first).  Takes T.  ARG must stay valid until DONE or smtp_txn_cancel:
 * pass a connection held with loom_conn_hold (release it in DONE), or
 * cancel at close.  Returns T as a handle for smtp_txn_cancel. */
smtp_txn_t *smtp_commit_submit(smtp_commit_t *gc, smtp_txn_t *t,
                               smtp_txn_done_fn done, void *arg);

/* The submitter is gone (its session closed): DONE will not be called
 * for T.  The writes still happen if T's batch already started (the
 * client never got a 250: a duplicate at worst, never a loss); T is freed
 * by the committer.  T must be a handle whose DONE has not run yet. */
void smtp_txn_cancel(smtp_txn_t *t);

/* Counters for status pages and the benchmark. */
typedef struct {
    uint64_t batches;  /* batches completed */
    uint64_t txns;     /* transactions completed */
    uint64_t files;    /* target files written */
    uint64_t syncs;    /* fsync/fdatasync/syncfs calls made */
    uint64_t failures; /* transactions that failed */
} smtp_commit_stats_t;

/* Fill *OUT with GC's counters. */
void smtp_commit_stats(const smtp_commit_t *gc, smtp_commit_stats_t *out);

/* ---- the batch itself (worker side; exported for the measurement
 * program and the unit tests) ------------------------------------------- */

/* [blocking] Run the writes and syncs of every transaction in the list
 * starting at FIRST (linked by the committer), with MODE.  Sets each
 * transaction's result; adds the sync calls made to *SYNCS. */
void smtp_batch_run(smtp_txn_t *first, smtp_sync_t mode, uint64_t *syncs);

/* Link T after PREV for smtp_batch_run (PREV NULL: T alone).  For tests
 * and the measurement program; the committer does this itself. */
void smtp_txn_link(smtp_txn_t *prev, smtp_txn_t *t);

#endif
