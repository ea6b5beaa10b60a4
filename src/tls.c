/*
 * tls.c - TLS profiles (server contexts, SNI, ALPN, self-signed
 * certificates), the TLS transport and outbound client contexts.
 */
#include "tls.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define LOOM_TLS12_CIPHERS                                                     \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"               \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"               \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

typedef struct {
    char *name;
    SSL_CTX *ctx;
    char **names; /* SNI names, borrowed from nothing: owned */
    size_t n_names;
} tls_profile_t;

struct loom_tls_s {
    tls_profile_t *p;
    size_t n;
    struct tls_client_ctx_s *clients; /* client contexts, built on use */
    size_t n_clients_built;
    int ktls; /* SSL_OP_ENABLE_KTLS on the server contexts */
};

static void tls_client_ctx_free_all(loom_tls_t *t);

/* OpenSSL reasons an operator meets when a certificate or key file is
 * wrong, in words that say what to look at. */
static const struct {
    int lib, reason;
    const char *words;
} tls_reasons[] = {
    {ERR_LIB_PEM, PEM_R_NO_START_LINE,
     "it holds no PEM data (no -----BEGIN line)"},
    {ERR_LIB_PEM, PEM_R_BAD_END_LINE, "its PEM data is cut short"},
    {ERR_LIB_PEM, PEM_R_BAD_BASE64_DECODE, "its PEM data is damaged"},
    {ERR_LIB_PEM, PEM_R_BAD_DECRYPT,
     "it is encrypted (loomd reads no "
     "passphrase)"},
    {ERR_LIB_PEM, PEM_R_PROBLEMS_GETTING_PASSWORD,
     "it is encrypted (loomd reads no passphrase)"},
    {ERR_LIB_OSSL_DECODER, ERR_R_UNSUPPORTED,
     "it holds no key in PEM form that loomd can read"},
    {ERR_LIB_X509, X509_R_KEY_VALUES_MISMATCH,
     "it does not match the certificate"},
    {ERR_LIB_SSL, SSL_R_EE_KEY_TOO_SMALL, "its key is too small"},
    {ERR_LIB_SSL, SSL_R_CA_MD_TOO_WEAK, "it is signed with a weak digest"},
};

/* The first OpenSSL error queued, in words: an operator's reason from
 * tls_reasons, else OpenSSL's reason text ("bad decrypt"), not its code;
 * a system error as errno's words.  Clears the queue. */
static const char *tls_errstr(char *buf, size_t len)
{
    unsigned long e = ERR_peek_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    size_t i;

    for (i = 0; e && i < sizeof(tls_reasons) / sizeof(tls_reasons[0]); i++) {
        if (ERR_GET_LIB(e) == tls_reasons[i].lib &&
            ERR_GET_REASON(e) == tls_reasons[i].reason) {
            reason = tls_reasons[i].words;
            break;
        }
    }
    if (e == 0 || ERR_SYSTEM_ERROR(e))
        snprintf(buf, len, "%s", errno ? strerror(errno) : "unknown error");
    else if (reason)
        snprintf(buf, len, "%s", reason);
    else
        ERR_error_string_n(e, buf, len);
    ERR_clear_error();
    return buf;
}

/* Check that WHAT (a certificate, a key) at PATH is a file loomd can
 * read, before OpenSSL reports it in its own terms.  0, or -1 with
 * "cannot load WHAT PATH: reason" in ERR. */
static int tls_readable(const char *what, const char *path, char *err,
                        size_t errlen)
{
    FILE *f = fopen(path, "r");
    struct stat st;
    int dir;

    if (f == NULL) {
        snprintf(err, errlen, "cannot load %s %s: %s", what, path,
                 strerror(errno));
        return -1;
    }
    dir = fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode);
    fclose(f);
    if (dir) {
        snprintf(err, errlen, "cannot load %s %s: it is a directory", what,
                 path);
        return -1;
    }
    return 0;
}

/* ---- SNI and ALPN ------------------------------------------------------- */

static int tls_name_match(const char *pattern, const char *name)
{
    if (pattern[0] == '*' && pattern[1] == '.') {
        const char *dot = strchr(name, '.');

        return dot && dot != name && strcasecmp(dot + 1, pattern + 2) == 0;
    }
    return strcasecmp(pattern, name) == 0;
}

