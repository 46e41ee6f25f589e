/* The IMAP session core over memory (no socket, no TLS): command building (no argument
 * can inject syntax), literals both ways, completion by tag, untagged data for the
 * caller, IDLE and waiting, and the failures a server can cause. */
#include "ctest.h"
#include "imap_int.h"

static void cmd_text(imap_cmd *c, const char *want)
{
    CHECK(!c->failed);
    CHECK_MEM(c->buf.data, c->buf.len, want, strlen(want));
    if (c->buf.len != strlen(want) || memcmp(c->buf.data, want, c->buf.len) != 0)
        fprintf(stderr, "  got [%.*s]\n", (int)c->buf.len, (const char *)c->buf.data);
}

static void test_cmd_arguments(void)
{
    imap_cmd c;
    imap_cmd_init(&c, IMAP_LIT_SYNC, 0);
    imap_cmd_atom(&c, "UID", 3);
    imap_cmd_atom(&c, "FETCH", 5);
    imap_cmd_atom(&c, "1:5,9,*", 7);
    imap_cmd_open(&c);
    imap_cmd_atom(&c, "UID", 3);
    imap_cmd_atom(&c, "BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>", 41);
    imap_cmd_close(&c);
    cmd_text(&c, "UID FETCH 1:5,9,* (UID BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>)");
    imap_cmd_free(&c);

    /* astrings: an atom, a quoted string (with escapes), NIL quoted, empty quoted */
    imap_cmd_init(&c, IMAP_LIT_SYNC, 0);
    imap_cmd_astring(&c, "alice", 5);
    imap_cmd_astring(&c, "a \"b\\", 5);
    imap_cmd_astring(&c, "NIL", 3);
    imap_cmd_astring(&c, "", 0);
    imap_cmd_mailbox(&c, "\xc3\xa9t\xc3\xa9", 5);
    imap_cmd_mailbox(&c, "INBOX", 5);
    cmd_text(&c, "alice \"a \\\"b\\\\\" \"NIL\" \"\" &AOk-t&AOk- INBOX");
    CHECK(c.nlit == 0);
    imap_cmd_free(&c);
}

static void test_cmd_refuses_injection(void)
{
    static const char *const bad[] = { "1 2", "a\r\nb", "(x", "x)", "a\"b", "{5}", "", "\\",
                                       "BODY[1", "a]" };
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        imap_cmd c;
        imap_cmd_init(&c, IMAP_LIT_PLUS, 0);
        CHECK(imap_cmd_atom(&c, bad[i], strlen(bad[i])) == -1);
        CHECK(c.failed && c.err.kind == MV_E_ARG);
        /* after a failure nothing more is added */
        CHECK(imap_cmd_atom(&c, "OK", 2) == -1);
        imap_cmd_free(&c);
    }
}

static void test_cmd_literals(void)
{
    imap_cmd c;
    /* CR LF in a string: a literal; synchronising without LITERAL+ */
    imap_cmd_init(&c, IMAP_LIT_SYNC, 0);
    imap_cmd_atom(&c, "SEARCH", 6);
    imap_cmd_string(&c, "a\r\nA1 LOGOUT", 12);
    cmd_text(&c, "SEARCH {12}\r\na\r\nA1 LOGOUT");
    CHECK(c.nlit == 1 && c.lit[0].sync == 1 && c.lit[0].len == 12);
    imap_cmd_free(&c);
    /* LITERAL+: non-synchronising; 8-bit without UTF8=ACCEPT is a literal */
    imap_cmd_init(&c, IMAP_LIT_PLUS, 0);
    imap_cmd_string(&c, "caf\xc3\xa9", 5);
    cmd_text(&c, "{5+}\r\ncaf\xc3\xa9");
    CHECK(c.lit[0].sync == 0);
    imap_cmd_free(&c);
    /* with UTF8=ACCEPT it is quoted */
    imap_cmd_init(&c, IMAP_LIT_PLUS, 1);
    imap_cmd_string(&c, "caf\xc3\xa9", 5);
    cmd_text(&c, "\"caf\xc3\xa9\"");
    imap_cmd_free(&c);
    /* LITERAL-: "+" only up to 4096 bytes */
    {
        static char big[5000];
        memset(big, 'x', sizeof big);
        big[0] = '\n';
        imap_cmd_init(&c, IMAP_LIT_MINUS, 0);
        imap_cmd_string(&c, big, 10);
        imap_cmd_string(&c, big, sizeof big);
        CHECK(c.nlit == 2 && c.lit[0].sync == 0 && c.lit[1].sync == 1);
        imap_cmd_free(&c);
    }
}

