/*
 * smtp_store.c - Maildir delivery and the group commit (smtp_store.h).
 *
 * A transaction is one message's bytes (segments shared by all targets)
 * and its targets (Maildirs, at most one queue file).  The committer keeps
 * one batch on the worker pool at a time; transactions submitted
 * meanwhile wait in a list that becomes the next batch.  A batch job owns
 * its transactions until its done: the reactor touches only their
 * `cancelled` flag meanwhile, the worker everything else.  The committer
 * outlives its running batch: freed while one runs, it is left as an
 * orphan that the batch's done frees (the DNS journal's pattern).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "loom_work.h"
#include "smtp_fs.h"
#include "smtp_store.h"

typedef struct {
    char *p;
    size_t n, cap; /* cap 0: taken from the caller, not grown */
} seg_t;

typedef struct {
    int queue;  /* 1: the queue file, 0: a Maildir */
    char *dir;  /* the Maildir or QDIR */
    char *head; /* Maildir: HEAD; queue: the encoded envelope */
    size_t headlen;
    char name[SMTP_MAILDIR_NAME_MAX];
    /* worker only */
    char *tmp, *dst, *syncdir;
    int fd;    /* written, not yet fsync'd (FSYNC mode), else -1 */
    char *bad; /* why smtp_queue_check refused this queue file, or NULL */
    int state; /* 0: nothing on disk, 1: tmp written, 2: in place */
} target_t;

struct smtp_txn_s {
    smtp_txn_t *next;
    seg_t *seg;
    size_t nseg, segcap;
    target_t *tg;
    size_t ntg, tgcap;
    ssize_t queue_idx;
    smtp_txn_done_fn done;
    void *arg;
    int cancelled; /* reactor only */
    int failed;    /* worker, then reactor */
    char err[512];
};

struct smtp_commit_s {
    loom_instance_t *inst;
    smtp_sync_t mode;
    smtp_txn_t *wait, **wtail;
    int busy, orphan;
    smtp_commit_stats_t st;
};

/* At most this many files of a batch are held open between their write
 * and their fsync; past it they are fsync'd one by one. */
#define BATCH_OPEN_FDS 256

typedef struct {
    smtp_commit_t *gc;
    smtp_txn_t *list;
    smtp_sync_t mode;
    uint64_t syncs;
} batch_job_t;

/* ---- Maildir --------------------------------------------------------------
 */

static char host_part[200];
static pthread_once_t host_once = PTHREAD_ONCE_INIT;
static unsigned long name_seq;

static void host_init(void)
{
    char h[256];
    size_t o = 0;

    if (gethostname(h, sizeof(h)) != 0 || h[0] == '\0')
        snprintf(h, sizeof(h), "localhost");
    h[sizeof(h) - 1] = '\0';
    for (size_t i = 0; h[i] && o + 5 < sizeof(host_part); i++) {
        if (h[i] == '/' || h[i] == ':') { /* the Maildir spec's escapes */
            o += (size_t)snprintf(host_part + o, sizeof(host_part) - o,
                                  "\\%03o", (unsigned char)h[i]);
        } else {
            host_part[o++] = h[i];
        }
    }
    host_part[o] = '\0';
}

