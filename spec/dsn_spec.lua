-- Delivery status notifications (RFC 3461): NOTIFY, RET, ENVID and ORCPT on the MAIL
-- and RCPT lines, the same from every sender (send, send_batch, the spool, smtp.async);
-- refused before MAIL when the server does not offer DSN or a value is wrong.
local smtp = require "missive.smtp"
local spool = require "missive.spool"
local scripted = require "support.scripted"
local ss = require "support.scripted_smtp"
local util = require "support.util"

local GREET, ehlo, script = ss.GREET, ss.ehlo, ss.script
local QUIT = {{expect = "QUIT"}, {send = "221 bye\r\n"}}
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

  it("asked of a server without DSN: refused before MAIL by every sender", function()
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
    it(case[1] .. " is refused with kind \"argument\", nothing sent", function()
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
