-- smtp.async{} (or smtp.session{async = true}): a C sender thread; real Postfix and
-- scripted servers.
local smtp = require "missive.smtp"
local email = require "missive.email"
local stack = require "support.stack"
local scripted = require "support.scripted"
local util = require "support.util"

local GREET = {send = "220 scripted ESMTP\r\n"}
local EHLO = {expect = "EHLO"}
local EHLO_OK = {send = "250 scripted\r\n"}

-- A transaction the server accepts (a list of steps, spliced in by script()).
local function accept(final)
  return {{expect = "MAIL FROM"}, {send = "250 ok\r\n"}, {expect = "RCPT TO"},
          {send = "250 ok\r\n"}, {expect = "DATA"}, {send = "354 go\r\n"},
          {read_until = "\r\n.\r\n"}, {send = final or "250 2.0.0 queued\r\n"}}
end

local function script(...)
  local steps = {}
  for _, p in ipairs {...} do
    if p[1] then
      for _, q in ipairs(p) do steps[#steps + 1] = q end
    else
      steps[#steps + 1] = p
    end
  end
  return steps
end

local function m(tag)
  return {from = "a@x.test", to = "b@x.test", data = "Subject: " .. tag .. "\r\n\r\nx\r\n"}
end

local function open(srv, extra)
  local o = {async = true, host = "127.0.0.1", port = srv.port, tls = "none", timeout = 5}
  for k, v in pairs(extra or {}) do o[k] = v end
  return smtp.session(o)
end

describe("async sessions (scripted servers)", function()
  it("send returns at once while a slow server thinks; wait gives the outcome", function()
    local srv = scripted.start(script(GREET, EHLO, EHLO_OK, accept(), {sleep = 1},
      {expect = "MAIL FROM"}, {send = "250 ok\r\n"}, {expect = "RCPT TO"},
      {send = "250 ok\r\n"}, {expect = "DATA"}, {send = "354 go\r\n"},
      {read_until = "\r\n.\r\n"}, {sleep = 0.8}, {send = "250 2.0.0 slow but fine\r\n"},
      {expect = "QUIT"}, {send = "221 bye\r\n"}))
    local s = assert(open(srv))
    local t0 = util.now()
    local id1 = assert(s:send(m("one")))
    local id2 = assert(s:send(m("two")))
    assert.is_true(util.now() - t0 < 0.2)
    local state2 = s:status(id2)
    assert.is_true(state2 == "queued" or state2 == "sending", state2)
    -- Message one may finish between the two reads (the thread runs on); message two
    -- cannot, the server holds its reply.
    local sent1 = s:status(id1) == "sent"
    local pending = s:pending()
    assert.is_true(pending == 1 or (pending == 2 and not sent1), tostring(pending))
    local state, res = s:wait(id2)
    assert.equal("sent", state)
    assert.equal(250, res.reply.code)
    assert.matches("slow but fine", res.reply.text)
    assert.same({"b@x.test"}, res.accepted)
    assert.equal("sent", (s:status(id1)))
    assert.is_true(s:close())
    assert.is_true(s:close())
    local got = srv:finish()
    assert.matches("QUIT\r\n$", got)
    -- Outcomes stay readable after close; sending raises.
    assert.equal("sent", (s:status(id1)))
    assert.has_error(function() s:send(m("late")) end, "attempt to use a closed session")
  end)

  it("smtp.async{}: states are the spool's words, queued, then sending, then sent",
     function()
    local srv = scripted.start(script(GREET, EHLO, EHLO_OK, {expect = "MAIL FROM"},
      {send = "250 ok\r\n"}, {expect = "RCPT TO"}, {send = "250 ok\r\n"},
      {expect = "DATA"}, {send = "354 go\r\n"}, {read_until = "\r\n.\r\n"},
      {sleep = 1}, {send = "250 2.0.0 first\r\n"}, accept("250 2.0.0 second\r\n"),
      {expect = "QUIT"}, {send = "221 bye\r\n"}))
    local s = assert(smtp.async{host = "127.0.0.1", port = srv.port, tls = "none",
                                timeout = 5})
    local id1 = assert(s:send(m("one")))
    local id2 = assert(s:send(m("two")))
    local t0 = util.now()
    while s:status(id1) == "queued" and util.now() - t0 < 0.8 do util.sleep(0.01) end
    assert.equal("sending", (s:status(id1)))
    assert.equal("queued", (s:status(id2)))
    assert.equal(2, s:pending())
    assert.equal("sent", (s:wait(id2)))
    local state, d = s:status(id1)
    assert.equal("sent", state)
    assert.matches("first", d.reply.text)
    assert.is_true(s:close())
    srv:finish()
    assert.has_error(function() smtp.async{host = "h", trace = print} end)
    assert.has_error(function() smtp.async("h") end)
  end)

  it("wait with a time limit: nil, message, \"timeout\" while still pending", function()
    local srv = scripted.start(script(GREET, EHLO, EHLO_OK, {expect = "MAIL FROM"},
      {sleep = 1}, {send = "250 ok\r\n"}, {expect = "RCPT TO"}, {send = "250 ok\r\n"},
      {expect = "DATA"}, {send = "354 go\r\n"}, {read_until = "\r\n.\r\n"},
      {send = "250 ok\r\n"}, {expect = "QUIT"}, {send = "221 bye\r\n"}))
    local s = assert(open(srv))
    local id = assert(s:send(m("t")))
    local ok, err, kind = s:wait(id, 0.2)
    assert.is_nil(ok)
    assert.equal("timeout", kind)
    assert.matches("timed out", err)
    assert.equal("sent", (s:wait(id)))
    s:close()
    srv:finish()
  end)

  it("failed with the reply (5xx), then the next message still goes on the same line", function()
    local srv = scripted.start(script(GREET, EHLO, EHLO_OK,
      {expect = "MAIL FROM"}, {send = "250 ok\r\n"}, {expect = "RCPT TO"},
      {send = "550 5.1.1 unknown\r\n"}, {expect = "RSET"}, {send = "250 ok\r\n"},
      accept(), {expect = "QUIT"}, {send = "221 bye\r\n"}))
    local s = assert(open(srv))
    local id1, id2 = assert(s:send(m("bad"))), assert(s:send(m("good")))
    assert.is_true(s:wait())
    local state, d = s:status(id1)
    assert.equal("failed", state)
    assert.equal("reply", d.kind)
    assert.equal(550, d.reply.code)
    assert.equal(550, d.rejected["b@x.test"].code)
    assert.equal("sent", (s:status(id2)))
    s:close()
    srv:finish()
  end)

  it("the line dies after the final dot: uncertain; the next message reconnects", function()
    local srv = scripted.start({
      script(GREET, EHLO, EHLO_OK, {expect = "MAIL FROM"}, {send = "250 ok\r\n"},
             {expect = "RCPT TO"}, {send = "250 ok\r\n"}, {expect = "DATA"},
             {send = "354 go\r\n"}, {read_until = "\r\n.\r\n"}, {close = true}),
      script(GREET, EHLO, EHLO_OK, accept(), {expect = "QUIT"}, {send = "221 bye\r\n"}),
    }, {connections = 2})
    local s = assert(open(srv))
    local id1, id2 = assert(s:send(m("lost"))), assert(s:send(m("next")))
    local state, d = s:wait(id1)
    assert.equal("uncertain", state)
    assert.equal("uncertain", d.kind)
    assert.equal("sent", (s:wait(id2)))
    s:close()
    srv:finish()
  end)

  it("a connection closed while idle is replaced before the next message", function()
    local srv = scripted.start({
      script(GREET, EHLO, EHLO_OK, accept(), {send = "421 4.4.2 idle timeout\r\n"},
             {close = true}),
      script(GREET, EHLO, EHLO_OK, accept("250 2.0.0 second line\r\n"),
             {expect = "QUIT"}, {send = "221 bye\r\n"}),
    }, {connections = 2})
    local s = assert(open(srv))
    assert.equal("sent", (s:wait(assert(s:send(m("first"))))))
    util.sleep(0.3)
    local state, d = s:wait(assert(s:send(m("second"))))
    assert.equal("sent", state)
    assert.matches("second line", d.reply.text)
    s:close()
    srv:finish()
  end)

  it("no server: failed with the connection error; bad options raise at once", function()
    local srv = scripted.start({{close = true}})
    srv:finish()
    local s = assert(open(srv))
    local state, d = s:wait(assert(s:send(m("x"))))
    assert.equal("failed", state)
    assert.equal("io", d.kind)
    s:close()
    assert.has_error(function() smtp.session{async = true, host = "h", tls = "bogus"} end)
    assert.has_error(function() smtp.session{async = true, host = "h", trace = print} end)
  end)

  -- The server reads one transaction at a time, so the bytes it received show the
  -- order the sender used; a real MTA delivers in parallel and cannot show it.
  it("sends in the order send was called: email objects, tables and sources", function()
    local steps = {GREET, EHLO, EHLO_OK}
    for _ = 1, 11 do
      for _, step in ipairs(accept()) do steps[#steps + 1] = step end
    end
    steps[#steps + 1] = {expect = "QUIT"}
    steps[#steps + 1] = {send = "221 bye\r\n"}
    local srv = scripted.start(script(steps))
    local s = assert(open(srv))
    for i = 1, 10 do
      if i % 2 == 0 then
        assert(s:send(m("order-" .. i)))
      else
        assert(s:send(email.new{from = "a@x.test", to = {"b@x.test"},
                                subject = "order-" .. i, text = "hi " .. i}))
      end
    end
    local parts, k = {"Subject: order-11\r\n", "\r\n", "from a source\r\n"}, 0
    assert(s:send{from = "a@x.test", to = {"b@x.test"},
                  data = function() k = k + 1; return parts[k] end})
    assert.is_true(s:close())
    local got, log = srv:finish()
    assert.same({}, scripted.failures(log), scripted.format(log))
    local order = {}
    for n in got:gmatch("Subject: order%-(%d+)\r\n") do order[#order + 1] = tonumber(n) end
    assert.same({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, order)
  end)

  it("collecting an unclosed session is bounded even when the server hangs", function()
    local srv = scripted.start(script(GREET, EHLO, EHLO_OK, {expect = "MAIL FROM"},
      {hold = 8}))
    local s = assert(open(srv, {timeout = 30}))
    for i = 1, 3 do assert(s:send(m("gc" .. i))) end
    util.sleep(0.2)
    local t0 = util.now()
    s = nil -- luacheck: ignore
    collectgarbage()
    collectgarbage()
    assert.is_true(util.now() - t0 < 3)
    srv:finish()
  end)
end)

describe("async sessions against Postfix #integration", function()
  local st
  setup(function()
    assert(stack.available())
    st = stack.start()
  end)

  -- The sending order is checked against a scripted server above.
  it("sends email objects and tables with sources over STARTTLS + AUTH", function()
    stack.clear("bob")
    local s = assert(smtp.session{async = true, host = st.hostname, port = st.submission_port,
      user = "alice", password = "secret", cafile = st.cafile, timeout = 20})
    local ids = {}
    for i = 1, 10 do
      ids[#ids + 1] = assert(s:send(email.new{from = "alice@localhost", to = {"bob@localhost"},
                                              subject = "async-obj-" .. i, text = "hi " .. i}))
    end
    local parts, k = {"Subject: async-src\r\n", "\r\n", "from a source\r\n"}, 0
    ids[#ids + 1] = assert(s:send{from = "alice@localhost", to = {"bob@localhost"},
                                  data = function() k = k + 1; return parts[k] end})
    local bad = assert(s:send{from = "alice@localhost", to = "nosuchuser@localhost",
                              data = "Subject: async-bad\r\n\r\nx\r\n"})
    assert.is_true(s:close())   -- flushes first
    for _, id in ipairs(ids) do
      local state, d = s:status(id)
      assert.equal("sent", state)
      assert.equal(250, d.reply.code)
    end
    local state, d = s:status(bad)
    assert.equal("failed", state)
    assert.equal(5, math.floor(d.reply.code / 100))
    local msgs = assert(stack.wait_messages("bob", 11, 20))
    local order = {}
    for _, msg in ipairs(msgs) do
      local n = msg:match("Subject: async%-obj%-(%d+)")
      if n then order[#order + 1] = tonumber(n) end
    end
    -- Postfix delivers in parallel, so the Maildir does not keep the sending order
    -- (the scripted spec checks it); every message arrived exactly once.
    table.sort(order)
    assert.same({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, order)
  end)
end)