/* ------------------------------------------------------------------ session */

static int step_io(imap_session *s, mv_buf *sent)
{
    for (;;) {
        mv_buf *out = &imap_pp(s)->conn.net_out;
        int r = imap_step(s);
        if (mv_buf_avail(out) > 0) {
            CHECK(mv_buf_append(sent, mv_buf_head(out), mv_buf_avail(out)) == 0);
            mv_buf_reset(out);
        }
        if (r != MV_WANT_WRITE) return r;
    }
}

static void feed(imap_session *s, const char *text)
{
    CHECK(mv_conn_feed(&imap_pp(s)->conn, text, strlen(text)) == 0);
}

static void sent_is(mv_buf *sent, const char *want)
{
    CHECK_MEM(mv_buf_head(sent), mv_buf_avail(sent), want, strlen(want));
    if (mv_buf_avail(sent) != strlen(want)
        || memcmp(mv_buf_head(sent), want, strlen(want)) != 0)
        fprintf(stderr, "  sent [%.*s]\n", (int)mv_buf_avail(sent),
                (const char *)mv_buf_head(sent));
    mv_buf_reset(sent);
}

static imap_session *logged_in(mv_buf *sent, const char *caps)
{
    imap_session *s = imap_new();
    imap_opts o;
    char greet[256];
    mv_buf_reset(sent);
    memset(&o, 0, sizeof o);
    o.cfg.host = "imap.test";
    o.cfg.tls = MV_TLS_NONE;
    o.cfg.user = "alice";
    o.cfg.password = "secret";
    o.cfg.auth = "login";
    o.cfg.peer_is_loopback = 1;
    o.cfg.insecure_auth = MV_INSECURE_LOOPBACK;
    o.max_size = 1000;
    o.enable = 1;
    CHECK(s != NULL && imap_configure(s, &o) == MV_OK);
    imap_pp(s)->timeout_ms = 60000;
    CHECK(imap_begin_open(s) == MV_OK);
    CHECK(step_io(s, sent) == MV_WANT_READ);
    snprintf(greet, sizeof greet, "* OK [CAPABILITY %s] hi\r\n", caps);
    feed(s, greet);
    CHECK(step_io(s, sent) == MV_WANT_READ);
    sent_is(sent, "A1 LOGIN alice secret\r\n");
    snprintf(greet, sizeof greet, "A1 OK [CAPABILITY %s] in\r\n", caps);
    feed(s, greet);
    CHECK(step_io(s, sent) == MV_OK);
    mv_buf_reset(sent);
    return s;
}

static int command(imap_session *s, const char *const *atoms)
{
    imap_cmd c;
    imap_cmd_for(s, &c);
    for (; *atoms != NULL; atoms++) imap_cmd_atom(&c, *atoms, strlen(*atoms));
    return imap_begin_command(s, &c, 0);
}

static void test_untagged_then_tagged(void)
{
    static const char *const noop[] = { "NOOP", NULL };
    mv_buf sent;
    imap_session *s;
    int r, got = 0;
    mv_buf_init(&sent);
    s = logged_in(&sent, "IMAP4rev1 IDLE");
    CHECK(command(s, noop) == MV_OK);
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    sent_is(&sent, "A2 NOOP\r\n");
    /* split at every byte: untagged data, a capability update, then the tagged OK */
    {
        const char *wire = "* 3 EXISTS\r\n* CAPABILITY IMAP4rev1 MOVE\r\nA2 OK done\r\n";
        size_t i;
        for (i = 0; wire[i] != '\0'; i++) {
            CHECK(mv_conn_feed(&imap_pp(s)->conn, wire + i, 1) == 0);
            while ((r = step_io(s, &sent)) == MV_HAVE_CHUNK) {
                const imap_resp *rp = imap_response(s);
                CHECK(imap_take(s) == IMAP_TAKE_RESPONSE);
                CHECK(imap_str_is(rp->name, "EXISTS") && rp->number == 3);
                got++;
            }
            if (wire[i + 1] != '\0') CHECK(r == MV_WANT_READ);
        }
        CHECK(r == MV_OK);
    }
    CHECK(got == 1);
    CHECK(imap_caps(s) & IMAP_CAP_MOVE);
    imap_free(s);
    mv_buf_free(&sent);
}

