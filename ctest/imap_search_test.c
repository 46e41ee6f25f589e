/* The SEARCH criteria compiler (imap_search.h) and the session's event queue
 * (imap_events.h): the command bytes for each kind of criterion, dates, the checks and
 * caps, and the bounded queue. */
#include <string.h>

#include "ctest.h"
#include "imap_events.h"
#include "imap_parse.h"
#include "imap_search.h"

#define K(s) s, sizeof s - 1

static int emit(imap_search_q *q, int esearch, int utf8, char *out, size_t cap)
{
    imap_cmd c;
    int r;
    imap_cmd_init(&c, IMAP_LIT_PLUS, utf8);
    r = imap_search_emit(q, &c, esearch);
    if (r == 0) {
        size_t n = c.buf.len < cap - 1 ? c.buf.len : cap - 1;
        memcpy(out, c.buf.data, n);
        out[n] = '\0';
    }
    imap_cmd_free(&c);
    return r;
}

static void test_every_kind(void)
{
    imap_search_q q;
    char out[512];
    static const uint32_t uids[] = { 1, 2, 3, 5 };
    imap_search_init(&q);
    imap_search_open(&q, 0);
    imap_search_flag(&q, K("unseen"), 1);
    imap_search_flag(&q, K("flagged"), 0);
    imap_search_string(&q, K("from"), K("a \"b\" \\c"));
    imap_search_date_text(&q, K("since"), K("2026-02-01"));
    imap_search_date_time(&q, K("before"), 1772323200.0 + 86399);  /* 2026-03-01 */
    imap_search_date(&q, K("sent_on"), 1999, 12, 31);
    imap_search_size(&q, K("larger"), 1024);
    imap_search_header(&q, K("X-Tag"), K(""));
    imap_search_keyword(&q, K("keyword"), K("$Label1"));
    imap_search_uids(&q, uids, 4);
    imap_search_op(&q, K("or"));
    imap_search_open(&q, 1);
    imap_search_string(&q, K("subject"), K("x"));
    imap_search_close(&q, 1);
    imap_search_open(&q, 1);   /* empty: ALL */
    imap_search_close(&q, 1);
    imap_search_op(&q, K("not"));
    imap_search_open(&q, 1);
    imap_search_flag(&q, K("deleted"), 1);
    imap_search_close(&q, 1);
    imap_search_close(&q, 0);
    CHECK(emit(&q, 1, 0, out, sizeof out) == 0);
    CHECK(strcmp(out, "UID SEARCH RETURN (ALL) UNSEEN FROM \"a \\\"b\\\" \\\\c\" "
                 "SINCE 1-Feb-2026 BEFORE 1-Mar-2026 SENTON 31-Dec-1999 LARGER 1024 "
                 "HEADER \"X-Tag\" \"\" KEYWORD $Label1 UID 1:3,5 OR (SUBJECT \"x\") (ALL) "
                 "NOT (DELETED)") == 0);
    if (strncmp(out, "UID SEARCH RETURN", 17) != 0) fprintf(stderr, "  %s\n", out);
    imap_search_free(&q);

    /* nothing at all: ALL; a non-ASCII string: CHARSET UTF-8, unless UTF8=ACCEPT */
    imap_search_init(&q);
    CHECK(emit(&q, 0, 0, out, sizeof out) == 0 && strcmp(out, "UID SEARCH ALL") == 0);
    imap_search_free(&q);
    imap_search_init(&q);
    imap_search_string(&q, K("subject"), K("caf\xc3\xa9"));
    CHECK(emit(&q, 0, 0, out, sizeof out) == 0
          && strcmp(out, "UID SEARCH CHARSET UTF-8 SUBJECT {5+}\r\ncaf\xc3\xa9") == 0);
    imap_search_free(&q);
    imap_search_init(&q);
    imap_search_string(&q, K("subject"), K("caf\xc3\xa9"));
    CHECK(emit(&q, 0, 1, out, sizeof out) == 0
          && strcmp(out, "UID SEARCH SUBJECT \"caf\xc3\xa9\"") == 0);
    imap_search_free(&q);
}

static void test_dates(void)
{
    imap_search_q q;
    char out[128];
    imap_search_init(&q);
    imap_search_date_time(&q, K("on"), 0);
    imap_search_date_time(&q, K("on"), -1);            /* 1969-12-31 */
    imap_search_date_time(&q, K("on"), 951782400);     /* 2000-02-29 */
    CHECK(emit(&q, 0, 0, out, sizeof out) == 0
          && strcmp(out, "UID SEARCH ON 1-Jan-1970 ON 31-Dec-1969 ON 29-Feb-2000") == 0);
    imap_search_free(&q);
    {
        static const char *const bad[] = { "2026-13-01", "2026-00-10", "2026-01-32",
                                           "26-01-01", "2026/01/01", "2026-01-1x", "" };
        size_t i;
        for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            imap_search_init(&q);
            CHECK(imap_search_date_text(&q, K("since"), bad[i], strlen(bad[i])) != 0);
            CHECK(q.err.kind == MV_E_ARG);
            imap_search_free(&q);
        }
    }
    imap_search_init(&q);
    CHECK(imap_search_date_time(&q, K("since"), 1e300) != 0 && q.err.kind == MV_E_ARG);
    imap_search_free(&q);
}

