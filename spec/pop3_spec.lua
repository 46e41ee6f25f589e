-- POP3 against a real Dovecot (and Postfix for the round trip) started by the run.
local stack = require "support.stack"
local util = require "support.util"

local available, why = stack.available()

local function crlf(s) return (s:gsub("\r?\n", "\r\n")) end

describe("pop3 against Dovecot #integration", function()
  if not available then
    pending("mail stack unavailable: " .. tostring(why))
    return
  end
  local pop3 = require "missive.pop3"
  local st, seq = nil, 0

  -- Writes a message straight into the Maildir (LF line ends, as delivery does).
  local function deliver(user, text)
    seq = seq + 1
    local dir = st.maildir(user)
    local name = string.format("%d.M%dP%d.spec", os.time(), seq, util.getpid())
    local tmp = dir .. "/tmp/" .. name
    util.write_file(tmp, text)
    assert(util.execute("chown 5000:5000 " .. util.shquote(tmp) .. " && chmod 600 "
      .. util.shquote(tmp) .. " && mv " .. util.shquote(tmp) .. " "
      .. util.shquote(dir .. "/new/" .. name)))
  end

  local function deliver_many(user, n, make)
    local dir = st.maildir(user)
    for i = 1, n do
      local name = string.format("%d.M%dP%d.bulk", os.time(), i, util.getpid())
      local f = assert(io.open(dir .. "/new/" .. name, "wb"))
      f:write(make(i))
      f:close()
    end
    assert(util.execute("chown -R 5000:5000 " .. util.shquote(dir .. "/new")
      .. " && chmod 600 " .. util.shquote(dir .. "/new") .. "/*"))
  end

  local function open(extra)
    local o = { host = "localhost", port = st.pop3s_port, cafile = st.cafile,
                user = "alice", password = "secret" }
    for k, v in pairs(extra or {}) do o[k] = v end
    return pop3.session(o)
  end

  before_each(function()
    st = stack.start()
    stack.clear("alice")
  end)

  it("implicit TLS with USER/PASS: stat, list, uidl, top, retrieve, delete, reset", function()
    deliver("alice", "Subject: one\n\nfirst body\nline 2\n")
    deliver("alice", "Subject: two\n\nsecond\n")
    local s = assert(open { auth = "user" })
    assert.equal("USER", s:auth_mechanism())
    assert.is_table(s:tls_info())
    local count, size = s:stat()
    assert.equal(2, count)
    local sizes = assert(s:list())
    assert.equal(size, sizes[1] + sizes[2])
    assert.equal(sizes[2], s:list(2))
    local uids = assert(s:uidl())
    assert.is_string(uids[1])
    assert.equal(uids[2], s:uidl(2))
    local head = assert(s:top(1, 0))
    assert.equal("Subject: one\r\n\r\n", head)
    assert.equal("Subject: one\r\n\r\nfirst body\r\nline 2\r\n", assert(s:retrieve(1)))
    assert.is_true(s:delete(1))
    local _, err, kind, reply = s:retrieve(1)
    assert.equal("reply", kind)
    assert.matches("RETR 1", err)
    assert.is_string(reply.text)
    assert.is_table(s:reset())
    assert.equal(2, (s:stat()))
    assert.is_table(s:noop())
    assert.is_true(s:delete(2))
    assert.is_true(s:close())
    assert.is_true(s:close())
    assert.has_error(function() s:stat() end, "attempt to use a closed session")
    local s2 = assert(open())
    assert.equal(1, (s2:stat()))
    assert.equal("Subject: one\r\n\r\nfirst body\r\nline 2\r\n", s2:retrieve(1))
    s2:close()
  end)

  it("STLS on the plain port with SASL PLAIN, CAPA again after TLS", function()
    deliver("alice", "Subject: stls\n\nx\n")
    local lines = {}
    local s = assert(open { port = st.pop3_port, tls = "starttls", auth = "PLAIN",
      trace = function(dir, text) lines[#lines + 1] = dir .. " " .. text end })
    assert.equal("PLAIN", s:auth_mechanism())
    assert.is_table(s:tls_info())
    assert.is_true(s:pipelining())
    local caps = s:capabilities()
    assert.is_nil(caps.STLS)  -- the list after TLS and login is the one kept
    assert.equal(1, (s:stat()))
    s:close()
    local all = table.concat(lines, "\n")
    assert.matches("out STLS", all, 1, true)
    assert.not_matches("secret", all, 1, true)
    assert.not_matches("AGFsaWNl", all, 1, true) -- base64 of "\0alice..."
  end)

  it("APOP when the greeting has a timestamp and the user asks", function()
    local s = assert(open { auth = "apop" })
    assert.is_true(s:has_apop())
    assert.equal("APOP", s:auth_mechanism())
    s:close()
    local _, err, kind = open { auth = "apop", password = "wrong" }
    assert.equal("auth", kind)
    assert.not_matches("wrong", err)
  end)

  it("refuses credentials in cleartext to a non-loopback host", function()
    local s, err, kind = pop3.session { host = "127.0.0.1", port = st.pop3_port, tls = "none",
      user = "alice", password = "secret", _assume_remote = true }
    assert.is_nil(s)
    assert.equal("auth", kind)
    assert.matches("insecure_auth", err)
    s = assert(pop3.session { host = "127.0.0.1", port = st.pop3_port, tls = "none",
      user = "alice", password = "secret", _assume_remote = true, insecure_auth = true,
      auth = "user" })
    s:close()
  end)

  it("a body with '.' and '..' lines comes back byte-exact", function()
    local body = "Subject: dots\n\n.\n..\n...\n.x\n..y\nend\n.\n"
    deliver("alice", body)
    local s = assert(open())
    assert.equal(crlf(body), s:retrieve(1))
    local chunks = {}
    assert.is_true(s:retrieve(1, function(c) chunks[#chunks + 1] = c end))
    assert.equal(crlf(body), table.concat(chunks))
    s:close()
  end)

  it("1000 small messages through the pipelined iterator", function()
    deliver_many("alice", 1000, function(i)
      return ("Subject: m%d\n\nbody %d\n.\n"):format(i, i)
    end)
    local s = assert(open())
    local seen, uids = 0, {}
    for m in s:messages() do
      seen = seen + 1
      assert.equal(seen, m.number)
      assert.equal(m.size, #m.raw)
      assert.is_nil(uids[m.uid])
      uids[m.uid] = true
      assert.matches("^Subject: m%d+\r\n\r\nbody %d+\r\n%.\r\n$", m.raw)
    end
    assert.equal(1000, seen)
    -- since: only what was not seen yet
    local n = 0
    for _ in s:messages { since = uids } do n = n + 1 end
    assert.equal(0, n)
    local all = assert(s:get_all { headers_only = true })
    assert.equal(1000, #all)
    assert.matches("^Subject: m1\r\n\r\n$", all[1].raw)
    s:close()
  end)

  it("a 20 MB message streams into a file and compares byte for byte", function()
    local line = ("0123456789"):rep(7) .. "\n"
    local big = "Subject: big\n\n" .. line:rep(math.ceil(20 * 1024 * 1024 / #line))
    deliver("alice", big)
    local s = assert(open { timeout = 120 })
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    local calls, last = 0, nil
    assert.is_true(s:retrieve(1, f, function(received, total)
      calls = calls + 1
      last = received
      assert.is_nil(total)
    end))
    f:close()
    local got = util.read_file(path)
    os.remove(path)
    assert.equal(#crlf(big), #got)
    assert.is_true(got == crlf(big))
    assert.is_true(calls > 100)
    assert.equal(#got, last)
    local raw = assert(s:retrieve(1))
    assert.is_true(raw == got)
    s:close()
  end)

  -- The external driver: LuaSocket objects move the bytes through missive.driver, TLS
  -- runs in the core over memory buffers (the path OpenResty cosockets take).
  local function lsock(extra)
    local o = { socket = require("socket").tcp }
    for k, v in pairs(extra or {}) do o[k] = v end
    return open(o)
  end

  it("LuaSocket driver: implicit TLS, stat/list/uidl/top/retrieve, close", function()
    deliver("alice", "Subject: ext1\n\nfirst\n.\n..x\n")
    deliver("alice", "Subject: ext2\n\nsecond\n")
    local s = assert(lsock { auth = "user" })
    assert.is_table(s:tls_info())
    assert.equal(2, (s:stat()))
    local sizes = assert(s:list())
    assert.equal(sizes[2], s:list(2))
    assert.is_string(assert(s:uidl())[1])
    assert.equal("Subject: ext1\r\n\r\n", assert(s:top(1, 0)))
    assert.equal(crlf("Subject: ext1\n\nfirst\n.\n..x\n"), assert(s:retrieve(1)))
    assert.equal(sizes[1], #assert(s:retrieve(1)))
    assert.is_table(s:noop())
    assert.is_true(s:close())
    assert.is_true(s:close())
  end)

  it("LuaSocket driver: STLS on the plain port with SASL PLAIN, retrieve", function()
    deliver("alice", "Subject: ext stls\n\nbody\n")
    local lines = {}
    local s = assert(lsock { port = st.pop3_port, tls = "starttls", auth = "PLAIN",
      trace = function(dir, text) lines[#lines + 1] = dir .. " " .. text end })
    assert.equal("PLAIN", s:auth_mechanism())
    assert.is_table(s:tls_info())
    assert.equal(crlf("Subject: ext stls\n\nbody\n"), assert(s:retrieve(1)))
    assert.is_true(s:close())
    local all = table.concat(lines, "\n")
    assert.matches("out STLS", all, 1, true)
    assert.not_matches("secret", all, 1, true)
  end)

  it("LuaSocket driver: messages{delete = true} empties the mailbox", function()
    deliver_many("alice", 25, function(i) return ("Subject: e%d\n\nx %d\n"):format(i, i) end)
    local s = assert(lsock())
    local n = 0
    for m in s:messages { delete = true } do
      n = n + 1
      assert.equal(n, m.number)
      assert.matches("^Subject: e" .. n .. "\r\n", m.raw)
    end
    assert.equal(25, n)
    assert.is_true(s:close())
    s = assert(lsock())
    assert.equal(0, (s:stat()))
    assert.is_true(s:close())
  end)

  it("LuaSocket driver: a 20 MB message streams into a file, byte for byte", function()
    local line = ("0123456789"):rep(7) .. "\n"
    local big = "Subject: big\n\n" .. line:rep(math.ceil(20 * 1024 * 1024 / #line))
    deliver("alice", big)
    local s = assert(lsock { timeout = 120 })
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    local calls, last = 0, nil
    assert.is_true(s:retrieve(1, f, function(received)
      calls = calls + 1
      last = received
    end))
    f:close()
    local got = util.read_file(path)
    os.remove(path)
    assert.equal(#crlf(big), #got)
    assert.is_true(got == crlf(big))
    assert.is_true(calls > 100)
    assert.equal(#got, last)
    assert.is_true(s:close())
  end)

  it("delete-on-iterate leaves exactly the unprocessed messages", function()
    deliver_many("alice", 10, function(i) return ("Subject: d%d\n\nx\n"):format(i) end)
    local s = assert(open())
    local ok, err = pcall(function()
      for m in s:messages { delete = true } do
        if m.number == 4 then error("handler failed") end
      end
    end)
    assert.is_false(ok)
    assert.matches("handler failed", err)
    -- Lua 5.4 closes the iterator as the error leaves the loop, which reads the
    -- replies still owed; before 5.4, close() does it.
    if _VERSION == "Lua 5.4" then assert.equal(0, s:_pending()) end
    assert.is_true(s:close())
    s = assert(open())
    local left = {}
    for m in s:messages { delete = true } do left[#left + 1] = m.raw:match("Subject: (d%d+)") end
    assert.same({ "d4", "d5", "d6", "d7", "d8", "d9", "d10" }, left)
    assert.is_true(s:close())
    s = assert(open())
    assert.equal(0, (s:stat()))
    s:close()
  end)

  it("an error without close leaves the mailbox intact (no QUIT from __gc)", function()
    deliver_many("alice", 3, function(i) return ("Subject: k%d\n\nx\n"):format(i) end)
    do
      local s = assert(open())
      for m in s:messages { delete = true } do local _ = m end
      s = nil -- luacheck: ignore
      collectgarbage()
      collectgarbage()
    end
    local s = assert(open())
    assert.equal(3, (s:stat()))
    s:close()
  end)

  it("WinDev-style read_first/read_next with an out flag", function()
    deliver("alice", "Subject: w1\n\nx\n")
    deliver("alice", "Subject: w2\n\ny\n")
    local s = assert(open())
    local m = assert(s:read_first())
    assert.is_false(m.out)
    assert.equal(1, m.number)
    m = assert(s:read_next())
    assert.equal(2, m.number)
    m = assert(s:read_next())
    assert.is_true(m.out)
    assert.is_true(s:out())
    s:close()
  end)

  it("round trip: send through Postfix, read back through Dovecot, same bytes", function()
    local smtp = require "missive.smtp"
    local body = "From: bob@localhost\r\nTo: alice@localhost\r\nSubject: round trip\r\n"
      .. "Message-ID: <rt." .. os.time() .. "@localhost>\r\n"
      .. "Date: Mon, 1 Jun 2026 10:00:00 +0000\r\n\r\nline one\r\n.\r\n..two\r\nend\r\n"
    local res = assert(smtp.send { host = "localhost", port = st.smtp_port, cafile = st.cafile,
      from = "bob@localhost", to = "alice@localhost", data = body })
    assert.equal(1, #res.accepted)
    assert(stack.wait_messages("alice", 1, 20))
    local s = assert(open())
    local all = assert(s:get_all { delete = true })
    assert.equal(1, #all)
    local raw = all[1].raw
    -- Postfix adds trace headers on top; the original follows unchanged.
    local at = raw:find("From: bob@localhost\r\n", 1, true)
    assert.is_number(at)
    assert.equal(body, raw:sub(at))
    assert.is_true(s:close())
  end)

  it("insecure_auth = false refuses cleartext credentials to loopback, POP3 as SMTP",
     function()
    local smtp = require "missive.smtp"
    local s, err, kind = pop3.session { host = "127.0.0.1", port = st.pop3_port,
      tls = "none", user = "alice", password = "secret", insecure_auth = false }
    assert.is_nil(s)
    assert.equal("auth", kind)
    assert.matches("refusing to send credentials", err)
    local s2, err2, kind2 = smtp.session { host = "127.0.0.1", port = st.smtp_port,
      tls = "none", user = "alice", password = "secret", insecure_auth = false }
    assert.is_nil(s2)
    assert.equal("auth", kind2)
    assert.matches("refusing to send credentials", err2)
    -- nil (the default) allows a loopback peer; true allows any.
    for _, v in ipairs { "default", true } do
      local o = { host = "127.0.0.1", port = st.pop3_port, tls = "none", user = "alice",
                  password = "secret", auth = "user" }
      if v ~= "default" then o.insecure_auth = v end
      assert(pop3.session(o)):close()
    end
    assert.has_error(function()
      pop3.session { host = "127.0.0.1", port = st.pop3_port, insecure_auth = "no" }
    end)
  end)

  it("insecure_auth = \"loopback\" is the default rule, for POP3 and SMTP alike", function()
    local smtp = require "missive.smtp"
    local s = assert(pop3.session { host = "127.0.0.1", port = st.pop3_port, tls = "none",
      user = "alice", password = "secret", auth = "user", insecure_auth = "loopback" })
    s:close()
    local s2, err, kind = pop3.session { host = "127.0.0.1", port = st.pop3_port,
      tls = "none", user = "alice", password = "secret", auth = "user",
      insecure_auth = "loopback", _assume_remote = true }
    assert.is_nil(s2)
    assert.equal("auth", kind)
    assert.matches("refusing to send credentials", err)
    local s3 = assert(smtp.session { host = "127.0.0.1", port = st.smtp_port, tls = "none",
      user = "alice", password = "secret", insecure_auth = "loopback" })
    s3:close()
  end)

  it("a LuaSocket-compatible object without getfd waits with its own timeout", function()
    local smtp = require "missive.smtp"
    local socket = require "socket"
    local function no_getfd()
      local tcp = socket.tcp()
      local w = {}
      for _, m in ipairs { "connect", "settimeout", "send", "receive", "close" } do
        w[m] = function(_, ...) return tcp[m](tcp, ...) end
      end
      return w
    end
    local marker = "no-getfd-" .. os.time()
    assert(smtp.send { host = st.hostname, port = st.submission_port, cafile = st.cafile,
      user = "alice", password = "secret", socket = no_getfd,
      from = "alice@localhost", to = "alice@localhost",
      data = "Subject: " .. marker .. "\r\n\r\nthrough a wrapper\r\n" })
    assert(stack.wait_messages("alice", 1, 20))
    -- STLS: the greeting and CAPA are read in plain text first.
    local s = assert(open { port = st.pop3_port, tls = "starttls", socket = no_getfd })
    assert.is_table(s:tls_info())
    local raw = assert(s:retrieve(1))
    assert.matches(marker, raw, 1, true)
    assert.is_true(s:close())
    s = assert(pop3.session { host = "127.0.0.1", port = st.pop3_port, tls = "none",
      user = "alice", password = "secret", auth = "user", socket = no_getfd })
    assert.equal(1, (s:stat()))
    assert.is_true(s:close())
  end)

  it("pop3.start_session opens SMTP and POP3 at once", function()
    local both = assert(pop3.start_session { host = "localhost", cafile = st.cafile,
      user = "alice", password = "secret",
      smtp = { port = st.submission_port }, pop3 = { port = st.pop3s_port } })
    assert.equal(0, (both.pop3:stat()))
    assert.is_true(both.close())
  end)
end)