static void test_failures(void)
{
    static const char *const noop[] = { "NOOP", NULL };
    mv_buf sent;
    imap_session *s;
    mv_buf_init(&sent);
    /* NO [TRYCREATE]: kind reply, the session goes on */
    s = logged_in(&sent, "IMAP4rev1");
    CHECK(command(s, noop) == MV_OK);
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    feed(s, "A2 NO [TRYCREATE] nope\r\n");
    CHECK(step_io(s, &sent) == MV_ERROR);
    CHECK(imap_error(s)->kind == MV_E_REPLY);
    CHECK(strcmp(imap_error(s)->reply.resp_code, "TRYCREATE") == 0);
    CHECK(strcmp(imap_error(s)->reply.status, "NO") == 0);
    CHECK(!imap_is_dead(s));
    /* a tag never sent: protocol, dead */
    CHECK(command(s, noop) == MV_OK);
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    feed(s, "A9 OK\r\n");
    CHECK(step_io(s, &sent) == MV_ERROR);
    CHECK(imap_error(s)->kind == MV_E_PROTOCOL);
    CHECK(imap_is_dead(s));
    imap_free(s);
    /* BYE: closed */
    s = logged_in(&sent, "IMAP4rev1");
    CHECK(command(s, noop) == MV_OK);
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    feed(s, "* BYE going away\r\n");
    CHECK(step_io(s, &sent) == MV_ERROR);
    CHECK(imap_error(s)->kind == MV_E_CLOSED);
    CHECK(strstr(imap_error(s)->msg, "going away") != NULL);
    imap_free(s);
    /* a literal over max_size: limit */
    s = logged_in(&sent, "IMAP4rev1");
    CHECK(command(s, noop) == MV_OK);
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    feed(s, "* 1 FETCH (BODY[] {5000}\r\n");
    CHECK(step_io(s, &sent) == MV_ERROR);
    CHECK(imap_error(s)->kind == MV_E_LIMIT);
    CHECK(imap_is_dead(s));
    imap_free(s);
    mv_buf_free(&sent);
}

static void test_sync_literal_and_stream(void)
{
    mv_buf sent;
    imap_session *s;
    imap_cmd c;
    size_t total = 0;
    int r;
    mv_buf_init(&sent);
    s = logged_in(&sent, "IMAP4rev1");
    imap_cmd_for(s, &c);
    imap_cmd_atom(&c, "SEARCH", 6);
    imap_cmd_string(&c, "a\nb", 3);
    imap_cmd_atom(&c, "ALL", 3);
    CHECK(imap_begin_command(s, &c, 1) == MV_OK);
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    sent_is(&sent, "A2 SEARCH {3}\r\n");
    feed(s, "+ go\r\n");
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    sent_is(&sent, "a\nb ALL\r\n");
    /* a streamed literal comes out in pieces, never kept (max_size 1000 is no bound) */
    feed(s, "* 1 FETCH (UID 4 BODY[] {3000}\r\n");
    while ((r = step_io(s, &sent)) == MV_HAVE_CHUNK) {
        size_t n;
        imap_str key;
        if (imap_take(s) == IMAP_TAKE_LITERAL) {
            imap_chunk(s, &n, &key);
            total += n;
            CHECK(imap_str_is(key, "BODY[]"));
        }
    }
    CHECK(r == MV_WANT_READ);
    {
        static char body[3000];
        memset(body, 'y', sizeof body);
        CHECK(mv_conn_feed(&imap_pp(s)->conn, body, sizeof body) == 0);
    }
    feed(s, ")\r\nA2 OK\r\n");
    while ((r = step_io(s, &sent)) == MV_HAVE_CHUNK) {
        size_t n;
        imap_str key;
        if (imap_take(s) == IMAP_TAKE_LITERAL) {
            imap_chunk(s, &n, &key);
            total += n;
        }
    }
    CHECK(r == MV_OK);
    CHECK(total == 3000);
    imap_free(s);
    mv_buf_free(&sent);
}

static void test_idle(void)
{
    static const char *const idle[] = { "IDLE", NULL };
    mv_buf sent;
    imap_session *s;
    int r, events = 0;
    mv_buf_init(&sent);
    s = logged_in(&sent, "IMAP4rev1 IDLE");
    CHECK(command(s, idle) == MV_OK);
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    feed(s, "+ idling\r\n");
    CHECK(step_io(s, &sent) == MV_OK);
    CHECK(imap_is_idling(s));
    /* nothing but DONE while idling */
    CHECK(command(s, idle) == MV_ERROR && imap_error(s)->kind == MV_E_ARG);
    CHECK(!imap_is_dead(s) && imap_is_idling(s));
    CHECK(imap_begin_wait(s, 10000) == MV_OK);
    feed(s, "* 4 EXISTS\r\n");
    while ((r = step_io(s, &sent)) == MV_HAVE_CHUNK) events++;
    CHECK(r == MV_WANT_READ && events == 1);
    /* the driver's timeout at the wait's end is no failure */
    imap_pp(s)->deadline = 0;
    {
        extern long long mv_now_ms(void);
        s->wait_end = mv_now_ms() - 1;
    }
    mv_fail(&imap_pp(s)->err, MV_E_TIMEOUT, "timed out waiting for the server");
    CHECK(step_io(s, &sent) == MV_OK);
    CHECK(imap_begin_done(s) == MV_OK);
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    sent_is(&sent, "A2 IDLE\r\nDONE\r\n");
    feed(s, "A2 OK idle done\r\n");
    CHECK(step_io(s, &sent) == MV_OK);
    CHECK(!imap_is_idling(s));
    imap_free(s);
    mv_buf_free(&sent);
}

