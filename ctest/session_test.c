/* C unit tests of what every protocol's session shares: the configuration copy
 * (mv_cfg), the SASL framing (mv_sasl_command, mv_sasl_answer) and the rules of the
 * engine (mv_pp_credentials_ok, mv_pp_error_keeps_session). */
#include "ctest.h"

#include "mv_cfg.h"
#include "mv_pp.h"
#include "mv_sasl.h"

/* The copy owns its strings, defaults server_name to host and keeps the TLS options. */
static void test_cfg_copy(void)
{
    char host[] = "mail.example.org", ca[] = "/etc/ca.pem";
    mv_cfg src, dst;
    mv_error e;
    memset(&src, 0, sizeof src);
    mv_error_clear(&e);
    src.host = host;
    src.user = "alice";
    src.tls_opts.cafile = ca;
    src.tls = MV_TLS_IMPLICIT;
    CHECK(mv_cfg_copy(&dst, &src, &e) == MV_OK);
    host[0] = 'X';
    ca[0] = 'X';
    CHECK(strcmp(dst.host, "mail.example.org") == 0);
    CHECK(strcmp(dst.server_name, "mail.example.org") == 0);
    CHECK(strcmp(dst.tls_opts.cafile, "/etc/ca.pem") == 0);
    CHECK(dst.tls == MV_TLS_IMPLICIT && dst.password == NULL);
    mv_cfg_free(&dst);
    CHECK(dst.host == NULL && dst.tls_opts.cafile == NULL);
}

/* Control bytes in any common option and a missing host are refused (CHECKLIST 41). */
static void test_cfg_refuses(void)
{
    mv_cfg src, dst;
    mv_error e;
    memset(&src, 0, sizeof src);
    mv_error_clear(&e);
    CHECK(mv_cfg_copy(&dst, &src, &e) == MV_ERROR && e.kind == MV_E_ARG);
    src.host = "h";
    src.password = "se\r\ncret";
    mv_error_clear(&e);
    CHECK(mv_cfg_copy(&dst, &src, &e) == MV_ERROR && e.kind == MV_E_ARG);
    CHECK(strstr(e.msg, "password") != NULL && strstr(e.msg, "se") == NULL);
    CHECK(dst.host == NULL);
}

/* "AUTH PLAIN <base64>", the response hidden from the trace; "=" for an empty one. */
static void test_sasl_command(void)
{
    mv_sasl s;
    mv_buf line;
    size_t mask;
    mv_error e;
    mv_error_clear(&e);
    mv_buf_init(&line);
    mv_sasl_begin(&s, MV_SASL_PLAIN, "u", "p", NULL);
    CHECK(mv_sasl_command(&s, "AUTH", &line, &mask, &e) == MV_OK);
    CHECK_MEM(line.data, line.len, "AUTH PLAIN AHUAcA==", 19);
    CHECK(mask == 11);
    mv_buf_reset(&line);
    mv_sasl_begin(&s, MV_SASL_LOGIN, "u", "p", NULL);
    CHECK(mv_sasl_command(&s, "AUTH", &line, &mask, &e) == MV_OK);
    CHECK_MEM(line.data, line.len, "AUTH LOGIN", 10);
    CHECK(mask == (size_t)-1);
    mv_buf_free(&line);
}

/* Challenges are decoded and answered in base64; a bad one or a sixth aborts. */
static void test_sasl_answer(void)
{
    mv_sasl s;
    mv_buf line;
    mv_error e;
    int i;
    mv_error_clear(&e);
    mv_buf_init(&line);
    mv_sasl_begin(&s, MV_SASL_LOGIN, "u", "p", NULL);
    CHECK(mv_sasl_answer(&s, "VXNlcm5hbWU6", 12, &line, &e) == MV_OK);
    CHECK_MEM(line.data, line.len, "dQ==", 4);
    mv_buf_reset(&line);
    CHECK(mv_sasl_answer(&s, "!!", 2, &line, &e) == MV_ERROR && e.kind == MV_E_AUTH);
    mv_sasl_begin(&s, MV_SASL_LOGIN, "u", "p", NULL);
    for (i = 0; i < MV_SASL_MAX_ROUNDS; i++) {
        mv_buf_reset(&line);
        mv_sasl_answer(&s, "", 0, &line, &e);
    }
    mv_error_clear(&e);
    CHECK(mv_sasl_answer(&s, "", 0, &line, &e) == MV_ERROR && e.kind == MV_E_AUTH);
    CHECK(strstr(e.msg, "too many") != NULL);
    mv_buf_free(&line);
}

/* The credentials rule and the rule of which failures leave a session usable. */
static void test_pp_rules(void)
{
    mv_pp pp;
    mv_cfg c;
    mv_error e;
    memset(&c, 0, sizeof c);
    mv_pp_init(&pp);
    c.insecure_auth = MV_INSECURE_LOOPBACK;
    CHECK(!mv_pp_credentials_ok(&pp, &c));
    c.peer_is_loopback = 1;
    CHECK(mv_pp_credentials_ok(&pp, &c));
    c.insecure_auth = MV_INSECURE_NEVER;
    CHECK(!mv_pp_credentials_ok(&pp, &c));
    c.insecure_auth = MV_INSECURE_ALWAYS;
    c.peer_is_loopback = 0;
    CHECK(mv_pp_credentials_ok(&pp, &c));
    mv_pp_free(&pp);
    mv_error_clear(&e);
    e.kind = MV_E_REPLY;
    CHECK(mv_pp_error_keeps_session(&e));
    e.kind = MV_E_ARG;
    CHECK(mv_pp_error_keeps_session(&e));
    e.kind = MV_E_TIMEOUT;
    CHECK(!mv_pp_error_keeps_session(&e));
    e.kind = MV_E_PROTOCOL;
    CHECK(!mv_pp_error_keeps_session(&e));
}

int main(void)
{
    static const ctest_case cases[] = {
        {"cfg copy", test_cfg_copy},
        {"cfg refuses", test_cfg_refuses},
        {"sasl command", test_sasl_command},
        {"sasl answer", test_sasl_answer},
        {"pp rules", test_pp_rules},
        {NULL, NULL}
    };
    return ctest_run("session", cases);
}