static int tls_on_sni(SSL *ssl, int *alert, void *arg)
{
    loom_conn_t *c = SSL_get_app_data(ssl);
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    loom_tls_t *t;
    size_t i, j;

    (void)alert;
    (void)arg;
    if (c == NULL || name == NULL || (t = c->srv->tls) == NULL)
        return SSL_TLSEXT_ERR_OK;
    for (i = 0; i < t->n; i++) {
        for (j = 0; j < t->p[i].n_names; j++) {
            if (tls_name_match(t->p[i].names[j], name)) {
                if (SSL_get_SSL_CTX(ssl) != t->p[i].ctx)
                    SSL_set_SSL_CTX(ssl, t->p[i].ctx);
                return SSL_TLSEXT_ERR_OK;
            }
        }
    }
    return SSL_TLSEXT_ERR_OK;
}

static int tls_on_alpn(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
    loom_conn_t *c = SSL_get_app_data(ssl);
    char **ids;
    unsigned int i;

    (void)arg;
    if (c == NULL || c->inst == NULL || (ids = c->inst->alpn) == NULL)
        return SSL_TLSEXT_ERR_NOACK;
    /* Server preference: the first of ours the client offers. */
    for (; *ids; ids++) {
        size_t idlen = strlen(*ids);

        for (i = 0; i < inlen; i += 1u + in[i]) {
            if (in[i] == idlen && i + 1u + idlen <= inlen &&
                memcmp(in + i + 1, *ids, idlen) == 0) {
                *out = in + i + 1;
                *outlen = in[i];
                return SSL_TLSEXT_ERR_OK;
            }
        }
    }
    return SSL_TLSEXT_ERR_NOACK;
}

/* ---- contexts ----------------------------------------------------------- */

/* Does the kernel offer TLS offload?  1 when "tls" is among the loaded
 * upper-layer protocols (the tls module, CONFIG_TLS). */
static int tls_kernel_ktls(void)
{
    char buf[256], *tok, *save = NULL;
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "re");
    int found = 0;

    if (f == NULL)
        return 0;
    if (fgets(buf, sizeof(buf), f)) {
        for (tok = strtok_r(buf, " \t\n", &save); tok && !found;
             tok = strtok_r(NULL, " \t\n", &save))
            found = strcmp(tok, "tls") == 0;
    }
    fclose(f);
    return found;
}

/* KTLS: ask OpenSSL to hand the record layer to the kernel after the
 * handshake (it falls back to its own when the kernel or the cipher
 * cannot). */
/* client_certs: any certificate the client offers is accepted here; what
 * it is worth is decided by the module that reads its fingerprint. */
static int tls_accept_any_cert(int ok, X509_STORE_CTX *store)
{
    (void)ok;
    (void)store;
    return 1;
}

static SSL_CTX *tls_ctx_base(const char *min_version, const char *ciphers,
                             int ktls, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    static const unsigned char sid_ctx[] = "loomd";
    int minv = TLS1_2_VERSION;

    if (ctx == NULL) {
        snprintf(err, errlen, "cannot create a TLS context");
        return NULL;
    }
    if (min_version && strcmp(min_version, "TLSv1.3") == 0)
        minv = TLS1_3_VERSION;
    SSL_CTX_set_min_proto_version(ctx, minv);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_COMPRESSION);
#ifdef SSL_OP_ENABLE_KTLS
    if (ktls)
        SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
#else
    (void)ktls;
#endif
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    /* one read(2) for what the socket holds, not two per record */
    SSL_CTX_set_read_ahead(ctx, 1);
    if (SSL_CTX_set_cipher_list(ctx, ciphers ? ciphers : LOOM_TLS12_CIPHERS) !=
        1) {
        snprintf(err, errlen, "bad cipher list '%s'", ciphers);
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
    SSL_CTX_set_tlsext_servername_callback(ctx, tls_on_sni);
    SSL_CTX_set_alpn_select_cb(ctx, tls_on_alpn, NULL);
    return ctx;
}

