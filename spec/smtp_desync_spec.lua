-- Every reply of a command group is read before the next command (RFC 2920 §3.1), and
-- an operation that stops midway never leaves the session usable: after any failure the
-- next command on the session gets its own reply, never an earlier one's.  A scripted
-- server splits the replies of a pipelined group across writes, as Exim and node's
-- smtp-server do (Postfix sends a group's replies in one write, which hides the rule).
local scripted = require "support.scripted"
local ss = require "support.scripted_smtp"

local GREET, ehlo, script, msg = ss.GREET, ss.ehlo, ss.script, ss.msg

local QUIT = ss.QUIT
local PIPE_ENV = {{expect = "MAIL FROM:<a@x.test>"}, {expect = "RCPT TO:<b@x.test>"},
                  {expect = "DATA"}}

-- A pipelined group refused at MAIL, the RCPT and DATA replies a moment later.
local REFUSED_MAIL = {
  {send = "550 5.7.1 sender refused\r\n"}, {sleep = 0.3},
  {send = "503 5.5.1 sender first\r\n"}, {sleep = 0.2},
  {send = "554 5.5.1 no valid recipients\r\n"},
  {expect = "RSET"}, {send = "250 2.0.0 flushed\r\n"},
}

-- The next message, accepted with its own queue id.
local SECOND = script(PIPE_ENV, {{send = "250 ok\r\n250 ok\r\n354 go\r\n"},
  {read_until = "\r\n.\r\n"}, {send = "250 2.0.0 queued as SECOND\r\n"}})

-- A body of more than one BDAT chunk, plain CRLF lines (stuffing keeps its size).
local BIG = "Subject: t\r\n\r\n" .. (("x"):rep(98) .. "\r\n"):rep(3000)

local function assert_clean(srv)
  local got, log = srv:finish()
  assert.same({}, scripted.failures(log), scripted.format(log))
  return got
end

for _, driver in ipairs(ss.DRIVERS) do
describe("SMTP reply accounting (scripted server, " .. driver .. " driver)", function()
  local function session(srv, extra) return ss.session(srv, driver, extra) end

  it("CHECKLIST 61: a MAIL refused in a pipelined group: every reply read, then RSET;"
     .. " the next send gets its own reply", function()
    local srv = scripted.start(script(GREET, {ehlo{"PIPELINING"}}, PIPE_ENV, REFUSED_MAIL,
                                      SECOND, QUIT))
    local s = assert(session(srv))
    local r, err, kind, reply = s:send(msg())
    assert.is_nil(r)
    assert.equal("reply", kind)
    assert.equal(550, reply.code)
    assert.matches("sender refused", err)
    local res = assert(s:send(msg()))
    assert.equal("2.0.0 queued as SECOND", res.reply.text)
    assert.same({"b@x.test"}, res.accepted)
    assert(s:close())
    assert_clean(srv)
  end)

  it("CHECKLIST 61: send_batch after a MAIL refused in a pipelined group", function()
    local srv = scripted.start(script(GREET, {ehlo{"PIPELINING"}}, PIPE_ENV, REFUSED_MAIL,
                                      SECOND, QUIT))
    local s = assert(session(srv))
    local results, sent = s:send_batch{msg(), msg()}
    assert.equal(1, sent)
    assert.equal("reply", results[1].kind)
    assert.equal(550, results[1].reply.code)
    assert.equal("2.0.0 queued as SECOND", results[2].reply.text)
    assert(s:close())
    assert_clean(srv)
  end)

  it("CHECKLIST 61: send_batch: a MAIL refused in a group chained to the previous end"
     .. " of data", function()
    local srv = scripted.start(script(GREET, {ehlo{"PIPELINING"}}, PIPE_ENV,
      {{send = "250 ok\r\n250 ok\r\n354 go\r\n"}, {read_until = "\r\n.\r\n"}},
      PIPE_ENV, {{send = "250 2.0.0 queued as FIRST\r\n"}}, REFUSED_MAIL, SECOND, QUIT))
    local s = assert(session(srv))
    local results, sent = s:send_batch{msg(), msg(), msg()}
    assert.equal(2, sent)
    assert.equal("2.0.0 queued as FIRST", results[1].reply.text)
    assert.equal("reply", results[2].kind)
    assert.equal(550, results[2].reply.code)
    assert.equal("2.0.0 queued as SECOND", results[3].reply.text)
    assert(s:close())
    assert_clean(srv)
  end)

  it("CHECKLIST 61: BDAT: a MAIL refused in a pipelined group, then the next message",
     function()
    local srv = scripted.start(script(GREET, {ehlo{"PIPELINING", "CHUNKING"}}, {
      {expect = "MAIL FROM:<a@x.test>"}, {expect = "RCPT TO:<b@x.test>"},
      {send = "550 5.7.1 sender refused\r\n"}, {sleep = 0.3},
      {send = "503 5.5.1 sender first\r\n"},
      {expect = "RSET"}, {send = "250 2.0.0 flushed\r\n"},
      {expect = "MAIL FROM:<a@x.test>"}, {expect = "RCPT TO:<b@x.test>"},
      {send = "250 ok\r\n250 ok\r\n"}, {expect = "BDAT 20 LAST"}, {read_bytes = 20},
      {send = "250 2.0.0 queued as SECOND\r\n"}}, QUIT))
    local s = assert(session(srv, {chunking = true}))
    local r, _, kind, reply = s:send(msg())
    assert.is_nil(r)
    assert.equal("reply", kind)
    assert.equal(550, reply.code)
    local res = assert(s:send(msg()))
    assert.equal("2.0.0 queued as SECOND", res.reply.text)
    assert(s:close())
    assert_clean(srv)
  end)

  it("CHECKLIST 61: MAIL refused, a RCPT accepted and DATA 354 (a confused server):"
     .. " no body and no end of data, the connection is dropped", function()
    local srv = scripted.start(script(GREET, {ehlo{"PIPELINING"}}, PIPE_ENV, {
      {send = "550 5.7.1 sender refused\r\n"}, {sleep = 0.2},
      {send = "250 ok\r\n354 go\r\n"}, {hold = 0.5}}))
    local s = assert(session(srv))
    local r, _, kind, reply = s:send(msg())
    assert.is_nil(r)
    assert.equal("reply", kind)
    assert.equal(550, reply.code)
    local r2, _, kind2 = s:send(msg())
    assert.is_nil(r2)
    assert.equal("closed", kind2)
    s:close()
    local got = srv:finish()
    assert.equal("DATA\r\n", got:match("DATA\r\n.*$"))
  end)

  -- The general rule: each step of a transaction, and each simple command, refused;
  -- the next command (a NOOP with a reply of its own) must read exactly its reply.
  local NOOP = {{expect = "NOOP"}, {send = "250 2.0.0 noop-own-reply\r\n"}}
  local failures = {
    {"MAIL (no PIPELINING)", {}, function(s) return s:send(msg()) end, {
      {expect = "MAIL"}, {send = "550-5.7.1 refused\r\n"}, {sleep = 0.2},
      {send = "550 5.7.1 really\r\n"}, {expect = "RSET"}, {send = "250 ok\r\n"}}},
    {"RCPT (no PIPELINING)", {}, function(s) return s:send(msg()) end, {
      {expect = "MAIL"}, {send = "250 ok\r\n"}, {expect = "RCPT"},
      {send = "550 5.1.1 unknown\r\n"}, {expect = "RSET"}, {send = "250 ok\r\n"}}},
    {"DATA (no PIPELINING)", {}, function(s) return s:send(msg()) end, {
      {expect = "MAIL"}, {send = "250 ok\r\n"}, {expect = "RCPT"}, {send = "250 ok\r\n"},
      {expect = "DATA"}, {send = "554 5.5.1 no\r\n"}, {expect = "RSET"},
      {send = "250 ok\r\n"}}},
    {"MAIL (PIPELINING)", {"PIPELINING"}, function(s) return s:send(msg()) end,
      script(PIPE_ENV, REFUSED_MAIL)},
    {"RCPT (PIPELINING)", {"PIPELINING"}, function(s) return s:send(msg()) end,
      script(PIPE_ENV, {{send = "250 ok\r\n"}, {sleep = 0.2}, {send = "550 5.1.1 no\r\n"},
        {sleep = 0.2}, {send = "554 5.5.1 no valid recipients\r\n"}, {expect = "RSET"},
        {send = "250 ok\r\n"}})},
    {"RCPT, then DATA 354 (PIPELINING)", {"PIPELINING"},
      function(s) return s:send(msg()) end,
      script(PIPE_ENV, {{send = "250 ok\r\n"}, {sleep = 0.2}, {send = "550 5.1.1 no\r\n"},
        {sleep = 0.2}, {send = "354 go\r\n"}, {expect = "."},
        {send = "554 5.5.1 no valid recipients\r\n"}, {expect = "RSET"},
        {send = "250 ok\r\n"}})},
    {"DATA (PIPELINING)", {"PIPELINING"}, function(s) return s:send(msg()) end,
      script(PIPE_ENV, {{send = "250 ok\r\n250 ok\r\n"}, {sleep = 0.2},
        {send = "451 4.3.0 later\r\n"}, {expect = "RSET"}, {send = "250 ok\r\n"}})},
    {"the end of data", {"PIPELINING"}, function(s) return s:send(msg()) end,
      script(PIPE_ENV, {{send = "250 ok\r\n250 ok\r\n354 go\r\n"},
        {read_until = "\r\n.\r\n"}, {send = "554-5.7.1 spam\r\n"}, {sleep = 0.2},
        {send = "554 5.7.1 really\r\n"}})},
    {"BDAT LAST", {"PIPELINING", "CHUNKING"}, function(s) return s:send(msg()) end, {
      {expect = "MAIL"}, {expect = "RCPT"}, {send = "250 ok\r\n"}, {sleep = 0.2},
      {send = "250 ok\r\n"}, {expect = "BDAT 20 LAST"}, {read_bytes = 20},
      {send = "554 5.7.1 no\r\n"}}, {chunking = true}},
    -- 262144 bytes fill one chunk (BDAT_CHUNK): its reply comes before the rest goes.
    {"BDAT chunk before the last", {"PIPELINING", "CHUNKING"},
      function(s) return s:send(msg{data = BIG}) end, {
      {expect = "MAIL"}, {expect = "RCPT"}, {send = "250 ok\r\n250 ok\r\n"},
      {expect = "BDAT 262144\r\n"}, {read_bytes = 262144}, {send = "552-5.3.4 too\r\n"},
      {sleep = 0.2}, {send = "552 5.3.4 big\r\n"}, {expect = "RSET"},
      {send = "250 ok\r\n"}}, {chunking = true}},
    {"RSET", {}, function(s) return s:reset() end,
      {{expect = "RSET"}, {send = "500-5.5.1 what\r\n"}, {sleep = 0.2},
       {send = "500 5.5.1 what\r\n"}}},
    {"NOOP", {}, function(s) return s:noop() end,
      {{expect = "NOOP"}, {send = "502 5.5.1 no\r\n"}}},
  }
  for _, case in ipairs(failures) do
    it("CHECKLIST 61: after a refused " .. case[1] .. ", the next command reads its own"
       .. " reply", function()
      local srv = scripted.start(script(GREET, {ehlo(case[2])}, case[4], NOOP, QUIT))
      local s = assert(session(srv, case[5]))
      local r, err, kind = case[3](s)
      assert.is_nil(r)
      assert.equal("reply", kind, err)
      local reply = assert(s:noop())
      assert.equal("2.0.0 noop-own-reply", reply.text)
      assert(s:close())
      assert_clean(srv)
    end)
  end

  -- A callback that raises leaves the session mid-body: the rest of the message would
  -- carry the next commands.  The session must be closed instead (CHECKLIST 58).
  for _, case in ipairs {
    {"progress", function() return {data = string.rep("line of body\r\n", 20000),
                                    progress = function() error("progress boom") end} end},
    {"the message source", function()
      local n = 0
      return {data = function()
        n = n + 1
        if n < 3 then return string.rep("line of body\r\n", 100) end
        error("source boom")
      end}
    end},
  } do
    it("CHECKLIST 62 58: " .. case[1] .. " raising mid-body closes the session; nothing"
       .. " is written into the body", function()
      local srv = scripted.start(script(GREET, {ehlo{"PIPELINING"}}, PIPE_ENV,
        {{send = "250 ok\r\n250 ok\r\n354 go\r\n"}, {hold = 1}}))
      local s = assert(session(srv))
      local ok, e = pcall(s.send, s, msg(case[2]()))
      assert.is_false(ok)
      assert.matches("boom", tostring(e))
      -- The connection is dropped at once, not when the session is next used.
      local got, log = srv:finish()
      assert.equal("client closed", log[#log].err, scripted.format(log))
      local r, err, kind = s:send(msg())
      assert.is_nil(r)
      assert.equal("closed", kind, err)
      local r3, _, kind3 = s:noop()
      assert.is_nil(r3)
      assert.equal("closed", kind3)
      s:close()
      local body = got:match("DATA\r\n(.*)$")
      assert.is_nil(body:find("MAIL FROM", 1, true))
      assert.is_nil(body:find("NOOP", 1, true))
      assert.is_nil(body:find("\r\n.\r\n", 1, true))
    end)
  end
end)
end

describe("SMTP reply accounting: async sender (scripted server)", function()
  it("CHECKLIST 61: the sender thread reads every reply of a refused group", function()
    local smtp = require "missive.smtp"
    local srv = scripted.start(script(GREET, {ehlo{"PIPELINING"}}, PIPE_ENV, REFUSED_MAIL,
                                      SECOND, QUIT))
    local s = assert(smtp.session{host = "127.0.0.1", port = srv.port, tls = "none",
                                  timeout = 2, async = true})
    local id1 = assert(s:send(msg()))
    local id2 = assert(s:send(msg()))
    local st1, d1 = s:wait(id1, 5)
    local st2, d2 = s:wait(id2, 5)
    assert(s:close())
    assert.equal("failed", st1)
    assert.equal(550, d1.reply.code)
    assert.equal("sent", st2)
    assert.equal("2.0.0 queued as SECOND", d2.reply.text)
    assert_clean(srv)
  end)
end)
