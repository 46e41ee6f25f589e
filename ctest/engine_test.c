/* C unit tests of the engine every protocol shares: the table of commands in flight
 * (first in first out, and by tag), byte-counted reads with the line cap per segment,
 * the neutral reply shape, and the open sequence with its security rules, driven by a
 * toy protocol whose lines are "OK ..." / "NO ...". */
#include "ctest.h"

#include "mv_cmds.h"
#include "mv_open.h"
#include "mv_pp.h"

/* ------------------------------------------------------------------ commands */

/* POP3's use: replies come back in the order the commands went out, across the end
 * of the ring. */
static void test_cmds_fifo(void)
{
    mv_cmds t;
    mv_cmd out;
    mv_error e;
    unsigned long i;
    mv_cmds_init(&t);
    mv_error_clear(&e);
    CHECK(mv_cmds_pop(&t, &out) == -1);
    for (i = 1; i <= 3 * MV_CMDS_MAX; i++) {
        mv_cmd *c = mv_cmds_push(&t, &e);
        CHECK(c != NULL);
        if (c == NULL) return;
        CHECK(c->tag[0] == '\0');
        c->verb = 7;
        c->n = i;
        if (i % 3 == 0) {
            /* keep two in flight: pop the oldest of three */
            CHECK(mv_cmds_count(&t) == 3);
            CHECK(mv_cmds_at(&t, 0)->n == i - 2 && mv_cmds_at(&t, 2)->n == i);
            CHECK(mv_cmds_at(&t, 3) == NULL);
            CHECK(mv_cmds_pop(&t, &out) == 0 && out.n == i - 2 && out.verb == 7);
            CHECK(mv_cmds_pop(&t, &out) == 0 && out.n == i - 1);
            CHECK(mv_cmds_pop(&t, NULL) == 0);
            CHECK(mv_cmds_count(&t) == 0);
        }
    }
    CHECK(e.kind == MV_E_NONE);
}

/* One more command than the table holds fails closed (kind limit) and leaves what was
 * in flight as it was. */
static void test_cmds_overflow(void)
{
    mv_cmds t;
    mv_error e;
    size_t i;
    mv_cmds_init(&t);
    mv_error_clear(&e);
    for (i = 0; i < MV_CMDS_MAX; i++) {
        mv_cmd *c = mv_cmds_push(&t, &e);
        CHECK(c != NULL);
        if (c != NULL) c->n = i;
    }
    CHECK(mv_cmds_push(&t, &e) == NULL);
    CHECK(e.kind == MV_E_LIMIT && strstr(e.msg, "64") != NULL);
    CHECK(mv_cmds_count(&t) == MV_CMDS_MAX);
    CHECK(mv_cmds_at(&t, 0)->n == 0 && mv_cmds_at(&t, MV_CMDS_MAX - 1)->n == MV_CMDS_MAX - 1);
    /* A smaller bound holds the same way. */
    mv_cmds_init(&t);
    t.cap = 2;
    mv_error_clear(&e);
    CHECK(mv_cmds_push_tagged(&t, &e) != NULL && mv_cmds_push_tagged(&t, &e) != NULL);
    CHECK(mv_cmds_push_tagged(&t, &e) == NULL && e.kind == MV_E_LIMIT);
    CHECK(mv_cmds_count(&t) == 2);
}

/* IMAP's use: tags "A1", "A2"... complete in any order; the others keep their order,
 * and a tag nobody sent (or sent and completed) is not found. */
static void test_cmds_by_tag(void)
{
    mv_cmds t;
    mv_cmd out;
    mv_error e;
    int i;
    mv_cmds_init(&t);
    mv_error_clear(&e);
    for (i = 1; i <= 5; i++) {
        mv_cmd *c = mv_cmds_push_tagged(&t, &e);
        CHECK(c != NULL);
        if (c != NULL) c->verb = 100 + i;
    }
    CHECK(strcmp(mv_cmds_at(&t, 0)->tag, "A1") == 0);
    CHECK(strcmp(mv_cmds_at(&t, 4)->tag, "A5") == 0);
    CHECK(mv_cmds_take_tag(&t, "A3", 2, &out) == 0 && out.verb == 103);
    CHECK(mv_cmds_take_tag(&t, "A3", 2, &out) == -1);
    CHECK(mv_cmds_take_tag(&t, "A5", 2, &out) == 0 && out.verb == 105);
    CHECK(mv_cmds_take_tag(&t, "A9", 2, &out) == -1);
    CHECK(mv_cmds_take_tag(&t, "A", 1, &out) == -1);
    CHECK(mv_cmds_take_tag(&t, "A1x", 2, &out) == 0 && out.verb == 101);  /* length counts */
    CHECK(mv_cmds_count(&t) == 2);
    CHECK(strcmp(mv_cmds_at(&t, 0)->tag, "A2") == 0 && strcmp(mv_cmds_at(&t, 1)->tag, "A4") == 0);
    /* Tags never repeat, also after the ring turned. */
    for (i = 0; i < 3 * MV_CMDS_MAX; i++) {
        mv_cmd *c = mv_cmds_push_tagged(&t, &e);
        CHECK(c != NULL);
        if (c == NULL) return;
        CHECK(mv_cmds_take_tag(&t, c->tag, strlen(c->tag), &out) == 0);
    }
    CHECK(mv_cmds_count(&t) == 2 && strcmp(mv_cmds_at(&t, 1)->tag, "A4") == 0);
    mv_cmds_take_tag(&t, "A4", 2, NULL);
    mv_cmds_take_tag(&t, "A2", 2, NULL);
    CHECK(mv_cmds_count(&t) == 0);
    CHECK(e.kind == MV_E_NONE);
}