/* A self-signed P-256 certificate for localhost, made in memory. */
static int tls_self_signed(SSL_CTX *ctx, char *err, size_t errlen)
{
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name;
    X509_EXTENSION *ext;
    X509V3_CTX v3;
    unsigned char serial[8];
    char ebuf[256];
    int ok = 0;

    if (pkey == NULL || x == NULL)
        goto out;
    RAND_bytes(serial, sizeof(serial));
    serial[0] &= 0x7f;
    X509_set_version(x, 2);
    ASN1_INTEGER_set_uint64(
        X509_get_serialNumber(x),
        ((uint64_t)serial[0] << 56) | ((uint64_t)serial[1] << 48) |
            ((uint64_t)serial[2] << 40) | ((uint64_t)serial[3] << 32) |
            ((uint64_t)serial[4] << 24) | ((uint64_t)serial[5] << 16) |
            ((uint64_t)serial[6] << 8) | serial[7]);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 365L * 86400);
    X509_set_pubkey(x, pkey);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                               (const unsigned char *)"loomd self-signed", -1,
                               -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
                              "DNS:localhost,IP:127.0.0.1,IP:::1");
    if (ext == NULL)
        goto out;
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    if (X509_sign(x, pkey, EVP_sha256()) == 0)
        goto out;
    if (SSL_CTX_use_certificate(ctx, x) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, pkey) != 1)
        goto out;
    ok = 1;
out:
    if (!ok)
        snprintf(err, errlen, "cannot generate a self-signed certificate: %s",
                 tls_errstr(ebuf, sizeof(ebuf)));
    X509_free(x);
    EVP_PKEY_free(pkey);
    return ok ? 0 : -1;
}

/* Which file of a profile tls_load found wrong. */
enum { TLS_BAD_CERT = 1, TLS_BAD_KEY, TLS_BAD_CHAIN };

/* Load CERT (with its chain), optional CHAIN and KEY into CTX.  Returns 0,
 * or TLS_BAD_CERT/KEY/CHAIN with the reason in ERR. */
static int tls_load(SSL_CTX *ctx, const char *cert, const char *key,
                    const char *chain, char *err, size_t errlen)
{
    char ebuf[256];

    if (tls_readable("certificate", cert, err, errlen) != 0)
        return TLS_BAD_CERT;
    if (tls_readable("key", key, err, errlen) != 0)
        return TLS_BAD_KEY;
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        snprintf(err, errlen, "cannot load certificate %s: %s", cert,
                 tls_errstr(ebuf, sizeof(ebuf)));
        return TLS_BAD_CERT;
    }
    if (chain) {
        FILE *f;
        X509 *x;

        if (tls_readable("chain", chain, err, errlen) != 0)
            return TLS_BAD_CHAIN;
        if ((f = fopen(chain, "r")) == NULL) {
            snprintf(err, errlen, "cannot load chain %s: %s", chain,
                     strerror(errno));
            return TLS_BAD_CHAIN;
        }
        while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
            if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
                X509_free(x);
                fclose(f);
                snprintf(err, errlen, "cannot load chain %s: %s", chain,
                         tls_errstr(ebuf, sizeof(ebuf)));
                return TLS_BAD_CHAIN;
            }
        }
        ERR_clear_error();
        fclose(f);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        unsigned long e = ERR_peek_error();

        if (e == 0 || (ERR_GET_LIB(e) == ERR_LIB_X509 &&
                       ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)) {
            ERR_clear_error();
            snprintf(err, errlen, "key %s does not match certificate %s", key,
                     cert);
        } else {
            snprintf(err, errlen, "cannot load key %s: %s", key,
                     tls_errstr(ebuf, sizeof(ebuf)));
        }
        return TLS_BAD_KEY;
    }
    return 0;
}

loom_tls_t *loom_tls_new(loom_config_t *cfg, char *err, size_t errlen)
{
    loom_tls_t *t = loom_calloc(1, sizeof(*t));
    char msg[512];
    size_t i, j;

    t->p = loom_calloc(cfg->n_tls ? cfg->n_tls : 1, sizeof(*t->p));
    t->ktls = cfg->ktls == LOOM_KTLS_ON ||
              (cfg->ktls == LOOM_KTLS_AUTO && tls_kernel_ktls());
    for (i = 0; i < cfg->n_tls; i++) {
        loom_tls_profile_conf_t *pc = &cfg->tls[i];
        tls_profile_t *p = &t->p[t->n];
        const char *where = NULL;

        p->ctx = tls_ctx_base(pc->min_version, pc->ciphers, t->ktls, msg,
                              sizeof(msg));
        if (p->ctx == NULL)
            goto fail;
        if (pc->client_certs)
            SSL_CTX_set_verify(p->ctx, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE,
                               tls_accept_any_cert);
        t->n++;
        p->name = loom_strdup(pc->name);
        if (pc->self_signed) {
            if (tls_self_signed(p->ctx, msg, sizeof(msg)) != 0)
                goto fail;
        } else if (pc->cert && pc->key) {
            int bad = tls_load(p->ctx, pc->cert, pc->key, pc->chain, msg,
                               sizeof(msg));

            /* Name the line of the file at fault, not the section's. */
            where = bad == TLS_BAD_CERT  ? pc->cert_where
                    : bad == TLS_BAD_KEY ? pc->key_where
                                         : pc->chain_where;
            if (bad != 0)
                goto fail;
        } else {
            snprintf(msg, sizeof(msg),
                     "needs cert and key, or self_signed = yes");
            goto fail;
        }
        p->n_names = pc->n_server_names;
        p->names = loom_calloc(p->n_names ? p->n_names : 1, sizeof(char *));
        for (j = 0; j < p->n_names; j++)
            p->names[j] = loom_strdup(pc->server_names[j]);
        continue;
    fail:
        snprintf(err, errlen, "%s: tls \"%s\": %s", where ? where : pc->where,
                 pc->name, msg);
        loom_tls_free(t);
        return NULL;
    }
    return t;
}

