#include "mv_conn.h"

void mv_conn_init(mv_conn *c)
{
    mv_buf_init(&c->net_in);
    mv_buf_init(&c->net_out);
    mv_buf_init(&c->app_in);
    c->eof = 0;
    c->tls = NULL;
    c->tls_ready = 0;
    c->want = 0;
}

void mv_conn_free(mv_conn *c)
{
    mv_tls_free(c->tls);
    c->tls = NULL;
    mv_buf_free(&c->net_in);
    mv_buf_free(&c->net_out);
    mv_buf_free(&c->app_in);
}

int mv_conn_feed(mv_conn *c, const void *p, size_t n)
{
    c->want = 0;
    return mv_buf_append(&c->net_in, p, n);
}

void mv_conn_feed_eof(mv_conn *c)
{
    c->eof = 1;
}

int mv_conn_start_tls(mv_conn *c, const char *host, const mv_tls_opts *o, mv_error *e)
{
    mv_tls_bio bio;
    /* A mistake in the options is reported before anything the server did. */
    if (mv_tls_check_start(host, o, e) != MV_OK) return MV_ERROR;
    if (mv_buf_avail(&c->app_in) > 0 || mv_buf_avail(&c->net_in) > 0) {
        return mv_fail(e, MV_E_PROTOCOL,
                       "server sent unexpected data before the TLS handshake");
    }
    bio.in = &c->net_in;
    bio.out = &c->net_out;
    bio.eof = &c->eof;
    bio.want = &c->want;
    c->tls = mv_tls_new(&bio, host, o, e);
    if (c->tls == NULL) return MV_ERROR;
    c->tls_ready = 0;
    return MV_OK;
}

int mv_conn_handshake(mv_conn *c, mv_error *e)
{
    int r;
    if (c->tls == NULL) return mv_fail(e, MV_E_TLS, "TLS was not started");
    if (c->tls_ready) return MV_OK;
    r = mv_tls_handshake(c->tls, e);
    if (r == MV_ERROR) return r;
    if (r == MV_OK) c->tls_ready = 1;
    return mv_conn_want(c, r);
}

int mv_conn_write(mv_conn *c, const void *p, size_t n, mv_error *e)
{
    if (c->tls == NULL) {
        if (mv_buf_append(&c->net_out, p, n) != 0)
            return mv_fail(e, MV_E_MEMORY, "out of memory");
        return MV_OK;
    }
    if (!c->tls_ready) return mv_fail(e, MV_E_TLS, "write before the TLS handshake finished");
    return mv_tls_write(c->tls, p, n, e);
}

int mv_conn_fill(mv_conn *c, mv_error *e)
{
    int r;
    if (c->tls == NULL) {
        size_t n = mv_buf_avail(&c->net_in);
        if (n > 0) {
            if (mv_buf_append(&c->app_in, mv_buf_head(&c->net_in), n) != 0)
                return mv_fail(e, MV_E_MEMORY, "out of memory");
            mv_buf_consume(&c->net_in, n);
            return MV_OK;
        }
        if (c->eof) return mv_fail(e, MV_E_CLOSED, "connection closed by the server");
        return MV_WANT_READ;
    }
    r = mv_tls_read(c->tls, &c->app_in, e);
    return r == MV_WANT_READ ? mv_conn_want(c, MV_WANT_READ) : r;
}

int mv_conn_close_notify(mv_conn *c)
{
    /* Only at a record boundary: nothing else may wait in net_out. */
    if (c->tls == NULL || !c->tls_ready || mv_buf_avail(&c->net_out) > 0) return 0;
    return mv_tls_close_notify(c->tls);
}

const char *mv_conn_tls_version(const mv_conn *c)
{
    return (c->tls != NULL && c->tls_ready) ? mv_tls_version(c->tls) : NULL;
}

const char *mv_conn_tls_cipher(const mv_conn *c)
{
    return (c->tls != NULL && c->tls_ready) ? mv_tls_cipher(c->tls) : NULL;
}
