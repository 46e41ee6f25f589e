/* The EHLO reply, parsed once (RFC 5321 4.1.1.1): the capability bits the session acts
 * on, the SIZE limit, the SASL mechanisms offered, and the list of extensions (keyword
 * and parameters) that capabilities() shows. */
#include "smtp_int.h"
#include "mv_str.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longer keywords are no extension anyone defines: such a line is left out of the list. */
#define EXT_KEYWORD_MAX 63

static int word_is(const char *p, size_t n, const char *w)
{
    size_t wl = strlen(w);
    return n >= wl && strncasecmp(p, w, wl) == 0 && (n == wl || p[wl] == ' ' || p[wl] == '=');
}

/* The bits, the SIZE value and the mechanisms of one capability line. */
static void note_capability(smtp_session *s, const char *l, size_t len)
{
    if (word_is(l, len, "STARTTLS")) s->caps |= SMTP_CAP_STARTTLS;
    else if (word_is(l, len, "PIPELINING")) s->caps |= SMTP_CAP_PIPELINING;
    else if (word_is(l, len, "8BITMIME")) s->caps |= SMTP_CAP_8BITMIME;
    else if (word_is(l, len, "SMTPUTF8")) s->caps |= SMTP_CAP_SMTPUTF8;
    else if (word_is(l, len, "CHUNKING")) s->caps |= SMTP_CAP_CHUNKING;
    else if (word_is(l, len, "DSN")) s->caps |= SMTP_CAP_DSN;
    else if (word_is(l, len, "SIZE")) {
        size_t k = 4;
        unsigned long long v = 0;
        s->caps |= SMTP_CAP_SIZE;
        while (k < len && l[k] == ' ') k++;
        while (k < len && l[k] >= '0' && l[k] <= '9' && v < (1ULL << 60))
            v = v * 10 + (unsigned)(l[k++] - '0');
        s->size_limit = v;
    } else if (word_is(l, len, "AUTH")) {
        s->caps |= SMTP_CAP_AUTH;
        s->sasl_offered |= mv_sasl_parse_offer(l + 4, len - 4);
    }
}

/* Appends n bytes and a NUL to the text being built; returns where they start. */
static char *put(char **end, const char *p, size_t n)
{
    char *at = *end;
    memcpy(at, p, n);
    at[n] = '\0';
    *end = at + n + 1;
    return at;
}

/* Adds one line to the list.  Server text: every control byte (ESC of a terminal
 * sequence, BEL, NUL, DEL) and 8-bit byte becomes '?' like any reply text; the keyword
 * is upper-cased; the parameters follow the first space or '='. */
static void note_extension(smtp_session *s, const char *l, size_t len, char **end)
{
    smtp_ext *x;
    size_t kw = 0, i, first;
    char *p;
    while (kw < len && l[kw] != ' ' && l[kw] != '=') kw++;
    if (kw == 0 || kw > EXT_KEYWORD_MAX) return;
    x = &s->ext[s->n_ext++];
    memset(x, 0, sizeof *x);
    p = put(end, l, len);
    for (i = 0; i < len; i++) p[i] = mv_sanitize_char((unsigned char)p[i]);
    for (i = 0; i < kw; i++) if (p[i] >= 'a' && p[i] <= 'z') p[i] = (char)(p[i] - 32);
    x->keyword = p;
    if (kw == len) return;
    p[kw] = '\0';
    x->params = p + kw + 1;
    first = s->n_words;
    x->words = (const char *const *)s->ext_words + first;
    /* The parameters again, cut at each space: AUTH's mechanism names. */
    for (i = kw + 1; i < len;) {
        size_t w = i;
        while (w < len && p[w] != ' ') w++;
        if (w > i) s->ext_words[s->n_words++] = put(end, p + i, w - i);
        i = w + 1;
    }
    x->nwords = s->n_words - first;
}

static void free_list(smtp_session *s)
{
    free(s->ext);
    free(s->ext_text);
    free(s->ext_words);
    s->ext = NULL;
    s->ext_text = NULL;
    s->ext_words = NULL;
    s->n_ext = s->n_words = 0;
}

void smtp_ehlo_clear(smtp_session *s)
{
    s->caps = 0;
    s->sasl_offered = 0;
    s->size_limit = 0;
    free_list(s);
}

void smtp_ehlo_parse(smtp_session *s, const char *t, size_t n)
{
    size_t i = 0;
    char *end;
    smtp_ehlo_clear(s);
    s->caps = SMTP_CAP_ESMTP;
    /* Each line at most twice (as sent, then cut into words), each piece with a NUL.
     * Without the memory the list stays empty; the session's bits do not need it. */
    s->ext_text = malloc(3 * n + 3);
    s->ext = calloc(n + 1, sizeof *s->ext);
    s->ext_words = calloc(n + 1, sizeof *s->ext_words);
    if (s->ext_text == NULL || s->ext == NULL || s->ext_words == NULL) free_list(s);
    end = s->ext_text;
    /* The first line is the server's greeting name; capabilities follow. */
    while (i < n && t[i] != '\n') i++;
    while (i < n) {
        size_t start = ++i;
        while (i < n && t[i] != '\n') i++;
        note_capability(s, t + start, i - start);
        if (s->ext != NULL) note_extension(s, t + start, i - start, &end);
    }
}

size_t smtp_ext_count(const smtp_session *s)
{
    return s->n_ext;
}

const smtp_ext *smtp_ext_at(const smtp_session *s, size_t i)
{
    return i < s->n_ext ? &s->ext[i] : NULL;
}
