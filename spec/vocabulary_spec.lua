-- One vocabulary across SMTP, POP3 and messages: the same call gives the same shape.
local scripted = require "support.scripted"
local ss = require "support.scripted_smtp"
local pop3 = require "missive.pop3"
local email = require "missive.email"
local missive = require "missive"

local POP_LOGIN = {
  { send = "+OK ready\r\n" },
  { expect = "CAPA" }, { send = "+OK\r\nUSER\r\nUIDL\r\n.\r\n" },
  { expect = "USER alice" }, { send = "+OK\r\n" },
  { expect = "PASS secret" }, { send = "+OK logged in\r\n" },
  { expect = "CAPA" }, { send = "+OK\r\nUSER\r\nUIDL\r\n.\r\n" },
}

local function pop_script(more)
  local t = {}
  for _, s in ipairs(POP_LOGIN) do t[#t + 1] = s end
  for _, s in ipairs(more) do t[#t + 1] = s end
  return t
end

local function pop_session(srv, driver, extra)
  local o = { host = "127.0.0.1", port = srv.port, tls = "none", user = "alice",
              password = "secret", auth = "user", timeout = 3 }
  if driver == "luasocket" then o.socket = require("socket").tcp end
  for k, v in pairs(extra or {}) do o[k] = v end
  return pop3.session(o)
end

-- A message the parser refuses with its default caps: multiparts nested past max_depth.
local function too_deep()
  local head, tail = {"Subject: deep\r\n"}, {}
  for i = 1, 70 do
    head[#head + 1] = ('Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n')
                      :format(i, i)
    tail[#tail + 1] = ("\r\n--b%d--\r\n"):format(71 - i)
  end
  return table.concat(head) .. "Content-Type: text/plain\r\n\r\nx" .. table.concat(tail)
end

for _, driver in ipairs(ss.DRIVERS) do
describe("one vocabulary (" .. driver .. " driver)", function()
  it("noop and reset give the server's reply, {code, text}, in SMTP and in POP3", function()
    local srv = scripted.start(ss.script(ss.GREET, {ss.ehlo()},
      {expect = "NOOP"}, {send = "250 2.0.0 still here\r\n"},
      {expect = "RSET"}, {send = "250 2.0.0 flushed\r\n"},
      {expect = "QUIT"}, {send = "221 bye\r\n"}))
    local s = assert(ss.session(srv, driver))
    local noop, reset = s:noop(), s:reset()
    assert.equal(250, noop.code)
    assert.equal("2.0.0 still here", noop.text)
    assert.equal("2.0.0 flushed", reset.text)
    assert.is_true(s:close())
    srv:finish()

    srv = scripted.start(pop_script {
      { expect = "NOOP" }, { send = "+OK still here\r\n" },
      { expect = "RSET" }, { send = "+OK maildrop has 2 messages\r\n" },
      { expect = "QUIT" }, { send = "+OK bye\r\n" } })
    s = assert(pop_session(srv, driver))
    noop, reset = s:noop(), s:reset()
    assert.equal("table", type(noop))
    assert.equal("+OK", noop.status)
    assert.is_nil(noop.code)     -- no response code (RFC 2449 §8) in this reply
    assert.equal("still here", noop.text)
    assert.equal("maildrop has 2 messages", reset.text)
    assert.is_true(s:close())
    srv:finish()
  end)

  it("a failure: messages() raises \"message (kind)\", get_all() returns it", function()
    local listing = {
      { expect = "LIST" }, { send = "+OK\r\n1 20\r\n.\r\n" },
      { expect = "UIDL" }, { send = "+OK\r\n1 u1\r\n.\r\n" },
      { expect = "RETR 1" }, { send = "-ERR message locked\r\n" } }
    local steps = {}
    for _ = 1, 2 do
      for _, st in ipairs(listing) do steps[#steps + 1] = st end
    end
    steps[#steps + 1] = { expect = "QUIT" }
    steps[#steps + 1] = { send = "+OK bye\r\n" }
    local srv = scripted.start(pop_script(steps))
    local s = assert(pop_session(srv, driver))
    local ok, raised = pcall(function() for _ in s:messages() do end end)
    assert.is_false(ok)
    assert.matches("message locked %(reply%)$", raised)
    local all, err, kind, reply = s:get_all()
    assert.is_nil(all)
    assert.matches("message locked", err)
    assert.equal("reply", kind)
    assert.equal("message locked", reply.text)
    assert.is_true(s:close())
    local _, log = srv:finish()
    assert.same({}, scripted.failures(log), scripted.format(log))
  end)

  it("messages() yields email objects, with parse_error and raw when parsing failed",
     function()
    local deep = too_deep()
    local good = "Subject: fine\r\n\r\nhello\r\n"
    local srv = scripted.start(pop_script {
      { expect = "LIST" }, { send = "+OK\r\n1 30\r\n2 " .. #deep .. "\r\n.\r\n" },
      { expect = "UIDL" }, { send = "+OK\r\n1 u1\r\n2 u2\r\n.\r\n" },
      { expect = "RETR 1" }, { send = "+OK\r\n" .. good .. ".\r\n" },
      { expect = "RETR 2" }, { send = "+OK\r\n" .. deep .. "\r\n.\r\n" },
      { expect = "LIST" }, { send = "+OK\r\n1 30\r\n.\r\n" },
      { expect = "UIDL" }, { send = "+OK\r\n1 u1\r\n.\r\n" },
      { expect = "RETR 1" }, { send = "+OK\r\n" .. good .. ".\r\n" },
      { expect = "QUIT" }, { send = "+OK bye\r\n" } })
    local s = assert(pop_session(srv, driver))
    local got = {}
    for m in s:messages() do got[#got + 1] = m end
    assert.equal(2, #got)
    assert.equal("missive.email", getmetatable(got[1]).__name)
    assert.equal("fine", got[1].subject)
    assert.is_nil(got[1].parse_error)
    assert.equal("missive.email", getmetatable(got[2]).__name)
    assert.equal(2, got[2].number)
    assert.equal("u2", got[2].uid)
    assert.matches("nesting deeper", got[2].parse_error)
    assert.equal(deep .. "\r\n", got[2].raw)
    assert.is_nil(got[2].subject)
    -- It writes as nothing rather than as an empty message: the bytes are in raw.
    local text, terr, tkind = got[2]:tostring()
    assert.is_nil(text)
    assert.equal("argument", tkind)
    assert.matches("m%.raw", terr)
    assert.is_nil((got[2]:source()))
    local path = os.tmpname()
    assert.is_nil((got[2]:save(path)))
    os.remove(path)
    assert.matches("unparsed", tostring(got[2]))
    -- parse = false: email objects too, with raw and nothing parsed.
    local unparsed = {}
    for m in s:messages { parse = false } do unparsed[#unparsed + 1] = m end
    assert.equal("missive.email", getmetatable(unparsed[1]).__name)
    assert.equal(good, unparsed[1].raw)
    assert.equal("u1", unparsed[1].uid)
    assert.is_nil(unparsed[1].subject)
    assert.is_nil(unparsed[1].parse_error)
    assert.is_true(s:close())
    local _, log = srv:finish()
    assert.same({}, scripted.failures(log), scripted.format(log))
  end)
end)
end

describe("one vocabulary (messages)", function()
  it("an attachment's bytes are `content` when built and when parsed; `data` still builds",
     function()
    for _, field in ipairs { "content", "data" } do
      local m = assert(email.new { from = "a@x.test", to = "b@x.test", text = "t",
                                   attachments = { { name = "a.txt", [field] = "hello" } } })
      local back = assert(email.parse(assert(m:tostring())))
      assert.equal("hello", back.attachments[1].content)
      assert.equal("a.txt", back.attachments[1].name)
    end
    local m = assert(email.new { from = "a@x.test", to = "b@x.test", text = "t" })
    local ok, err, kind = m:attach { name = "b.txt", content = "x", data = "y" }
    assert.is_nil(ok)
    assert.equal("argument", kind)
    assert.matches("content", err)
  end)

  it("priority reads back as the level 1..5 whatever form wrote it; what it read writes",
     function()
    local cases = { {1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5}, {"high", 1}, {"High", 1},
                    {"NORMAL", 3}, {"low", 5}, {"2", 2}, {"1 (Highest)", 1} }
    for _, c in ipairs(cases) do
      local m = assert(email.new { from = "a@x.test", to = "b@x.test", priority = c[1] })
      assert.equal(c[2], m.priority, "written as " .. tostring(c[1]))
      local back = assert(email.parse(assert(m:tostring())))
      assert.equal(c[2], back.priority)
      local copy = assert(email.new { from = "a@x.test", to = "b@x.test" })
      assert.is_true(copy:set("priority", back:header("X-Priority")))
      assert.equal(c[2], copy.priority)
      copy.priority = back.priority
      assert.equal(c[2], copy.priority)
    end
    local m = assert(email.new { from = "a@x.test", to = "b@x.test", priority = 2 })
    for _, bad in ipairs { 0, 6, 2.5, "urgent", "22", true } do
      local ok, _, kind = m:set("priority", bad)
      assert.is_nil(ok, "accepted " .. tostring(bad))
      assert.equal("argument", kind)
      assert.equal(2, m.priority)
    end
  end)
end)

describe("one vocabulary (missive.session)", function()
  it("missive.session{smtp =, pop3 =}: send, messages and close on the pair", function()
    local ssrv = scripted.start(ss.script(ss.GREET, {ss.ehlo()}, ss.accept_all(),
      {expect = "QUIT"}, {send = "221 bye\r\n"}))
    local psrv = scripted.start(pop_script {
      { expect = "LIST" }, { send = "+OK\r\n1 20\r\n.\r\n" },
      { expect = "UIDL" }, { send = "+OK\r\n1 u1\r\n.\r\n" },
      { expect = "RETR 1" }, { send = "+OK\r\nSubject: got\r\n\r\nhi\r\n.\r\n" },
      { expect = "QUIT" }, { send = "+OK bye\r\n" } })
    local both = assert(missive.session { host = "127.0.0.1", timeout = 3,
      smtp = { port = ssrv.port, tls = "none" },
      pop3 = { port = psrv.port, tls = "none", user = "alice", password = "secret",
               auth = "user" } })
    local res = assert(both:send(ss.msg()))
    assert.same({"b@x.test"}, res.accepted)
    local subjects = {}
    for m in both:messages() do subjects[#subjects + 1] = m.subject end
    assert.same({"got"}, subjects)
    assert.is_true(both:close())
    assert.is_true(both.close())   -- the colon-less call still works, and is idempotent
    assert.is_true(both.smtp:is_closed() and both.pop3:is_closed())
    for _, srv in ipairs { ssrv, psrv } do
      local _, log = srv:finish()
      assert.same({}, scripted.failures(log), scripted.format(log))
    end
  end)

  it("missive.session: a POP3 failure closes the SMTP session and names its side",
     function()
    local ssrv = scripted.start(ss.script(ss.GREET, {ss.ehlo()}, {expect = "QUIT"},
      {send = "221 bye\r\n"}))
    local psrv = scripted.start({ { send = "-ERR go away\r\n" } })
    local both, err = missive.session { host = "127.0.0.1", timeout = 3,
      smtp = { port = ssrv.port, tls = "none" }, pop3 = { port = psrv.port, tls = "none" } }
    assert.is_nil(both)
    assert.matches("^pop3: ", err)
    assert.matches("QUIT", (ssrv:finish()))
    psrv:finish()
  end)
end)

describe("one vocabulary (the WinDev cursor)", function()
  -- missive.windev works over any session that walks its mailbox: here a walk over
  -- two emails, as an IMAP session will give one.
  it("read_first/read_next/out over any mailbox walk, `out` kept by the adapter", function()
    local windev = require "missive.windev"
    local methods, opened = {}, {}
    windev.install(methods, function(s, opts)
      opened[#opened + 1] = opts
      local list, i = s.box, 0
      return { next = function()
        i = i + 1
        if list[i] then return list[i] end
        return false
      end }
    end)
    local a = assert(email.new{from = "a@example.org", to = "b@example.org", subject = "1"})
    local b = assert(email.new{from = "a@example.org", to = "b@example.org", subject = "2"})
    local s = setmetatable({ box = {a, b} }, { __index = methods })
    assert.is_true(s:out())
    local m = assert(s:read_first { delete = true, headers_only = true })
    assert.is_nil(opened[1].delete)        -- the cursor never deletes
    assert.is_true(opened[1].headers_only)
    assert.equal("1", m.subject)
    assert.is_false(m.out)
    assert.is_false(s:out())
    assert.equal("2", assert(s:read_next()).subject)
    assert.same({ out = true }, s:read_next())
    assert.is_true(s:out())
    assert.same({ out = true }, s:read_next())
    -- The email type has no `out` of its own: a message no cursor read has none.
    local c = assert(email.new{from = "a@example.org", to = "b@example.org"})
    assert.is_nil(c.out)
  end)

  it("a walk that fails gives nil, message, kind[, reply]", function()
    local windev = require "missive.windev"
    local methods = {}
    windev.install(methods, function(s)
      if s.refuse then return nil, "no mailbox", "protocol" end
      return { next = function() return nil, "gone", "closed" end }
    end)
    local s = setmetatable({ refuse = true }, { __index = methods })
    assert.same({ nil, "no mailbox", "protocol" }, { s:read_first() })
    s.refuse = false
    assert.same({ nil, "gone", "closed" }, { s:read_next() })
  end)
end)

describe("one vocabulary (bindings)", function()
  local core = require "missive.core"

  -- Failures are made in one place (core.c's mvl_push_error, mvl_fail, mvl_fileresult
  -- ...), as lauxlib's luaL_fileresult: no binding builds `nil, message, kind` itself.
  it("every binding returns its failures through the one result helper", function()
    local p = io.popen("ls csrc/lua/*.c")
    local offenders = {}
    for path in p:lines() do
      if not path:match("/core%.c$") then
        local text = assert(io.open(path)):read("*a")
        if text:find("mvl_pushfail", 1, true) then offenders[#offenders + 1] = path end
      end
    end
    p:close()
    assert.same({}, offenders)
  end)

  it("failures have the same shape whichever binding made them", function()
    local dir = os.tmpname()
    os.remove(dir)
    local function shape(kind, ...)
      local n, v, msg, k = select("#", ...), ...
      assert.is_nil(v)
      assert.equal(3, n)
      assert.is_string(msg)
      assert.equal(kind, k)
      return msg
    end
    assert.matches("^cannot stat " .. dir:gsub("%p", "%%%0") .. ": ",
                   shape("closed", core.stat(dir)))
    shape("closed", core.listdir(dir))
    assert.is_true(core.mkdir(dir))
    assert.is_true(core.write_new(dir .. "/a", "x"))
    shape("io", core.write_new(dir .. "/a", "y"))
    assert.matches("exists$", shape("exists", core.link_new(dir .. "/a", dir .. "/a")))
    local m = assert(email.new{from = "a@example.org", to = "b@example.org", text = "t"})
    shape("argument", m:set("subject", "a\nb"))
    shape("io", m:save(dir .. "/no/such/dir.eml"))
    shape("argument", core.email_unparsed("x"):tostring())
    os.remove(dir .. "/a")
    os.remove(dir)
  end)

  -- One reader of the TLS options (mvl_opt_session) for every session kind.
  it("SMTP, POP3 and async sessions read the TLS options alike", function()
    local smtp = require "missive.smtp"
    local bad = { host = "127.0.0.1", port = 1, tls = "none", tls_min = "1.1" }
    local msgs = {}
    for _, open in ipairs{ smtp.session, pop3.session, smtp.async } do
      local ok, err = pcall(open, bad)
      assert.is_false(ok)
      msgs[#msgs + 1] = tostring(err):match("option .*$")
    end
    assert.same({ [[option 'tls_min' must be "1.2" or "1.3"]],
                  [[option 'tls_min' must be "1.2" or "1.3"]],
                  [[option 'tls_min' must be "1.2" or "1.3"]] }, msgs)
  end)
end)
