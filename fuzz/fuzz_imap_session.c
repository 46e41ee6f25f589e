/* A whole IMAP session against a fuzzed server transcript, over the memory transport
 * (tls none): open (greeting, CAPABILITY, LOGIN or AUTHENTICATE, ENABLE), SELECT, UID
 * SEARCH with a string that may go as a literal, UID FETCH (literals kept or streamed),
 * APPEND of a literal the caller feeds,
 * IDLE with a wait and DONE, LOGOUT.  The transcript arrives in chunks of pseudo-random
 * size, then EOF.  Whatever the server says: bounded steps; every failure has a kind
 * (never "memory"), clean text and no password; streamed pieces are bounded by the
 * input; a dead session sends nothing more; every command line the client writes starts
 * with a tag (or is DONE, "*", a SASL answer or literal bytes); an untagged response
 * handed out is owned by a command in flight that collects it, or by none. */
#include "fuzz_common.h"

#include "imap_int.h"

static uint32_t rng_next(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

enum { P_OPEN, P_SELECT, P_SEARCH, P_FETCH, P_APPEND, P_IDLE, P_WAIT, P_DONE, P_LOGOUT,
       P_END };

/* The owner the session named for the response taken: a command in flight that
 * collects it (imap_route.h), and no older one that does. */
static int owner_ok(imap_session *s)
{
    const char *owner = imap_owner(s);
    const imap_resp *r = imap_response(s);
    size_t i;
    for (i = 0; i < mv_cmds_count(&s->sent); i++) {
        const mv_cmd *c = mv_cmds_at(&s->sent, i);
        if (imap_route_collects(&s->routes[c->n % MV_CMDS_MAX], r))
            return owner != NULL && strcmp(owner, c->tag) == 0;
    }
    return owner == NULL;
}

static int begin(imap_session *s, int phase, int stream, int exact)
{
    imap_cmd c;
    imap_cmd_for(s, &c);
    switch (phase) {
    case P_SELECT:
        imap_cmd_atom(&c, "SELECT", 6);
        imap_cmd_mailbox(&c, "INBOX/\xc3\xa9t\xc3\xa9", 10);
        break;
    case P_SEARCH:
        imap_cmd_atom(&c, "UID", 3);
        imap_cmd_atom(&c, "SEARCH", 6);
        imap_cmd_atom(&c, "SUBJECT", 7);
        imap_cmd_string(&c, "a\r\nb", 4);
        break;
    case P_FETCH:
        imap_cmd_atom(&c, "UID", 3);
        imap_cmd_atom(&c, "FETCH", 5);
        /* any UID, or these ranges only */
        if (exact) imap_cmd_atom(&c, "2:4,1,9", 7);
        else imap_cmd_atom(&c, "1:*", 3);
        imap_cmd_open(&c);
        imap_cmd_atom(&c, "UID", 3);
        imap_cmd_atom(&c, "FLAGS", 5);
        imap_cmd_atom(&c, "BODY.PEEK[]", 11);
        imap_cmd_close(&c);
        break;
    case P_APPEND:
        imap_cmd_atom(&c, "APPEND", 6);
        imap_cmd_atom(&c, "Sent", 4);
        imap_cmd_literal_ext(&c, 5);
        break;
    case P_IDLE: imap_cmd_atom(&c, "IDLE", 4); break;
    case P_LOGOUT: imap_cmd_atom(&c, "LOGOUT", 6); break;
    default: imap_cmd_free(&c); return MV_ERROR;
    }
    return imap_begin_command(s, &c, stream && phase == P_FETCH);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *auths[] = { "login", "auto", "none", "PLAIN", "LOGIN", "CRAM-MD5",
                                   "XOAUTH2", "auto" };
    fz_in in = { data, size };
    unsigned f = fz_byte(&in), g = fz_byte(&in);
    uint32_t x = 0x9e3779b9u ^ (uint32_t)(fz_byte(&in) << 8 | fz_byte(&in));
    imap_session *s = imap_new();
    imap_opts o;
    mv_pp *pp;
    int phase = P_OPEN, r, eof_reads = 0, stream = g & 1;
    long steps, max_steps = 20000 + 4 * (long)size;
    size_t j, streamed = 0, fed = 0;
    int server_said_it = 0;

    if (s == NULL) return 0;
    for (j = 0; j + 6 <= size; j++)
        if (memcmp(data + j, "s3cret", 6) == 0) server_said_it = 1;
    memset(&o, 0, sizeof o);
    o.cfg.host = "imap.example.org";
    o.cfg.tls = MV_TLS_NONE;
    o.cfg.auth = auths[f & 7];
    o.cfg.user = "alice";
    o.cfg.password = "s3cret";
    if (strcmp(o.cfg.auth, "XOAUTH2") == 0) o.cfg.token = "ya29.s3cret-token";
    o.cfg.insecure_auth = 1;
    o.max_size = (f & 0x08) ? 1000 : 0;
    o.enable = (f & 0x10) != 0;
    if (imap_configure(s, &o) != MV_OK) goto done;
    pp = imap_pp(s);
    pp->timeout_ms = 0;
    if (imap_begin_open(s) != MV_OK) goto done;

    for (steps = 0; steps < max_steps; steps++) {
        int dead_before = imap_is_dead(s);
        r = imap_step(s);
        if (dead_before) FZ_ASSERT(mv_buf_avail(&pp->conn.net_out) == 0);
        mv_buf_reset(&pp->conn.net_out);
        if (r == MV_WANT_WRITE) continue;
        if (r == MV_WANT_READ) {
            if (phase == P_WAIT && (g & 2)) {
                /* the wait's end, as a driver reports it */
                s->wait_end = 0;
                mv_fail(&pp->err, MV_E_TIMEOUT, "timed out waiting for the server");
                continue;
            }
            if (in.n > 0) {
                size_t k = 1 + rng_next(&x) % ((g & 0x80) ? 7 : 700);
                const uint8_t *p;
                k = fz_take(&in, k, &p);
                FZ_ASSERT(mv_conn_feed(&pp->conn, p, k) == 0);
            } else {
                FZ_ASSERT(++eof_reads < 4);
                mv_conn_feed_eof(&pp->conn);
            }
            continue;
        }
        if (r == MV_WANT_BODY) {
            /* the message of APPEND, in two pieces; the bytes announced, no more */
            FZ_ASSERT(phase == P_APPEND && fed < 5);
            FZ_ASSERT(imap_feed(s, &"hello"[fed], fed == 0 ? 2 : 3) == MV_OK);
            fed += fed == 0 ? 2 : 3;
            continue;
        }
        if (r == MV_HAVE_CHUNK) {
            if (imap_take(s) == IMAP_TAKE_LITERAL) {
                size_t n;
                imap_str key;
                imap_chunk(s, &n, &key);
                FZ_ASSERT(n > 0 && n <= size);
                streamed += n;
                FZ_ASSERT(streamed <= size);
            } else {
                const imap_resp *rp = imap_response(s);
                FZ_ASSERT(imap_take(s) == IMAP_TAKE_RESPONSE);
                FZ_ASSERT(rp->kind == IMAP_UNTAGGED);
                FZ_ASSERT(owner_ok(s));
            }
            continue;
        }
        if (r == MV_OK) {
            phase++;
            if (phase == P_WAIT) {
                if (!imap_is_idling(s)) phase = P_LOGOUT;
                else r = imap_begin_wait(s, 0);
            } else if (phase == P_DONE) {
                r = imap_begin_done(s);
            } else if (phase < P_END) {
                r = begin(s, phase, stream, (g & 4) != 0);
            } else {
                goto done;
            }
            if (phase == P_LOGOUT && r == MV_OK && !imap_is_idling(s)) { /* sent */ }
            if (r != MV_OK) goto failed;
            continue;
        }
        FZ_ASSERT(r == MV_ERROR);
failed:
        {
            const mv_error *e = imap_error(s);
            FZ_ASSERT(e->kind != MV_E_NONE && e->kind != MV_E_MEMORY);
            FZ_ASSERT(strstr(e->msg, "s3cret") == NULL || server_said_it);
            FZ_ASSERT(fz_no_controls((const unsigned char *)e->msg, strlen(e->msg)));
            if (e->has_reply)
                FZ_ASSERT(fz_no_controls((const unsigned char *)e->reply.text,
                                         strlen(e->reply.text)));
            if (phase == P_OPEN || imap_is_dead(s) || phase >= P_LOGOUT) goto done;
            /* a refusal keeps the session: go on with the next command */
            phase++;
            if (phase == P_WAIT || phase == P_DONE) phase = P_LOGOUT;
            if (begin(s, phase, stream, (g & 4) != 0) != MV_OK) goto done;
        }
    }
    FZ_ASSERT(steps < max_steps);
done:
    imap_free(s);
    return 0;
}
