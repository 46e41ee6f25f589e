/* A whole SMTP session against a fuzzed server transcript, over the memory transport:
 * open (greeting, EHLO, maybe AUTH), one send with a body that needs stuffing (maybe
 * chained to a second one), QUIT.  The EHLO extension list holds only clean text.
 * The transcript arrives in chunks of pseudo-random size, then EOF.  Whatever the
 * server says, the session ends in bounded steps with MV_OK or a classified error,
 * the password never shows in an error, and the wire carries no bare CR or LF. */
#include "fuzz_common.h"

#include "smtp.h"

#define MAX_STEPS 20000

static uint32_t rng_next(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static void check_wire(mv_buf *out, int in_body)
{
    size_t i;
    const unsigned char *w = mv_buf_head(out);
    size_t n = mv_buf_avail(out);
    /* Commands are whole CRLF lines, the body is stuffed: no bare CR or LF either way
     * (a CR at the very end may wait for its LF in the next flush only in the body). */
    for (i = 0; i < n; i++) {
        if (w[i] == '\r') FZ_ASSERT(i + 1 == n ? in_body : w[i + 1] == '\n');
        if (w[i] == '\n') FZ_ASSERT(i > 0 && w[i - 1] == '\r');
    }
    for (i = 0; i + 6 <= n; i++) FZ_ASSERT(memcmp(w + i, "s3cret", 6) != 0);
    mv_buf_reset(out);
}

/* Keywords upper-cased, and no control or 8-bit byte in anything the list shows. */
static void check_extensions(const smtp_session *s)
{
    size_t i, k, n = smtp_ext_count(s);
    for (i = 0; i < n; i++) {
        const smtp_ext *x = smtp_ext_at(s, i);
        const char *p;
        FZ_ASSERT(x->keyword[0] != '\0' && strlen(x->keyword) < 64);
        for (p = x->keyword; *p; p++) FZ_ASSERT(!(*p >= 'a' && *p <= 'z'));
        FZ_ASSERT(fz_no_controls((const unsigned char *)x->keyword, strlen(x->keyword)));
        FZ_ASSERT(x->params != NULL || x->nwords == 0);
        if (x->params != NULL)
            FZ_ASSERT(fz_no_controls((const unsigned char *)x->params, strlen(x->params)));
        for (k = 0; k < x->nwords; k++)
            FZ_ASSERT(x->words[k][0] != '\0' && strchr(x->words[k], ' ') == NULL);
    }
    FZ_ASSERT(smtp_ext_at(s, n) == NULL);
}

static const char body[] =
    "Subject: fuzz\r\n\r\n.\r\n..x\nbare LF\rbare CR\r\n.\n\xc3\xa9t\xc3\xa9\r\nlast";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *auths[] = { "none", "auto", "PLAIN", "LOGIN", "CRAM-MD5",
                                   "XOAUTH2", "optional", NULL };
    static const char *const rcpts[] = { "a@example.org", "B <b@example.org>",
                                         "c@example.org" };
    /* DSN parameters (when the server offers DSN) with bytes xtext must encode */
    static const char *const orcpt[] = { "rfc822;A+B=C d@example.org", NULL, "c@example.org" };
    static const unsigned notify[] = { SMTP_NOTIFY_NEVER, 0, SMTP_NOTIFY_DELAY };
    static const smtp_dsn dsn = { SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_SUCCESS, SMTP_RET_HDRS,
                                  "id+= x", notify, orcpt };
    fz_in in = { data, size };
    unsigned f = fz_byte(&in), g = fz_byte(&in);
    uint32_t x = 0x9e3779b9u ^ (uint32_t)(fz_byte(&in) << 8 | fz_byte(&in));
    smtp_session *s = smtp_new();
    smtp_opts o;
    mv_pp *pp;
    int phase = 0, steps, eof_reads = 0, r;
    size_t body_pos = 0, j;
    int server_said_it = 0, chain, chained = 0;

    if (s == NULL) return 0;
    for (j = 0; j + 6 <= size; j++)
        if (memcmp(data + j, "s3cret", 6) == 0) server_said_it = 1;
    memset(&o, 0, sizeof o);
    o.cfg.host = "mail.example.org";
    o.cfg.tls = MV_TLS_NONE;
    o.cfg.auth = auths[f % 8];
    if (o.cfg.auth != NULL && strcmp(o.cfg.auth, "none") != 0) {
        o.cfg.user = "user@example.org";
        o.cfg.password = "s3cret";
        if (strcmp(o.cfg.auth, "XOAUTH2") == 0) o.cfg.token = "ya29.s3cret-token";
    }
    o.cfg.insecure_auth = 1;
    o.pipelining = (f >> 3) & 1;
    o.chunking = (f >> 4) & 1;
    o.max_data_line = (f >> 5) & 1 ? 998 : 0;
    chain = (f >> 6) & 1;
    if (smtp_configure(s, &o) != MV_OK) goto done;
    pp = smtp_pp(s);
    pp->timeout_ms = 0;
    if (smtp_begin_open(s) != MV_OK) goto done;

    for (steps = 0; steps < MAX_STEPS; steps++) {
        r = smtp_step(s);
        if (mv_buf_avail(&pp->conn.net_out) > 0) check_wire(&pp->conn.net_out, phase == 1);
        if (r == MV_WANT_WRITE) continue;
        if (r == MV_WANT_READ) {
            if (in.n > 0) {
                size_t k = 1 + rng_next(&x) % ((g & 0x80) ? 7 : 512);
                const uint8_t *p;
                k = fz_take(&in, k, &p);
                FZ_ASSERT(mv_conn_feed(&pp->conn, p, k) == 0);
            } else {
                /* After EOF a step must not keep asking for bytes. */
                FZ_ASSERT(++eof_reads < 4);
                mv_conn_feed_eof(&pp->conn);
            }
            continue;
        }
        if (r == MV_WANT_BODY) {
            FZ_ASSERT(phase == 1);
            if (body_pos < sizeof body - 1) {
                size_t k = 1 + rng_next(&x) % 9;
                if (k > sizeof body - 1 - body_pos) k = sizeof body - 1 - body_pos;
                r = smtp_feed(s, body + body_pos, k);
                body_pos += k;
            } else if (chain && !chained && smtp_can_chain(s)) {
                /* The next message's envelope goes out with this end of data. */
                r = smtp_feed_end_chain(s, "s@example.org", rcpts, 1, 0, -1, NULL);
                if (r == MV_OK) FZ_ASSERT(smtp_prev_reply(s) == NULL);
                chained = 1;
                body_pos = 0;
            } else {
                r = smtp_feed_end(s);
            }
            if (r == MV_ERROR) goto failed;
            continue;
        }
        if (r == MV_OK) {
            if (phase == 0) {
                check_extensions(s);
                if (smtp_begin_send(s, "Sender <s@example.org>", rcpts, 1 + g % 3,
                                    (g & 0x40) ? 120 : 0, (g & 0x20) ? 1 : -1,
                                    (g & 0x10) ? &dsn : NULL) != MV_OK)
                    goto failed;
                phase = 1;
            } else if (phase == 1) {
                FZ_ASSERT(body_pos == sizeof body - 1);
                if (smtp_begin_command(s, "QUIT") != MV_OK) goto failed;
                phase = 2;
            } else {
                break;
            }
            continue;
        }
        FZ_ASSERT(r == MV_ERROR);
failed:
        {
            const mv_error *e = smtp_error(s);
            FZ_ASSERT(e->kind != MV_E_NONE && e->kind != MV_E_MEMORY);
            /* (unless the server itself said it: error texts quote replies) */
            FZ_ASSERT(strstr(e->msg, "s3cret") == NULL || server_said_it);
            FZ_ASSERT(fz_no_controls((const unsigned char *)e->msg, strlen(e->msg)));
            if (e->has_reply)
                FZ_ASSERT(fz_no_controls((const unsigned char *)e->reply.text,
                                         strlen(e->reply.text)));
            /* A send that failed on a reply leaves a usable session: try QUIT once. */
            if (phase == 1 && !smtp_is_dead(s) && smtp_begin_command(s, "QUIT") == MV_OK) {
                phase = 2;
                continue;
            }
        }
        break;
    }
    FZ_ASSERT(steps < MAX_STEPS);
    if (getenv("FZ_DEBUG") != NULL)
        fprintf(stderr, "phase %d steps %d error %s: %s\n", phase, steps,
                mv_kind_name(smtp_error(s)->kind), smtp_error(s)->msg);
done:
    smtp_free(s);
    return 0;
}