void smtp_maildir_name(char *out)
{
    struct timeval tv;
    unsigned long seq = __atomic_add_fetch(&name_seq, 1, __ATOMIC_RELAXED);

    pthread_once(&host_once, host_init);
    gettimeofday(&tv, NULL);
    snprintf(out, SMTP_MAILDIR_NAME_MAX, "%lld.M%06ldP%ldQ%lu.%s",
             (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(), seq,
             host_part);
}

int smtp_maildir_make(const char *dir, char *err, size_t errlen)
{
    static const char *const sub[] = {"tmp", "new", "cur"};

    for (size_t i = 0; i < LOOM_ARRAY_LEN(sub); i++) {
        char *p = smtp_fs_join(dir, sub[i]);
        int rc = smtp_fs_mkdirs(p, 0700, err, errlen);

        free(p);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* Make the Maildir unless its new/ is there already (one stat). */
static int maildir_ensure(const char *dir, char *err, size_t errlen)
{
    char *p = smtp_fs_join(dir, "new");
    struct stat st;
    int there = stat(p, &st) == 0 && S_ISDIR(st.st_mode);

    free(p);
    if (there) {
        p = smtp_fs_join(dir, "tmp");
        there = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
        free(p);
    }
    return there ? 0 : smtp_maildir_make(dir, err, errlen);
}

/* Put TMP in place as DST: a hard link (the Maildir way, never replacing
 * a file), or a rename where the filesystem has no links. */
static int link_into(const char *tmp, const char *dst, char *err, size_t errlen)
{
    if (link(tmp, dst) == 0) {
        (void)unlink(tmp);
        return 0;
    }
    int e = errno;

    if ((e == EPERM || e == ENOTSUP || e == ENOSYS) && access(dst, F_OK) != 0 &&
        rename(tmp, dst) == 0)
        return 0;
    snprintf(err, errlen, "link %s: %s", dst, strerror(e));
    return -1;
}

int smtp_maildir_deliver(const char *dir, const struct iovec *iov, int iovcnt,
                         char *name, char *err, size_t errlen)
{
    char nm[SMTP_MAILDIR_NAME_MAX];
    char *tmpdir, *newdir, *tmp, *dst;
    int rc = -1;

    if (maildir_ensure(dir, err, errlen) != 0)
        return -1;
    smtp_maildir_name(nm);
    tmpdir = smtp_fs_join(dir, "tmp");
    newdir = smtp_fs_join(dir, "new");
    tmp = smtp_fs_join(tmpdir, nm);
    dst = smtp_fs_join(newdir, nm);
    if (smtp_fs_write_new(tmp, iov, iovcnt, SMTP_FS_FSYNC, NULL, err, errlen) ==
        0) {
        if (link_into(tmp, dst, err, errlen) != 0) {
            unlink(tmp);
        } else if (smtp_fs_sync_dir(newdir, err, errlen) != 0) {
            unlink(dst);
        } else {
            rc = 0;
            if (name)
                snprintf(name, SMTP_MAILDIR_NAME_MAX, "%s", nm);
        }
    }
    free(tmpdir);
    free(newdir);
    free(tmp);
    free(dst);
    return rc;
}

/* ---- transactions ---------------------------------------------------------
 */

smtp_txn_t *smtp_txn_new(void)
{
    smtp_txn_t *t = loom_calloc(1, sizeof(*t));

    t->queue_idx = -1;
    return t;
}

static void target_clear(target_t *g)
{
    free(g->dir);
    free(g->head);
    free(g->tmp);
    free(g->dst);
    free(g->syncdir);
    free(g->bad);
}

void smtp_txn_free(smtp_txn_t *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nseg; i++)
        free(t->seg[i].p);
    for (size_t i = 0; i < t->ntg; i++)
        target_clear(&t->tg[i]);
    free(t->seg);
    free(t->tg);
    free(t);
}

static seg_t *seg_add(smtp_txn_t *t)
{
    if (t->nseg == t->segcap) {
        t->segcap = t->segcap ? t->segcap * 2 : 4;
        t->seg = loom_realloc(t->seg, t->segcap * sizeof(*t->seg));
    }
    memset(&t->seg[t->nseg], 0, sizeof(seg_t));
    return &t->seg[t->nseg++];
}

void smtp_txn_append(smtp_txn_t *t, const void *p, size_t n)
{
    seg_t *s = t->nseg ? &t->seg[t->nseg - 1] : NULL;

    if (n == 0)
        return;
    if (s == NULL || s->cap == 0) {
        s = seg_add(t);
        s->cap = n < 256 ? 256 : n;
        s->p = loom_malloc(s->cap);
    } else if (s->n + n > s->cap) {
        while (s->n + n > s->cap)
            s->cap *= 2;
        s->p = loom_realloc(s->p, s->cap);
    }
    memcpy(s->p + s->n, p, n);
    s->n += n;
}

void smtp_txn_append_owned(smtp_txn_t *t, void *p, size_t n)
{
    seg_t *s;

    if (n == 0) {
        free(p);
        return;
    }
    s = seg_add(t);
    s->p = p;
    s->n = n;
}

static target_t *target_add(smtp_txn_t *t)
{
    if (t->ntg == t->tgcap) {
        t->tgcap = t->tgcap ? t->tgcap * 2 : 2;
        t->tg = loom_realloc(t->tg, t->tgcap * sizeof(*t->tg));
    }
    memset(&t->tg[t->ntg], 0, sizeof(target_t));
    t->tg[t->ntg].fd = -1;
    return &t->tg[t->ntg++];
}

size_t smtp_txn_add_maildir(smtp_txn_t *t, const char *dir, const char *head)
{
    target_t *g = target_add(t);

    g->dir = loom_strdup(dir);
    if (head && head[0]) {
        g->head = loom_strdup(head);
        g->headlen = strlen(head);
    }
    smtp_maildir_name(g->name);
    return t->ntg - 1;
}

size_t smtp_txn_add_queue(smtp_txn_t *t, const char *qdir, smtp_qmsg_t *m)
{
    target_t *g;
    uint8_t *h;

    if (t->queue_idx >= 0)
        return (size_t)-1;
    g = target_add(t);
    g->queue = 1;
    g->dir = loom_strdup(qdir);
    {
        char why[256];

        if (smtp_queue_check(m, why, sizeof(why)) != SMTP_QUEUE_OK)
            g->bad = loom_strdup(why);
    }
    smtp_queue_new_id(m->id);
    snprintf(g->name, sizeof(g->name), "%s", m->id);
    h = smtp_queue_encode_head(m, 0, &g->headlen); /* length set on run */
    g->head = (char *)h;
    t->queue_idx = (ssize_t)(t->ntg - 1);
    return t->ntg - 1;
}

size_t smtp_txn_ntargets(const smtp_txn_t *t)
{
    return t->ntg;
}

const char *smtp_txn_target_name(const smtp_txn_t *t, size_t i)
{
    return i < t->ntg ? t->tg[i].name : NULL;
}

const char *smtp_txn_queue_id(const smtp_txn_t *t)
{
    return t->queue_idx >= 0 ? t->tg[t->queue_idx].name : NULL;
}

int smtp_txn_ok(const smtp_txn_t *t)
{
    return !t->failed;
}

const char *smtp_txn_error(const smtp_txn_t *t)
{
    return t->err;
}

void smtp_txn_link(smtp_txn_t *prev, smtp_txn_t *t)
{
    if (prev)
        prev->next = t;
    t->next = NULL;
}

/* ---- the batch (worker side) ----------------------------------------------
 */

static void txn_fail(smtp_txn_t *t, const char *why)
{
    if (!t->failed)
        snprintf(t->err, sizeof(t->err), "%s", why);
    t->failed = 1;
}

/* Write target G of T to its temporary name; THEN as smtp_fs_write_new. */
static int target_write(smtp_txn_t *t, target_t *g, int then, char *err,
                        size_t errlen)
{
    struct iovec *v = loom_calloc(t->nseg + 2, sizeof(*v));
    int n = 0, rc;
    uint8_t crc[4];

    if (g->bad) { /* never write a file the reader would refuse */
        snprintf(err, errlen, "%s", g->bad);
        free(v);
        return -1;
    }
    if (g->queue) {
        char *tmpdir = smtp_fs_join(g->dir, "tmp");
        uint64_t blen = 0;
        uint32_t c;

        rc = smtp_fs_mkdirs(tmpdir, 0700, err, errlen);
        g->tmp = smtp_fs_join(tmpdir, g->name);
        free(tmpdir);
        if (rc != 0) {
            free(v);
            return -1;
        }
        g->dst = smtp_fs_join(g->dir, g->name);
        g->syncdir = loom_strdup(g->dir);
        for (size_t i = 0; i < t->nseg; i++)
            blen += t->seg[i].n;
        for (int i = 0; i < 8; i++) /* the body length, see smtp_queue.h */
            g->head[SMTP_QUEUE_MAGIC_LEN + 4 + i] = (char)(blen >> (8 * i));
        c = smtp_crc32c(0, g->head, g->headlen);
        for (size_t i = 0; i < t->nseg; i++)
            c = smtp_crc32c(c, t->seg[i].p, t->seg[i].n);
        for (int i = 0; i < 4; i++)
            crc[i] = (uint8_t)(c >> (8 * i));
    } else {
        char *tmpdir, *newdir;

        if (maildir_ensure(g->dir, err, errlen) != 0) {
            free(v);
            return -1;
        }
        tmpdir = smtp_fs_join(g->dir, "tmp");
        newdir = smtp_fs_join(g->dir, "new");
        g->tmp = smtp_fs_join(tmpdir, g->name);
        g->dst = smtp_fs_join(newdir, g->name);
        g->syncdir = newdir;
        free(tmpdir);
    }
    if (g->headlen) {
        v[n].iov_base = g->head;
        v[n++].iov_len = g->headlen;
    }
    for (size_t i = 0; i < t->nseg; i++) {
        v[n].iov_base = t->seg[i].p;
        v[n++].iov_len = t->seg[i].n;
    }
    if (g->queue) {
        v[n].iov_base = crc;
        v[n++].iov_len = 4;
    }
    rc = smtp_fs_write_new(g->tmp, v, n, then, &g->fd, err, errlen);
    free(v);
    if (rc == 0)
        g->state = 1;
    return rc;
}

/* The distinct directories (or filesystems) a batch must sync, and which
 * targets depend on each. */
typedef struct {
    char **dir;
    dev_t *dev;
    size_t n, cap;
} syncset_t;

static size_t syncset_add(syncset_t *s, const char *dir, int by_dev)
{
    struct stat st;
    dev_t dev = 0;

    if (by_dev && stat(dir, &st) == 0)
        dev = st.st_dev;
    for (size_t i = 0; i < s->n; i++)
        if (by_dev ? s->dev[i] == dev : strcmp(s->dir[i], dir) == 0)
            return i;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->dir = loom_realloc(s->dir, s->cap * sizeof(*s->dir));
        s->dev = loom_realloc(s->dev, s->cap * sizeof(*s->dev));
    }
    s->dir[s->n] = loom_strdup(dir);
    s->dev[s->n] = dev;
    return s->n++;
}

/* Sync every entry of S (fsync of the directory, or syncfs); fail every
 * transaction with a target whose entry failed. */
static void syncset_run(syncset_t *s, smtp_txn_t *first, int by_dev,
                        uint64_t *syncs)
{
    for (size_t i = 0; i < s->n; i++) {
        char err[512];
        int rc = by_dev ? smtp_fs_syncfs(s->dir[i], err, sizeof(err))
                        : smtp_fs_sync_dir(s->dir[i], err, sizeof(err));

        (*syncs)++;
        if (rc == 0)
            continue;
        for (smtp_txn_t *t = first; t; t = t->next) {
            for (size_t k = 0; k < t->ntg; k++) {
                target_t *g = &t->tg[k];
                struct stat st;

                if (g->state == 0)
                    continue;
                if (by_dev
                        ? stat(g->syncdir, &st) == 0 && st.st_dev == s->dev[i]
                        : strcmp(g->syncdir, s->dir[i]) == 0)
                    txn_fail(t, err);
            }
        }
    }
}

static void syncset_clear(syncset_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->dir[i]);
    free(s->dir);
    free(s->dev);
    memset(s, 0, sizeof(*s));
}

