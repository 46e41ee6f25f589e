#include "smtp_reply.h"
#include "mv_str.h"

#include <string.h>

void smtp_rr_init(smtp_reply_reader *rr, size_t max_lines, size_t max_bytes)
{
    mv_buf_init(&rr->text);
    rr->max_lines = max_lines;
    rr->max_bytes = max_bytes;
    smtp_rr_reset(rr);
}

void smtp_rr_free(smtp_reply_reader *rr)
{
    mv_buf_free(&rr->text);
}

void smtp_rr_reset(smtp_reply_reader *rr)
{
    rr->code = 0;
    rr->lines = 0;
    rr->bytes = 0;
    mv_buf_reset(&rr->text);
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int smtp_rr_line(smtp_reply_reader *rr, const char *line, size_t len, mv_error *e)
{
    int code;
    char sep;
    if (len < 4 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2])
        || line[0] < '1' || line[0] > '5' || (line[3] != ' ' && line[3] != '-')) {
        return mv_fail(e, MV_E_PROTOCOL, "malformed reply line from the server");
    }
    code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    sep = line[3];
    if (rr->code != 0 && code != rr->code)
        return mv_fail(e, MV_E_PROTOCOL, "reply code changed within a multi-line reply");
    rr->code = code;
    rr->lines++;
    rr->bytes += len + 2;
    if (rr->lines > rr->max_lines)
        return mv_fail(e, MV_E_LIMIT, "reply has more than %zu lines", rr->max_lines);
    if (rr->bytes > rr->max_bytes)
        return mv_fail(e, MV_E_LIMIT, "reply longer than %zu bytes", rr->max_bytes);
    if (rr->lines > 1 && mv_buf_append(&rr->text, "\n", 1) != 0)
        return mv_fail(e, MV_E_MEMORY, "out of memory");
    if (mv_buf_append(&rr->text, line + 4, len - 4) != 0)
        return mv_fail(e, MV_E_MEMORY, "out of memory");
    return sep == ' ' ? 1 : 0;
}

/* RFC 3463 status: class "." subject "." detail, class matching the reply's first digit. */
static size_t enhanced_len(const char *t, size_t n, int code)
{
    size_t i = 0, part;
    if (n < 5 || t[0] != (char)('0' + code / 100) || t[1] != '.') return 0;
    i = 2;
    for (part = 0; part < 2; part++) {
        size_t start = i;
        while (i < n && is_digit(t[i]) && i - start < 3) i++;
        if (i == start) return 0;
        if (part == 0) {
            if (i >= n || t[i] != '.') return 0;
            i++;
        }
    }
    if (i < n && t[i] != ' ' && t[i] != '\n') return 0;
    return i;
}

/* The text lines of a reply, each sanitised, joined by "; " and cut to fit. */
static void join_lines(char *dst, size_t size, const char *t, size_t n)
{
    size_t o = 0, i = 0;
    dst[0] = '\0';
    while (i <= n) {
        size_t start = i;
        while (i < n && t[i] != '\n') i++;
        if (start > 0) {
            if (o + 3 >= size) break;
            memcpy(dst + o, "; ", 2);
            o += 2;
        }
        mv_sanitize(dst + o, size - o, t + start, i - start);
        o += strlen(dst + o);
        i++;
    }
}

void smtp_rr_result(const smtp_reply_reader *rr, mv_reply *out)
{
    const char *t = (const char *)mv_buf_head(&rr->text);
    size_t n = mv_buf_avail(&rr->text), el;
    mv_reply_clear(out);   /* SMTP has no status word: the code is the verdict */
    out->code = rr->code;
    el = t != NULL ? enhanced_len(t, n, rr->code) : 0;
    if (el > 0 && el < sizeof out->enhanced) {
        memcpy(out->enhanced, t, el);
        out->enhanced[el] = '\0';
    }
    join_lines(out->text, sizeof out->text, t != NULL ? t : "", n);
}
