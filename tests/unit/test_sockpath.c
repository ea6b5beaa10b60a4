/*
 * test_sockpath.c - UNIX socket addresses for paths of any length
 * (src/sockpath.c): how each path is classified, at the limits, and a
 * real bind, connect and unlink at a path longer than sun_path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sockpath.h"

/* A string of N copies of C, in BUF (N + 1 bytes). */
static char *rep(char *buf, char c, size_t n)
{
    memset(buf, c, n);
    buf[n] = '\0';
    return buf;
}

static void test_limits(void **state)
{
    (void)state;
    assert_int_equal(LOOM_SOCK_PATH_MAX, 107);
    assert_int_equal(LOOM_SOCK_NAME_MAX, 82);
}

/* One path built from a directory length and a file name length. */
typedef struct {
    size_t dirlen;  /* bytes before the last slash; 0: no slash */
    size_t namelen; /* bytes after it */
    loom_sockpath_kind_t want;
} kind_case_t;

static const kind_case_t kind_cases[] = {
    {0, 1, LOOM_SOCKPATH_DIRECT},
    {0, 107, LOOM_SOCKPATH_DIRECT},
    {50, 56, LOOM_SOCKPATH_DIRECT}, /* 50 + "/" + 56 = 107 */
    {50, 57, LOOM_SOCKPATH_VIA_DIR},
    {200, 82, LOOM_SOCKPATH_VIA_DIR},
    {200, 83, LOOM_SOCKPATH_BAD},
    {0, 82 + 26, LOOM_SOCKPATH_BAD}, /* a bare long name: 108 */
    {0, 108, LOOM_SOCKPATH_BAD},
    {120, 0, LOOM_SOCKPATH_BAD}, /* a long directory, no name */
    {3000, 10, LOOM_SOCKPATH_VIA_DIR},
};

static void test_kind(void **state)
{
    static char path[4400], dir[4000], name[200];
    size_t i, got_len;

    (void)state;
    for (i = 0; i < sizeof(kind_cases) / sizeof(kind_cases[0]); i++) {
        const kind_case_t *k = &kind_cases[i];

        rep(name, 'n', k->namelen);
        if (k->dirlen)
            snprintf(path, sizeof(path), "/%s/%s", rep(dir, 'd', k->dirlen - 1),
                     name);
        else
            snprintf(path, sizeof(path), "%s", name);
        got_len = 999;
        if (loom_sockpath_kind(path, &got_len) != k->want)
            fail_msg("case %zu (%zu/%zu): kind %d, want %d", i, k->dirlen,
                     k->namelen, (int)loom_sockpath_kind(path, NULL),
                     (int)k->want);
        assert_int_equal(got_len, k->namelen);
    }
    assert_int_equal(loom_sockpath_kind("", NULL), LOOM_SOCKPATH_BAD);
}

static void test_short_path_as_is(void **state)
{
    loom_sockaddr_un_t a;

    (void)state;
    assert_int_equal(loom_sockaddr_un("/run/loom/ctl.sock", &a), 0);
    assert_int_equal(a.dirfd, -1);
    assert_int_equal(a.sun.sun_family, AF_UNIX);
    assert_string_equal(a.sun.sun_path, "/run/loom/ctl.sock");
    assert_int_equal(a.len, offsetof(struct sockaddr_un, sun_path) +
                                strlen("/run/loom/ctl.sock") + 1);
    loom_sockaddr_un_done(&a);
    loom_sockaddr_un_done(&a); /* idempotent */
}

static void test_bad_paths(void **state)
{
    loom_sockaddr_un_t a;
    char path[300], name[100], longname[100];

    (void)state;
    snprintf(path, sizeof(path), "/tmp/%s/%s", rep(name, 'd', 90),
             rep(longname, 'n', LOOM_SOCK_NAME_MAX + 1));
    errno = 0;
    assert_int_equal(loom_sockaddr_un(path, &a), -1);
    assert_int_equal(errno, ENAMETOOLONG);
    assert_int_equal(a.dirfd, -1);
    errno = 0;
    assert_int_equal(loom_sockaddr_un("", &a), -1);
    assert_int_equal(errno, EINVAL);
    /* a missing directory: open's error, nothing left open */
    snprintf(path, sizeof(path), "/nonexistent-loom-dir/%s/x.sock",
             rep(name, 'd', 90));
    errno = 0;
    assert_int_equal(loom_sockaddr_un(path, &a), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(a.dirfd, -1);
}

/* The lowest free descriptor: to see that nothing stays open. */
static int lowest_free_fd(void)
{
    int fd = dup(0), r;

    r = fd;
    if (fd >= 0)
        close(fd);
    return r;
}

static void test_bind_connect_long(void **state)
{
    char top[] = "/tmp/loom-sockpath-XXXXXX";
    char dir[400], path[500], seg[41], buf[8];
    loom_sockaddr_un_t a;
    int lfd, cfd, sfd, before;
    struct stat st;

    (void)state;
    assert_non_null(mkdtemp(top));
    snprintf(dir, sizeof(dir), "%s/%s", top, rep(seg, 'a', 40));
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/%s",
             rep(seg, 'b', 40));
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/%s.sock", dir, rep(seg, 's', 40));
    assert_true(strlen(path) > 120);

    before = lowest_free_fd();
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(lfd >= 0);
    assert_int_equal(loom_sockaddr_un(path, &a), 0);
    assert_true(a.dirfd >= 0);
    assert_true(strncmp(a.sun.sun_path, "/proc/self/fd/", 14) == 0);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a.sun, a.len), 0);
    loom_sockaddr_un_done(&a);
    assert_int_equal(a.dirfd, -1);
    assert_int_equal(listen(lfd, 4), 0);
    /* the socket is where the full path says */
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));

    cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(cfd >= 0);
    assert_int_equal(loom_sockaddr_un(path, &a), 0);
    assert_int_equal(connect(cfd, (struct sockaddr *)&a.sun, a.len), 0);
    loom_sockaddr_un_done(&a);
    sfd = accept(lfd, NULL, NULL);
    assert_true(sfd >= 0);
    assert_int_equal(write(cfd, "ping", 4), 4);
    assert_int_equal(read(sfd, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "ping", 4);
    close(sfd);
    close(cfd);
    close(lfd);
    /* no directory descriptor left behind */
    assert_int_equal(lowest_free_fd(), before);
    /* unlink takes the full path; then nothing listens there */
    assert_int_equal(unlink(path), 0);
    cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(loom_sockaddr_un(path, &a), 0);
    assert_int_equal(connect(cfd, (struct sockaddr *)&a.sun, a.len), -1);
    assert_int_equal(errno, ENOENT);
    loom_sockaddr_un_done(&a);
    close(cfd);
    rmdir(dir);
    *strrchr(dir, '/') = '\0';
    rmdir(dir);
    rmdir(top);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_kind),
        cmocka_unit_test(test_short_path_as_is),
        cmocka_unit_test(test_bad_paths),
        cmocka_unit_test(test_bind_connect_long),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
