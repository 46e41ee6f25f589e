/* Allocation-failure injection (CHECKLIST cross-cutting item): malloc, calloc and
 * realloc are interposed in this executable (forwarding to the next definition: libc,
 * or the ASan runtime under `make test-asan`), and the Nth allocation after arming
 * fails.  A whole SMTP open + send + QUIT over a scripted memory transcript runs for
 * N = 1, 2, ... until it completes: every run must end cleanly (the session reports
 * kind "memory", or a constructor returns NULL) and free everything, which LSan
 * (test-asan) or valgrind (test-valgrind) checks at exit.  The same is done for a
 * POP3 retrieve: open (USER/PASS), STAT, RETR of a message several stream chunks
 * long, DELE, QUIT; an injected failure must also never let DELE or QUIT out after
 * a RETR that did not complete (CHECKLIST 38).  And DKIM signing of a built message,
 * with the key read for the signature and with a key read before: a failed signature
 * must leave the message as it was. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>

#include "ctest.h"
#include "ctest_rsa.h"
#include "mime_dkim.h"
#include "pop3.h"
#include "smtp.h"

/* ---- the interposer ------------------------------------------------------------ */

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static long fail_at;        /* 0: off; else the allocation number that fails */
static long alloc_count;
static int injected;
/* dlsym may allocate before the real functions are known. */
static unsigned char boot[4096];
static size_t boot_used;
static int resolving;

static void resolve(void)
{
    if (real_free != NULL || resolving) return;
    resolving = 1;
    *(void **)&real_malloc = dlsym(RTLD_NEXT, "malloc");
    *(void **)&real_calloc = dlsym(RTLD_NEXT, "calloc");
    *(void **)&real_realloc = dlsym(RTLD_NEXT, "realloc");
    *(void **)&real_free = dlsym(RTLD_NEXT, "free");
    resolving = 0;
}

static void *boot_alloc(size_t n)
{
    void *p;
    n = (n + 15) & ~(size_t)15;
    if (boot_used + n > sizeof boot) return NULL;
    p = boot + boot_used;
    boot_used += n;
    return p;
}

static int is_boot(const void *p)
{
    return (const unsigned char *)p >= boot && (const unsigned char *)p < boot + sizeof boot;
}

static int should_fail(void)
{
    if (fail_at == 0) return 0;
    if (++alloc_count == fail_at) { injected = 1; return 1; }
    return 0;
}

void *malloc(size_t n);
void *calloc(size_t k, size_t n);
void *realloc(void *p, size_t n);
void free(void *p);

void *malloc(size_t n)
{
    resolve();
    if (real_malloc == NULL) return boot_alloc(n);
    if (should_fail()) return NULL;
    return real_malloc(n);
}

void *calloc(size_t k, size_t n)
{
    resolve();
    if (real_calloc == NULL) {
        void *p = (n != 0 && k > SIZE_MAX / n) ? NULL : boot_alloc(k * n);
        if (p != NULL) memset(p, 0, k * n);
        return p;
    }
    if (should_fail()) return NULL;
    return real_calloc(k, n);
}

void *realloc(void *p, size_t n)
{
    resolve();
    if (is_boot(p) || real_realloc == NULL) return NULL;
    if (should_fail()) return NULL;
    return real_realloc(p, n);
}

void free(void *p)
{
    if (p == NULL || is_boot(p)) return;
    resolve();
    real_free(p);
}

/* Runs run(arg) with its 1st, 2nd, ... allocation failing, up to a run in which none
 * failed: every run before must end cleanly (0), or complete (1) where the code gets over
 * the failure (the SMTP session does without the EHLO extension list). */
static void sweep(const char *what, int (*run)(int), int arg)
{
    long n;
    int r = 0;
    for (n = 1; n < 100000; n++) {
        fail_at = n;
        alloc_count = 0;
        injected = 0;
        r = run(arg);
        fail_at = 0;
        if (r != 0 && !(r == 1 && injected)) break;
    }
    if (r != 1) fprintf(stderr, "  %s, allocation %ld: wrong outcome %d\n", what, n, r);
    CHECK(r == 1);
    /* No injection at all means the interposer is not in the path (e.g. valgrind
     * replaced malloc): then this test proves nothing, say so. */
    if (n == 1) fprintf(stderr, "  note: no allocation was intercepted\n");
    else printf("alloc_fail: %s: %ld allocation points, each failed cleanly\n", what, n - 1);
}

