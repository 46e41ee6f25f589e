/* POP3 parsing: the multi-line reader at every chunk boundary, status lines,
 * LIST/UIDL/STAT values and the APOP timestamp (CHECKLIST 33, 37, 40); and the
 * session state machine driven from memory, as the external driver does. */
#include "ctest.h"
#include "pop3.h"
#include "pop3_parse.h"
#include "mv_clock.h"
#include "mv_cmds.h"

#include <stdlib.h>

/* Feeds `wire` split at every pair of cut points; each run must give `want` and
 * consume exactly `used` bytes. */
static void check_all_splits(const char *wire, const char *want, size_t used)
{
    size_t n = strlen(wire), a, b;
    for (a = 0; a <= n; a++) {
        for (b = a; b <= n; b++) {
            pop3_ml m;
            mv_buf out;
            size_t cuts[4], i, pos = 0;
            int done = 0;
            cuts[0] = 0; cuts[1] = a; cuts[2] = b; cuts[3] = n;
            mv_buf_init(&out);
            pop3_ml_init(&m);
            for (i = 0; i < 3 && !done; i++) {
                size_t len = cuts[i + 1] - cuts[i];
                size_t k = pop3_ml_feed(&m, (const unsigned char *)wire + cuts[i], len, &out,
                                        &done);
                pos += k;
                if (!done) CHECK(k == len);
            }
            CHECK(done);
            CHECK(pos == used);
            /* An empty result has no buffer at all (memcmp must not see NULL). */
            if (want[0] == '\0') CHECK(mv_buf_avail(&out) == 0);
            else CHECK_MEM(mv_buf_head(&out), mv_buf_avail(&out), want, strlen(want));
            CHECK(m.out_bytes == strlen(want));
            mv_buf_free(&out);
        }
    }
}

static void test_unstuff(void)
{
    /* curl test 857 style: ..x -> .x, ... -> .., .. -> ., a "." line mid-body. */
    check_all_splits("a\r\n..x\r\n...\r\n..\r\nb\r\n.\r\n",
                     "a\r\n.x\r\n..\r\n.\r\nb\r\n", 23);
    check_all_splits(".\r\n", "", 3);
    check_all_splits("..\r\n.\r\nTRAILING", ".\r\n", 7);
    check_all_splits("x\r\n.\rx\r\n.\r\n", "x\r\n\rx\r\n", 11);
}

static void test_bare_lf(void)
{
    /* Documented rule: a line ends at LF; "." alone (CRLF or LF) terminates. */
    check_all_splits("a\n.\nb", "a\n", 4);
    check_all_splits("a\n..b\n.\r\n", "a\n.b\n", 9);
    check_all_splits("a\r\r\n.\r\n", "a\r\r\n", 7);
}

static void test_byte_at_a_time(void)
{
    const char *wire = "From: x\r\n\r\n..\r\n.x\r\n.\r\n";
    const char *want = "From: x\r\n\r\n.\r\nx\r\n";
    pop3_ml m;
    mv_buf out;
    size_t i;
    int done = 0;
    mv_buf_init(&out);
    pop3_ml_init(&m);
    for (i = 0; i < strlen(wire) && !done; i++)
        CHECK(pop3_ml_feed(&m, (const unsigned char *)wire + i, 1, &out, &done) == 1);
    CHECK(done && i == strlen(wire));
    CHECK_MEM(mv_buf_head(&out), mv_buf_avail(&out), want, strlen(want));
    mv_buf_free(&out);
}

static void test_status(void)
{
    const char *t;
    size_t n;
    CHECK(pop3_status("+OK", 3, &t, &n) == 1 && n == 0);
    CHECK(pop3_status("+OK 2 320", 9, &t, &n) == 1 && n == 5 && memcmp(t, "2 320", 5) == 0);
    CHECK(pop3_status("-ERR no such message", 20, &t, &n) == 0 && n == 15);
    CHECK(pop3_status("+OKAY", 5, &t, &n) == -1);
    CHECK(pop3_status("+ go", 4, &t, &n) == -1);
    CHECK(pop3_status("250 ok", 6, &t, &n) == -1);
    CHECK(pop3_status("", 0, &t, &n) == -1);
}

