-- Delivery status notifications (RFC 3461): NOTIFY, RET, ENVID and ORCPT on the MAIL
-- and RCPT lines, the same from every sender (send, send_batch, the spool, smtp.async);
-- refused before MAIL when the server does not offer DSN or a value is wrong.
local smtp = require "missive.smtp"
local spool = require "missive.spool"
local scripted = require "support.scripted"
local ss = require "support.scripted_smtp"
local util = require "support.util"

local GREET, ehlo, script = ss.GREET, ss.ehlo, ss.script
local QUIT = ss.QUIT
local BODY = "Subject: dsn\r\n\r\nbody\r\n"

-- Two recipients: one with its own NOTIFY and an ORCPT, one with the message's.
local function msg(extra)
  local m = {from = "a@x.test", data = BODY, notify = {"failure", "delay"}, ret = "hdrs",
             envid = "id 1+2=3",
             to = {{address = "b@x.test", orcpt = "rfc822;B+x@x.test", notify = "success"},
                   "c@x.test"}}
  for k, v in pairs(extra or {}) do m[k] = v end
  return m
end

local MAIL = "MAIL FROM:<a@x.test> RET=HDRS ENVID=id+201+2B2+3D3\r\n"
local RCPT_B = "RCPT TO:<b@x.test> NOTIFY=SUCCESS ORCPT=rfc822;B+2Bx@x.test\r\n"
local RCPT_C = "RCPT TO:<c@x.test> NOTIFY=FAILURE,DELAY\r\n"

local function accept_two()
  return {
    {expect = "MAIL FROM:<a@x.test>"}, {send = "250 ok\r\n"},
    {expect = "RCPT TO:<b@x.test>"}, {send = "250 ok\r\n"},
    {expect = "RCPT TO:<c@x.test>"}, {send = "250 ok\r\n"},
    {expect = "DATA"}, {send = "354 go\r\n"},
    {read_until = "\r\n.\r\n"}, {send = "250 2.0.0 queued\r\n"},
  }
end

local function opts(srv, driver, extra)
  local o = {host = "127.0.0.1", port = srv.port, tls = "none", timeout = 2}
  if driver == "luasocket" then o.socket = require("socket").tcp end
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

-- Each sender: {sent, error, kind} of one message.
local function via_send(srv, driver, m, so)
  local s = assert(smtp.session(opts(srv, driver, so)))
  local res, err, kind = s:send(m)
  assert(s:close())
  return {sent = res ~= nil, error = err, kind = kind}
end

local function via_batch(srv, driver, m, so)
  local s = assert(smtp.session(opts(srv, driver, so)))
  local r = s:send_batch{m}[1]
  assert(s:close())
  return {sent = r.error == nil, error = r.error, kind = r.kind}
end

local function via_spool(srv, driver, m, so)
  local dir = util.mkdtemp("missive-dsn")
  local q = assert(spool.open(dir))
  local id, err, kind = q:add(m)
  if not id then
    util.rmtree(dir)
    return {sent = false, error = err, kind = kind}   -- refused as it was queued
  end
  assert(q:run(opts(srv, driver, so)))
  local state, info = q:status(id)
  util.rmtree(dir)
  return {sent = state == "sent", error = info.error, kind = info.kind}
end

local function via_async(srv, _, m, so)
  local a = assert(smtp.async(opts(srv, "native", so)))
  local id, err, kind = a:send(m)
  if not id then
    a:close()
    return {sent = false, error = err, kind = kind}   -- refused as it was queued
  end
  local state, detail = a:wait(id, 10)
  a:close()
  return {sent = state == "sent", error = detail.error, kind = detail.kind}
end

local function run(steps, path, driver, m, so)
  local srv = scripted.start(steps)
  local outcome = path(srv, driver, m, so)
  local got, log = srv:finish()
  assert.same({}, scripted.failures(log), scripted.format(log))
  return outcome, got
end