/* ---- the scripted session -------------------------------------------------------- */

static const char transcript[] =
    "220 mx.example.org ESMTP\r\n"
    "250-mx.example.org\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 100000\r\n250-DSN\r\n"
    "250 AUTH PLAIN LOGIN\r\n"
    "235 2.7.0 Authentication successful\r\n"
    "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 No such user\r\n354 End data with .\r\n"
    "250 2.0.0 Ok: queued as 12345\r\n"
    "221 2.0.0 Bye\r\n";
static const char body[] = "Subject: t\r\n\r\n.line\nbare LF\r\n";

/* 1: completed; 0: ended cleanly on an injected failure; -1: a wrong ending. */
static int run_session(int unused)
{
    (void)unused;
    static const char *const rcpts[] = { "a@example.org", "b@example.org" };
    /* DSN requests: their copies in the transaction are allocations too */
    static const char *const orcpt[] = { "rfc822;A@example.org", NULL };
    static const unsigned notify[] = { SMTP_NOTIFY_SUCCESS, 0 };
    smtp_dsn dsn = { SMTP_NOTIFY_FAILURE, SMTP_RET_HDRS, "env 1", notify, orcpt };
    smtp_session *s = smtp_new();
    smtp_opts o;
    size_t fed = 0, body_fed = 0;
    int phase = 0, steps, r, rc = -1;

    if (s == NULL) return injected ? 0 : -1;
    memset(&o, 0, sizeof o);
    o.cfg.host = "mx.example.org";
    o.cfg.tls = MV_TLS_NONE;
    o.cfg.user = "user";
    o.cfg.password = "pw";
    o.cfg.auth = "PLAIN";
    o.cfg.insecure_auth = 1;
    o.pipelining = 1;
    o.max_data_line = 998;
    if (smtp_configure(s, &o) != MV_OK || smtp_begin_open(s) != MV_OK) goto error;
    smtp_pp(s)->timeout_ms = 0;
    for (steps = 0; steps < 1000; steps++) {
        r = smtp_step(s);
        if (r == MV_WANT_WRITE) { mv_buf_reset(&smtp_pp(s)->conn.net_out); continue; }
        if (r == MV_WANT_READ) {
            size_t k = sizeof transcript - 1 - fed;
            if (k == 0) { fprintf(stderr, "  transcript exhausted\n"); goto out; }
            if (k > 7) k = 7;   /* small chunks: replies straddle feeds */
            if (mv_conn_feed(&smtp_pp(s)->conn, transcript + fed, k) != 0) {
                rc = injected ? 0 : -1;
                goto out;
            }
            fed += k;
            continue;
        }
        if (r == MV_WANT_BODY) {
            if (body_fed < sizeof body - 1) {
                r = smtp_feed(s, body + body_fed, sizeof body - 1 - body_fed);
                body_fed = sizeof body - 1;
            } else {
                r = smtp_feed_end(s);
            }
            if (r == MV_ERROR) goto error;
            continue;
        }
        if (r == MV_ERROR) goto error;
        if (phase == 0) {
            if (smtp_begin_send(s, "s@example.org", rcpts, 2, 0, -1, &dsn) != MV_OK) goto error;
        } else if (phase == 1) {
            if (smtp_rcpt_count(s) != 2) goto out;
            if (smtp_begin_command(s, "QUIT") != MV_OK) goto error;
        } else {
            rc = 1;
            goto out;
        }
        phase++;
    }
    fprintf(stderr, "  no end after 1000 steps\n");
    goto out;
error:
    if (injected && smtp_error(s)->kind == MV_E_MEMORY) rc = 0;
    else fprintf(stderr, "  error kind %s: %s\n", mv_kind_name(smtp_error(s)->kind),
                 smtp_error(s)->msg);
out:
    smtp_free(s);
    return rc;
}

static void test_session_baseline(void)
{
    fail_at = 0;
    injected = 0;
    CHECK(run_session(0) == 1);
}

static void test_every_allocation_fails_cleanly(void)
{
    sweep("SMTP session", run_session, 0);
}

/* ---- the POP3 retrieve ------------------------------------------------------------ */

static char *pop3_wire;
static size_t pop3_wire_len;
static const char pop3_head[] =
    "+OK Dovecot ready.\r\n"
    "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nUSER\r\n.\r\n"
    "+OK\r\n+OK Logged in.\r\n"
    "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nUSER\r\n.\r\n"
    "+OK 1 150000\r\n"
    "+OK 150000 octets\r\n";
