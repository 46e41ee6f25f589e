/* The session configuration every protocol shares: checks and the owned copy. */
#include "mv_cfg.h"
#include "mv_str.h"

#include <stdlib.h>
#include <string.h>

int mv_cfg_check_value(const char *field, const char *v, mv_error *e)
{
    const unsigned char *p;
    for (p = (const unsigned char *)v; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return mv_fail(e, MV_E_ARG, "%s contains a control character (CR, LF, NUL...)",
                           field);
    }
    return MV_OK;
}

static int check(const mv_cfg *c, mv_error *e)
{
    const char *checks[][2] = {
        { "host", c->host }, { "server_name", c->server_name }, { "user", c->user },
        { "password", c->password }, { "token", c->token }, { "auth", c->auth }
    };
    size_t i;
    for (i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        if (checks[i][1] != NULL && mv_cfg_check_value(checks[i][0], checks[i][1], e) != MV_OK)
            return MV_ERROR;
    }
    if (c->host == NULL) return mv_fail(e, MV_E_ARG, "host is required");
    return mv_tls_check(&c->tls_opts, e);
}

/* The copies are ours: the casts drop the const of the caller's view. */
void mv_cfg_replace_token(mv_cfg *c, char *token)
{
    mv_free_secret((char *)(size_t)c->token);
    c->token = token;
}

void mv_cfg_free(mv_cfg *c)
{
    free((void *)(size_t)c->host);
    free((void *)(size_t)c->server_name);
    mv_free_secret((char *)(size_t)c->user);
    mv_free_secret((char *)(size_t)c->password);
    mv_free_secret((char *)(size_t)c->token);
    free((void *)(size_t)c->auth);
    mv_tls_owned_free(&c->tls_own);
    memset(c, 0, sizeof *c);
}

int mv_cfg_copy(mv_cfg *dst, const mv_cfg *src, mv_error *e)
{
    memset(dst, 0, sizeof *dst);
    if (check(src, e) != MV_OK) return MV_ERROR;
    *dst = *src;
    dst->host = mv_strdup(src->host);
    dst->server_name = mv_strdup(src->server_name != NULL ? src->server_name : src->host);
    dst->user = mv_strdup(src->user);
    dst->password = mv_strdup(src->password);
    dst->token = mv_strdup(src->token);
    dst->auth = mv_strdup(src->auth);
    memset(&dst->tls_own, 0, sizeof dst->tls_own);
    if (dst->host == NULL || dst->server_name == NULL || (src->user && !dst->user)
        || (src->password && !dst->password) || (src->token && !dst->token)
        || (src->auth && !dst->auth)
        || mv_tls_own(&dst->tls_own, &dst->tls_opts, &src->tls_opts) != 0) {
        mv_cfg_free(dst);
        return mv_fail(e, MV_E_MEMORY, "out of memory");
    }
    return MV_OK;
}