void smtp_batch_run(smtp_txn_t *first, smtp_sync_t mode, uint64_t *syncs)
{
    int by_dev = mode == SMTP_SYNC_SYNCFS;
    syncset_t set = {0};
    size_t open_fds = 0;

    if (mode == SMTP_SYNC_AUTO) {
        size_t files = 0;

        for (smtp_txn_t *t = first; t && files < 2; t = t->next)
            files += t->ntg;
        by_dev = files > 1;
    }

    /* 1: every file to its temporary name; FSYNC mode keeps them open
     * with their writeback started, so that the fsyncs below find the
     * data on its way and the filesystem can commit them together */
    for (smtp_txn_t *t = first; t; t = t->next) {
        for (size_t k = 0; k < t->ntg && !t->failed; k++) {
            char err[512];
            int then = by_dev                      ? SMTP_FS_CLOSE
                       : open_fds < BATCH_OPEN_FDS ? SMTP_FS_KEEP
                                                   : SMTP_FS_FSYNC;

            if (target_write(t, &t->tg[k], then, err, sizeof(err)) != 0) {
                txn_fail(t, err);
                continue;
            }
            if (then == SMTP_FS_KEEP)
                open_fds++;
            else if (then == SMTP_FS_FSYNC)
                (*syncs)++;
        }
    }
    /* 2: the data of them all: each file (FSYNC), or once per filesystem
     * (SYNCFS) */
    for (smtp_txn_t *t = first; t; t = t->next) {
        for (size_t k = 0; k < t->ntg; k++) {
            target_t *g = &t->tg[k];

            if (g->fd >= 0) {
                if (!t->failed) {
                    (*syncs)++;
                    if (fsync(g->fd) != 0) {
                        char err[512];

                        snprintf(err, sizeof(err), "fsync %s: %s", g->tmp,
                                 strerror(errno));
                        txn_fail(t, err);
                    }
                }
                close(g->fd);
                g->fd = -1;
            }
            if (by_dev && !t->failed && g->state == 1)
                syncset_add(&set, g->syncdir, 1);
        }
    }
    if (by_dev) {
        syncset_run(&set, first, 1, syncs);
        syncset_clear(&set);
    }
    /* 3: into place; 4: the directories */
    for (smtp_txn_t *t = first; t; t = t->next) {
        for (size_t k = 0; k < t->ntg && !t->failed; k++) {
            target_t *g = &t->tg[k];
            char err[512];
            int rc = g->queue ? rename(g->tmp, g->dst) : 0;

            if (rc != 0)
                snprintf(err, sizeof(err), "rename %s: %s", g->dst,
                         strerror(errno));
            else if (!g->queue)
                rc = link_into(g->tmp, g->dst, err, sizeof(err));
            if (rc != 0) {
                txn_fail(t, err);
                break;
            }
            g->state = 2;
            syncset_add(&set, g->syncdir, by_dev);
        }
    }
    syncset_run(&set, first, by_dev, syncs);
    syncset_clear(&set);
    /* what a failed transaction left in tmp/ goes */
    for (smtp_txn_t *t = first; t; t = t->next)
        for (size_t k = 0; k < t->ntg; k++)
            if (t->failed && t->tg[k].state == 1)
                (void)unlink(t->tg[k].tmp);
}