void loom_tls_free(loom_tls_t *t)
{
    size_t i, j;

    if (t == NULL)
        return;
    for (i = 0; i < t->n; i++) {
        SSL_CTX_free(t->p[i].ctx);
        free(t->p[i].name);
        for (j = 0; j < t->p[i].n_names; j++)
            free(t->p[i].names[j]);
        free(t->p[i].names);
    }
    free(t->p);
    tls_client_ctx_free_all(t);
    free(t);
}

static SSL_CTX *tls_profile_ctx(loom_tls_t *t, const char *name)
{
    size_t i;

    for (i = 0; t && i < t->n; i++) {
        if (strcmp(t->p[i].name, name) == 0)
            return t->p[i].ctx;
    }
    return NULL;
}

SSL_CTX *loom_tls_listener_ctx(loom_tls_t *t, const loom_endpoint_t *ep,
                               char *err, size_t errlen)
{
    SSL_CTX *ctx;

    if (ep->profile[0]) {
        ctx = tls_profile_ctx(t, ep->profile);
        if (ctx == NULL) {
            snprintf(err, errlen, "no tls profile named '%s'", ep->profile);
            return NULL;
        }
        SSL_CTX_up_ref(ctx);
        return ctx;
    }
    ctx = tls_ctx_base(NULL, NULL, t ? t->ktls : 0, err, errlen);
    if (ctx == NULL)
        return NULL;
    if (tls_load(ctx, ep->cert, ep->key, NULL, err, errlen) != 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

SSL *loom_tls_server_ssl(loom_conn_t *c, const char *profile)
{
    SSL_CTX *ctx = NULL;
    SSL *ssl;

    if (profile)
        ctx = tls_profile_ctx(c->srv->tls, profile);
    else if (c->ls)
        ctx = c->ls->ssl_ctx;
    if (ctx == NULL || (ssl = SSL_new(ctx)) == NULL)
        return NULL;
    SSL_set_fd(ssl, c->fd);
    SSL_set_accept_state(ssl);
    SSL_set_app_data(ssl, c);
    return ssl;
}

/* ---- client contexts -----------------------------------------------------
 *
 * One SSL_CTX per (verify, CA file, ALPN list), built on first use and kept
 * with the server's profile set: the CA bundle is read once, not once per
 * connection, and again after a reload (which frees the set). */

typedef struct tls_client_ctx_s {
    int verify;
    char *ca; /* "" for the system store */
    unsigned char alpn[256];
    size_t alpn_len;
    SSL_CTX *ctx;
    struct tls_client_ctx_s *next;
} tls_client_ctx_t;

static void tls_client_ctx_free_all(loom_tls_t *t)
{
    while (t->clients) {
        tls_client_ctx_t *cc = t->clients;

        t->clients = cc->next;
        SSL_CTX_free(cc->ctx); /* SSLs in use keep their own reference */
        free(cc->ca);
        free(cc);
    }
}

/* "h2,http/1.1" in ALPN wire form into OUT (CAP bytes); -1 when an id is
 * empty or too long, or the list does not fit. */
static int tls_alpn_wire(const char *list, unsigned char *out, size_t cap,
                         size_t *len)
{
    size_t n = 0;

    *len = 0;
    if (list == NULL || list[0] == '\0')
        return 0;
    for (;;) {
        const char *comma = strchr(list, ',');
        size_t idlen = comma ? (size_t)(comma - list) : strlen(list);

        if (idlen == 0 || idlen > 255 || n + 1 + idlen > cap)
            return -1;
        out[n++] = (unsigned char)idlen;
        memcpy(out + n, list, idlen);
        n += idlen;
        if (comma == NULL)
            break;
        list = comma + 1;
    }
    *len = n;
    return 0;
}

/* Whether DIR (a directory of OpenSSL's c_rehash links, HASH.N) holds any
 * certificate. */
static int tls_dir_has_certs(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;

    if (d == NULL)
        return 0;
    while (!found && (e = readdir(d)) != NULL) {
        const char *n = e->d_name;

        found = strlen(n) > 9 && strspn(n, "0123456789abcdef") == 8 &&
                n[8] == '.' && strspn(n + 9, "0123456789") == strlen(n + 9);
    }
    closedir(d);
    return found;
}

/* OpenSSL accepts a system store that is not there (no ca-certificates
 * package: its default file missing, its directory empty) and then fails
 * every verification as "unable to get local issuer certificate".  Say
 * what is missing instead: 0 if CTX's store (set to the default paths) has
 * certificates, -1 with ERR set if it has none. */
static int tls_system_store_check(SSL_CTX *ctx, char *err, size_t errlen)
{
    const char *file = getenv(X509_get_default_cert_file_env());
    const char *dirs = getenv(X509_get_default_cert_dir_env());
    char buf[PATH_MAX];
    const char *p, *colon;

    if (sk_X509_OBJECT_num(X509_STORE_get0_objects(
            SSL_CTX_get_cert_store(ctx))) > 0) /* the file was read */
        return 0;
    if (file == NULL)
        file = X509_get_default_cert_file();
    if (dirs == NULL)
        dirs = X509_get_default_cert_dir();
    for (p = dirs; *p; p = colon ? colon + 1 : p + strlen(p)) {
        size_t len;

        colon = strchr(p, ':');
        len = colon ? (size_t)(colon - p) : strlen(p);
        if (len == 0 || len >= sizeof(buf))
            continue;
        memcpy(buf, p, len);
        buf[len] = '\0';
        if (tls_dir_has_certs(buf))
            return 0;
    }
    snprintf(err, errlen,
             "no system CA certificates: neither %s nor %s holds any "
             "(install ca-certificates, or give ca=FILE)",
             file, dirs);
    return -1;
}

static SSL_CTX *tls_client_ctx(loom_server_t *srv, int verify, const char *ca,
                               const unsigned char *alpn, size_t alpn_len,
                               char *err, size_t errlen)
{
    tls_client_ctx_t *cc;
    SSL_CTX *ctx;
    char ebuf[256];

    if (srv->tls == NULL) /* no configuration applied yet */
        srv->tls = loom_calloc(1, sizeof(*srv->tls));
    for (cc = srv->tls->clients; cc; cc = cc->next) {
        if (cc->verify == verify && strcmp(cc->ca, ca) == 0 &&
            cc->alpn_len == alpn_len && memcmp(cc->alpn, alpn, alpn_len) == 0)
            return cc->ctx;
    }
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        snprintf(err, errlen, "cannot create a TLS context: %s",
                 tls_errstr(ebuf, sizeof(ebuf)));
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if (ca[0]) {
            /* For a missing file OpenSSL only says "system lib". */
            if (access(ca, R_OK) != 0 ||
                SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
                snprintf(err, errlen, "cannot load CA file %s: %s", ca,
                         tls_errstr(ebuf, sizeof(ebuf)));
                SSL_CTX_free(ctx);
                return NULL;
            }
        } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
            snprintf(err, errlen, "cannot load the system CA certificates: %s",
                     tls_errstr(ebuf, sizeof(ebuf)));
            SSL_CTX_free(ctx);
            return NULL;
        } else if (tls_system_store_check(ctx, err, errlen) != 0) {
            SSL_CTX_free(ctx);
            return NULL;
        }
    }
    if (alpn_len && SSL_CTX_set_alpn_protos(ctx, alpn, (unsigned)alpn_len)) {
        snprintf(err, errlen, "cannot set ALPN: %s",
                 tls_errstr(ebuf, sizeof(ebuf)));
        SSL_CTX_free(ctx);
        return NULL;
    }
    cc = loom_calloc(1, sizeof(*cc));
    cc->verify = verify;
    cc->ca = loom_strdup(ca);
    memcpy(cc->alpn, alpn, alpn_len);
    cc->alpn_len = alpn_len;
    cc->ctx = ctx;
    cc->next = srv->tls->clients;
    srv->tls->clients = cc;
    srv->tls->n_clients_built++;
    loom_log(LOOM_LOG_DEBUG, NULL,
             "TLS client context built (verify %s, CA %s, ALPN %zu bytes)",
             verify ? "on" : "off", ca[0] ? ca : "system", alpn_len);
    return ctx;
}