static const char pop3_tail[] =
    ".\r\n"
    "+OK Marked to be deleted.\r\n"
    "+OK Logging out.\r\n";
#define POP3_BODY_LINES 2000   /* 2000 lines of 75 bytes: three 64 KiB stream chunks */

static void pop3_wire_build(void)
{
    size_t i, at;
    size_t n = sizeof pop3_head - 1 + POP3_BODY_LINES * 75 + sizeof pop3_tail - 1;
    pop3_wire = malloc(n);
    if (pop3_wire == NULL) abort();
    memcpy(pop3_wire, pop3_head, sizeof pop3_head - 1);
    at = sizeof pop3_head - 1;
    for (i = 0; i < POP3_BODY_LINES; i++) {
        /* every tenth line stuffed: "..x" arrives as ".x" */
        memset(pop3_wire + at, i % 10 == 0 ? '.' : 'a' + (int)(i % 26), 73);
        if (i % 10 == 0) pop3_wire[at + 1] = '.';
        pop3_wire[at + 73] = '\r';
        pop3_wire[at + 74] = '\n';
        at += 75;
    }
    memcpy(pop3_wire + at, pop3_tail, sizeof pop3_tail - 1);
    pop3_wire_len = at + sizeof pop3_tail - 1;
}

/* True when `out` holds a line starting with `verb`. */
static int sent_verb(const mv_buf *out, const char *verb)
{
    const unsigned char *w = mv_buf_head(out);
    size_t n = mv_buf_avail(out), i, k = strlen(verb);
    for (i = 0; i + k <= n; i++)
        if ((i == 0 || w[i - 1] == '\n') && memcmp(w + i, verb, k) == 0) return 1;
    return 0;
}

/* 1: completed; 0: ended cleanly on an injected failure; -1: a wrong ending. */
static int run_pop3_session(int unused)
{
    (void)unused;
    pop3_session *s = pop3_new();
    pop3_opts o;
    size_t fed = 0, chunk = 0;
    unsigned long long taken = 0;
    unsigned long count = 0;
    unsigned long long size = 0;
    int phase = 0, steps, r, rc = -1, retr_done = 0;

    if (s == NULL) return injected ? 0 : -1;
    memset(&o, 0, sizeof o);
    o.cfg.host = "pop.example.org";
    o.cfg.tls = MV_TLS_NONE;
    o.cfg.user = "alice";
    o.cfg.password = "pw";
    o.cfg.auth = "user";
    o.cfg.insecure_auth = 1;
    if (pop3_configure(s, &o) != MV_OK || pop3_begin_open(s) != MV_OK) goto error;
    pop3_pp(s)->timeout_ms = 0;
    for (steps = 0; steps < 100000; steps++) {
        r = pop3_step(s);
        if (r == MV_WANT_WRITE) {
            mv_buf *out = &pop3_pp(s)->conn.net_out;
            if (!retr_done && (sent_verb(out, "DELE") || sent_verb(out, "QUIT"))) {
                fprintf(stderr, "  DELE or QUIT before RETR completed\n");
                goto out;
            }
            mv_buf_reset(out);
            continue;
        }
        if (r == MV_WANT_READ) {
            size_t k = pop3_wire_len - fed;
            if (k == 0) { fprintf(stderr, "  transcript exhausted\n"); goto out; }
            /* small chunks straddle status lines, bigger ones the body */
            if (k > (chunk++ % 2 ? 4093 : 7)) k = chunk % 2 ? 7 : 4093;
            if (mv_conn_feed(&pop3_pp(s)->conn, pop3_wire + fed, k) != 0) {
                rc = injected ? 0 : -1;
                goto out;
            }
            fed += k;
            continue;
        }
        if (r == MV_HAVE_CHUNK) {
            mv_buf *b = pop3_body(s);
            if (phase != 2 || mv_buf_avail(b) > POP3_CHUNK) goto out;
            taken += mv_buf_avail(b);
            mv_buf_reset(b);
            continue;
        }
        if (r == MV_ERROR) goto error;
        switch (phase) {
        case 0: r = pop3_begin(s, POP3_STAT, 0, 0, 0, 0); break;
        case 1:
            pop3_stat_result(s, &count, &size);
            if (count != 1 || size != 150000) goto out;
            r = pop3_begin(s, POP3_RETR, 1, 0, size, 1);
            break;
        case 2:
            taken += mv_buf_avail(pop3_body(s));
            if (taken != POP3_BODY_LINES * 75 - POP3_BODY_LINES / 10
                || pop3_body_bytes(s) != taken) {
                fprintf(stderr, "  body %llu bytes\n", taken);
                goto out;
            }
            retr_done = 1;
            r = pop3_begin(s, POP3_DELE, 1, 0, 0, 0);
            break;
        case 3: r = pop3_begin(s, POP3_QUIT, 0, 0, 0, 0); break;
        default:
            rc = fed == pop3_wire_len ? 1 : -1;
            goto out;
        }
        if (r != MV_OK) goto error;
        phase++;
    }
    fprintf(stderr, "  no end after 100000 steps\n");
    goto out;
error:
    if (injected && pop3_error(s)->kind == MV_E_MEMORY) rc = 0;
    else fprintf(stderr, "  error kind %s: %s\n", mv_kind_name(pop3_error(s)->kind),
                 pop3_error(s)->msg);
out:
    pop3_free(s);
    return rc;
}

