-- SMTP against the real Postfix started by the test run (spec/support/stack.lua).
local stack = require "support.stack"
local smtp = require "missive.smtp"
-- Postfix speaks TLS 1.3 when the build's mbedTLS does (3.6).
local TLS_BEST = require("missive.core")._tls_best == "1.3" and "TLSv1.3" or "TLSv1.2"

describe("smtp.session against Postfix #integration", function()
  local st

  setup(function()
    assert(stack.available())
    st = assert(stack.start())
  end)

  local function open(extra)
    local o = {host = st.hostname, port = st.submission_port, user = "alice",
               password = st.users.alice, cafile = st.cafile, timeout = 20}
    for k, v in pairs(extra or {}) do o[k] = v end
    return smtp.session(o)
  end

  -- Postfix stores LF line ends in the Maildir; compare the body after the headers
  -- Postfix adds.
  -- Delivery is asynchronous (and a message of an earlier spec may still be on its
  -- way), so wait for the one carrying `marker`.
  local function delivered_body(user, marker)
    local util = require "support.util"
    local deadline = util.now() + 20
    repeat
      local msgs = stack.messages(user)
      for i = #msgs, 1, -1 do
        if msgs[i]:find(marker, 1, true) then
          return (msgs[i]:match("\n\n(.*)$"))
        end
      end
      util.sleep(0.05)
    until util.now() > deadline
    error("message " .. marker .. " not delivered")
  end

  for _, mech in ipairs { "PLAIN", "LOGIN", "CRAM-MD5" } do
    it("sends with STARTTLS and AUTH " .. mech, function()
      stack.clear("bob")
      local s = assert(open{auth = mech})
      assert.equal(mech, s:auth_mechanism())
      assert.equal(TLS_BEST, s:tls_info().version)
      local marker = "mech-" .. mech
      local res = assert(s:send{from = "alice@localhost", to = "bob@localhost",
                               data = "Subject: " .. marker .. "\r\n\r\nhello\r\n"})
      assert.same({"bob@localhost"}, res.accepted)
      assert.equal(250, res.reply.code)
      assert.is_true(s:close())
      assert.equal("hello\n", delivered_body("bob", marker))
    end)
  end

  it("picks the strongest offered mechanism by itself (CRAM-MD5 over PLAIN)", function()
    local s = assert(open())
    assert.equal("CRAM-MD5", s:auth_mechanism())
    s:close()
  end)

  it("sends over implicit TLS (port 465 style)", function()
    stack.clear("bob")
    local s = assert(smtp.session{host = st.hostname, port = st.smtps_port, tls = "implicit",
      user = "alice", password = "secret", cafile = st.cafile, timeout = 20})
    assert.truthy(s:tls_info())
    assert(s:send{from = "alice@localhost", to = {"bob@localhost"},
                  data = "Subject: implicit\r\n\r\nvia 465\r\n"})
    s:close()
    assert.equal("via 465\n", delivered_body("bob", "Subject: implicit"))
  end)

  it("fails verification without the test CA, before any command (cert)", function()
    local s, err, kind = open{cafile = st.other_cafile}
    assert.is_nil(s)
    assert.equal("cert", kind)
    assert.matches("unknown or untrusted issuer", err)
  end)

  it("fails on a host name the certificate does not carry (cert)", function()
    local s, err, kind = open{host = "127.0.0.1"}
    assert.is_nil(s)
    assert.equal("cert", kind)
    assert.matches("hostname mismatch", err)
  end)

  it("connects to an address and verifies the name given as server_name", function()
    local s = assert(open{host = "127.0.0.1", server_name = "localhost"})
    assert.truthy(s:tls_info())
    s:close()
  end)

  it("reports a wrong password as kind auth with the server's reply", function()
    local s, err, kind, reply = open{password = "wrong", auth = "PLAIN"}
    assert.is_nil(s)
    assert.equal("auth", kind)
    assert.equal(535, reply.code)
    assert.is_nil(err:find("wrong", 1, true))
  end)

  it("CHECKLIST 16 17 19: dot lines, bare LF and bare CR arrive CRLF-normalised", function()
    stack.clear("bob")
    local s = assert(open())
    local body = ".\n..\n.x\r\nbare LF\nbare CR\rlast . line\r\n.\r\n..x\r\nno final newline"
    assert(s:send{from = "alice@localhost", to = "bob@localhost",
                  data = "Subject: dots\r\n\r\n" .. body})
    s:close()
    -- CRLF-normalised input, as LF on disk.
    local want = body:gsub("\r\n", "\n"):gsub("\r", "\n") .. "\n"
    assert.equal(want, delivered_body("bob", "Subject: dots"))
  end)

  it("sends with BDAT when chunking = true (Postfix offers CHUNKING)", function()
    stack.clear("bob")
    local s = assert(open{chunking = true})
    local body = string.rep("chunked line\r\n", 30000) .. ".\r\n..end"   -- > one chunk
    assert(s:send{from = "alice@localhost", to = "bob@localhost",
                  data = "Subject: bdat\r\n\r\n" .. body})
    s:close()
    assert.equal((body:gsub("\r\n", "\n")) .. "\n", delivered_body("bob", "Subject: bdat"))
  end)

  it("CHECKLIST 21: a non-ASCII sender goes out with SMTPUTF8 when offered", function()
    local s = assert(open())
    assert.is_true(s:capabilities().SMTPUTF8)
    local res = assert(s:send{from = "j\195\182rg@localhost", to = "bob@localhost",
                              data = "Subject: utf8\r\n\r\nx\r\n"})
    assert.equal(250, res.reply.code)
    s:close()
  end)

  it("returns per-recipient results for mixed accepted and rejected recipients", function()
    local s = assert(open())
    local res = assert(s:send{from = "alice@localhost",
      to = {"bob@localhost", "nobody@localhost"}, cc = "alice@localhost",
      data = "Subject: mixed\r\n\r\nx\r\n"})
    assert.same({"bob@localhost", "alice@localhost"}, res.accepted)
    assert.equal(550, res.rejected["nobody@localhost"].code)
    assert.equal("5.1.1", res.rejected["nobody@localhost"].enhanced)
    -- All rejected: nil, message, "reply", and the session stays usable (RSET).
    local r2, err, kind = s:send{from = "alice@localhost", to = {"x@localhost", "y@localhost"},
                                 data = "x"}
    assert.is_nil(r2)
    assert.equal("reply", kind)
    assert.matches("all 2 recipient", err)
    assert(s:noop())
    s:close()
  end)

  it("streams a 10 MB message from a source function", function()
    stack.clear("bob")
    local s = assert(open())
    local line = string.rep("0123456789", 7) .. "\r\n"     -- 72 bytes
    local chunk = string.rep(line, 1000)                     -- 72 000 bytes
    local n, total = 0, 0
    local progress = 0
    local res = assert(s:send{from = "alice@localhost", to = "bob@localhost",
      data = function()
        if n == 0 then n = 1; return "Subject: big\r\n\r\n" end
        if total >= 10 * 1024 * 1024 then return nil end
        total = total + #chunk
        return chunk
      end,
      progress = function(sent) progress = sent end})
    assert.equal(250, res.reply.code)
    assert.is_true(progress >= 10 * 1024 * 1024)
    s:close()
    local msgs = assert(stack.wait_messages("bob", 1, 30))
    local body = msgs[#msgs]:match("\n\n(.*)$")
    assert.equal(total, #body + math.floor(#body / 71)) -- LF on disk: one byte less per line
  end)

  it("send_batch delivers many messages with one round trip each", function()
    stack.clear("bob")
    local s = assert(open())
    local list = {}
    for i = 1, 40 do
      list[i] = {from = "alice@localhost", to = "bob@localhost",
                 data = ("Subject: batch %d\r\n\r\nbody %d\r\n"):format(i, i)}
    end
    list[41] = {from = "alice@localhost", to = "nobody@localhost", data = "x"}
    local results, sent = s:send_batch(list)
    s:close()
    assert.equal(40, sent)
    assert.equal("reply", results[41].kind)
    assert(stack.wait_messages("bob", 40, 30))
  end)

  it("sends many messages on one session", function()
    stack.clear("bob")
    local s = assert(open())
    for i = 1, 50 do
      assert(s:send{from = "alice@localhost", to = "bob@localhost",
                    data = ("Subject: many %d\r\n\r\nmessage %d\r\n"):format(i, i)})
    end
    s:close()
    assert(stack.wait_messages("bob", 50, 30))
  end)

  it("sends on the plain port without TLS, and refuses AUTH there when told to", function()
    local s = assert(smtp.session{host = st.host, port = st.smtp_port, tls = "none",
                                  timeout = 10})
    assert.is_nil(s:tls_info())
    assert(s:send{from = "alice@localhost", to = "bob@localhost", data = "x"})
    s:close()
    local s2, err, kind = smtp.session{host = st.host, port = st.smtp_port, tls = "none",
      user = "alice", password = "secret", insecure_auth = false, timeout = 10}
    assert.is_nil(s2)
    assert.equal("auth", kind)
    assert.matches("refusing to send credentials", err)
  end)

  it("smtp.send is a one-shot helper", function()
    local res = assert(smtp.send{host = st.hostname, port = st.submission_port,
      user = "alice", password = "secret", cafile = st.cafile,
      from = "alice@localhost", to = "bob@localhost", data = "Subject: one-shot\r\n\r\nx"})
    assert.equal(250, res.reply.code)
  end)

  it("sends through LuaSocket objects (the external driver) with STARTTLS and AUTH",
     function()
    stack.clear("bob")
    local s = assert(open{host = st.host, server_name = st.hostname,
                          socket = require("socket").tcp})
    assert.equal(TLS_BEST, s:tls_info().version)
    local chunk = string.rep("line through luasocket\r\n", 4000)
    local n = 0
    local res = assert(s:send{from = "alice@localhost", to = "bob@localhost", data = function()
      n = n + 1
      if n == 1 then return "Subject: via luasocket\r\n\r\n" end
      if n <= 21 then return chunk end
    end})
    assert.equal(250, res.reply.code)
    s:close()
    local body = delivered_body("bob", "Subject: via luasocket")
    assert.equal(20 * 4000, select(2, body:gsub("line through luasocket\n", "")))
  end)

  for _, driver in ipairs {"native", "luasocket"} do
    it("CHECKLIST 62 58: a progress callback raising mid-body: the message is never"
       .. " delivered and no command ends up in a body (" .. driver .. ")", function()
      stack.clear("bob")
      local s = assert(open{host = st.host, server_name = st.hostname, timeout = 3,
                            socket = driver == "luasocket" and require("socket").tcp or nil})
      local calls = 0
      local ok, e = pcall(s.send, s, {from = "alice@localhost", to = "bob@localhost",
        data = "Subject: raised-progress\r\n\r\n" .. string.rep("body line\r\n", 30000),
        progress = function()
          calls = calls + 1
          error("progress boom")
        end})
      assert.is_false(ok)
      assert.matches("progress boom", tostring(e))
      assert.equal(1, calls)
      local r, _, kind = s:send{from = "alice@localhost", to = "bob@localhost",
                               data = "Subject: after-raise\r\n\r\nx\r\n"}
      assert.is_nil(r)
      assert.equal("closed", kind)
      s:close()
      -- A message sent afterwards on a new session arrives; the others never do.
      local s2 = assert(open())
      assert(s2:send{from = "alice@localhost", to = "bob@localhost",
                     data = "Subject: fence-" .. driver .. "\r\n\r\nx\r\n"})
      s2:close()
      assert(stack.wait_messages("bob", 1, 20))
      local util = require "support.util"
      util.sleep(0.5)
      for _, m in ipairs(stack.messages("bob")) do
        assert.is_nil(m:find("MAIL FROM", 1, true))
        assert.is_nil(m:find("raised-progress", 1, true))
        assert.is_nil(m:find("after-raise", 1, true))
      end
    end)
  end

  it("closes idempotently and raises on use after close (CHECKLIST 57)", function()
    local s = assert(open())
    assert.is_true(s:close())
    assert.is_true(s:close())
    assert.equal("smtp.session (closed)", tostring(s))
    assert.has_error(function() s:noop() end, "attempt to use a closed session")
    collectgarbage()
  end)
end)