size_t loom_tls_client_contexts(loom_server_t *srv)
{
    return srv->tls ? srv->tls->n_clients_built : 0;
}

SSL *loom_tls_client_new(loom_server_t *srv, const loom_tls_client_t *o,
                         const char *name, int *einval, char *err,
                         size_t errlen)
{
    static const loom_tls_client_t defaults = {0, NULL, NULL, NULL};
    unsigned char alpn[256];
    size_t alpn_len;
    SSL_CTX *ctx;
    SSL *ssl;
    char ebuf[256];
    unsigned char ip[sizeof(struct in6_addr)];
    int verify, is_ip;

    *einval = 1;
    if (o == NULL)
        o = &defaults;
    verify = !o->no_verify;
    if (tls_alpn_wire(o->alpn, alpn, sizeof(alpn), &alpn_len) != 0) {
        snprintf(err, errlen, "bad ALPN list '%s'", o->alpn);
        return NULL;
    }
    ctx = tls_client_ctx(srv, verify, o->ca_file ? o->ca_file : "", alpn,
                         alpn_len, err, errlen);
    if (ctx == NULL)
        return NULL;
    *einval = 0;
    ssl = SSL_new(ctx);
    if (ssl == NULL)
        goto fail;
    is_ip = name && (inet_pton(AF_INET, name, ip) == 1 ||
                     inet_pton(AF_INET6, name, ip) == 1);
    if (name && name[0] && !is_ip && SSL_set_tlsext_host_name(ssl, name) != 1)
        goto fail;
    if (verify && name && name[0]) {
        X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);

        if ((is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, name)
                   : SSL_set1_host(ssl, name)) != 1)
            goto fail;
    }
    SSL_set_connect_state(ssl);
    return ssl;
