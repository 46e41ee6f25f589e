-- LuaRocks build of missive: `luarocks make` (needs Debian's libmbedtls-dev).
rockspec_format = "3.0"
package = "missive"
version = "scm-1"
source = { url = "git+https://example.invalid/missive.git" }
description = {
    summary = "Email for Lua: SMTP and POP3 over TLS (mbedTLS) and MIME, with a C core",
    detailed = [[
missive sends mail over SMTP (STARTTLS, implicit TLS, AUTH, PIPELINING), reads
mailboxes over POP3, and builds and parses MIME messages. The protocols run in a C
state machine driven either by its own sockets or by any LuaSocket-compatible object,
such as OpenResty cosockets.]],
    license = "MIT",
}
dependencies = { "lua >= 5.1" }
external_dependencies = {
    MBEDTLS = { header = "mbedtls/ssl.h", library = "mbedtls" },
}
build = {
    type = "builtin",
    modules = {
        ["missive.core"] = {
            sources = {
                "csrc/imap.c",
                "csrc/imap_body.c",
                "csrc/imap_cmd.c",
                "csrc/imap_data.c",
                "csrc/imap_open.c",
                "csrc/imap_parse.c",
                "csrc/imap_utf7.c",
                "csrc/mime_addr.c",
                "csrc/mime_build.c",
                "csrc/mime_charset.c",
                "csrc/mime_codec.c",
                "csrc/mime_header.c",
                "csrc/mime_msg.c",
                "csrc/mime_param.c",
                "csrc/mime_parse.c",
                "csrc/mime_part.c",
                "csrc/mime_uu.c",
                "csrc/mv_buf.c",
                "csrc/mv_castore.c",
                "csrc/mv_cfg.c",
                "csrc/mv_clock.c",
                "csrc/mv_cmds.c",
                "csrc/mv_conn.c",
                "csrc/mv_error.c",
                "csrc/mv_fs.c",
                "csrc/mv_net.c",
                "csrc/mv_open.c",
                "csrc/mv_pp.c",
                "csrc/mv_random.c",
                "csrc/mv_sasl.c",
                "csrc/mv_str.c",
                "csrc/mv_tls.c",
                "csrc/pop3.c",
                "csrc/pop3_open.c",
                "csrc/pop3_parse.c",
                "csrc/smtp.c",
                "csrc/smtp_async.c",
                "csrc/smtp_open.c",
                "csrc/smtp_reply.c",
                "csrc/smtp_send.c",
                "csrc/smtp_stuff.c",
                "csrc/lua/compat.c",
                "csrc/lua/core.c",
                "csrc/lua/lasync.c",
                "csrc/lua/lemail.c",
                "csrc/lua/lemail_codec.c",
                "csrc/lua/lemail_set.c",
                "csrc/lua/lfs.c",
                "csrc/lua/limap.c",
                "csrc/lua/lpop3.c",
                "csrc/lua/lsession.c",
                "csrc/lua/lsmtp.c",
                "csrc/lua/opts.c",
            },
            defines = { "_POSIX_C_SOURCE=200809L" },
            incdirs = { "csrc", "$(MBEDTLS_INCDIR)" },
            libdirs = { "$(MBEDTLS_LIBDIR)" },
            libraries = { "mbedtls", "mbedx509", "mbedcrypto", "pthread" },
        },
        ["missive"] = "lua/missive/init.lua",
        ["missive.config"] = "lua/missive/config.lua",
        ["missive.driver"] = "lua/missive/driver.lua",
        ["missive.message"] = "lua/missive/message.lua",
        ["missive.smtp"] = "lua/missive/smtp.lua",
        ["missive.pop3"] = "lua/missive/pop3.lua",
        ["missive.email"] = "lua/missive/email.lua",
        ["missive.mime"] = "lua/missive/mime.lua",
        ["missive.async"] = "lua/missive/async.lua",
        ["missive.spool"] = "lua/missive/spool.lua",
    },
}
