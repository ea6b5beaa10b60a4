/*
 * util.c - allocation, time, file and path helpers.
 */
#include "loom.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void loom_oom(void)
{
    static const char msg[] = "loomd: out of memory\n";

    (void)!write(2, msg, sizeof(msg) - 1);
    abort();
}

void *loom_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL)
        loom_oom();
    return p;
}

void *loom_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (p == NULL)
        loom_oom();
    return p;
}

void *loom_realloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (p == NULL)
        loom_oom();
    return p;
}

char *loom_strdup(const char *s)
{
    return loom_strndup(s, strlen(s));
}

char *loom_strndup(const char *s, size_t n)
{
    char *p = loom_malloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

uint64_t loom_now_sec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec;
}

char *loom_read_file(const char *path, size_t max, size_t *len_out)
{
    struct stat st;
    char *buf;
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        errno = EINVAL;
        return NULL;
    }
    if ((size_t)st.st_size > max) {
        close(fd);
        errno = EFBIG;
        return NULL;
    }
    buf = loom_malloc((size_t)st.st_size + 1);
    while (len < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

char *loom_path_resolve(const char *base_file, const char *path)
{
    const char *slash;
    char *out;
    size_t dlen;

    if (path[0] == '/' || base_file == NULL ||
        (slash = strrchr(base_file, '/')) == NULL)
        return loom_strdup(path);
    dlen = (size_t)(slash - base_file);
    out = loom_malloc(dlen + 1 + strlen(path) + 1);
    memcpy(out, base_file, dlen);
    out[dlen] = '/';
    strcpy(out + dlen + 1, path);
    return out;
}

void loom_append(char **buf, size_t *len, size_t *cap, const void *p, size_t n,
                 size_t max)
{
    size_t need = *len + n + 1;

    if (need > *cap) {
        size_t c = *cap ? *cap * 2 : 1024;

        if (max && c > max + 1)
            c = max + 1;
        if (c < need)
            c = need;
        *buf = loom_realloc(*buf, c);
        *cap = c;
    }
    if (n)
        memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = '\0';
}

int loom_parse_size(const char *s, size_t *out)
{
    unsigned long long v;
    char *end;
    int shift = 0;

    if (s == NULL || !isdigit((unsigned char)s[0]))
        return LOOM_ERROR;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0)
        return LOOM_ERROR;
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        shift = 10;
        end++;
        break;
    case 'm':
    case 'M':
        shift = 20;
        end++;
        break;
    case 'g':
    case 'G':
        shift = 30;
        end++;
        break;
    default:
        return LOOM_ERROR;
    }
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end != '\0' || v > (SIZE_MAX >> shift))
        return LOOM_ERROR;
    *out = (size_t)v << shift;
    return LOOM_OK;
}