fail:
    snprintf(err, errlen, "TLS client setup failed: %s",
             tls_errstr(ebuf, sizeof(ebuf)));
    SSL_free(ssl);
    return NULL;
}

/* Why a client handshake failed, kept on its SSL until it is freed. */
static int tls_ex_client_err = -1;

static void tls_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
                        long argl, void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    free(ptr);
}

static void tls_client_note_error(SSL *ssl)
{
    unsigned long e = ERR_peek_last_error();
    const char *why = e ? ERR_reason_error_string(e) : NULL;
    char msg[256];

    if (tls_ex_client_err < 0)
        tls_ex_client_err =
            SSL_get_ex_new_index(0, NULL, NULL, NULL, tls_ex_free);
    if (tls_ex_client_err < 0)
        return;
    if (why == NULL)
        why = errno ? strerror(errno) : "connection closed by the peer";
    snprintf(msg, sizeof(msg), "TLS handshake failed: %s", why);
    free(SSL_get_ex_data(ssl, tls_ex_client_err));
    SSL_set_ex_data(ssl, tls_ex_client_err, loom_strdup(msg));
}

const char *loom_tls_client_error(SSL *ssl, int *verify_failed, char *buf,
                                  size_t len)
{
    long vr;
    const char *noted = NULL;

    *verify_failed = 0;
    if (ssl == NULL)
        return NULL;
    /* without SSL_VERIFY_PEER OpenSSL records a result it did not act on */
    vr = SSL_get_verify_result(ssl);
    if (vr != X509_V_OK && (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER)) {
        *verify_failed = 1;
        snprintf(buf, len, "certificate verification failed: %s",
                 X509_verify_cert_error_string(vr));
        return buf;
    }
    if (tls_ex_client_err >= 0)
        noted = SSL_get_ex_data(ssl, tls_ex_client_err);
    if (noted == NULL)
        return NULL;
    snprintf(buf, len, "%s", noted);
    return buf;
}

/* ---- the handshake and the transport ------------------------------------ */

/* OpenSSL's reasons for a failed server handshake, by what an operator
 * would do about them (loom_instance_t.tls_failures). */