/* ---- sync mode names
 * ---------------------------------------------------------
 */

static const struct {
    const char *name;
    smtp_sync_t mode;
} sync_names[] = {
    {"fsync", SMTP_SYNC_FSYNC},
    {"syncfs", SMTP_SYNC_SYNCFS},
    {"auto", SMTP_SYNC_AUTO},
};

int smtp_sync_parse(const char *s, smtp_sync_t *out)
{
    for (size_t i = 0; i < LOOM_ARRAY_LEN(sync_names); i++) {
        if (strcmp(s, sync_names[i].name) == 0) {
            *out = sync_names[i].mode;
            return 0;
        }
    }
    return -1;
}

const char *smtp_sync_name(smtp_sync_t mode)
{
    for (size_t i = 0; i < LOOM_ARRAY_LEN(sync_names); i++)
        if (sync_names[i].mode == mode)
            return sync_names[i].name;
    return "?";
}

/* ---- the committer (reactor side) -----------------------------------------
 */

smtp_commit_t *smtp_commit_new(loom_instance_t *inst, smtp_sync_t mode)
{
    smtp_commit_t *gc = loom_calloc(1, sizeof(*gc));

    gc->inst = inst;
    gc->mode = mode;
    gc->wtail = &gc->wait;
    return gc;
}

