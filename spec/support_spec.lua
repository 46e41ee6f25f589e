-- Proves the spec support code: the serializer, the scripted fault server and
-- the real Postfix + Dovecot stack (#integration).
local util = require "support.util"
local scripted = require "support.scripted"
local stack = require "support.stack"
local socket = require "socket"

local function connect(port)
    local c = assert(socket.connect("127.0.0.1", port))
    c:settimeout(5)
    return c
end

-- one (possibly multi-line) SMTP reply -> code, last line
local function reply(c)
    while true do
        local line, err = c:receive("*l")
        if not line then return nil, err end
        local code, sep = line:match("^(%d%d%d)([ -])")
        if sep ~= "-" then return tonumber(code), line end
    end
end

local function command(c, line)
    assert(c:send(line .. "\r\n"))
    return reply(c)
end

describe("support.util", function()
    it("serialises binary strings and nested tables exactly", function()
        local all = {}
        for i = 0, 255 do all[#all + 1] = string.char(i) end
        local bytes = table.concat(all)
        local v = { bytes, 1, -2.5, true, { x = "a\r\n", [7] = bytes }, k = { {} } }
        assert.same(v, util.deserialize(util.serialize(v)))
    end)

    it("finds the interpreter running the specs", function()
        assert.is_string(util.interpreter())
        assert.is_number(util.getpid())
    end)
end)

describe("support.scripted", function()
    it("plays a transcript and captures the client's bytes exactly", function()
        local srv = scripted.start({
            { send = "220 scripted ESMTP\r\n" },
            { expect = "EHLO" },
            { send = "250-scripted\r\n250 8BITMIME\r\n" },
            { expect = "DATA" },
            { send = "354 go ahead\r\n" },
            { read_until = "\r\n.\r\n" },
            { drip = "250 queued\r\n", interval = 0.001 },
            { expect = "QUIT" },
            { send = "221 bye\r\n" },
        })
        assert.is_number(srv.port)
        local c = connect(srv.port)
        assert.same({ 220, "220 scripted ESMTP" }, { reply(c) })
        assert.same({ 250, "250 8BITMIME" }, { command(c, "EHLO client.test") })
        assert.same(354, (command(c, "DATA")))
        -- bare CR, NUL and 8-bit bytes must come back untouched
        assert(c:send("Subject: x\r\n\r\n..dot\r\nbare\rcr \0 \255\r\n.\r\n"))
        assert.same({ 250, "250 queued" }, { reply(c) })
        assert.same(221, (command(c, "QUIT")))
        c:close()
        local received, log = srv:finish()
        assert.equal("EHLO client.test\r\nDATA\r\n"
            .. "Subject: x\r\n\r\n..dot\r\nbare\rcr \0 \255\r\n.\r\nQUIT\r\n", received)
        assert.same({}, scripted.failures(log), scripted.format(log))
        assert.equal("Subject: x\r\n\r\n..dot\r\nbare\rcr \0 \255\r\n.\r\n", log[6].data)
    end)

    it("logs a mismatch, a step timeout and a close", function()
        local srv = scripted.start({
            { send = "+OK ready\r\n" },
            { expect = "USER" },
            { read_line = true, timeout = 0.2 },
            { close = true },
        }, { timeout = 5 })
        local c = connect(srv.port)
        assert.equal("+OK ready", c:receive("*l"))
        assert(c:send("PASS secret\r\nno newline"))
        local received, log = srv:finish()
        assert.equal("PASS secret\r\nno newline", received)
        local failures = scripted.failures(log)
        assert.equal(2, #failures, scripted.format(log))
        assert.same({ "expect", "PASS secret\r\n" }, { failures[1].op, failures[1].data })
        assert.same({ "read_line", "timeout" }, { failures[2].op, failures[2].err })
        local line, err = c:receive("*l")
        assert.same({ nil, "closed" }, { line, err })
        c:close()
    end)

    it("serves one script per connection", function()
        local srv = scripted.start({
            { { send = "first\r\n" }, { expect = "ONE" } },
            { { send = "second\r\n" }, { expect = "TWO" } },
        }, { connections = 2, linger = 0.05 })
        for _, v in ipairs({ { "first", "ONE" }, { "second", "TWO" } }) do
            local c = connect(srv.port)
            assert.equal(v[1], c:receive("*l"))
            assert(c:send(v[2] .. "\r\n"))
            c:close()
        end
        local received, log = srv:finish()
        assert.equal("ONE\r\nTWO\r\n", received)
        assert.same({ "ONE\r\n", "TWO\r\n" }, srv.received_by_conn)
        assert.same({}, scripted.failures(log), scripted.format(log))
    end)

    it("switches to TLS with a certificate for localhost", function()
        local ssl = require "ssl"
        local srv = scripted.start({
            { send = "220 hi\r\n" },
            { expect = "STARTTLS" },
            { send = "220 go ahead\r\n" },
            { tls = true },
            { expect = "EHLO" },
            { send = "250 secure\r\n" },
        })
        assert.is_string(srv.cafile)
        local c = connect(srv.port)
        assert.same(220, (reply(c)))
        assert.same(220, (command(c, "STARTTLS")))
        c = assert(ssl.wrap(c, { mode = "client", protocol = "any", verify = "peer",
                                 cafile = srv.cafile }))
        c:sni("localhost")
        assert(c:dohandshake())
        assert.same({ 250, "250 secure" }, { command(c, "EHLO tls.test") })
        c:close()
        local received, log = srv:finish()
        assert.equal("STARTTLS\r\nEHLO tls.test\r\n", received)
        assert.same({}, scripted.failures(log), scripted.format(log))
    end)

    it("gives up after its timeout when no client comes", function()
        local srv = scripted.start({ { expect = "EHLO" } }, { timeout = 0.3 })
        local t0 = socket.gettime()
        local received, log = srv:finish()
        assert.is_true(socket.gettime() - t0 < 2)
        assert.equal("", received)
        assert.equal("accept", scripted.failures(log)[1].op)
    end)
end)

describe("support.stack #integration", function()
    local ok, why = stack.available()
    if not ok then
        -- CI installs everything: there a missing stack is a failure, not a skip
        if os.getenv("CI") then
            it("is available", function() error(why) end)
        else
            pending("mail stack: " .. why)
        end
        return
    end
    local s
    setup(function() s = stack.start() end)

    it("starts once per process and describes itself", function()
        assert.equal(s, stack.start())
        for _, k in ipairs({ "smtp_port", "smtps_port", "submission_port",
                             "pop3_port", "pop3s_port" }) do
            assert.is_number(s[k], k)
            local c = connect(s[k])
            c:close()
        end
        assert.same({ alice = "secret", bob = "secret" }, s.users)
        assert.equal(s.dir .. "/mail/alice", s.maildir("alice"))
        for _, f in ipairs({ s.cafile, s.other_cafile, s.other_certfile, s.other_keyfile }) do
            assert.is_string(util.read_file(f), f)
        end
    end)

    it("delivers a message through Postfix into the Maildir", function()
        stack.clear("alice")
        local c = connect(s.smtp_port)
        assert.equal(220, (reply(c)))
        assert.equal(250, (command(c, "EHLO client.test")))
        assert.equal(250, (command(c, "MAIL FROM:<bob@localhost>")))
        assert.equal(250, (command(c, "RCPT TO:<alice@localhost>")))
        assert.equal(354, (command(c, "DATA")))
        assert.equal(250, (command(c, "Subject: support spec\r\n\r\nhello alice\r\n.")))
        assert.equal(221, (command(c, "QUIT")))
        c:close()
        local msgs = assert(stack.wait_messages("alice", 1, 10))
        assert.equal(1, #msgs)
        assert.truthy(msgs[1]:find("Subject: support spec\n", 1, true))
        assert.truthy(msgs[1]:find("\nhello alice\n", 1, true))
        stack.clear("alice")
        assert.same({}, stack.messages("alice"))
    end)

    it("has a certificate that the test CA verifies and the other CA does not", function()
        local ssl = require "ssl"
        local function handshake(cafile)
            local c = connect(s.smtps_port)
            local t = assert(ssl.wrap(c, { mode = "client", protocol = "any",
                                           verify = "peer", cafile = cafile }))
            t:sni(s.hostname)
            local hs_ok, err = t:dohandshake()
            t:close()
            return hs_ok, err
        end
        assert.is_true(handshake(s.cafile))
        local bad, err = handshake(s.other_cafile)
        assert.is_falsy(bad)
        assert.matches("certificate", err)
    end)
end)