/* ------------------------------------------------------------------ take */

static void feed(mv_pp *pp, const char *s)
{
    CHECK(mv_conn_feed(&pp->conn, s, strlen(s)) == 0);
}

/* Takes exactly `want` bytes into out, feeding `wire` `piece` bytes at a time when the
 * engine asks for more: a literal's bytes arrive as the network cuts them. */
static void take_exactly(mv_pp *pp, size_t want, const char **wire, size_t piece, mv_buf *out)
{
    while (want > 0) {
        const unsigned char *d;
        size_t len;
        int r = mv_pp_take(pp, want, &d, &len);
        if (r == MV_WANT_READ) {
            size_t n = strlen(*wire) < piece ? strlen(*wire) : piece;
            CHECK(n > 0);
            if (n == 0) return;
            CHECK(mv_conn_feed(&pp->conn, *wire, n) == 0);
            *wire += n;
            continue;
        }
        CHECK(r == MV_OK && len >= 1 && len <= want);
        if (r != MV_OK) return;
        CHECK(mv_buf_append(out, d, len) == 0);
        mv_pp_taken(pp, len);
        want -= len;
    }
}

/* A byte count is honoured at every cut of the network: LF and CR inside the counted
 * bytes are data, and the line after them is read as a line. */
static void test_take_across_fills(void)
{
    const char *body = "12\r\n45\n78\r.0abcdefgh";   /* 20 bytes */
    size_t piece;
    for (piece = 1; piece <= 25; piece++) {
        mv_pp pp;
        mv_buf got;
        const char *line, *wire;
        size_t len;
        char all[128];
        mv_pp_init(&pp);
        mv_buf_init(&got);
        snprintf(all, sizeof all, "* 1 FETCH {20}\r\n%s)\r\nA1 OK done\r\n", body);
        wire = all;
        for (;;) {
            int r = mv_pp_getline(&pp, &line, &len);
            if (r == MV_OK) break;
            CHECK(r == MV_WANT_READ);
            if (r != MV_WANT_READ) break;
            CHECK(mv_conn_feed(&pp.conn, wire, 1) == 0);
            wire++;
        }
        CHECK_MEM(line, len, "* 1 FETCH {20}", 14);
        mv_pp_line_done(&pp);
        take_exactly(&pp, 20, &wire, piece, &got);
        CHECK_MEM(mv_buf_head(&got), mv_buf_avail(&got), body, 20);
        feed(&pp, wire);
        CHECK(mv_pp_getline(&pp, &line, &len) == MV_OK);
        CHECK_MEM(line, len, ")", 1);
        mv_pp_line_done(&pp);
        CHECK(mv_pp_getline(&pp, &line, &len) == MV_OK);
        CHECK_MEM(line, len, "A1 OK done", 10);
        mv_pp_line_done(&pp);
        CHECK(mv_pp_take(&pp, 5, (const unsigned char **)&line, &len) == MV_WANT_READ);
        mv_pp_free(&pp);
        mv_buf_free(&got);
    }
}

/* The segment rule: max_line caps each piece of a line between byte-counted reads, not
 * the whole line, so a FETCH line carrying a literal far longer than max_line is legal;
 * a piece after the literal that runs past max_line alone still fails (kind limit). */