for _, driver in ipairs(ss.DRIVERS) do
describe("DSN requests (scripted server, " .. driver .. " driver)", function()
  local paths = {send = via_send, send_batch = via_batch, spool = via_spool}
  if driver == "native" then paths.async = via_async end

  it("go out as RET, ENVID (xtext), NOTIFY and ORCPT (xtext) from every sender", function()
    local steps = script(GREET, {ehlo{"DSN"}}, accept_two(), QUIT)
    for name, path in pairs(paths) do
      local outcome, got = run(steps, path, driver, msg())
      assert.is_true(outcome.sent, name .. ": " .. tostring(outcome.error))
      assert.matches(MAIL .. RCPT_B .. RCPT_C .. "DATA\r\n", got, nil, true)
    end
  end)

  it("pipelined, the parameters are the same", function()
    local steps = script(GREET, {ehlo{"DSN", "PIPELINING"}}, {
      {expect = "MAIL FROM:<a@x.test>"}, {expect = "RCPT TO:<b@x.test>"},
      {expect = "RCPT TO:<c@x.test>"}, {expect = "DATA"},
      {send = "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"},
      {read_until = "\r\n.\r\n"}, {send = "250 2.0.0 queued\r\n"}}, QUIT)
    local outcome, got = run(steps, via_send, driver, msg())
    assert.is_true(outcome.sent)
    assert.matches(MAIL .. RCPT_B .. RCPT_C .. "DATA\r\n", got, nil, true)
  end)

  it("the longest MAIL and RCPT lines go out whole (buffers sized for every parameter)",
     function()
    local domain = table.concat({("d"):rep(63), ("d"):rep(63), ("d"):rep(63), ("d"):rep(63)},
                                ".")
    local from = ("a"):rep(62) .. "\195\169@" .. domain          -- 320 bytes, SMTPUTF8
    local rcpt = ("r"):rep(64) .. "@" .. domain                  -- 320 bytes
    local orcpt = "rfc822;" .. ("+"):rep(152) .. "x"             -- 464 bytes as xtext
    local body = "Subject: caf\195\169\r\n\r\nna\195\175ve\r\n"
    local mail = ("MAIL FROM:<%s> SIZE=%d BODY=8BITMIME SMTPUTF8 RET=FULL ENVID=%s\r\n")
      :format(from, #body, ("+2B"):rep(100))
    local rcpt_line = ("RCPT TO:<%s> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;%sx\r\n")
      :format(rcpt, ("+2B"):rep(152))
    local steps = script(GREET, {ehlo{"DSN", "SIZE 100000", "8BITMIME", "SMTPUTF8"}}, {
      {expect = "MAIL FROM:"}, {send = "250 ok\r\n"},
      {expect = "RCPT TO:"}, {send = "250 ok\r\n"},
      {expect = "DATA"}, {send = "354 go\r\n"},
      {read_until = "\r\n.\r\n"}, {send = "250 2.0.0 queued\r\n"}}, QUIT)
    local m = {from = from, data = body, ret = "full", envid = ("+"):rep(100),
               to = {{address = rcpt, orcpt = orcpt,
                      notify = {"delay", "success", "failure"}}}}
    local outcome, got = run(steps, via_send, driver, m)
    assert.is_true(outcome.sent, outcome.error)
    assert.matches(mail .. rcpt_line .. "DATA\r\n", got, nil, true)
    -- one byte more of ORCPT is refused, not cut
    m.to[1].orcpt = orcpt .. "y"
    outcome, got = run(script(GREET, {ehlo{"DSN"}}, QUIT), via_send, driver, m)
    assert.equal("argument", outcome.kind)
    assert.is_nil(got:find("MAIL", 1, true))
  end)

  it("the session's dsn is every message's default; a message's own values win", function()
    local steps = script(GREET, {ehlo{"DSN"}}, ss.accept_all(), QUIT)
    local m = {from = "a@x.test", to = {"b@x.test"}, data = BODY, ret = "full"}
    for name, path in pairs(paths) do
      local outcome, got = run(steps, path, driver, m, {dsn = {notify = "never",
                                                               ret = "hdrs"}})
      assert.is_true(outcome.sent, name .. ": " .. tostring(outcome.error))
      assert.matches("MAIL FROM:<a@x.test> RET=FULL\r\nRCPT TO:<b@x.test> NOTIFY=NEVER\r\n",
                     got, nil, true)
    end
  end)

  it("plain string recipients and no DSN asked: no parameter, even when offered", function()
    local steps = script(GREET, {ehlo{"DSN"}}, ss.accept_all(), QUIT)
    local outcome, got = run(steps, via_send, driver, ss.msg())
    assert.is_true(outcome.sent)
    assert.matches("MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n", got, nil, true)
  end)

  it("CHECKLIST 94: asked of a server without DSN: refused before MAIL by every sender",
     function()
    local steps = script(GREET, {ehlo{"PIPELINING", "8BITMIME"}}, QUIT)
    local asks = {{notify = {"failure"}}, {ret = "hdrs"}, {envid = "x"},
                  {to = {{address = "b@x.test", orcpt = "b@x.test"}}}}
    for name, path in pairs(paths) do
      for _, ask in ipairs(asks) do
        local m = {from = "a@x.test", to = {"b@x.test"}, data = BODY}
        for k, v in pairs(ask) do m[k] = v end
        local outcome, got = run(steps, path, driver, m)
        assert.is_false(outcome.sent, name)
        assert.equal("argument", outcome.kind, name)
        assert.matches("need DSN, which the server does not offer", outcome.error, nil, true)
        assert.is_nil(got:find("MAIL", 1, true), name .. " sent no MAIL")
      end
    end
  end)

  -- Each wrong value is refused before anything goes out (the spool and smtp.async
  -- refuse it when the message is queued).
  local wrong = {
    {"an unknown NOTIFY word", {notify = {"failure", "sometimes"}}, "unknown word"},
    {"NEVER with another word", {notify = "never,failure"}, "cannot be combined"},
    {"an empty NOTIFY list", {notify = {}}, "no word"},
    {"a RET other than hdrs and full", {ret = "body"}, "ret must be"},
    {"an ENVID over 100 characters", {envid = ("e"):rep(101)}, "1 to 100 characters"},
    {"an ENVID with a control character", {envid = "a\1b"}, "printable US-ASCII"},
    {"an ENVID with 8-bit bytes", {envid = "caf\195\169"}, "printable US-ASCII"},
    {"an ORCPT with 8-bit bytes", {to = {{address = "b@x.test",
                                          orcpt = "rfc822;j\195\169@x.test"}}},
     "printable US-ASCII"},
    {"an ORCPT over 500 characters as xtext", {to = {{address = "b@x.test",
       orcpt = "rfc822;" .. ("+"):rep(200) .. "@x.test"}}}, "orcpt is too long"},
    {"an ORCPT without address", {to = {{address = "b@x.test", orcpt = "rfc822;"}}},
     "orcpt has no address"},
  }
  for _, case in ipairs(wrong) do
    it("CHECKLIST 94: " .. case[1] .. " is refused with kind \"argument\", nothing sent",
       function()
      local steps = script(GREET, {ehlo{"DSN"}}, QUIT)
      for name, path in pairs(paths) do
        local m = {from = "a@x.test", to = {"b@x.test"}, data = BODY}
        for k, v in pairs(case[2]) do m[k] = v end
        local outcome, got
        if name == "spool" or name == "async" then
          -- refused as it is queued: no connection (port 1 would fail otherwise)
          outcome, got = path({port = 1}, driver, m), ""
        else
          outcome, got = run(steps, path, driver, m)
        end
        assert.is_false(outcome.sent, name)
        assert.equal("argument", outcome.kind, name)
        assert.matches(case[3], outcome.error, nil, true)
        assert.is_nil(got:find("MAIL", 1, true), name .. " sent no MAIL")
      end
    end)
  end

  it("a wrong session dsn is refused when the session opens", function()
    local s, err, kind = smtp.session{host = "127.0.0.1", port = 1, tls = "none",
                                      dsn = {notify = "whenever"}}
    assert.is_nil(s)
    assert.equal("argument", kind)
    assert.matches("unknown word", err, nil, true)
    assert.has_error(function() smtp.session{host = "127.0.0.1", dsn = "hdrs"} end,
                     "option 'dsn' must be a table")
  end)
end)
end

-- Postfix honours what missive asks: the bounce it writes for a recipient it accepted and
-- could not deliver (the stack routes nomailbox@localhost to local(8), which knows no such
-- user) carries the ENVID, the ORCPT and only the headers (RET=HDRS), comes back to the
-- sender's mailbox, and is read through Dovecot into m.report.
describe("DSN through Postfix and Dovecot #integration", function()
  local stack = require "support.stack"
  local pop3 = require "missive.pop3"
  local email = require "missive.email"
  local st

  setup(function()
    assert(stack.available())
    st = assert(stack.start())
  end)

  local function open()
    return assert(smtp.session{host = st.hostname, port = st.submission_port, user = "alice",
                               password = st.users.alice, cafile = st.cafile, timeout = 20})
  end

  -- The queue id Postfix gave a message ("250 2.0.0 Ok: queued as 4Xyz").
  local function queue_id(res)
    return assert(res.reply.text:match("queued as (%w+)"), res.reply.text)
  end

  -- alice's messages whose text holds `marker`, read through Dovecot's POP3, parsed.
  local function reports_for(marker, n)
    local deadline = util.now() + 30
    repeat
      local p = assert(pop3.session{host = "localhost", port = st.pop3s_port,
                                    cafile = st.cafile, user = "alice",
                                    password = st.users.alice})
      local found = {}
      for i = 1, assert(p:stat()) do
        local text = assert(p:retrieve(i))
        if text:find(marker, 1, true) then found[#found + 1] = assert(email.parse(text)) end
      end
      p:close()
      if #found >= n then return found end
      util.sleep(0.1)
    until util.now() > deadline
    error("no report about " .. marker .. " came back")
  end

  local function maillog()
    return util.read_file(st.maillog) or ""
  end

  it("NOTIFY=FAILURE,DELAY RET=HDRS ENVID and ORCPT: Postfix's bounce parses into " ..
     "m.report", function()
    stack.clear("alice")
    local s = open()
    assert.truthy(s:capabilities().DSN)
    local res = assert(s:send{from = "alice@localhost", envid = "X", ret = "hdrs",
      notify = {"failure", "delay"},
      to = {{address = "nomailbox@localhost", orcpt = "rfc822;Orig.Nobody@example.org"}},
      data = "Subject: dsn-bounce-1\r\nFrom: alice@localhost\r\n\r\nthe body stays home\r\n"})
    s:close()
    local qid = queue_id(res)
    local m = reports_for("dsn-bounce-1", 1)[1]
    local r = assert(m.report, "the bounce is a report")
    assert.equal("delivery-status", r.type)
    assert.equal("X", r.envid)
    assert.equal("localhost", r.reporting_mta)
    assert.equal("dns", r.reporting_mta_type)
    assert.equal(1, #r.recipients)
    local rc = r.recipients[1]
    assert.equal("nomailbox@localhost", rc.address)
    assert.equal("rfc822", rc.address_type)
    assert.equal("Orig.Nobody@example.org", rc.original)
    assert.equal("failed", rc.action)
    assert.matches("^5%.%d+%.%d+$", rc.status)
    assert.equal("5.1.1", rc.status)
    assert.matches("unknown user", rc.diagnostic, nil, true)
    -- RET=HDRS: the headers come back, not the body
    assert.is_true(r.headers_only)
    assert.equal("dsn-bounce-1", r.message.subject)
    assert.is_nil(tostring(m.raw):find("the body stays home", 1, true))
    assert.is_false(r.truncated)
    -- the log names the notification Postfix sent for this message
    assert.matches(qid .. ": sender non-delivery notification", maillog(), nil, true)
  end)

  it("NOTIFY=SUCCESS gets a delivery report; NOTIFY=NEVER no bounce at all", function()
    stack.clear("alice")
    local s = open()
    local never = assert(s:send{from = "alice@localhost", notify = "never",
      to = {"nomailbox@localhost"}, data = "Subject: dsn-never\r\n\r\nx\r\n"})
    local ok = assert(s:send{from = "alice@localhost", envid = "ok-1", ret = "full",
      to = {{address = "bob@localhost", notify = {"success"}}},
      data = "Subject: dsn-success\r\n\r\ndelivered body\r\n"})
    s:close()
    local m = reports_for("dsn-success", 1)[1]
    local rc = m.report.recipients[1]
    assert.equal("ok-1", m.report.envid)
    assert.equal("delivered", rc.action)
    assert.matches("^2%.", rc.status)
    assert.equal("bob@localhost", rc.address)
    -- RFC 3461 §4.3: a report of success returns the headers only, RET=FULL or not
    assert.is_true(m.report.headers_only)
    assert.equal("dsn-success", m.report.message.subject)
    assert.matches(queue_id(ok) .. ": sender delivery status notification", maillog(), nil,
                   true)
    -- the NEVER message bounced (logged) but nothing was sent back
    stack.settle(10)
    local log = maillog()
    assert.matches(queue_id(never) .. ":.*status=bounced", log)
    assert.is_nil(log:find(queue_id(never) .. ": sender non-delivery", 1, true))
    for _, text in ipairs(stack.messages("alice")) do
      assert.is_nil(text:find("dsn-never", 1, true))
    end
  end)
end)