static void test_list_uidl(void)
{
    unsigned long n;
    unsigned long long size, c;
    const char *uid;
    size_t ul, used;
    CHECK(pop3_parse_list("1 120", 5, 100, &n, &size) == 0 && n == 1 && size == 120);
    CHECK(pop3_parse_list("3 7 extra", 9, 100, &n, &size) == 0 && n == 3 && size == 7);
    CHECK(pop3_parse_list("0 7", 3, 100, &n, &size) == -1);
    CHECK(pop3_parse_list("-1 7", 4, 100, &n, &size) == -1);
    CHECK(pop3_parse_list("101 7", 5, 100, &n, &size) == -1);
    CHECK(pop3_parse_list("99999999999999999999999 7", 25, 0xffffffffUL, &n, &size) == -1);
    CHECK(pop3_parse_list("1 99999999999999999999", 22, 100, &n, &size) == -1);
    CHECK(pop3_parse_list("1 12x", 5, 100, &n, &size) == -1);
    CHECK(pop3_parse_list("1", 1, 100, &n, &size) == -1);
    CHECK(pop3_parse_uidl("2 abc", 5, 100, 70, &n, &uid, &ul) == 0 && n == 2 && ul == 3);
    CHECK(pop3_parse_uidl("2 ab c", 6, 100, 70, &n, &uid, &ul) == -1);
    CHECK(pop3_parse_uidl("2 ", 2, 100, 70, &n, &uid, &ul) == -1);
    CHECK(pop3_parse_uidl("2 a\x01", 4, 100, 70, &n, &uid, &ul) == -1);
    {
        char line[200];
        memset(line, 'u', sizeof line);
        line[0] = '1';
        line[1] = ' ';
        CHECK(pop3_parse_uidl(line, sizeof line, 100, 70, &n, &uid, &ul) == -1);
        CHECK(pop3_parse_uidl(line, 72, 100, 70, &n, &uid, &ul) == 0 && ul == 70);
    }
    CHECK(pop3_parse_stat("2 320", 5, &n, &size) == 0 && n == 2 && size == 320);
    CHECK(pop3_parse_stat("2", 1, &n, &size) == -1);
    CHECK(pop3_number("18446744073709551616", 20, (unsigned long long)-1, &c, &used) == -1);
    CHECK(pop3_number("5", 1, 3, &c, &used) == -1);
}

static void test_apop(void)
{
    size_t st, len, i;
    const char *g = "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>";
    static char big[200001];
    CHECK(pop3_apop_stamp(g, strlen(g), &st, &len) == 0);
    CHECK(len == 33 && g[st] == '<' && g[st + len - 1] == '>');
    CHECK(pop3_apop_stamp("+OK hi", 6, &st, &len) == -1);
    CHECK(pop3_apop_stamp("+OK <>", 6, &st, &len) == -1);
    CHECK(pop3_apop_stamp("+OK <a b@c>", 11, &st, &len) == -1);
    /* CVE-2018-1060: pathological brackets stay linear (and find nothing here). */
    for (i = 0; i < sizeof big - 1; i++) big[i] = (i % 2) ? '<' : '@';
    CHECK(pop3_apop_stamp(big, sizeof big - 1, &st, &len) == -1);
    memset(big, '<', sizeof big - 1);
    CHECK(pop3_apop_stamp(big, sizeof big - 1, &st, &len) == -1);
}

/* Steps until the session wants something other than to write; what it wrote is
 * appended to sent. */
static int step_io(pop3_session *s, mv_buf *sent)
{
    for (;;) {
        mv_buf *out = &pop3_pp(s)->conn.net_out;
        int r = pop3_step(s);
        if (mv_buf_avail(out) > 0) {
            CHECK(mv_buf_append(sent, mv_buf_head(out), mv_buf_avail(out)) == 0);
            mv_buf_reset(out);
        }
        if (r != MV_WANT_WRITE) return r;
    }
}

