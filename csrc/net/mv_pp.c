#include "mv_pp.h"
#include "mv_clock.h"
#include "mv_str.h"

#include <stdlib.h>
#include <string.h>

void mv_pp_init(mv_pp *pp)
{
    mv_conn_init(&pp->conn);
    mv_error_clear(&pp->err);
    pp->max_line = MV_DEFAULT_MAX_LINE;
    pp->max_reply_lines = MV_DEFAULT_MAX_REPLY_LINES;
    pp->max_reply_bytes = MV_DEFAULT_MAX_REPLY_BYTES;
    pp->timeout_ms = MV_DEFAULT_TIMEOUT_MS;
    pp->max_time_ms = 0;
    pp->deadline = 0;
    pp->limit = 0;
    pp->trace_on = 0;
    mv_buf_init(&pp->trace);
    pp->scan = 0;
    pp->line_len = 0;
    pp->eof_check = 0;
    mv_buf_init(&pp->cork);
    pp->corked = 0;
    pp->token_asked = 0;
    pp->token = NULL;
}

void mv_pp_free(mv_pp *pp)
{
    mv_conn_free(&pp->conn);
    mv_buf_free(&pp->trace);
    mv_buf_free(&pp->cork);
    mv_free_secret(pp->token);
    pp->token = NULL;
}

void mv_pp_start(mv_pp *pp)
{
    pp->limit = pp->max_time_ms > 0 ? mv_now_ms() + pp->max_time_ms : 0;
    mv_pp_arm(pp);
}

void mv_pp_arm(mv_pp *pp)
{
    pp->deadline = pp->timeout_ms > 0 ? mv_now_ms() + pp->timeout_ms : 0;
    if (pp->limit != 0 && (pp->deadline == 0 || pp->deadline > pp->limit))
        pp->deadline = pp->limit;
}

int mv_pp_over_limit(const mv_pp *pp)
{
    return pp->limit != 0 && mv_now_ms() >= pp->limit;
}

int mv_pp_credentials_ok(const mv_pp *pp, const mv_cfg *c)
{
    if (pp->conn.tls_ready && c->tls_opts.verify == MV_VERIFY_FULL) return 1;
    if (c->insecure_auth == MV_INSECURE_ALWAYS) return 1;
    return c->insecure_auth == MV_INSECURE_LOOPBACK && c->peer_is_loopback;
}

int mv_pp_error_keeps_session(const mv_error *e)
{
    return e->kind == MV_E_REPLY || e->kind == MV_E_ARG;
}

int mv_pp_start_tls(mv_pp *pp, const mv_cfg *c)
{
    return mv_conn_start_tls(&pp->conn, c->server_name, &c->tls_opts, &pp->err);
}

void mv_pp_trace(mv_pp *pp, int dir, const char *text, size_t len)
{
    unsigned char hdr[5];
    if (!pp->trace_on) return;
    if (len > MV_PP_TRACE_MAX) len = MV_PP_TRACE_MAX;
    hdr[0] = (unsigned char)dir;
    hdr[1] = (unsigned char)(len >> 24);
    hdr[2] = (unsigned char)(len >> 16);
    hdr[3] = (unsigned char)(len >> 8);
    hdr[4] = (unsigned char)len;
    if (mv_buf_append(&pp->trace, hdr, 5) != 0 || mv_buf_append(&pp->trace, text, len) != 0)
        mv_buf_reset(&pp->trace);
}

int mv_pp_handshake(mv_pp *pp)
{
    int r = mv_conn_handshake(&pp->conn, &pp->err);
    if (r == MV_OK) mv_pp_trace(pp, MV_TRACE_INFO, "TLS handshake complete", 22);
    else if (r == MV_ERROR) mv_pp_trace(pp, MV_TRACE_INFO, pp->err.msg, strlen(pp->err.msg));
    return r;
}