static void test_take_segment_rule(void)
{
    mv_pp pp;
    mv_buf got;
    const char *line, *wire;
    size_t len;
    int i;
    char lit[301];
    for (i = 0; i < 300; i++) lit[i] = (char)('a' + i % 26);
    lit[300] = '\0';
    mv_pp_init(&pp);
    mv_buf_init(&got);
    pp.max_line = 16;
    feed(&pp, "* 1 FETCH {300}\r\n");
    CHECK(mv_pp_getline(&pp, &line, &len) == MV_OK);
    mv_pp_line_done(&pp);
    wire = lit;
    take_exactly(&pp, 300, &wire, 7, &got);
    CHECK(mv_buf_avail(&got) == 300);
    feed(&pp, " FLAGS (\\Seen))\r\n");     /* 15 bytes: within the cap on its own */
    CHECK(mv_pp_getline(&pp, &line, &len) == MV_OK);
    CHECK_MEM(line, len, " FLAGS (\\Seen))", 15);
    mv_pp_line_done(&pp);

    /* Taken bytes are not counted against the rest, even while the rest is partly
     * scanned: 10 bytes seen, then 7 taken, then 12 more bytes and LF. */
    feed(&pp, "0123456789");
    CHECK(mv_pp_getline(&pp, &line, &len) == MV_WANT_READ);
    CHECK(mv_pp_take(&pp, 7, (const unsigned char **)&line, &len) == MV_OK && len == 7);
    mv_pp_taken(&pp, 7);
    feed(&pp, "abcdefghijkl\r\n");
    CHECK(mv_pp_getline(&pp, &line, &len) == MV_OK);
    CHECK_MEM(line, len, "789abcdefghijkl", 15);
    mv_pp_line_done(&pp);

    /* The rest after a literal is capped by itself. */
    feed(&pp, "* 2 FETCH {3}\r\nxyz");
    CHECK(mv_pp_getline(&pp, &line, &len) == MV_OK);
    mv_pp_line_done(&pp);
    CHECK(mv_pp_take(&pp, 3, (const unsigned char **)&line, &len) == MV_OK && len == 3);
    mv_pp_taken(&pp, 3);
    feed(&pp, " this runs past the cap\r\n");
    CHECK(mv_pp_getline(&pp, &line, &len) == MV_ERROR);
    CHECK(pp.err.kind == MV_E_LIMIT);
    mv_pp_free(&pp);
    mv_buf_free(&got);
}

/* An end of stream in the middle of a count is "closed", never a short success. */
static void test_take_eof(void)
{
    mv_pp pp;
    const unsigned char *d;
    size_t len;
    mv_pp_init(&pp);
    feed(&pp, "ab");
    mv_conn_feed_eof(&pp.conn);
    CHECK(mv_pp_take(&pp, 5, &d, &len) == MV_OK && len == 2);
    mv_pp_taken(&pp, 2);
    CHECK(mv_pp_take(&pp, 3, &d, &len) == MV_ERROR && pp.err.kind == MV_E_CLOSED);
    mv_pp_free(&pp);
}

/* ------------------------------------------------------------------ replies */

static void test_reply_resp_code(void)
{
    mv_reply r;
    mv_error e;
    static const struct { const char *text, *code; } cases[] = {
        { "[IN-USE] maildrop locked", "IN-USE" },
        { "[SYS/TEMP] try later", "SYS/TEMP" },
        { "[LOGIN-DELAY]", "LOGIN-DELAY" },
        { "[AUTH] bad password", "AUTH" },
        { "[COPYUID 38505 304,319:320 3956:3958] Done", "COPYUID" },
        { "[IN-USE maildrop locked", "" },           /* never closed */
        { "IN-USE maildrop locked", "" },
        { "[] empty", "" },
        { "[IN\x1bUSE] control byte", "" },
        { "[AVERYLONGRESPONSECODEWORDTHATISNOTREAL] x", "" },
        { "", "" },
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mv_reply_clear(&r);
        mv_reply_set_resp_code(&r, cases[i].text, strlen(cases[i].text));
        CHECK(strcmp(r.resp_code, cases[i].code) == 0);
    }
    /* The message names the verdict: the status word, else SMTP's number. */
    mv_reply_clear(&r);
    strcpy(r.status, "-ERR");
    strcpy(r.text, "[IN-USE] locked");
    mv_error_clear(&e);
    CHECK(mv_fail_reply(&e, MV_E_AUTH, "login", &r) == MV_ERROR);
    CHECK(strcmp(e.msg, "login: -ERR [IN-USE] locked") == 0 && e.has_reply);
    mv_reply_clear(&r);
    r.code = 454;
    strcpy(r.text, "not now");
    mv_error_clear(&e);
    mv_fail_reply(&e, MV_E_TLS, "STARTTLS refused", &r);
    CHECK(strcmp(e.msg, "STARTTLS refused: 454 not now") == 0 && e.reply.code == 454);
}

/* ------------------------------------------------------------------ open */

