/* A whole POP3 session against a fuzzed server transcript, over the memory transport
 * (tls none): open (greeting, CAPA, login), STAT, LIST, UIDL, RETR 1 (streamed or
 * whole), DELE 1, QUIT, some commands sent ahead when PIPELINING is offered.  The
 * transcript arrives in chunks of pseudo-random size, then EOF.  Whatever the server
 * says: bounded steps; every failure has a kind (never "memory"), clean text and no
 * password; DELE goes out only after RETR 1 completed (CHECKLIST 38); a RETR cut
 * short says "incomplete" (CHECKLIST 36); a dead session sends nothing more (no
 * QUIT after an error that leaves deletions uncertain, RFC 1939 §6); streamed chunks
 * are bounded and add up to the body size; the wire carries only CRLF lines.  Flags
 * also make the sink fail after its first chunk (pop3_discard_rest: no handoff, so no
 * DELE) and send DELE ahead under PIPELINING (a refusal comes back through
 * pop3_take_dele_error). */
#include "fuzz_common.h"

#include "pop3_int.h"   /* s->state: was the body under way */

static uint32_t rng_next(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static int dele_sent, quit_sent, retr_ok;

static void check_wire(mv_buf *out, int dead_before)
{
    size_t i;
    const unsigned char *w = mv_buf_head(out);
    size_t n = mv_buf_avail(out);
    /* A session known dead writes nothing. */
    FZ_ASSERT(!dead_before || n == 0);
    for (i = 0; i < n; i++) {
        if (w[i] == '\r') FZ_ASSERT(i + 1 < n && w[i + 1] == '\n');
        if (w[i] == '\n') FZ_ASSERT(i > 0 && w[i - 1] == '\r');
        if (i == 0 || w[i - 1] == '\n') {
            if (n - i >= 5 && memcmp(w + i, "DELE ", 5) == 0) {
                FZ_ASSERT(retr_ok);
                dele_sent = 1;
            }
            if (n - i >= 4 && memcmp(w + i, "QUIT", 4) == 0) quit_sent = 1;
        }
    }
    mv_buf_reset(out);
}

enum { P_OPEN, P_STAT, P_LIST, P_UIDL, P_RETR, P_DELE, P_QUIT, P_END };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *auths[] = { "user", "auto", "apop", "none", "PLAIN", "LOGIN",
                                   "CRAM-MD5", "XOAUTH2" };
    fz_in in = { data, size };
    unsigned f = fz_byte(&in), g = fz_byte(&in);
    uint32_t x = 0x9e3779b9u ^ (uint32_t)(fz_byte(&in) << 8 | fz_byte(&in));
    pop3_session *s = pop3_new();
    pop3_opts o;
    mv_pp *pp;
    int phase = P_OPEN, r, eof_reads = 0, stream = (g >> 1) & 1, was_dead, discarded = 0;
    long steps, max_steps = 20000 + 4 * (long)size;
    unsigned long long expect = 0, taken = 0;
    size_t j;
    int server_said_it = 0;

    dele_sent = quit_sent = retr_ok = 0;
    if (s == NULL) return 0;
    for (j = 0; j + 6 <= size; j++)
        if (memcmp(data + j, "s3cret", 6) == 0) server_said_it = 1;
    memset(&o, 0, sizeof o);
    o.cfg.host = "pop.example.org";
    o.cfg.tls = MV_TLS_NONE;
    o.cfg.auth = auths[f & 7];
    o.cfg.user = "alice";
    o.cfg.password = "s3cret";
    if (strcmp(o.cfg.auth, "XOAUTH2") == 0) o.cfg.token = "ya29.s3cret-token";
    o.cfg.insecure_auth = 1;
    o.max_size = (f & 0x08) ? 1000 : 0;
    o.max_messages = (f & 0x10) ? 3 : 0;
    if (pop3_configure(s, &o) != MV_OK) goto done;
    pp = pop3_pp(s);
    pp->timeout_ms = 0;
    if (pop3_begin_open(s) != MV_OK) goto done;

    for (steps = 0; steps < max_steps; steps++) {
        was_dead = pop3_is_dead(s) && phase != P_QUIT;
        r = pop3_step(s);
        check_wire(&pp->conn.net_out, was_dead);
        if (r == MV_WANT_WRITE) continue;
        if (r == MV_WANT_READ) {
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
        if (r == MV_HAVE_CHUNK) {
            mv_buf *b = pop3_body(s);
            FZ_ASSERT(phase == P_RETR && stream && !discarded);
            FZ_ASSERT(mv_buf_avail(b) <= POP3_CHUNK);
            taken += mv_buf_avail(b);
            FZ_ASSERT(taken == pop3_body_bytes(s));
            mv_buf_reset(b);
            if (g & 8) {
                /* The sink failed: the rest is read into the void, no handoff. */
                FZ_ASSERT(pop3_discard_rest(s) == MV_OK);
                discarded = 1;
            }
            continue;
        }
        if (r == MV_OK) {
            mv_error de;
            if (pop3_take_dele_error(s, &de)) {
                /* (kept until taken: a failed NOOP after it leaves it for later) */
                FZ_ASSERT(phase >= P_DELE && de.kind == MV_E_REPLY);
                FZ_ASSERT(fz_no_controls((const unsigned char *)de.msg, strlen(de.msg)));
            }
            if (phase == P_RETR) {
                mv_buf *b = pop3_body(s);
                taken += mv_buf_avail(b);
                /* (discarded bytes are counted, never handed out) */
                FZ_ASSERT(discarded ? taken <= pop3_body_bytes(s)
                                    : taken == pop3_body_bytes(s));
                if (o.max_size > 0) FZ_ASSERT(taken <= o.max_size);
                if (discarded) FZ_ASSERT(mv_buf_avail(b) == 0);
                retr_ok = !discarded;
            }
            if (phase == P_LIST && pop3_entry_count(s) > 0) {
                const pop3_entry *e = pop3_entry_at(s, 0);
                size_t i;
                FZ_ASSERT(pop3_entry_count(s) <= (o.max_messages ? o.max_messages
                                                                 : POP3_DEFAULT_MAX_MESSAGES));
                for (i = 1; i < pop3_entry_count(s); i++)
                    FZ_ASSERT(pop3_entry_at(s, i)->n > pop3_entry_at(s, i - 1)->n);
                if (e->n == 1) expect = e->size;
            }
            if (phase == P_UIDL) {
                size_t i;
                for (i = 0; i < pop3_entry_count(s); i++) {
                    const char *u = pop3_entry_at(s, i)->uid;
                    FZ_ASSERT(u != NULL && strlen(u) >= 1 && strlen(u) <= 255);
                    FZ_ASSERT(fz_no_controls((const unsigned char *)u, strlen(u)));
                }
            }
next:
            phase++;
            if (phase == P_DELE && !retr_ok) phase++;
            switch (phase) {
            case P_STAT:
                /* With PIPELINING, STAT, LIST and UIDL go out in one write. */
                if ((g & 1) && (pop3_caps(s) & POP3_CAP_PIPELINING)) {
                    if (pop3_send_ahead(s, POP3_STAT, 0, 0, 0) != MV_OK) goto failed;
                    if (pop3_send_ahead(s, POP3_LIST, 0, 0, 0) != MV_OK) goto failed;
                    if (pop3_send_ahead(s, POP3_UIDL, 0, 0, 0) != MV_OK) goto failed;
                }
                r = pop3_begin(s, POP3_STAT, 0, 0, 0, 0);
                break;
            case P_LIST: r = pop3_begin(s, POP3_LIST, 0, 0, 0, 0); break;
            case P_UIDL: r = pop3_begin(s, POP3_UIDL, 0, 0, 0, 0); break;
            case P_RETR:
                taken = 0;
                r = pop3_begin(s, POP3_RETR, 1, 0, (g & 4) ? expect : 0, stream);
                break;
            case P_DELE:
                /* Sent ahead (as the mailbox walk does), its reply read by a NOOP. */
                if ((g & 16) && (pop3_caps(s) & POP3_CAP_PIPELINING)) {
                    if (pop3_send_ahead(s, POP3_DELE, 1, 0, 0) != MV_OK) goto failed;
                    r = pop3_begin(s, POP3_NOOP, 0, 0, 0, 0);
                } else {
                    r = pop3_begin(s, POP3_DELE, 1, 0, 0, 0);
                }
                break;
            case P_QUIT: r = pop3_begin(s, POP3_QUIT, 0, 0, 0, 0); break;
            default: goto end;
            }
            if (r != MV_OK) goto failed;
            continue;
        }
        FZ_ASSERT(r == MV_ERROR);
failed:
        {
            const mv_error *e = pop3_error(s);
            FZ_ASSERT(e->kind != MV_E_NONE && e->kind != MV_E_MEMORY);
            FZ_ASSERT(strstr(e->msg, "s3cret") == NULL || server_said_it);
            FZ_ASSERT(fz_no_controls((const unsigned char *)e->msg, strlen(e->msg)));
            if (e->has_reply)
                FZ_ASSERT(fz_no_controls((const unsigned char *)e->reply.text,
                                         strlen(e->reply.text)));
            if (phase == P_RETR && s->state == C_BODY && s->cur.verb == POP3_RETR
                && (e->kind == MV_E_CLOSED || e->kind == MV_E_IO))
                FZ_ASSERT(strstr(e->msg, "incomplete") != NULL);
            if (phase == P_OPEN || phase == P_QUIT) goto end;
            if (pop3_is_dead(s)) {
                /* Nothing may follow: not even QUIT (RFC 1939 §6). */
                FZ_ASSERT(pop3_begin(s, POP3_QUIT, 0, 0, 0, 0) == MV_ERROR);
                FZ_ASSERT(pop3_error(s)->kind == MV_E_CLOSED);
                FZ_ASSERT(mv_buf_avail(&pp->conn.net_out) == 0);
                goto end;
            }
            /* A -ERR leaves the session usable: go on with the next command. */
            FZ_ASSERT(e->kind == MV_E_REPLY || e->kind == MV_E_ARG || e->kind == MV_E_LIMIT);
            goto next;
        }
    }
end:
    FZ_ASSERT(steps < max_steps);
    if (dele_sent) FZ_ASSERT(retr_ok);
    if (getenv("FZ_DEBUG") != NULL)
        fprintf(stderr, "phase %d steps %ld quit %d error %s: %s\n", phase, steps, quit_sent,
                mv_kind_name(pop3_error(s)->kind), pop3_error(s)->msg);
done:
    pop3_free(s);
    return 0;
}
