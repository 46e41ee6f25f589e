#include "mv_cmds.h"

#include <stdio.h>
#include <string.h>

void mv_cmds_init(mv_cmds *t)
{
    t->head = 0;
    t->len = 0;
    t->cap = MV_CMDS_MAX;
    t->serial = 0;
}

size_t mv_cmds_count(const mv_cmds *t)
{
    return t->len;
}

mv_cmd *mv_cmds_at(mv_cmds *t, size_t i)
{
    if (i >= t->len) return NULL;
    return &t->slot[(t->head + i) % MV_CMDS_MAX];
}

mv_cmd *mv_cmds_push(mv_cmds *t, mv_error *e)
{
    mv_cmd *c;
    size_t cap = t->cap < MV_CMDS_MAX ? t->cap : MV_CMDS_MAX;
    if (t->len >= cap) {
        mv_fail(e, MV_E_LIMIT, "too many commands in flight (at most %zu)", cap);
        return NULL;
    }
    c = &t->slot[(t->head + t->len++) % MV_CMDS_MAX];
    memset(c, 0, sizeof *c);
    return c;
}

mv_cmd *mv_cmds_push_tagged(mv_cmds *t, mv_error *e)
{
    mv_cmd *c = mv_cmds_push(t, e);
    if (c == NULL) return NULL;
    snprintf(c->tag, sizeof c->tag, "A%lu", ++t->serial);
    return c;
}

int mv_cmds_pop(mv_cmds *t, mv_cmd *out)
{
    if (t->len == 0) return -1;
    if (out != NULL) *out = t->slot[t->head];
    t->head = (t->head + 1) % MV_CMDS_MAX;
    t->len--;
    return 0;
}

int mv_cmds_take_tag(mv_cmds *t, const char *tag, size_t len, mv_cmd *out)
{
    size_t i;
    if (len == 0 || len >= MV_CMD_TAG_MAX) return -1;
    for (i = 0; i < t->len; i++) {
        mv_cmd *c = mv_cmds_at(t, i);
        if (strlen(c->tag) == len && memcmp(c->tag, tag, len) == 0) break;
    }
    if (i == t->len) return -1;
    if (out != NULL) *out = *mv_cmds_at(t, i);
    /* Close the gap: the later commands move one place towards the oldest. */
    for (; i + 1 < t->len; i++) *mv_cmds_at(t, i) = *mv_cmds_at(t, i + 1);
    t->len--;
    return 0;
}