/* A toy protocol: "OK"/"NO" lines; CAPS lists words on one line; STARTTLS offered when
 * the word is there. */
typedef struct toy {
    mv_pp pp;
    mv_cfg cfg;
    mv_reply last;
    int starttls, greetings, caps_read;
    int caps_in_greeting;    /* as IMAP's "* OK [CAPABILITY ...]": no command needed */
} toy;

static int toy_line(toy *t, int *ok)
{
    const char *line;
    size_t len;
    int r = mv_pp_getline(&t->pp, &line, &len);
    if (r != MV_OK) return r;
    mv_reply_clear(&t->last);
    *ok = len >= 2 && memcmp(line, "OK", 2) == 0;
    memcpy(t->last.status, line, len >= 2 ? 2 : len);
    t->last.status[len >= 2 ? 2 : len] = '\0';
    snprintf(t->last.text, sizeof t->last.text, "%.*s", len > 3 ? (int)len - 3 : 0, line + 3);
    t->starttls = strstr(t->last.text, "STARTTLS") != NULL;
    mv_pp_line_done(&t->pp);
    return MV_OK;
}

static int toy_greeting(void *p, int *sub)
{
    toy *t = p;
    int ok, r;
    (void)sub;
    if ((r = toy_line(t, &ok)) != MV_OK) return r;
    t->greetings++;
    if (!ok) return mv_fail_reply(&t->pp.err, MV_E_REPLY, "refused", &t->last);
    return MV_OK;
}

static int toy_send_caps(void *p)
{
    toy *t = p;
    if (t->caps_in_greeting && !t->pp.conn.tls_ready) return MV_OK;
    return mv_pp_send(&t->pp, "CAPS", 4, (size_t)-1);
}

static int toy_read_caps(void *p, int *sub)
{
    toy *t = p;
    int ok, r;
    (void)sub;
    if (t->caps_in_greeting && !t->pp.conn.tls_ready) return MV_OK;
    if ((r = toy_line(t, &ok)) != MV_OK) return r;
    t->caps_read++;
    return MV_OK;
}

static const char *toy_missing(void *p)
{
    toy *t = p;
    return t->starttls ? NULL : "no STARTTLS offered, and it is required";
}

static int toy_send_starttls(void *p)
{
    toy *t = p;
    return mv_pp_send(&t->pp, "STARTTLS", 8, (size_t)-1);
}

static int toy_read_starttls(void *p, int *sub, const mv_reply **reply, int *accepted)
{
    toy *t = p;
    int r;
    (void)sub;
    if ((r = toy_line(t, accepted)) != MV_OK) return r;
    *reply = &t->last;
    return MV_OK;
}

static const mv_open_ops toy_ops = {
    "STARTTLS", toy_greeting, toy_send_caps, toy_read_caps, toy_missing, toy_send_starttls,
    toy_read_starttls
};

/* Runs the open sequence over `wire` (the server's whole side, received at once when
 * the engine first asks to read) and returns how it ended; `sent` gets what the client
 * wrote, moved out as a driver does. */
static int toy_open_as(toy *t, mv_tls_mode mode, int caps_in_greeting, const char *wire,
                       char *sent, size_t size)
{
    mv_open o;
    mv_buf *out;
    size_t used = 0;
    int r, fed = 0, rounds;
    memset(t, 0, sizeof *t);
    mv_pp_init(&t->pp);
    out = &t->pp.conn.net_out;
    t->cfg.host = "mail.example.org";
    t->cfg.server_name = "mail.example.org";
    t->cfg.tls = mode;
    t->caps_in_greeting = caps_in_greeting;
    mv_open_begin(&o, &t->pp, &t->cfg, &toy_ops, t);
    for (rounds = 0; rounds < 20; rounds++) {
        r = mv_open_step(&o);
        if (r == MV_WANT_WRITE) {
            size_t n = mv_buf_avail(out);
            if (used + n >= size) n = size - used - 1;
            memcpy(sent + used, mv_buf_head(out), n);
            used += n;
            mv_buf_consume(out, mv_buf_avail(out));
            continue;
        }
        if (r != MV_WANT_READ || fed) break;
        feed(&t->pp, wire);
        fed = 1;
    }
    sent[used] = '\0';
    return r;
}

static int toy_open(toy *t, mv_tls_mode mode, const char *wire, char *sent, size_t size)
{
    return toy_open_as(t, mode, 0, wire, sent, size);
}