static void feed(pop3_session *s, const char *text)
{
    CHECK(mv_conn_feed(&pop3_pp(s)->conn, text, strlen(text)) == 0);
}

/* A logged-in session over memory (no socket, no TLS); max_listing_bytes 0: default;
 * capa_after: the reply to CAPA after login. */
static pop3_session *logged_in_capa(mv_buf *sent, unsigned long long max_listing_bytes,
                                    const char *capa_after)
{
    pop3_session *s = pop3_new();
    pop3_opts o;
    memset(&o, 0, sizeof o);
    o.max_listing_bytes = max_listing_bytes;
    o.cfg.host = "pop.test";
    o.cfg.tls = MV_TLS_NONE;
    o.cfg.user = "alice";
    o.cfg.password = "secret";
    o.cfg.auth = "user";
    o.cfg.peer_is_loopback = 1;
    o.cfg.insecure_auth = MV_INSECURE_LOOPBACK;
    CHECK(s != NULL && pop3_configure(s, &o) == MV_OK);
    pop3_pp(s)->timeout_ms = 60000;
    CHECK(pop3_begin_open(s) == MV_OK);
    CHECK(step_io(s, sent) == MV_WANT_READ);
    feed(s, "+OK hello\r\n");
    CHECK(step_io(s, sent) == MV_WANT_READ);
    feed(s, "+OK\r\nUSER\r\n.\r\n");
    CHECK(step_io(s, sent) == MV_WANT_READ);
    feed(s, "+OK\r\n");
    CHECK(step_io(s, sent) == MV_WANT_READ);
    feed(s, "+OK\r\n");
    CHECK(step_io(s, sent) == MV_WANT_READ);
    feed(s, capa_after);
    CHECK(step_io(s, sent) == MV_OK);
    CHECK_MEM(mv_buf_head(sent), mv_buf_avail(sent),
              "CAPA\r\nUSER alice\r\nPASS secret\r\nCAPA\r\n", 37);
    mv_buf_reset(sent);
    return s;
}

static pop3_session *logged_in_with(mv_buf *sent, unsigned long long max_listing_bytes)
{
    return logged_in_capa(sent, max_listing_bytes, "+OK\r\n.\r\n");
}

static pop3_session *logged_in_session(mv_buf *sent)
{
    return logged_in_with(sent, 0);
}

/* Stream mode hands the body out in chunks of at most 64 KiB (MV_HAVE_CHUNK), whatever
 * arrived at once; an EOF the driver reports mid-body makes the message incomplete
 * and the session dead (CHECKLIST 36). */
static void test_stream_chunks(void)
{
    mv_buf sent, got;
    size_t i, total = 0, max_chunk = 0;
    char *body = malloc(200001);
    int r, chunks = 0;
    pop3_session *s;
    mv_buf_init(&sent);
    mv_buf_init(&got);
    s = logged_in_session(&sent);
    CHECK(body != NULL);
    for (i = 0; i < 200000; i++) body[i] = (i % 100 == 99) ? '\n' : 'x';
    body[200000] = '\0';
    CHECK(pop3_begin(s, POP3_RETR, 1, 0, 0, 1) == MV_OK);
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    CHECK_MEM(mv_buf_head(&sent), mv_buf_avail(&sent), "RETR 1\r\n", 8);
    feed(s, "+OK\r\n");
    feed(s, body);
    while ((r = step_io(s, &sent)) == MV_HAVE_CHUNK) {
        mv_buf *b = pop3_body(s);
        if (mv_buf_avail(b) > max_chunk) max_chunk = mv_buf_avail(b);
        total += mv_buf_avail(b);
        CHECK(mv_buf_append(&got, mv_buf_head(b), mv_buf_avail(b)) == 0);
        mv_buf_reset(b);
        chunks++;
    }
    CHECK(r == MV_WANT_READ);
    CHECK(chunks == 3);
    CHECK(max_chunk == POP3_CHUNK);
    CHECK(total + mv_buf_avail(pop3_body(s)) == 200000);
    mv_conn_feed_eof(&pop3_pp(s)->conn);
    CHECK(step_io(s, &sent) == MV_ERROR);
    CHECK(pop3_error(s)->kind == MV_E_CLOSED);
    CHECK(strstr(pop3_error(s)->msg, "message 1 incomplete") != NULL);
    CHECK(pop3_is_dead(s));
    CHECK(pop3_begin(s, POP3_NOOP, 0, 0, 0, 0) == MV_ERROR);
    pop3_free(s);
    mv_buf_free(&sent);
    mv_buf_free(&got);
    free(body);
}