static void test_fed_literal(void)
{
    mv_buf sent;
    imap_session *s;
    imap_cmd c;
    mv_buf_init(&sent);
    s = logged_in(&sent, "IMAP4rev1");
    imap_cmd_for(s, &c);
    imap_cmd_atom(&c, "APPEND", 6);
    imap_cmd_atom(&c, "Sent", 4);
    imap_cmd_literal_ext(&c, 10);
    CHECK(imap_begin_command(s, &c, 0) == MV_OK);
    /* synchronising: the "+" first, then the bytes are asked for */
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    sent_is(&sent, "A2 APPEND Sent {10}\r\n");
    feed(s, "+ ready\r\n");
    CHECK(step_io(s, &sent) == MV_WANT_BODY);
    CHECK(imap_feed(s, "01234", 5) == MV_OK);
    CHECK(step_io(s, &sent) == MV_WANT_BODY);
    CHECK(imap_feed(s, "56789", 5) == MV_OK);
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    sent_is(&sent, "0123456789\r\n");
    feed(s, "A2 OK [APPENDUID 3 9] done\r\n");
    CHECK(step_io(s, &sent) == MV_OK);
    CHECK(imap_tagged(s) != NULL && imap_str_is(imap_tagged(s)->code, "APPENDUID"));
    /* more bytes than announced: the command cannot be framed, the session dies */
    imap_cmd_for(s, &c);
    imap_cmd_atom(&c, "APPEND", 6);
    imap_cmd_atom(&c, "Sent", 4);
    imap_cmd_literal_ext(&c, 3);
    CHECK(imap_begin_command(s, &c, 0) == MV_OK);
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    feed(s, "+\r\n");
    CHECK(step_io(s, &sent) == MV_WANT_BODY);
    CHECK(imap_feed(s, "abcd", 4) == MV_ERROR);
    CHECK(imap_is_dead(s));
    imap_free(s);
    mv_buf_free(&sent);
}

/* Sends the commands pipelined, feeds wire at every byte, and checks whose each untagged
 * response is (owners, "-": none, so an event) and how many events the queue holds. */
static void check_routes(const char *const *const *cmds, const char *wire,
                         const char *const *owners, const char *const *names, size_t nevents)
{
    mv_buf sent;
    imap_session *s;
    size_t i, got = 0, done = 0, ncmds = 0;
    int r = 0;
    mv_buf_init(&sent);
    s = logged_in(&sent, "IMAP4rev1 LITERAL+");
    for (; cmds[ncmds] != NULL; ncmds++) CHECK(command(s, cmds[ncmds]) == MV_OK);
    CHECK(imap_in_flight(s) == ncmds);
    CHECK(step_io(s, &sent) == MV_WANT_READ);
    mv_buf_reset(&sent);
    for (i = 0; wire[i] != '\0' && done < ncmds; i++) {
        CHECK(mv_conn_feed(&imap_pp(s)->conn, wire + i, 1) == 0);
        while ((r = step_io(s, &sent)) == MV_HAVE_CHUNK || r == MV_OK) {
            const char *owner = imap_owner(s);
            if (r == MV_OK) {
                if (++done == ncmds) break;
                continue;
            }
            CHECK(imap_take(s) == IMAP_TAKE_RESPONSE);
            CHECK(owners[got] != NULL);
            if (owners[got] == NULL) break;
            if (names[got][0] == '\0') CHECK(imap_response(s)->status != IMAP_DATA);
            else CHECK(imap_str_is(imap_response(s)->name, names[got]));
            CHECK(strcmp(owner != NULL ? owner : "-", owners[got]) == 0);
            got++;
        }
        if (done < ncmds) CHECK(r == MV_WANT_READ);
    }
    CHECK(wire[i] == '\0' && done == ncmds);
    CHECK(owners[got] == NULL);
    CHECK(imap_events_count(imap_session_events(s)) == nevents);
    imap_free(s);
    mv_buf_free(&sent);
}

