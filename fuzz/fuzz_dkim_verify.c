/* DKIM verification (csrc/mime/mime_dkim_verify.c, mime_dkim_canon.c): the input's
 * first line is a key record, the rest a message.  Tag lists parse into tags inside
 * the input with distinct names; every DKIM-Signature field is read and, when its tags
 * are acceptable, checked against the key record: a result word and a reason (none on
 * pass), never a crash.  A fixed RSA key record is tried too, so the signature check
 * runs past the key parsing. */
#include "fuzz_common.h"

#include "mime_dkim.h"

static const char rsa_record[] =
    "v=DKIM1; k=rsa; p="
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwr98WsCIfqpAKNf+2r0j5fX5vLpp5PJun5DOOTzq7"
    "XEolWEjyzIBMpVajwRSA/uGUyJ06dVx5JxONehERzjYwc//e/tLF8yeou40n2Bdzv0yG0TE/KvmJphZG"
    "r1J6ojp+TtALH9Z6GKvOFcrOTQwewEYJbFrcH0/r01GQD86rkwIDAQAB";

static void tags_hold(const char *s, size_t n)
{
    mv_dkim_tag t[MV_DKIM_MAX_TAGS];
    size_t nt = 0, i, j;
    const char *why = NULL;
    if (mv_dkim_tags(s, n, t, &nt, &why) != 0) {
        FZ_ASSERT(why != NULL);
        return;
    }
    FZ_ASSERT(nt <= MV_DKIM_MAX_TAGS);
    for (i = 0; i < nt; i++) {
        FZ_ASSERT(t[i].name_len > 0 && t[i].name >= s && t[i].name + t[i].name_len <= s + n);
        FZ_ASSERT(t[i].val >= s && t[i].val + t[i].val_len <= s + n && t[i].end <= n);
        FZ_ASSERT(mv_dkim_tag_get(t, nt, "") == NULL);
        for (j = 0; j < i; j++)
            FZ_ASSERT(t[j].name_len != t[i].name_len ||
                      memcmp(t[j].name, t[i].name, t[i].name_len) != 0);
    }
}

static void check(const mv_dkim_msg *m, const mv_dkim_sig *s, const char *rec, size_t rn,
                  long long now)
{
    mv_dkim_check c;
    FZ_ASSERT(mv_dkim_verify(m, s, rec, rn, now, &c) == 0);
    FZ_ASSERT(c.result >= MV_DKIM_PASS && c.result <= MV_DKIM_PERMERROR);
    FZ_ASSERT((c.result == MV_DKIM_PASS) == (c.reason == NULL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t rn = nl != NULL ? (size_t)(nl - data) : 0;
    size_t off = nl != NULL ? rn + 1 : 0;
    char *rec = fz_dup(data, rn), *text = fz_dup(data + off, size - off);
    mv_dkim_msg m;
    size_t k, f;
    tags_hold(rec, rn);
    tags_hold(text, size - off);
    FZ_ASSERT(mv_dkim_msg_init(&m, text, size - off) == 0);
    FZ_ASSERT(m.hdr_len <= m.body_off && m.body_off <= m.len);
    for (k = 0; (f = mv_dkim_msg_sig_field(&m, k)) != (size_t)-1 && k < 8; k++) {
        mv_dkim_sig s;
        const char *why = NULL;
        int rc = mv_dkim_sig_parse(&m, f, &s, &why);
        FZ_ASSERT(rc >= 0);
        if (rc != MV_DKIM_PASS) {
            FZ_ASSERT(why != NULL);
            continue;
        }
        FZ_ASSERT(s.hlist != NULL && strstr(s.hlist, "from") != NULL && s.b_len <= sizeof s.b);
        check(&m, &s, rec, rn, (long long)size);
        check(&m, &s, rsa_record, sizeof rsa_record - 1, 0);
        mv_dkim_sig_free(&s);
    }
    mv_dkim_msg_free(&m);
    free(rec);
    free(text);
    return 0;
}
