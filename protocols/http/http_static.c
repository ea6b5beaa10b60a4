/*
 * http_static.c - the static file handler: files under a location's root
 * (never outside it), index files, directory listings, validators,
 * conditional requests, single ranges, precompressed .gz siblings, and a
 * small-file cache that keeps little files in memory so that serving one
 * costs no system call besides the socket write.
 *
 * Files are opened relative to the root's directory descriptor with
 * openat2(RESOLVE_BENEATH), so neither ".." nor a symlink can lead out of
 * the root; `follow_symlinks = yes` uses plain openat instead.  Kernels
 * without openat2 get the same rule by checking the opened file's real
 * path.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "http.h"

#define FC_BUCKETS 1024
#define FC_MAX_ENTRIES 4096
#define FC_MAX_BYTES (32 * 1024 * 1024)

/* What is being served: a file descriptor or cached bytes. */
typedef struct {
    int fd; /* -1 when DATA holds the bytes */
    const char *data;
    uint64_t size;
    time_t mtime;
    char lm[HTTP_DATE_LEN + 1]; /* mtime as an HTTP date */
    char etag[HTTP_ETAG_MAX];
    char ctype[128];
    int gzip; /* the .gz sibling is being served */
    int vary; /* add Vary: Accept-Encoding */
} sfile_t;

typedef struct fc_entry_s {
    struct fc_entry_s *next;
    const http_location_t *loc;
    char *path; /* normalised request path */
    size_t path_len;
    int gz; /* the answer for clients accepting gzip */
    uint32_t hash;
    time_t checked; /* when last confirmed against the disk */
    dev_t dev;
    ino_t ino;
    sfile_t f;
    char *bytes;
} fc_entry_t;

struct http_fcache_s {
    fc_entry_t *b[FC_BUCKETS];
    size_t n, bytes;
};

http_fcache_t *http_fcache_new(void)
{
    return loom_calloc(1, sizeof(http_fcache_t));
}

static void fc_clear(http_fcache_t *fc)
{
    size_t i;

    for (i = 0; i < FC_BUCKETS; i++) {
        fc_entry_t *e = fc->b[i], *next;

        for (; e; e = next) {
            next = e->next;
            free(e->path);
            free(e->bytes);
            free(e);
        }
        fc->b[i] = NULL;
    }
    fc->n = fc->bytes = 0;
}

void http_fcache_free(http_fcache_t *fc)
{
    if (fc == NULL)
        return;
    fc_clear(fc);
    free(fc);
}

static uint32_t fc_hash(const http_location_t *loc, const char *p, size_t len,
                        int gz)
{
    uint32_t h = (2166136261u ^ (uint32_t)(uintptr_t)loc) + (uint32_t)gz;
    size_t i;

    for (i = 0; i < len; i++)
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h;
}

static fc_entry_t *fc_find(http_fcache_t *fc, const http_location_t *loc,
                           const char *p, size_t len, int gz, uint32_t h)
{
    fc_entry_t *e;

    for (e = fc->b[h % FC_BUCKETS]; e; e = e->next) {
        if (e->hash == h && e->loc == loc && e->gz == gz &&
            e->path_len == len && memcmp(e->path, p, len) == 0)
            return e;
    }
    return NULL;
}

static void fc_remove(http_fcache_t *fc, fc_entry_t *victim)
{
    fc_entry_t **pp = &fc->b[victim->hash % FC_BUCKETS];

    for (; *pp; pp = &(*pp)->next) {
        if (*pp == victim) {
            *pp = victim->next;
            fc->n--;
            fc->bytes -= victim->f.size;
            free(victim->path);
            free(victim->bytes);
            free(victim);
            return;
        }
    }
}

/* ---- opening files under the root ---------------------------------------- */

/* Open REL (no leading '/', already normalised) under LOC's root.  Returns
 * an fd or -1 with errno (ENOENT for anything that would leave the
 * root). */
static int open_under(http_instance_t *hi, const http_location_t *loc,
                      const char *rel, int flags)
{
    struct open_how how;
    char link[64], real[4096];
    ssize_t n;
    size_t rl;
    int fd;

    if (loc->follow_symlinks)
        return openat(loc->root_fd, rel, flags | O_CLOEXEC);
    if (!hi->no_openat2) {
        memset(&how, 0, sizeof(how));
        how.flags = (uint64_t)(flags | O_CLOEXEC);
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        fd = (int)syscall(SYS_openat2, loc->root_fd, rel, &how, sizeof(how));
        if (fd >= 0 || errno != ENOSYS) {
            if (fd < 0 && (errno == EXDEV || errno == ELOOP))
                errno = ENOENT;
            return fd;
        }
        hi->no_openat2 = 1; /* the kernel said ENOSYS */
    }
    fd = openat(loc->root_fd, rel, flags | O_CLOEXEC);
    if (fd < 0)
        return -1;
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, real, sizeof(real) - 1);
    rl = strlen(loc->root);
    if (n < 0 || (size_t)n < rl || memcmp(real, loc->root, rl) != 0 ||
        ((size_t)n > rl && real[rl] != '/')) {
        close(fd);
        errno = ENOENT;
        return -1;
    }
    return fd;
}