static void test_pop3_baseline(void)
{
    fail_at = 0;
    injected = 0;
    CHECK(run_pop3_session(0) == 1);
}

static void test_pop3_every_allocation_fails_cleanly(void)
{
    sweep("POP3 retrieve", run_pop3_session, 0);
}

/* ---- DKIM signing ------------------------------------------------------------------ */

static unsigned char dkim_pem[8192];

/* 1: signed; 0: a clean failure (kind "memory", the message as it was); -1: anything
 * else.  prepared: the key is read first (and may fail there too). */
static int run_dkim(int prepared)
{
    mv_mime_msg m;
    mv_dkim_opts o;
    mv_dkim_key *k = NULL;
    mv_error e;
    int r = -1, rc;
    mv_mime_init(&m);
    mv_error_clear(&e);
    memset(&o, 0, sizeof o);
    o.domain = "example.org";
    o.selector = "s1";
    o.key = (const char *)dkim_pem;
    o.key_len = strlen((const char *)dkim_pem);
    if (mv_mime_add_header(&m, "From", "a@example.org") != 0 ||
        mv_mime_add_header(&m, "Subject", "hi") != 0 ||
        mv_mime_set_body(&m, 0, "text\n", 5) != 0 || mv_mime_set_body(&m, 1, "<b>x</b>", 8) != 0) {
        mv_mime_free(&m);
        return 0;           /* building failed: not what is tested here */
    }
    if (prepared && (k = mv_dkim_key_load(&o, &e)) == NULL) {
        r = e.kind == MV_E_MEMORY ? 0 : -1;
        goto done;
    }
    o.prepared = k;
    rc = mv_dkim_sign(&m, &o, &e);
    if (rc == MV_OK) r = m.nh == 3 && strcmp(m.h[0].name, "DKIM-Signature") == 0 ? 1 : -1;
    else r = e.kind == MV_E_MEMORY && m.nh == 2 && strcmp(m.h[0].name, "From") == 0 ? 0 : -1;
    if (r < 0) fprintf(stderr, "  DKIM: %d %s (%d fields)\n", (int)e.kind, e.msg, (int)m.nh);
done:
    mv_dkim_key_free(k);
    mv_mime_free(&m);
    return r;
}

static void test_dkim_every_allocation_fails_cleanly(void)
{
    CHECK(ctest_rsa_key(2048, dkim_pem, sizeof dkim_pem) == 0);
    sweep("DKIM signing", run_dkim, 0);
    sweep("DKIM signing with a key read before", run_dkim, 1);
}

int main(void)
{
    static const ctest_case cases[] = {
        { "SMTP session completes with the interposer", test_session_baseline },
        { "every allocation of a session can fail cleanly",
          test_every_allocation_fails_cleanly },
        { "POP3 retrieve completes with the interposer", test_pop3_baseline },
        { "every allocation of a POP3 retrieve can fail cleanly",
          test_pop3_every_allocation_fails_cleanly },
        { "every allocation of a DKIM signature can fail cleanly",
          test_dkim_every_allocation_fails_cleanly },
        { NULL, NULL }
    };
    int rc;
    pop3_wire_build();
    rc = ctest_run("alloc_fail", cases);
    free(pop3_wire);
    return rc;
}