int mv_pp_send(mv_pp *pp, const char *line, size_t len, size_t mask_from)
{
    if (pp->trace_on) {
        if (mask_from < len) {
            char shown[64];
            size_t keep = mask_from < sizeof shown - 4 ? mask_from : sizeof shown - 4;
            memcpy(shown, line, keep);
            memcpy(shown + keep, "***", 3);
            mv_pp_trace(pp, MV_TRACE_OUT, shown, keep + 3);
        } else {
            mv_pp_trace(pp, MV_TRACE_OUT, line, len);
        }
    }
    /* One write per command, or per group while corked: under TLS each write is a
     * record, and a peer that forwards records one by one (a TLS terminator) would
     * otherwise meet Nagle and delayed ACKs on every line. */
    if (mv_buf_append(&pp->cork, line, len) != 0 || mv_buf_append(&pp->cork, "\r\n", 2) != 0)
        return mv_fail(&pp->err, MV_E_MEMORY, "out of memory");
    if (pp->corked) return MV_OK;
    return mv_pp_uncork(pp);
}

void mv_pp_cork(mv_pp *pp)
{
    pp->corked = 1;
}

int mv_pp_uncork(mv_pp *pp)
{
    int r = MV_OK;
    pp->corked = 0;
    if (mv_buf_avail(&pp->cork) > 0)
        r = mv_conn_write(&pp->conn, mv_buf_head(&pp->cork), mv_buf_avail(&pp->cork), &pp->err);
    /* Commands can hold credentials (AUTH): wipe what was sent. */
    mv_buf_wipe(&pp->cork);
    return r;
}

void mv_pp_cork_cancel(mv_pp *pp)
{
    mv_buf_wipe(&pp->cork);
    pp->corked = 0;
}

int mv_pp_send_raw(mv_pp *pp, const void *data, size_t len)
{
    if (mv_buf_append(&pp->cork, data, len) != 0)
        return mv_fail(&pp->err, MV_E_MEMORY, "out of memory");
    if (pp->corked) return MV_OK;
    return mv_pp_uncork(pp);
}

void mv_pp_commit_next(mv_pp *pp)
{
    pp->eof_check = 1;
}

int mv_pp_take(mv_pp *pp, size_t max, const unsigned char **data, size_t *len)
{
    mv_buf *in = &pp->conn.app_in;
    while (mv_buf_avail(in) == 0) {
        int r = mv_conn_fill(&pp->conn, &pp->err);
        if (r != MV_OK) return r;
    }
    *data = mv_buf_head(in);
    *len = mv_buf_avail(in) < max ? mv_buf_avail(in) : max;
    return MV_OK;
}

void mv_pp_taken(mv_pp *pp, size_t used)
{
    mv_buf_consume(&pp->conn.app_in, used);
    pp->scan = 0;
}

int mv_pp_getline(mv_pp *pp, const char **line, size_t *len)
{
    mv_buf *in = &pp->conn.app_in;
    for (;;) {
        size_t avail = mv_buf_avail(in);
        if (pp->scan < avail) {
            const unsigned char *head = mv_buf_head(in);
            const unsigned char *lf = memchr(head + pp->scan, '\n', avail - pp->scan);
            if (lf != NULL) {
                size_t n = (size_t)(lf - head);
                pp->line_len = n + 1;
                if (n > 0 && head[n - 1] == '\r') n--;
                if (n > pp->max_line) goto too_long;
                *line = (const char *)head;
                *len = n;
                mv_pp_trace(pp, MV_TRACE_IN, (const char *)head, n);
                return MV_OK;
            }
            pp->scan = avail;
        }
        if (avail > pp->max_line + 1) goto too_long;
        {
            int r = mv_conn_fill(&pp->conn, &pp->err);
            if (r != MV_OK) return r;
        }
    }
too_long:
    return mv_fail(&pp->err, MV_E_LIMIT, "server line longer than %zu bytes", pp->max_line);
}

size_t mv_pp_line_bytes(const mv_pp *pp)
{
    return pp->line_len;
}

void mv_pp_line_done(mv_pp *pp)
{
    mv_buf_consume(&pp->conn.app_in, pp->line_len);
    pp->scan = 0;
    pp->line_len = 0;
}