static void set_ctype(http_req_t *r, sfile_t *f, const char *name)
{
    http_conf_t *hc = http_conf(r->hi);
    const char *t = http_mime_type(hc->mime, name, hc->default_type);

    if (hc->charset[0] && strncmp(t, "text/", 5) == 0)
        snprintf(f->ctype, sizeof(f->ctype), "%s; charset=%s", t, hc->charset);
    else
        snprintf(f->ctype, sizeof(f->ctype), "%s", t);
}

/* ---- answering --------------------------------------------------------------
 */

static loom_slice_t field(const http_req_t *r, const char *name)
{
    const http_field_t *f = http_req_field(r, name);
    loom_slice_t none = {NULL, 0};

    return f ? f->value : none;
}

/* Answer with F (the fd, when there is one, passes to the output layer or
 * is closed). */
static void serve(http_req_t *r, sfile_t *f)
{
    http_cond_t cond;
    http_range_t rg;
    loom_slice_t range;
    uint64_t off = 0, len = f->size;
    const char *lm = f->lm;
    int rc;

    memset(&cond, 0, sizeof(cond));
    cond.etag = f->etag;
    cond.mtime = f->mtime;
    cond.if_match = field(r, "if-match");
    cond.if_none_match = field(r, "if-none-match");
    cond.if_modified_since = field(r, "if-modified-since");
    cond.if_unmodified_since = field(r, "if-unmodified-since");
    cond.if_range = field(r, "if-range");
    if (f->vary)
        http_resp_header(r, "Vary", "Accept-Encoding");
    rc = cond.if_match.p || cond.if_none_match.p || cond.if_modified_since.p ||
                 cond.if_unmodified_since.p
             ? http_cond_eval(&cond, 1)
             : 0;
    if (rc == 304) {
        http_resp_status(r, 304);
        http_resp_header(r, "ETag", f->etag);
        http_resp_header(r, "Last-Modified", lm);
        http_resp_end(r);
        goto out;
    }
    if (rc == 412) {
        http_resp_error(r, 412);
        goto out;
    }
    http_resp_header(r, "Content-Type", f->ctype);
    http_resp_header(r, "Last-Modified", lm);
    http_resp_header(r, "ETag", f->etag);
    http_resp_header(r, "Accept-Ranges", "bytes");
    if (f->gzip)
        http_resp_header(r, "Content-Encoding", "gzip");
    range = field(r, "range");
    if (range.p && r->method_id == HTTP_M_GET && http_cond_if_range(&cond)) {
        switch (http_range_parse(range.p, range.len, f->size, &rg)) {
        case HTTP_RANGE_OK:
            off = rg.first;
            len = rg.last - rg.first + 1;
            http_resp_status(r, 206);
            http_resp_headerf(r, "Content-Range", "bytes %llu-%llu/%llu",
                              (unsigned long long)rg.first,
                              (unsigned long long)rg.last,
                              (unsigned long long)f->size);
            break;
        case HTTP_RANGE_UNSATISFIABLE:
            r->resp_hlen = 0; /* an error page, not the file's fields */
            r->resp_nf = 0;
            http_resp_headerf(r, "Content-Range", "bytes */%llu",
                              (unsigned long long)f->size);
            http_resp_error(r, 416);
            goto out;
        default:
            break;
        }
    }
    http_resp_length(r, (int64_t)len);
    if (f->fd < 0) {
        http_resp_write(r, f->data + off, (size_t)len);
        http_resp_end(r);
        return;
    }
    http_resp_file(r, f->fd, (off_t)off, len, 1);
    f->fd = -1;
    return;
out:
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

static int html_escape(char *out, size_t cap, const char *s)
{
    size_t o = 0;

    for (; *s && o + 7 < cap; s++) {
        const char *rep = NULL;

        switch (*s) {
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '&':
            rep = "&amp;";
            break;
        case '"':
            rep = "&quot;";
            break;
        }
        if (rep) {
            memcpy(out + o, rep, strlen(rep));
            o += strlen(rep);
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
    return (int)o;
}

static int url_escape(char *out, size_t cap, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (; *s && o + 4 < cap; s++) {
        unsigned char ch = (unsigned char)*s;

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || strchr("-._~/", ch)) {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    out[o] = '\0';
    return (int)o;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* An HTML listing of directory FD (consumed). */
static void autoindex(http_req_t *r, int fd)
{
    DIR *d = fdopendir(fd);
    struct dirent *de;
    char **names = NULL, esc[1024], uesc[1536], title[1024];
    size_t n = 0, cap = 0, i, blen = 0, bcap = 4096;
    char *body;
    int k;

    if (d == NULL) {
        close(fd);
        http_resp_error(r, 500);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);
        int isdir = de->d_type == DT_DIR;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (de->d_type == DT_UNKNOWN || de->d_type == DT_LNK) {
            struct stat st;

            isdir = fstatat(dirfd(d), de->d_name, &st, 0) == 0 &&
                    S_ISDIR(st.st_mode);
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = loom_realloc(names, cap * sizeof(char *));
        }
        names[n] = loom_malloc(nl + 2);
        memcpy(names[n], de->d_name, nl);
        names[n][nl] = isdir ? '/' : '\0';
        names[n][nl + 1] = '\0';
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof(char *), name_cmp);
    body = loom_malloc(bcap);
    html_escape(title, sizeof(title), r->npath);
    blen = (size_t)snprintf(body, bcap,
                            "<html><head><title>Index of %s</title></head>"
                            "<body><h1>Index of %s</h1><pre>\n"
                            "<a href=\"../\">../</a>\n",
                            title, title);
    for (i = 0; i < n; i++) {
        html_escape(esc, sizeof(esc), names[i]);
        url_escape(uesc, sizeof(uesc), names[i]);
        if (blen + strlen(esc) + strlen(uesc) + 32 > bcap) {
            bcap = bcap * 2 + strlen(esc) + strlen(uesc) + 32;
            body = loom_realloc(body, bcap);
        }
        k = snprintf(body + blen, bcap - blen, "<a href=\"%s\">%s</a>\n", uesc,
                     esc);
        blen += (size_t)k;
        free(names[i]);
    }
    free(names);
    if (blen + 32 > bcap)
        body = loom_realloc(body, bcap = blen + 32);
    blen +=
        (size_t)snprintf(body + blen, bcap - blen, "</pre></body></html>\n");
    http_resp_simple(r, 200, "text/html", body, blen);
    free(body);
}

static void redirect_slash(http_req_t *r)
{
    size_t need = r->path.len + r->query.len + 3;
    char *loc = loom_malloc(need);
    int n = snprintf(loc, need, "%.*s/", (int)r->path.len, r->path.p);

    if (r->query.len)
        snprintf(loc + n, need - (size_t)n, "?%.*s", (int)r->query.len,
                 r->query.p);
    http_resp_header(r, "Location", loc);
    free(loc);
    http_resp_error(r, 301);
}

static int open_errno_status(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
        return 404;
    case EACCES:
    case EPERM:
        return 403;
    default:
        return 500;
    }
}

static void static_process(http_req_t *r)
{
    const http_location_t *loc = r->loc;
    http_instance_t *hi = r->hi;
    http_conf_t *hc = http_conf(hi);
    http_fcache_t *fc = hi->fcache;
    char rel[4096 + 256];
    const char *name;
    sfile_t f;
    struct stat st;
    fc_entry_t *e = NULL;
    uint32_t h = 0;
    time_t now;
    int fd, use_cache, want_gz = 0;

    if (r->method_id != HTTP_M_GET && r->method_id != HTTP_M_HEAD) {
        if (r->method_id == HTTP_M_OPTIONS) {
            http_resp_status(r, 204);
            http_resp_header(r, "Allow", "GET, HEAD, OPTIONS");
            http_resp_length(r, 0);
            http_resp_end(r);
            return;
        }
        http_resp_header(r, "Allow", "GET, HEAD");
        http_resp_error(r, 405);
        return;
    }
    if (loc->gzip_static) {
        const http_field_t *ae = http_req_field(r, "accept-encoding");

        want_gz = ae && http_list_has(ae->value.p, ae->value.len, "gzip");
    }
    use_cache = hc->file_cache_max > 0 && hc->file_cache_valid > 0;
    now = time(NULL);
    if (use_cache) {
        h = fc_hash(loc, r->npath, r->npath_len, want_gz);
        e = fc_find(fc, loc, r->npath, r->npath_len, want_gz, h);
        if (e && now - e->checked < (time_t)hc->file_cache_valid) {
            f = e->f;
            f.fd = -1;
            f.data = e->bytes;
            serve(r, &f);
            return;
        }
    }
    if (r->npath_len + 1 >= sizeof(rel) - 256) { /* past PATH_MAX */
        http_resp_error(r, 404);
        return;
    }
    memcpy(rel, r->npath + 1, r->npath_len); /* with its NUL */
    if (rel[0] == '\0')
        strcpy(rel, ".");
    fd = open_under(hi, loc, rel, O_RDONLY | O_NONBLOCK);
    if (fd < 0) {
        http_resp_error(r, open_errno_status(errno));
        goto drop;
    }
    if (fstat(fd, &st) != 0) {
        close(fd);
        http_resp_error(r, 500);
        goto drop;
    }
    if (S_ISDIR(st.st_mode)) {
        size_t rl = strlen(rel), i;

        if (r->npath[r->npath_len - 1] != '/') {
            close(fd);
            redirect_slash(r);
            return;
        }
        for (i = 0; loc->index && loc->index[i]; i++) {
            int ifd;

            snprintf(rel + rl, sizeof(rel) - rl, "%s%s",
                     rel[rl - 1] == '/' ? "" : "/", loc->index[i]);
            ifd = open_under(hi, loc, rel, O_RDONLY | O_NONBLOCK);
            if (ifd >= 0 && fstat(ifd, &st) == 0 && S_ISREG(st.st_mode)) {
                close(fd);
                fd = ifd;
                break;
            }
            if (ifd >= 0)
                close(ifd);
            rel[rl] = '\0';
        }
        if (S_ISDIR(st.st_mode)) {
            if (loc->autoindex) {
                autoindex(r, fd);
            } else {
                close(fd);
                http_resp_error(r, 403);
            }
            goto drop;
        }
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        http_resp_error(r, 404);
        goto drop;
    }
    memset(&f, 0, sizeof(f));
    name = strrchr(rel, '/');
    name = name ? name + 1 : rel;
    set_ctype(r, &f, name);
    if (loc->gzip_static) {
        size_t rl = strlen(rel);
        struct stat gst;
        int gfd;

        memcpy(rel + rl, ".gz", 4);
        gfd = open_under(hi, loc, rel, O_RDONLY | O_NONBLOCK);
        if (gfd >= 0 && fstat(gfd, &gst) == 0 && S_ISREG(gst.st_mode)) {
            f.vary = 1;
            if (want_gz) {
                close(fd);
                fd = gfd;
                gfd = -1;
                st = gst;
                f.gzip = 1;
            }
        }
        if (gfd >= 0)
            close(gfd);
    }
    f.fd = fd;
    f.size = (uint64_t)st.st_size;
    f.mtime = st.st_mtime;
    http_date_format(f.mtime, f.lm); /* kept in the cache entry */
    http_etag_make(st.st_mtime, f.size, f.etag);
    if (use_cache && f.size <= hc->file_cache_max) {
        if (e && e->dev == st.st_dev && e->ino == st.st_ino &&
            e->f.size == f.size && e->f.mtime == f.mtime) {
            e->checked = now; /* unchanged on disk */
        } else {
            char *bytes = loom_malloc(f.size ? f.size : 1);

            if (pread(fd, bytes, f.size, 0) == (ssize_t)f.size) {
                if (e)
                    fc_remove(fc, e);
                if (fc->n >= FC_MAX_ENTRIES ||
                    fc->bytes + f.size > FC_MAX_BYTES)
                    fc_clear(fc);
                e = loom_calloc(1, sizeof(*e));
                e->loc = loc;
                e->path = loom_strndup(r->npath, r->npath_len);
                e->path_len = r->npath_len;
                e->gz = want_gz;
                e->hash = h;
                e->checked = now;
                e->dev = st.st_dev;
                e->ino = st.st_ino;
                e->f = f;
                e->f.fd = -1;
                e->bytes = bytes;
                e->next = fc->b[h % FC_BUCKETS];
                fc->b[h % FC_BUCKETS] = e;
                fc->n++;
                fc->bytes += f.size;
            } else {
                free(bytes);
            }
        }
    } else if (e) {
        fc_remove(fc, e); /* grew past the cache's size limit */
    }
    serve(r, &f);
    return;
drop:
    if (e)
        fc_remove(fc, e);
}

const http_handler_t http_handler_static = {"static", static_process};