static const struct {
    int reason, fail;
} tls_fail_reasons[] = {
    {SSL_R_UNEXPECTED_EOF_WHILE_READING, LOOM_TLS_FAIL_EOF},
    {SSL_R_UNSUPPORTED_PROTOCOL, LOOM_TLS_FAIL_VERSION},
    {SSL_R_VERSION_TOO_LOW, LOOM_TLS_FAIL_VERSION},
    {SSL_R_TLSV1_ALERT_PROTOCOL_VERSION, LOOM_TLS_FAIL_VERSION},
    {SSL_R_NO_SHARED_CIPHER, LOOM_TLS_FAIL_CIPHER},
    {SSL_R_NO_SHARED_GROUPS, LOOM_TLS_FAIL_CIPHER},
    {SSL_R_HTTP_REQUEST, LOOM_TLS_FAIL_NOT_TLS},
    {SSL_R_HTTPS_PROXY_REQUEST, LOOM_TLS_FAIL_NOT_TLS},
    {SSL_R_WRONG_VERSION_NUMBER, LOOM_TLS_FAIL_NOT_TLS},
    {SSL_R_PACKET_LENGTH_TOO_LONG, LOOM_TLS_FAIL_NOT_TLS},
    {SSL_R_SSLV3_ALERT_BAD_CERTIFICATE, LOOM_TLS_FAIL_CERT},
    {SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE, LOOM_TLS_FAIL_CERT},
    {SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED, LOOM_TLS_FAIL_CERT},
    {SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED, LOOM_TLS_FAIL_CERT},
    {SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN, LOOM_TLS_FAIL_CERT},
    {SSL_R_TLSV1_ALERT_UNKNOWN_CA, LOOM_TLS_FAIL_CERT},
};

/* Why the server handshake SSL_get_error answered ERR for failed, from
 * the first error queued (before tls_errstr clears the queue). */
static int tls_fail_kind(int err)
{
    unsigned long e = ERR_peek_error();
    size_t i;

    if (e == 0 || ERR_SYSTEM_ERROR(e))
        return err == SSL_ERROR_SYSCALL || err == SSL_ERROR_ZERO_RETURN
                   ? LOOM_TLS_FAIL_EOF
                   : LOOM_TLS_FAIL_OTHER;
    if (ERR_GET_LIB(e) != ERR_LIB_SSL)
        return LOOM_TLS_FAIL_OTHER;
    for (i = 0; i < LOOM_ARRAY_LEN(tls_fail_reasons); i++) {
        if (ERR_GET_REASON(e) == tls_fail_reasons[i].reason)
            return tls_fail_reasons[i].fail;
    }
    /* the other alerts a client can send (SSL_AD_REASON_OFFSET + code) */
    if (ERR_GET_REASON(e) >= SSL_AD_REASON_OFFSET &&
        ERR_GET_REASON(e) < SSL_AD_REASON_OFFSET + 256)
        return LOOM_TLS_FAIL_CLIENT_ALERT;
    return LOOM_TLS_FAIL_OTHER;
}

void loom_tls_handshake(loom_conn_t *c)
{
    char ebuf[256];
    int r, err;

    ERR_clear_error();
    c->flags &= ~LOOM_CF_TLS_RW;
    r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        c->flags &= ~LOOM_CF_HANDSHAKE;
        if (c->inst && SSL_is_server(c->ssl))
            c->inst->tls_handshakes++;
        c->tp = &loom_transport_tls;
        loom_conn_open_handler(c);
        if (SSL_has_pending(c->ssl)) /* read ahead with the Finished */
            loom_conn_defer_read(c);
        return;
    }
    err = SSL_get_error(c->ssl, r);
    switch (err) {
    case SSL_ERROR_WANT_READ:
        return;
    case SSL_ERROR_WANT_WRITE:
        c->flags |= LOOM_CF_TLS_RW;
        return;
    default:
        if (!SSL_is_server(c->ssl))
            tls_client_note_error(c->ssl);
        else if (c->inst)
            c->inst->tls_failures[tls_fail_kind(err)]++;
        loom_log(LOOM_LOG_DEBUG, c->inst ? c->inst->who : NULL,
                 "%s: TLS handshake failed: %s", loom_conn_peer(c),
                 tls_errstr(ebuf, sizeof(ebuf)));
        loom_conn_abort(c);
    }
}

/* Empty this thread's OpenSSL error queue before an SSL call, as
 * SSL_get_error() needs.  ERR_clear_error() walks the whole queue even when
 * it is empty (hundreds of instructions, per record); peeking first costs
 * a fraction of that on the usual, empty queue. */
