/*
 * test_smtp_store.c - Maildir delivery and the group commit
 * (protocols/smtp/smtp_store.c): Maildir names per the spec and unique
 * across threads; a delivery lands whole in new/ and nothing stays in
 * tmp/; a batch of transactions (Maildirs with and without a head, a
 * queue file, one that cannot be written) under both sync modes gives
 * every good transaction its files, fails only the bad one, leaves no
 * temporary file, and makes the syncs the design says; the committer on
 * a real reactor and worker pool puts transactions that arrive while a
 * batch runs into one next batch, never calls a cancelled transaction's
 * done, and fails what still waits when it is freed.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "core.h"
#include "server.h"
#include "smtp_store.h"

#define WAIT_SEC 30 /* bound on any wait: only ever hit by a hang */

static char *tmp_dir(void)
{
    char *d = strdup("/tmp/test_smtp_store.XXXXXX");

    assert_non_null(mkdtemp(d));
    return d;
}

static void rm_tree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;

    if (d) {
        while ((e = readdir(d)) != NULL) {
            char p[1024];

            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
            rm_tree(p);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Entries of DIR (not . and ..), or -1 when it cannot be opened. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* The contents of A/B (malloc'd, NUL-terminated), NULL if unreadable. */
static char *slurp(const char *a, const char *b, size_t *len)
{
    char p[1024];
    FILE *f;
    char *buf;
    long n;

    snprintf(p, sizeof(p), "%s/%s", a, b);
    f = fopen(p, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static char *path2(const char *a, const char *b)
{
    char *p = malloc(strlen(a) + strlen(b) + 2);

    sprintf(p, "%s/%s", a, b);
    return p;
}

/* ---- Maildir names -------------------------------------------------------
 */

#define NAME_THREADS 4
#define NAME_PER 1000

static char names[NAME_THREADS * NAME_PER][SMTP_MAILDIR_NAME_MAX];

static void *name_thread(void *arg)
{
    size_t base = (size_t)(uintptr_t)arg * NAME_PER;

    for (size_t i = 0; i < NAME_PER; i++)
        smtp_maildir_name(names[base + i]);
    return NULL;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_maildir_name(void **state)
{
    pthread_t t[NAME_THREADS];
    size_t n = NAME_THREADS * NAME_PER;
    char want_pid[32];

    (void)state;
    snprintf(want_pid, sizeof(want_pid), "P%ldQ", (long)getpid());
    for (uintptr_t i = 0; i < NAME_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, name_thread, (void *)i),
                         0);
    for (int i = 0; i < NAME_THREADS; i++)
        pthread_join(t[i], NULL);
    qsort(names, n, SMTP_MAILDIR_NAME_MAX, cmp_name);
    for (size_t i = 0; i < n; i++) {
        const char *s = names[i];
        size_t secs = strspn(s, "0123456789");

        /* <sec>.M<usec>P<pid>Q<seq>.<host> */
        assert_true(secs >= 9);
        assert_memory_equal(s + secs, ".M", 2);
        assert_int_equal(strspn(s + secs + 2, "0123456789"), 6);
        assert_non_null(strstr(s, want_pid));
        assert_null(strchr(s, '/'));
        assert_null(strchr(s, ':'));
        assert_true(strchr(strstr(s, want_pid), '.') != NULL);
        if (i > 0)
            assert_string_not_equal(names[i - 1], s);
    }
}

static void test_maildir_deliver(void **state)
{
    char *root = tmp_dir();
    char *md = path2(root, "deep/alice/Maildir");
    char *newd = path2(md, "new"), *tmpd = path2(md, "tmp");
    char *curd = path2(md, "cur"), *bad;
    char name[SMTP_MAILDIR_NAME_MAX], err[512];
    struct iovec iov[3] = {{"Return-Path: <a@b>\r\n", 20},
                           {"Subject: x\r\n\r\n", 14},
                           {"body\r\n", 6}};
    size_t len;
    char *got;
    FILE *f;

    (void)state;
    assert_int_equal(smtp_maildir_deliver(md, iov, 3, name, err, sizeof(err)),
                     0);
    assert_int_equal(count_entries(newd), 1);
    assert_int_equal(count_entries(tmpd), 0);
    assert_int_equal(count_entries(curd), 0);
    got = slurp(newd, name, &len);
    assert_non_null(got);
    assert_int_equal(len, 40);
    assert_string_equal(got,
                        "Return-Path: <a@b>\r\nSubject: x\r\n\r\nbody\r\n");
    free(got);
    /* a second one beside it */
    assert_int_equal(
        smtp_maildir_deliver(md, iov + 2, 1, NULL, err, sizeof(err)), 0);
    assert_int_equal(count_entries(newd), 2);

    /* a Maildir below a regular file cannot be made */
    bad = path2(root, "file");
    f = fopen(bad, "w");
    assert_non_null(f);
    fclose(f);
    free(bad);
    bad = path2(root, "file/Maildir");
    err[0] = '\0';
    assert_int_equal(smtp_maildir_deliver(bad, iov, 3, name, err, sizeof(err)),
                     -1);
    assert_true(err[0] != '\0');
    assert_int_equal(smtp_maildir_make(bad, err, sizeof(err)), -1);
    free(bad);
    rm_tree(root);
    free(root);
    free(md);
    free(newd);
    free(tmpd);
    free(curd);
}

/* ---- one batch -------------------------------------------------------------
 */

static const char head_a[] = "Return-Path: <s@example.org>\r\n";
static const char part1[] = "Received: from c (c [192.0.2.1])\r\n";
static const char part2[] = "Subject: batch\r\n\r\nhello\r\n";

/* A message of part1 (copied in pieces) and part2 (handed over). */
static void add_message(smtp_txn_t *t)
{
    char *owned = strdup(part2);

    smtp_txn_append(t, part1, 10);
    smtp_txn_append(t, part1 + 10, strlen(part1) - 10);
    smtp_txn_append_owned(t, owned, strlen(owned));
}

static void check_file(const char *md, const char *name, const char *head)
{
    char *newd = path2(md, "new");
    size_t len;
    char *got = slurp(newd, name, &len);
    char want[512];

    snprintf(want, sizeof(want), "%s%s%s", head ? head : "", part1, part2);
    assert_non_null(got);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    free(got);
    free(newd);
}

static void run_batch(smtp_sync_t mode)
{
    char *root = tmp_dir();
    char *a = path2(root, "a"), *b = path2(root, "b"), *q = path2(root, "q");
    char *bad = path2(root, "plain/Maildir"), *plain = path2(root, "plain");
    smtp_txn_t *t1 = smtp_txn_new(), *t2 = smtp_txn_new();
    smtp_txn_t *t3 = smtp_txn_new();
    smtp_qrcpt_t rc = {.addr = "far@remote.test"};
    smtp_qmsg_t m = {.sender = "s@example.org",
                     .arrival = 1796000000,
                     .nrcpt = 1,
                     .rcpt = &rc};
    smtp_qmsg_t r;
    uint64_t syncs = 0;
    char err[512], *sub;
    FILE *f = fopen(plain, "w");

    assert_non_null(f);
    fclose(f);
    add_message(t1);
    add_message(t2);
    add_message(t3);
    assert_int_equal(smtp_txn_add_maildir(t1, a, head_a), 0);
    assert_int_equal(smtp_txn_add_maildir(t1, b, NULL), 1);
    assert_int_equal(smtp_txn_add_queue(t1, q, &m), 2);
    assert_int_equal(smtp_txn_add_queue(t1, q, &m), (size_t)-1);
    assert_string_equal(smtp_txn_queue_id(t1), m.id);
    assert_int_equal(smtp_txn_ntargets(t1), 3);
    assert_int_equal(smtp_txn_add_maildir(t2, a, head_a), 0);
    assert_null(smtp_txn_queue_id(t2));
    assert_int_equal(smtp_txn_add_maildir(t3, a, NULL), 0);
    assert_int_equal(smtp_txn_add_maildir(t3, bad, NULL), 1);
    smtp_txn_link(NULL, t1);
    smtp_txn_link(t1, t2);
    smtp_txn_link(t2, t3);

    smtp_batch_run(t1, mode, &syncs);

    assert_true(smtp_txn_ok(t1));
    assert_true(smtp_txn_ok(t2));
    assert_string_equal(smtp_txn_error(t1), "");
    assert_false(smtp_txn_ok(t3));
    assert_non_null(strstr(smtp_txn_error(t3), "plain"));
    check_file(a, smtp_txn_target_name(t1, 0), head_a);
    check_file(b, smtp_txn_target_name(t1, 1), NULL);
    check_file(a, smtp_txn_target_name(t2, 0), head_a);
    sub = path2(a, "new");
    assert_int_equal(count_entries(sub), 2); /* not t3's */
    free(sub);
    sub = path2(a, "tmp");
    assert_int_equal(count_entries(sub), 0); /* t3's temp file went too */
    free(sub);
    sub = path2(q, "tmp");
    assert_int_equal(count_entries(sub), 0);
    free(sub);
    assert_int_equal(smtp_queue_load(q, m.id, &r, err, sizeof(err)),
                     SMTP_QUEUE_OK);
    assert_string_equal(r.sender, "s@example.org");
    assert_string_equal(r.rcpt[0].addr, "far@remote.test");
    assert_int_equal(r.body_len, strlen(part1) + strlen(part2));
    assert_memory_equal(r.body, part1, strlen(part1));
    assert_memory_equal(r.body + strlen(part1), part2, strlen(part2));
    smtp_qmsg_free(&r);
    /* FSYNC: one per file of a transaction still good after the writes
     * (t1: 3, t2: 1; not t3's first: t3 failed on its second) and one per
     * distinct directory holding a file put in place (a/new, b/new, q);
     * SYNCFS: one filesystem, twice. */
    if (mode != SMTP_SYNC_FSYNC) /* AUTO: more than one file */
        assert_int_equal(syncs, 2);
    else
        assert_int_equal(syncs, 4 + 3);
    smtp_txn_free(t1);
    smtp_txn_free(t2);
    smtp_txn_free(t3);
    rm_tree(root);
    free(root);
    free(a);
    free(b);
    free(q);
    free(bad);
    free(plain);
}

static void test_batch_fsync(void **state)
{
    (void)state;
    run_batch(SMTP_SYNC_FSYNC);
}

static void test_batch_syncfs(void **state)
{
    (void)state;
    run_batch(SMTP_SYNC_SYNCFS);
}

static void test_batch_auto(void **state)
{
    (void)state;
    run_batch(SMTP_SYNC_AUTO);
}

/* A queue file the reader would refuse (no recipient) is never written:
 * its transaction fails, nothing lands anywhere. */
static void test_batch_bad_queue(void **state)
{
    char *root = tmp_dir();
    char *a = path2(root, "a"), *q = path2(root, "q");
    smtp_txn_t *t = smtp_txn_new();
    smtp_qmsg_t m = {.sender = "s@example.org", .arrival = 1796000000};
    uint64_t syncs = 0;
    char *sub;

    (void)state;
    add_message(t);
    smtp_txn_add_maildir(t, a, NULL);
    smtp_txn_add_queue(t, q, &m);
    smtp_txn_link(NULL, t);
    smtp_batch_run(t, SMTP_SYNC_FSYNC, &syncs);
    assert_false(smtp_txn_ok(t));
    assert_non_null(strstr(smtp_txn_error(t), "no recipient"));
    sub = path2(a, "new");
    assert_int_equal(count_entries(sub), 0);
    free(sub);
    sub = path2(a, "tmp");
    assert_int_equal(count_entries(sub), 0);
    free(sub);
    assert_int_equal(count_entries(q), -1); /* not even made */
    smtp_txn_free(t);
    rm_tree(root);
    free(root);
    free(a);
    free(q);
}

static void test_sync_names(void **state)
{
    static const smtp_sync_t modes[] = {SMTP_SYNC_FSYNC, SMTP_SYNC_SYNCFS,
                                        SMTP_SYNC_AUTO};
    static const char *const bad[] = {"", "FSYNC", "sync", "auto ", "fsyncs"};
    smtp_sync_t m;

    (void)state;
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        m = (smtp_sync_t)99;
        assert_int_equal(smtp_sync_parse(smtp_sync_name(modes[i]), &m), 0);
        assert_int_equal(m, modes[i]);
    }
    assert_string_equal(smtp_sync_name(SMTP_SYNC_DEFAULT), "auto");
    assert_string_equal(smtp_sync_name((smtp_sync_t)42), "?");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(smtp_sync_parse(bad[i], &m), -1);
}

/* ---- the committer on a real reactor ---------------------------------------
 */

typedef struct {
    struct event_base *base;
    loom_server_t *srv;
    loom_instance_t *inst;
    char *root;
} env_t;

static env_t *env_new(void)
{
    env_t *e = calloc(1, sizeof(*e));
    char err[512] = "", conf[1024];

    assert_non_null(e);
    e->root = tmp_dir();
    snprintf(conf, sizeof(conf),
             "workers = 2\n"
             "log { level = \"warn\" }\n"
             "echo \"e\" {\n"
             "    listen = {\"unix:%s/s\"}\n" /* never bound */
             "}\n",
             e->root);
    e->base = event_base_new();
    e->srv = loom_server_new(e->base);
    if (loom_server_start_text(e->srv, conf, err, sizeof(err)) != LOOM_OK)
        fail_msg("start: %s", err);
    e->inst = loom_server_instance(e->srv, "echo", "e");
    assert_non_null(e->inst);
    return e;
}

static void env_free(env_t *e)
{
    loom_server_free(e->srv);
    event_base_free(e->base);
    rm_tree(e->root);
    free(e->root);
    free(e);
}

static void run_until(env_t *e, const int *flag, int want)
{
    time_t end = time(NULL) + WAIT_SEC;

    while (*flag < want && time(NULL) < end)
        event_base_loop(e->base, EVLOOP_ONCE);
    assert_true(*flag >= want);
}

typedef struct {
    int dones, ok, failed;
    int order[64];
    char err[256];
} tally_t;

typedef struct {
    tally_t *tally;
    int id;
} sub_t;

static void on_done(void *arg, smtp_txn_t *t)
{
    sub_t *s = arg;

    s->tally->order[s->tally->dones++] = s->id;
    if (smtp_txn_ok(t)) {
        s->tally->ok++;
    } else {
        s->tally->failed++;
        snprintf(s->tally->err, sizeof(s->tally->err), "%s", smtp_txn_error(t));
    }
}

static smtp_txn_t *one_txn(const char *md, char *name)
{
    smtp_txn_t *t = smtp_txn_new();

    add_message(t);
    smtp_txn_add_maildir(t, md, head_a);
    if (name)
        snprintf(name, SMTP_MAILDIR_NAME_MAX, "%s", smtp_txn_target_name(t, 0));
    return t;
}

/* One submitted while idle goes at once; 19 submitted while it runs wait
 * and go together: two batches for twenty transactions, dones in
 * submission order; the syncs each mode makes for that. */
static void commit_groups(smtp_sync_t mode, uint64_t want_syncs)
{
    env_t *e = env_new();
    smtp_commit_t *gc = smtp_commit_new(e->inst, mode);
    char *md = path2(e->root, "m"), *newd = path2(md, "new");
    tally_t tally = {0};
    sub_t subs[20];
    smtp_commit_stats_t st;

    for (int i = 0; i < 20; i++) {
        subs[i].tally = &tally;
        subs[i].id = i;
        smtp_commit_submit(gc, one_txn(md, NULL), on_done, &subs[i]);
    }
    assert_int_equal(tally.dones, 0); /* never inside submit */
    run_until(e, &tally.dones, 20);
    assert_int_equal(tally.ok, 20);
    for (int i = 0; i < 20; i++)
        assert_int_equal(tally.order[i], i);
    smtp_commit_stats(gc, &st);
    assert_int_equal(st.batches, 2);
    assert_int_equal(st.txns, 20);
    assert_int_equal(st.files, 20);
    assert_int_equal(st.failures, 0);
    assert_int_equal(st.syncs, want_syncs);
    assert_int_equal(count_entries(newd), 20);
    smtp_commit_free(gc);
    free(md);
    free(newd);
    env_free(e);
}

static void test_commit_groups(void **state)
{
    (void)state;
    commit_groups(SMTP_SYNC_FSYNC, 20 + 2); /* a file each, new/ each batch */
    commit_groups(SMTP_SYNC_SYNCFS, 2 + 2); /* twice per batch */
    commit_groups(SMTP_SYNC_AUTO, 2 + 2);   /* 1 file: fsync; 19: syncfs */
}

/* A cancelled transaction: no done; written if its batch had started,
 * never if it was still waiting. */
static void test_commit_cancel(void **state)
{
    env_t *e = env_new();
    smtp_commit_t *gc = smtp_commit_new(e->inst, SMTP_SYNC_SYNCFS);
    char *md = path2(e->root, "m"), *newd = path2(md, "new");
    char na[SMTP_MAILDIR_NAME_MAX], nb[SMTP_MAILDIR_NAME_MAX];
    char nc[SMTP_MAILDIR_NAME_MAX];
    tally_t tally = {0};
    sub_t sa = {&tally, 0}, sb = {&tally, 1}, sc = {&tally, 2};
    smtp_txn_t *a, *b;
    size_t len;
    char *got;

    (void)state;
    a = smtp_commit_submit(gc, one_txn(md, na), on_done, &sa); /* runs */
    b = smtp_commit_submit(gc, one_txn(md, nb), on_done, &sb); /* waits */
    smtp_commit_submit(gc, one_txn(md, nc), on_done, &sc);
    smtp_txn_cancel(a);
    smtp_txn_cancel(b);
    run_until(e, &tally.dones, 1);
    assert_int_equal(tally.dones, 1);
    assert_int_equal(tally.order[0], 2);
    assert_int_equal(tally.ok, 1);
    got = slurp(newd, na, &len); /* its batch had started: written */
    assert_non_null(got);
    free(got);
    got = slurp(newd, nb, &len);
    assert_null(got);
    got = slurp(newd, nc, &len);
    assert_non_null(got);
    free(got);
    assert_int_equal(count_entries(newd), 2);
    smtp_commit_free(gc);
    free(md);
    free(newd);
    env_free(e);
}

/* Freed with one batch running and one transaction waiting: the waiting
 * one fails at once ("shutting down"), the running one still completes
 * and the committer is freed after it (ASan would see a leak or a use
 * after free otherwise). */
static void test_commit_free_busy(void **state)
{
    env_t *e = env_new();
    smtp_commit_t *gc = smtp_commit_new(e->inst, SMTP_SYNC_FSYNC);
    char *md = path2(e->root, "m");
    tally_t tally = {0};
    sub_t sa = {&tally, 0}, sb = {&tally, 1};

    (void)state;
    smtp_commit_submit(gc, one_txn(md, NULL), on_done, &sa);
    smtp_commit_submit(gc, one_txn(md, NULL), on_done, &sb);
    smtp_commit_free(gc);
    assert_int_equal(tally.dones, 1);
    assert_int_equal(tally.order[0], 1);
    assert_int_equal(tally.failed, 1);
    assert_string_equal(tally.err, "shutting down");
    run_until(e, &tally.dones, 2);
    assert_int_equal(tally.ok, 1);
    free(md);
    env_free(e);
}

/* A transaction that fails on the worker reports why; the others in the
 * same batch do not fail with it. */
static void test_commit_failure(void **state)
{
    env_t *e = env_new();
    smtp_commit_t *gc = smtp_commit_new(e->inst, SMTP_SYNC_FSYNC);
    char *md = path2(e->root, "m"), *plain = path2(e->root, "plain");
    char *bad = path2(plain, "Maildir");
    tally_t tally = {0};
    sub_t s[3] = {{&tally, 0}, {&tally, 1}, {&tally, 2}};
    smtp_commit_stats_t st;
    FILE *f = fopen(plain, "w");

    (void)state;
    assert_non_null(f);
    fclose(f);
    smtp_commit_submit(gc, one_txn(md, NULL), on_done, &s[0]);
    smtp_commit_submit(gc, one_txn(bad, NULL), on_done, &s[1]);
    smtp_commit_submit(gc, one_txn(md, NULL), on_done, &s[2]);
    run_until(e, &tally.dones, 3);
    assert_int_equal(tally.ok, 2);
    assert_int_equal(tally.failed, 1);
    assert_non_null(strstr(tally.err, "plain"));
    smtp_commit_stats(gc, &st);
    assert_int_equal(st.failures, 1);
    smtp_commit_free(gc);
    free(md);
    free(plain);
    free(bad);
    env_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maildir_name),
        cmocka_unit_test(test_maildir_deliver),
        cmocka_unit_test(test_batch_fsync),
        cmocka_unit_test(test_batch_syncfs),
        cmocka_unit_test(test_batch_auto),
        cmocka_unit_test(test_batch_bad_queue),
        cmocka_unit_test(test_sync_names),
        cmocka_unit_test(test_commit_groups),
        cmocka_unit_test(test_commit_cancel),
        cmocka_unit_test(test_commit_free_busy),
        cmocka_unit_test(test_commit_failure),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
