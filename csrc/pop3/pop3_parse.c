#include "pop3_parse.h"

#include <string.h>

enum { ML_BOL, ML_MID, ML_DOT, ML_DOTCR, ML_DONE };

void pop3_ml_init(pop3_ml *m)
{
    m->state = ML_BOL;
    m->out_bytes = 0;
}

static int emit(pop3_ml *m, mv_buf *out, const unsigned char *p, size_t n)
{
    if (n == 0) return 0;
    m->out_bytes += n;
    if (out == NULL) return 0;
    return mv_buf_append(out, p, n);
}

/* Bytes are passed on in runs; only a leading dot (and the CR of a possible ".\r\n")
 * is ever held back, so the cost is one memchr per line. */
size_t pop3_ml_feed(pop3_ml *m, const unsigned char *p, size_t n, mv_buf *out, int *done)
{
    size_t i = 0, run = 0;
    *done = 0;
    if (m->state == ML_DONE) { *done = 1; return 0; }
    while (i < n) {
        switch (m->state) {
        case ML_MID: {
            const unsigned char *lf = memchr(p + i, '\n', n - i);
            if (lf == NULL) { i = n; break; }
            i = (size_t)(lf - p) + 1;
            m->state = ML_BOL;
            break;
        }
        case ML_BOL:
            if (p[i] == '.') {
                if (emit(m, out, p + run, i - run) != 0) return (size_t)-1;
                run = ++i;
                m->state = ML_DOT;
            } else {
                m->state = p[i] == '\n' ? ML_BOL : ML_MID;
                i++;
            }
            break;
        case ML_DOT:
            if (p[i] == '\r') {
                run = ++i;          /* held back: ".\r\n" is the terminator */
                m->state = ML_DOTCR;
            } else if (p[i] == '\n') {
                m->state = ML_DONE;
                *done = 1;
                return i + 1;
            } else {
                m->state = ML_MID;  /* the dot is dropped, the rest is data */
            }
            break;
        case ML_DOTCR:
            if (p[i] == '\n') {
                m->state = ML_DONE;
                *done = 1;
                return i + 1;
            }
            if (emit(m, out, (const unsigned char *)"\r", 1) != 0) return (size_t)-1;
            m->state = ML_MID;
            break;
        default:
            *done = 1;
            return i;
        }
    }
    if (emit(m, out, p + run, n - run) != 0) return (size_t)-1;
    return n;
}

static int ieq(const char *a, const char *b, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        char c = a[i];
        if (c >= 'a' && c <= 'z') c = (char)(c - 32);
        if (c != b[i]) return 0;
    }
    return 1;
}

int pop3_status(const char *line, size_t len, const char **text, size_t *tlen)
{
    int ok;
    size_t w;
    if (len >= 3 && ieq(line, "+OK", 3)) { ok = 1; w = 3; }
    else if (len >= 4 && ieq(line, "-ERR", 4)) { ok = 0; w = 4; }
    else return -1;
    if (len > w && line[w] != ' ') return -1;
    if (len > w) w++;
    *text = line + w;
    *tlen = len - w;
    return ok;
}

int pop3_number(const char *p, size_t len, unsigned long long max,
                unsigned long long *v, size_t *used)
{
    size_t i = 0, start;
    unsigned long long x = 0;
    while (i < len && p[i] == ' ') i++;
    start = i;
    while (i < len && p[i] >= '0' && p[i] <= '9') {
        unsigned d = (unsigned)(p[i] - '0');
        if (i - start >= 19 || d > max || x > (max - d) / 10) return -1;
        x = x * 10 + d;
        i++;
    }
    if (i == start || x > max) return -1;
    *v = x;
    *used = i;
    return 0;
}

#define MAX_SIZE_VALUE 9007199254740991ULL  /* 2^53 - 1: exact as a Lua number */

static int msg_number(const char *p, size_t len, unsigned long max_n, unsigned long *n,
                      size_t *used)
{
    unsigned long long v;
    if (pop3_number(p, len, max_n, &v, used) != 0 || v == 0) return -1;
    *n = (unsigned long)v;
    return 0;
}

int pop3_parse_list(const char *p, size_t len, unsigned long max_n, unsigned long *n,
                    unsigned long long *size)
{
    size_t used, used2;
    if (msg_number(p, len, max_n, n, &used) != 0) return -1;
    if (used >= len || p[used] != ' ') return -1;
    if (pop3_number(p + used, len - used, MAX_SIZE_VALUE, size, &used2) != 0) return -1;
    used += used2;
    /* RFC 1939 §5 allows more information after the size, never glued to it. */
    if (used < len && p[used] != ' ') return -1;
    return 0;
}

int pop3_parse_uidl(const char *p, size_t len, unsigned long max_n, size_t max_uid,
                    unsigned long *n, const char **uid, size_t *uid_len)
{
    size_t used, i;
    if (msg_number(p, len, max_n, n, &used) != 0) return -1;
    if (used >= len || p[used] != ' ') return -1;
    while (used < len && p[used] == ' ') used++;
    while (len > used && p[len - 1] == ' ') len--;
    if (len == used || len - used > max_uid) return -1;
    for (i = used; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x21 || c > 0x7e) return -1;
    }
    *uid = p + used;
    *uid_len = len - used;
    return 0;
}

int pop3_parse_stat(const char *p, size_t len, unsigned long *count, unsigned long long *size)
{
    unsigned long long c;
    size_t used, used2;
    if (pop3_number(p, len, 0xffffffffUL, &c, &used) != 0) return -1;
    if (used >= len || p[used] != ' ') return -1;
    if (pop3_number(p + used, len - used, MAX_SIZE_VALUE, size, &used2) != 0) return -1;
    used += used2;
    if (used < len && p[used] != ' ') return -1;
    *count = (unsigned long)c;
    return 0;
}

int pop3_apop_stamp(const char *p, size_t len, size_t *start, size_t *slen)
{
    size_t i = 0, open = (size_t)-1;
    /* One pass: a '<' restarts the candidate, so "<<<<..." stays linear. */
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '<') {
            open = i;
        } else if (open != (size_t)-1) {
            if (c == '>') {
                size_t n = i - open + 1;
                if (n > 2 && n <= 256 && memchr(p + open, '@', n) != NULL) {
                    *start = open;
                    *slen = n;
                    return 0;
                }
                open = (size_t)-1;
            } else if (c < 0x21 || c > 0x7e) {
                open = (size_t)-1;
            }
        }
    }
    return -1;
}