/* A timeout the driver reports (as _io_error does) is classified by the next step. */
static void test_driver_timeout(void)
{
    mv_buf sent;
    pop3_session *s;
    mv_buf_init(&sent);
    s = logged_in_session(&sent);
    CHECK(pop3_begin(s, POP3_RETR, 2, 0, 0, 0) == MV_OK);
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    feed(s, "+OK\r\npartial");
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    mv_fail(&pop3_pp(s)->err, MV_E_TIMEOUT, "timed out waiting for the server");
    CHECK(step_io(s, &sent) == MV_ERROR);
    CHECK(pop3_error(s)->kind == MV_E_TIMEOUT);
    CHECK(strstr(pop3_error(s)->msg, "message 2 incomplete") != NULL);
    CHECK(pop3_is_dead(s));
    pop3_free(s);
    mv_buf_free(&sent);
}

/* Progress re-arms the per-wait deadline, never past the command's max_time, also
 * while the rest of a message goes into the void (CHECKLIST 70). */
static void test_max_time(void)
{
    mv_buf sent;
    mv_pp *pp;
    pop3_session *s;
    char *chunk = malloc(70001);
    long long t0;
    mv_buf_init(&sent);
    s = logged_in_session(&sent);
    pp = pop3_pp(s);
    CHECK(chunk != NULL);
    memset(chunk, 'y', 70000);
    chunk[69999] = '\n';
    chunk[70000] = '\0';
    pp->max_time_ms = 5000;
    t0 = mv_now_ms();
    CHECK(pop3_begin(s, POP3_RETR, 1, 0, 0, 1) == MV_OK);
    CHECK(pp->limit >= t0 + 5000 && pp->limit <= mv_now_ms() + 5000);
    CHECK(pp->deadline == pp->limit);          /* timeout (60 s) is the longer one */
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    feed(s, "+OK\r\n");
    feed(s, chunk);
    CHECK(step_io(s, &sent) == MV_HAVE_CHUNK);
    CHECK(pop3_discard_rest(s) == MV_OK);
    CHECK(pp->deadline == pp->limit);
    feed(s, chunk);
    feed(s, chunk);
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    CHECK(pp->deadline == pp->limit);
    pp->limit = mv_now_ms() - 1;               /* as if max_time had passed */
    mv_fail(&pp->err, MV_E_TIMEOUT, "timed out waiting for the server");
    CHECK(step_io(s, &sent) == MV_ERROR);
    CHECK(pop3_error(s)->kind == MV_E_TIMEOUT);
    CHECK(strstr(pop3_error(s)->msg, "max_time of 5 s") != NULL);
    CHECK(pop3_is_dead(s));
    pop3_free(s);
    mv_buf_free(&sent);
    free(chunk);
}

/* Discarding honours max_size; listings have a byte budget; message numbers stop at
 * POP3_MAX_MSG_NUMBER (CHECKLIST 70). */