static inline void tls_err_reset(void)
{
    if (ERR_peek_error() != 0)
        ERR_clear_error();
}

/* Decrypts as many records as BUF takes of what was read ahead, so that
 * the handler sees them in one delivery (HTTP/2: one nghttp2 input and one
 * flush for a client's burst, not one per record).  An error or the end
 * after some bytes is reported by the next call. */
static ssize_t tls_read(loom_conn_t *c, char *buf, size_t len)
{
    size_t got = 0;
    int n;

    for (;;) {
        size_t room = len - got;

        tls_err_reset();
        errno = 0;
        n = SSL_read(c->ssl, buf + got, room > INT_MAX ? INT_MAX : (int)room);
        if (n <= 0)
            break;
        got += (size_t)n;
        if (got == len || !SSL_has_pending(c->ssl))
            return (ssize_t)got;
    }
    if (got > 0) {
        ERR_clear_error();
        return (ssize_t)got;
    }
    switch (SSL_get_error(c->ssl, n)) {
    case SSL_ERROR_WANT_READ:
        return LOOM_AGAIN;
    case SSL_ERROR_WANT_WRITE:
        c->flags |= LOOM_CF_TLS_RW;
        return LOOM_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        return errno == 0 ? 0 : LOOM_ERROR; /* EOF without close_notify */
    default:
        return LOOM_ERROR;
    }
}

static int tls_flush(loom_conn_t *c)
{
    size_t len;

    while ((len = evbuffer_get_length(c->out)) > 0) {
        size_t chunk = len < 16384 ? len : 16384;
        unsigned char *p = evbuffer_pullup(c->out, (ev_ssize_t)chunk);
        int n;

        if (p == NULL)
            return LOOM_ERROR;
        tls_err_reset();
        n = SSL_write(c->ssl, p, (int)chunk);
        if (n > 0) {
            evbuffer_drain(c->out, (size_t)n);
            continue;
        }
        switch (SSL_get_error(c->ssl, n)) {
        case SSL_ERROR_WANT_WRITE:
            return LOOM_AGAIN;
        case SSL_ERROR_WANT_READ:
            c->flags |= LOOM_CF_TLS_WR;
            return LOOM_AGAIN;
        default:
            return LOOM_ERROR;
        }
    }
    return LOOM_OK;
}

static void tls_shutdown(loom_conn_t *c)
{
    if (c->ssl && !(c->flags & LOOM_CF_HANDSHAKE) &&
        SSL_is_init_finished(c->ssl)) {
        ERR_clear_error();
        SSL_shutdown(c->ssl);
        ERR_clear_error();
    }
}

const loom_transport_t loom_transport_tls = {.name = "tls",
                                             .read = tls_read,
                                             .flush = tls_flush,
                                             .shutdown = tls_shutdown};

/* The SHA-256 of SSL's peer certificate as lowercase hex in BUF (65
 * bytes), or NULL when the peer sent none. */
static const char *tls_peer_sha256(SSL *ssl, char *buf)
{
    X509 *x = SSL_get0_peer_certificate(ssl);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (x == NULL || X509_digest(x, EVP_sha256(), md, &n) != 1 || n != 32)
        return NULL;
    for (unsigned i = 0; i < n; i++)
        snprintf(buf + 2 * i, 3, "%02x", md[i]);
    return buf;
}

int loom_conn_tls_info(loom_conn_t *c, loom_tls_info_t *info)
{
    const unsigned char *alpn = NULL;
    unsigned int alen = 0;

    memset(info, 0, sizeof(*info));
    if (c->ssl == NULL && c->tp->tls_info)
        return c->tp->tls_info(c, info);
    if (c->ssl == NULL || (c->flags & LOOM_CF_HANDSHAKE))
        return LOOM_ERROR;
    info->sni = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
    SSL_get0_alpn_selected(c->ssl, &alpn, &alen);
    if (alpn && alen) {
        if (alen >= sizeof(c->srv->peerbuf))
            alen = sizeof(c->srv->peerbuf) - 1;
        memcpy(c->srv->peerbuf, alpn, alen);
        c->srv->peerbuf[alen] = '\0';
        info->alpn = c->srv->peerbuf;
    }
    info->version = SSL_get_version(c->ssl);
    info->cipher = SSL_get_cipher_name(c->ssl);
    info->peer_sha256 = tls_peer_sha256(c->ssl, c->srv->fpbuf);
    return LOOM_OK;
}