static void test_open_plain(void)
{
    toy t;
    char sent[256];
    CHECK(toy_open(&t, MV_TLS_NONE, "OK hello\r\nOK CAPS A B\r\n", sent, sizeof sent) == MV_OK);
    CHECK(strcmp(sent, "CAPS\r\n") == 0);
    CHECK(t.greetings == 1 && t.caps_read == 1);
    mv_pp_free(&t.pp);
    CHECK(toy_open(&t, MV_TLS_NONE, "NO go away\r\n", sent, sizeof sent) == MV_ERROR);
    CHECK(t.pp.err.kind == MV_E_REPLY && strcmp(t.pp.err.msg, "refused: NO go away") == 0);
    CHECK(strcmp(sent, "") == 0);
    mv_pp_free(&t.pp);
    /* Capabilities that came with the greeting: nothing to send, no wait for a reply. */
    CHECK(toy_open_as(&t, MV_TLS_NONE, 1, "OK hello [CAPS A]\r\n", sent, sizeof sent) == MV_OK);
    CHECK(strcmp(sent, "") == 0 && t.greetings == 1);
    mv_pp_free(&t.pp);
}

/* No downgrade (CHECKLIST 6, 7): required and not offered fails (kind tls) before
 * anything else is sent; refused fails (kind tls) with the server's reply. */
static void test_open_no_downgrade(void)
{
    toy t;
    char sent[256];
    CHECK(toy_open(&t, MV_TLS_STARTTLS, "OK hello\r\nOK CAPS A B\r\n", sent, sizeof sent)
          == MV_ERROR);
    CHECK(t.pp.err.kind == MV_E_TLS);
    CHECK(strcmp(t.pp.err.msg, "no STARTTLS offered, and it is required") == 0);
    CHECK(strcmp(sent, "CAPS\r\n") == 0);
    mv_pp_free(&t.pp);
    CHECK(toy_open(&t, MV_TLS_STARTTLS, "OK hello\r\nOK CAPS STARTTLS\r\nNO not now\r\n", sent,
                   sizeof sent) == MV_ERROR);
    CHECK(t.pp.err.kind == MV_E_TLS && t.pp.err.has_reply);
    CHECK(strcmp(t.pp.err.msg, "STARTTLS refused: NO not now") == 0);
    CHECK(strcmp(t.pp.err.reply.text, "not now") == 0);
    CHECK(strcmp(sent, "CAPS\r\nSTARTTLS\r\n") == 0);
    CHECK(!mv_pp_error_keeps_session(&t.pp.err));
    mv_pp_free(&t.pp);
}

/* Bytes that came with the STARTTLS reply were sent before TLS (CHECKLIST 8, 9): the
 * sequence fails rather than read them later as the server's; with none, the
 * handshake starts, the capabilities read before it still the only ones read. */
static void test_open_pre_tls_bytes(void)
{
    toy t;
    char sent[256];
    CHECK(toy_open(&t, MV_TLS_STARTTLS, "OK hello\r\nOK CAPS STARTTLS\r\nOK go\r\nOK CAPS AUTH\r\n",
                   sent, sizeof sent) == MV_ERROR);
    CHECK(t.pp.err.kind == MV_E_PROTOCOL && strstr(t.pp.err.msg, "before the TLS") != NULL);
    CHECK(t.pp.conn.tls == NULL);
    mv_pp_free(&t.pp);
    CHECK(toy_open(&t, MV_TLS_STARTTLS, "OK hello\r\nOK CAPS STARTTLS\r\nOK go\r\n", sent,
                   sizeof sent) == MV_WANT_READ);
    CHECK(t.pp.conn.tls != NULL && !t.pp.conn.tls_ready);
    CHECK(t.caps_read == 1);                 /* the capabilities after TLS still owed */
    CHECK(strncmp(sent, "CAPS\r\nSTARTTLS\r\n\x16", 17) == 0);   /* then a ClientHello */
    mv_pp_free(&t.pp);
}

int main(void)
{
    static const ctest_case cases[] = {
        { "command table first in first out", test_cmds_fifo },
        { "command table overflow fails closed (limit)", test_cmds_overflow },
        { "command table completes by tag out of order", test_cmds_by_tag },
        { "take: byte counts across fill boundaries", test_take_across_fills },
        { "take: the line cap applies per segment", test_take_segment_rule },
        { "take: EOF inside a count is closed", test_take_eof },
        { "reply: response codes and the verdict in messages", test_reply_resp_code },
        { "open: plain sequence and a refused greeting", test_open_plain },
        { "open: no downgrade when STARTTLS is required (CHECKLIST 6, 7)",
          test_open_no_downgrade },
        { "open: bytes before TLS are never trusted (CHECKLIST 8, 9)",
          test_open_pre_tls_bytes },
        { NULL, NULL }
    };
    return ctest_run("engine", cases);
}