void smtp_commit_set_mode(smtp_commit_t *gc, smtp_sync_t mode)
{
    gc->mode = mode;
}

void smtp_commit_stats(const smtp_commit_t *gc, smtp_commit_stats_t *out)
{
    *out = gc->st;
}

static void batch_work(void *arg)
{
    batch_job_t *j = arg;

    smtp_batch_run(j->list, j->mode, &j->syncs);
}

static void start_batch(smtp_commit_t *gc);

static void batch_done(void *arg, int status)
{
    batch_job_t *j = arg;
    smtp_commit_t *gc = j->gc;
    smtp_txn_t *t;

    gc->st.batches++;
    gc->st.syncs += j->syncs;
    while ((t = j->list) != NULL) {
        j->list = t->next;
        if (status != LOOM_WORK_COMPLETED)
            txn_fail(t, "the worker pool stopped before the write");
        gc->st.txns++;
        gc->st.files += t->ntg;
        if (t->failed)
            gc->st.failures++;
        if (!t->cancelled && t->done)
            t->done(t->arg, t);
        smtp_txn_free(t);
    }
    free(j);
    gc->busy = 0;
    if (gc->orphan) {
        free(gc);
        return;
    }
    if (gc->wait)
        start_batch(gc);
}

static void start_batch(smtp_commit_t *gc)
{
    batch_job_t *j;
    smtp_txn_t *t, *list = NULL, **tail = &list;

    while ((t = gc->wait) != NULL) {
        gc->wait = t->next;
        t->next = NULL;
        if (t->cancelled) {
            smtp_txn_free(t);
            continue;
        }
        *tail = t;
        tail = &t->next;
    }
    gc->wtail = &gc->wait;
    if (list == NULL)
        return;
    j = loom_calloc(1, sizeof(*j));
    j->gc = gc;
    j->list = list;
    j->mode = gc->mode;
    gc->busy = 1;
    loom_work_submit(gc->inst, batch_work, batch_done, j);
}

smtp_txn_t *smtp_commit_submit(smtp_commit_t *gc, smtp_txn_t *t,
                               smtp_txn_done_fn done, void *arg)
{
    t->done = done;
    t->arg = arg;
    t->next = NULL;
    *gc->wtail = t;
    gc->wtail = &t->next;
    if (!gc->busy)
        start_batch(gc);
    return t;
}

void smtp_txn_cancel(smtp_txn_t *t)
{
    t->cancelled = 1;
    t->done = NULL;
    t->arg = NULL;
}

void smtp_commit_free(smtp_commit_t *gc)
{
    smtp_txn_t *t;

    if (gc == NULL)
        return;
    while ((t = gc->wait) != NULL) {
        gc->wait = t->next;
        txn_fail(t, "shutting down");
        if (!t->cancelled && t->done)
            t->done(t->arg, t);
        smtp_txn_free(t);
    }
    gc->wtail = &gc->wait;
    if (gc->busy)
        gc->orphan = 1; /* the running batch's done frees it */
    else
        free(gc);
}