static void test_refused(void)
{
    imap_search_q q;
    char out[64];
    size_t i;
    /* unknown keys, a key of the wrong kind, bad values: kind arg, nothing sent */
    imap_search_init(&q);
    CHECK(imap_search_kind(K("subjekt")) == IMAP_SK_UNKNOWN);
    CHECK(imap_search_flag(&q, K("subject"), 1) != 0 && q.err.kind == MV_E_ARG);
    CHECK(strstr(q.err.msg, "subject") != NULL);
    CHECK(emit(&q, 0, 0, out, sizeof out) != 0);
    imap_search_free(&q);
    imap_search_init(&q);
    CHECK(imap_search_size(&q, K("larger"), -1) != 0 && q.err.kind == MV_E_ARG);
    imap_search_free(&q);
    imap_search_init(&q);
    CHECK(imap_search_size(&q, K("smaller"), 1.5) != 0 && q.err.kind == MV_E_ARG);
    imap_search_free(&q);
    imap_search_init(&q);
    CHECK(imap_search_keyword(&q, K("keyword"), K("a b")) != 0 && q.err.kind == MV_E_ARG);
    imap_search_free(&q);
    imap_search_init(&q);
    CHECK(imap_search_keyword(&q, K("keyword"), K("x) ALL (")) != 0);
    imap_search_free(&q);
    imap_search_init(&q);
    CHECK(imap_search_uid_text(&q, K("1:5 OR ALL")) != 0 && q.err.kind == MV_E_ARG);
    imap_search_free(&q);
    /* nesting past the cap, keys past the cap: kind limit (CHECKLIST 87) */
    imap_search_init(&q);
    for (i = 0; i < IMAP_SEARCH_MAX_DEPTH + 1; i++) imap_search_open(&q, 1);
    CHECK(q.failed && q.err.kind == MV_E_LIMIT);
    imap_search_free(&q);
    imap_search_init(&q);
    for (i = 0; i < IMAP_SEARCH_MAX_KEYS + 1; i++) imap_search_flag(&q, K("seen"), 1);
    CHECK(q.failed && q.err.kind == MV_E_LIMIT);
    imap_search_free(&q);
}

static int parse_one(imap_parser *p, const char *line)
{
    size_t used = 0;
    mv_error e;
    mv_error_clear(&e);
    return imap_parser_feed(p, (const unsigned char *)line, strlen(line), &used, &e);
}

static void test_event_queue(void)
{
    imap_limits lim;
    imap_parser p;
    imap_events q;
    const imap_event *ev;
    size_t i;
    imap_limits_default(&lim);
    imap_events_init(&q);
    imap_events_select(&q, K("INBOX"), 0);
    imap_parser_init(&p, &lim);
    CHECK(parse_one(&p, "* 3 EXISTS\r\n") == IMAP_RESPONSE);
    CHECK(imap_events_add(&q, imap_parser_response(&p)) == 1);
    CHECK(parse_one(&p, "* 2 FETCH (UID 9 FLAGS (\\Seen $X) MODSEQ (12))\r\n")
          == IMAP_RESPONSE);
    CHECK(imap_events_add(&q, imap_parser_response(&p)) == 1);
    CHECK(parse_one(&p, "* VANISHED (EARLIER) 4:6\r\n") == IMAP_RESPONSE);
    CHECK(imap_events_add(&q, imap_parser_response(&p)) == 1);
    CHECK(parse_one(&p, "* OK [ALERT] disk full\r\n") == IMAP_RESPONSE);
    CHECK(imap_events_add(&q, imap_parser_response(&p)) == 1);
    CHECK(parse_one(&p, "* OK [UIDNEXT 4] n\r\n") == IMAP_RESPONSE);
    CHECK(imap_events_add(&q, imap_parser_response(&p)) == 0);
    CHECK(imap_events_count(&q) == 4);
    ev = imap_events_peek(&q);
    CHECK(ev->kind == IMAP_EV_EXISTS && ev->number == 3 && strcmp(ev->folder, "INBOX") == 0);
    imap_events_pop(&q);
    ev = imap_events_peek(&q);
    CHECK(ev->kind == IMAP_EV_FLAGS && ev->number == 2 && ev->uid == 9 && ev->modseq == 12);
    CHECK(ev->nflags == 2 && ev->data.len == 9 && memcmp(ev->data.data, "\\Seen\0$X", 9) == 0);
    imap_events_pop(&q);
    ev = imap_events_peek(&q);
    CHECK(ev->kind == IMAP_EV_VANISHED && ev->earlier && ev->data.len == 3);
    imap_events_pop(&q);
    ev = imap_events_peek(&q);
    CHECK(ev->kind == IMAP_EV_ALERT && ev->data.len == 9);
    imap_events_pop(&q);
    CHECK(imap_events_peek(&q) == NULL);

    /* past the bound the oldest go, counted (CHECKLIST 88) */
    imap_events_select(&q, NULL, 0, 0);
    for (i = 0; i < IMAP_EVENTS_MAX + 5; i++) {
        char line[40];
        snprintf(line, sizeof line, "* %u EXPUNGE\r\n", (unsigned)i + 1);
        CHECK(parse_one(&p, line) == IMAP_RESPONSE);
        CHECK(imap_events_add(&q, imap_parser_response(&p)) == 1);
    }
    CHECK(imap_events_count(&q) == IMAP_EVENTS_MAX);
    CHECK(imap_events_dropped(&q) == 5);
    ev = imap_events_peek(&q);
    CHECK(ev->number == 6 && ev->folder == NULL);
    imap_events_free(&q);
    imap_parser_free(&p);
}

int main(void)
{
    static const ctest_case cases[] = {
        { "search: every kind of criterion, ALL, CHARSET", test_every_kind },
        { "search: dates from text, seconds and parts", test_dates },
        { "search: bad keys and values, nesting and key caps (CHECKLIST 87)", test_refused },
        { "event queue: kinds, folder, drop-oldest bound (CHECKLIST 88)", test_event_queue },
        { NULL, NULL }
    };
    return ctest_run("imap_search", cases);
}