/* Pipelined commands: each untagged response goes to the oldest command in flight that
 * collects it (its owner), or to the event queue when none does. */
static void test_routing(void)
{
    static const char *const fetch1[] = { "UID", "FETCH", "1:3", "FLAGS", NULL };
    static const char *const fetch2[] = { "UID", "FETCH", "7,9", "FLAGS", NULL };
    static const char *const status[] = { "STATUS", "INBOX", "MESSAGES", NULL };
    static const char *const list[] = { "LIST", "x", "y", NULL };
    static const char *const *const cmds[] = { fetch1, fetch2, status, list, NULL };
    static const char wire[] =
        "* 1 FETCH (FLAGS () UID 8)\r\n"        /* another client's change */
        "* 2 FETCH (UID 9 FLAGS (\\Seen))\r\n"
        "* STATUS INBOX (MESSAGES 4)\r\n"
        "* LIST () \"/\" x\r\n"
        "* 5 EXISTS\r\n"
        "* 3 FETCH (UID 2 FLAGS ())\r\n"
        "A3 OK done\r\n"
        "* 4 FETCH (UID 7 FLAGS ())\r\n"        /* its command is answered: an event */
        "A2 OK done\r\nA5 OK done\r\nA4 OK done\r\n";
    static const char *const owners[] = { "-", "A3", "A4", "A5", "-", "A2", "-", NULL };
    static const char *const names[] = { "FETCH", "FETCH", "STATUS", "LIST", "EXISTS",
                                         "FETCH", "FETCH" };
    check_routes(cmds, wire, owners, names, 3);
}

/* SELECT collects its data and codes but not ALERT; STORE collects nothing (its FETCH
 * echoes are events unless a UID FETCH wants them); a set ending at "*" takes any UID. */
static void test_routing_select_store(void)
{
    static const char *const select[] = { "SELECT", "INBOX", NULL };
    static const char *const store[] = { "UID", "STORE", "2", "+FLAGS", "\\Seen", NULL };
    static const char *const fetch[] = { "UID", "FETCH", "5:*", "FLAGS", NULL };
    static const char *const *const cmds[] = { select, store, NULL };
    static const char *const *const cmds2[] = { select, store, fetch, NULL };
#define UNTAGGED "* 3 EXISTS\r\n* FLAGS (\\Seen)\r\n* OK [UIDVALIDITY 7] v\r\n" \
                 "* OK [ALERT] hi\r\n* 1 FETCH (UID 2 FLAGS (\\Seen))\r\n" \
                 "* 2 FETCH (FLAGS ())\r\nA2 OK [READ-WRITE] done\r\nA3 OK done\r\n"
    static const char wire[] = UNTAGGED;
    static const char wire2[] = UNTAGGED "A4 OK done\r\n";
#undef UNTAGGED
    static const char *const names[] = { "EXISTS", "FLAGS", "", "", "FETCH", "FETCH" };
    static const char *const owners[] = { "A2", "A2", "A2", "-", "-", "-", NULL };
    static const char *const owners2[] = { "A2", "A2", "A2", "-", "A4", "-", NULL };
    check_routes(cmds, wire, owners, names, 3);
    check_routes(cmds2, wire2, owners2, names, 2);
}

int main(void)
{
    static const ctest_case cases[] = {
        { "command arguments: atoms, astrings, quoted, mailbox names", test_cmd_arguments },
        { "no argument can inject syntax (CHECKLIST 85)", test_cmd_refuses_injection },
        { "literals: synchronising, LITERAL+, LITERAL-, UTF8=ACCEPT", test_cmd_literals },
        { "untagged data, split at every byte, before the tagged reply",
          test_untagged_then_tagged },
        { "NO, tag mismatch, BYE, literal over the cap (CHECKLIST 84 86)", test_failures },
        { "a synchronising literal waits for '+'; a streamed literal is never kept",
          test_sync_literal_and_stream },
        { "IDLE: the wait ends at its time without failing, DONE reads the tagged OK",
          test_idle },
        { "a literal the caller supplies while the command goes out (APPEND of a file)",
          test_fed_literal },
        { "pipelined commands: each untagged response to the command that collects it, "
          "the rest to the event queue", test_routing },
        { "routing: SELECT's data and codes, STORE's echoes, a UID set ending at '*'",
          test_routing_select_store },
        { NULL, NULL }
    };
    return ctest_run("imap_session", cases);
}