static void test_listing_bounds(void)
{
    mv_buf sent;
    pop3_session *s;
    char line[64];
    mv_buf_init(&sent);
    s = logged_in_session(&sent);
    CHECK(pop3_begin(s, POP3_LIST, 0, 0, 0, 0) == MV_OK);
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    snprintf(line, sizeof line, "+OK\r\n%lu 1\r\n.\r\n", POP3_MAX_MSG_NUMBER);
    feed(s, line);
    CHECK(step_io(s, &sent) == MV_OK);
    CHECK(pop3_entry_count(s) == 1 && pop3_entry_at(s, 0)->n == POP3_MAX_MSG_NUMBER);
    CHECK(pop3_begin(s, POP3_LIST, 0, 0, 0, 0) == MV_OK);
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    snprintf(line, sizeof line, "+OK\r\n%lu 1\r\n.\r\n", POP3_MAX_MSG_NUMBER + 1);
    feed(s, line);
    CHECK(step_io(s, &sent) == MV_ERROR);
    CHECK(pop3_error(s)->kind == MV_E_PROTOCOL);
    CHECK(pop3_is_dead(s));
    pop3_free(s);

    mv_buf_reset(&sent);
    s = logged_in_with(&sent, 12);
    CHECK(pop3_begin(s, POP3_UIDL, 0, 0, 0, 0) == MV_OK);
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    feed(s, "+OK\r\n1 a\r\n2 b\r\n3 c\r\n.\r\n");
    CHECK(step_io(s, &sent) == MV_ERROR);
    CHECK(pop3_error(s)->kind == MV_E_LIMIT);
    pop3_free(s);
    mv_buf_free(&sent);
}

/* insecure_auth = never holds for a loopback peer too. */
static void test_insecure_auth_never(void)
{
    mv_buf sent;
    pop3_session *s = pop3_new();
    pop3_opts o;
    mv_buf_init(&sent);
    memset(&o, 0, sizeof o);
    o.cfg.host = "pop.test";
    o.cfg.tls = MV_TLS_NONE;
    o.cfg.user = "alice";
    o.cfg.password = "secret";
    o.cfg.peer_is_loopback = 1;
    o.cfg.insecure_auth = MV_INSECURE_NEVER;
    CHECK(s != NULL && pop3_configure(s, &o) == MV_OK);
    CHECK(pop3_begin_open(s) == MV_OK);
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    feed(s, "+OK hello\r\n");
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    feed(s, "+OK\r\nUSER\r\n.\r\n");
    CHECK(step_io(s, &sent) == MV_ERROR);
    CHECK(pop3_error(s)->kind == MV_E_AUTH);
    CHECK_MEM(mv_buf_head(&sent), mv_buf_avail(&sent), "CAPA\r\n", 6);
    pop3_free(s);
    mv_buf_free(&sent);
}

/* Commands sent ahead wait in the engine's table, first in first out: one more than it
 * holds fails closed (kind limit) before it is sent, and the replies are read in order,
 * a refused DELE among them kept with its response code (RFC 2449 §8). */
static void test_sent_ahead_table(void)
{
    mv_buf sent;
    mv_error e;
    unsigned long i;
    size_t before;
    pop3_session *s;
    mv_buf_init(&sent);
    s = logged_in_capa(&sent, 0, "+OK\r\nUSER\r\nPIPELINING\r\nRESP-CODES\r\n.\r\n");
    for (i = 1; i <= MV_CMDS_MAX; i++) CHECK(pop3_send_ahead(s, POP3_DELE, i, 0, 0) == MV_OK);
    CHECK(pop3_pending(s) == MV_CMDS_MAX);
    before = mv_buf_avail(&pop3_pp(s)->conn.net_out);
    CHECK(pop3_send_ahead(s, POP3_DELE, 65, 0, 0) == MV_ERROR);
    CHECK(pop3_error(s)->kind == MV_E_LIMIT);
    CHECK(mv_buf_avail(&pop3_pp(s)->conn.net_out) == before);   /* nothing went out */
    CHECK(pop3_pending(s) == MV_CMDS_MAX);
    CHECK(pop3_begin(s, POP3_DELE, MV_CMDS_MAX, 0, 0, 0) == MV_OK);
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    CHECK(strncmp((const char *)mv_buf_head(&sent), "DELE 1\r\nDELE 2\r\n", 16) == 0);
    for (i = 1; i <= MV_CMDS_MAX; i++)
        feed(s, i == 5 ? "-ERR [IN-USE] message 5 is locked\r\n" : "+OK deleted\r\n");
    CHECK(step_io(s, &sent) == MV_OK);
    CHECK(pop3_pending(s) == 0);
    CHECK(pop3_take_dele_error(s, &e) == 1);
    CHECK(e.kind == MV_E_REPLY && e.has_reply);
    CHECK(strcmp(e.msg, "DELE 5 refused: -ERR [IN-USE] message 5 is locked") == 0);
    CHECK(strcmp(e.reply.status, "-ERR") == 0 && strcmp(e.reply.resp_code, "IN-USE") == 0);
    CHECK(strcmp(pop3_last_reply(s)->status, "+OK") == 0);
    CHECK(pop3_last_reply(s)->resp_code[0] == '\0');
    CHECK(!pop3_is_dead(s));
    pop3_free(s);
    mv_buf_reset(&sent);
    /* Without RESP-CODES a bracket is text (RFC 2449 §6.4); AUTH-RESP-CODE allows
     * [AUTH] alone (RFC 3206 §6). */
    s = logged_in_capa(&sent, 0, "+OK\r\nUSER\r\nPIPELINING\r\n.\r\n");
    CHECK(pop3_begin(s, POP3_NOOP, 0, 0, 0, 0) == MV_OK);
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    feed(s, "-ERR [IN-USE] busy\r\n");
    CHECK(step_io(s, &sent) == MV_ERROR);
    CHECK(strcmp(pop3_error(s)->reply.status, "-ERR") == 0);
    CHECK(pop3_error(s)->reply.resp_code[0] == '\0');
    pop3_free(s);
    mv_buf_reset(&sent);
    s = logged_in_capa(&sent, 0, "+OK\r\nAUTH-RESP-CODE\r\n.\r\n");
    CHECK(pop3_begin(s, POP3_NOOP, 0, 0, 0, 0) == MV_OK);
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    feed(s, "-ERR [IN-USE] busy\r\n");
    CHECK(step_io(s, &sent) == MV_ERROR);
    CHECK(pop3_error(s)->reply.resp_code[0] == '\0');
    CHECK(pop3_begin(s, POP3_NOOP, 0, 0, 0, 0) == MV_OK);
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    feed(s, "-ERR [AUTH] not now\r\n");
    CHECK(step_io(s, &sent) == MV_ERROR);
    CHECK(strcmp(pop3_error(s)->reply.resp_code, "AUTH") == 0);
    pop3_free(s);
    mv_buf_free(&sent);
}

int main(void)
{
    static const ctest_case cases[] = {
        { "dot-unstuffing at every chunk boundary (CHECKLIST 37)", test_unstuff },
        { "bare LF terminator rule (CHECKLIST 37)", test_bare_lf },
        { "one byte at a time", test_byte_at_a_time },
        { "status lines", test_status },
        { "LIST/UIDL/STAT parsing is bounded (CHECKLIST 33)", test_list_uidl },
        { "APOP timestamp in linear time (CHECKLIST 40)", test_apop },
        { "stream mode: bounded chunks, EOF mid-body is incomplete", test_stream_chunks },
        { "a timeout reported by the driver is classified", test_driver_timeout },
        { "max_time bounds a whole transfer, discarding too (CHECKLIST 70)", test_max_time },
        { "listing budget and message-number bound (CHECKLIST 70)", test_listing_bounds },
        { "insecure_auth never: no credentials to loopback either", test_insecure_auth_never },
        { "sent-ahead commands: bounded table, replies in order, response codes",
          test_sent_ahead_table },
        { NULL, NULL }
    };
    return ctest_run("pop3", cases);
}
