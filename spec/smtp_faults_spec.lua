-- SMTP faults and malformed replies, played byte for byte by a scripted server.
local scripted = require "support.scripted"
local smtp = require "missive.smtp"

local ss = require "support.scripted_smtp"

local GREET, ehlo, script, msg, accept_all = ss.GREET, ss.ehlo, ss.script, ss.msg,
  ss.accept_all
local QUIT = ss.QUIT

-- Every spec runs twice: with the native C driver, and with LuaSocket objects moving
-- the bytes through lua/missive/driver.lua (the path cosockets take).
local DRIVER

local function session(srv, extra)
  return ss.session(srv, DRIVER, extra)
end

for _, driver_name in ipairs(ss.DRIVERS) do
describe("SMTP faults (scripted server, " .. driver_name .. " driver)", function()
  setup(function() DRIVER = driver_name end)

  it("CHECKLIST 6: STARTTLS required but not offered -> error before AUTH/MAIL, no HELO", function()
    local srv = scripted.start(script(GREET, {ehlo{"AUTH PLAIN", "PIPELINING"}}, {{hold = 1}}))
    local s, err, kind = session(srv, {tls = "starttls", user = "u", password = "p"})
    assert.is_nil(s)
    assert.equal("tls", kind)
    assert.matches("does not offer STARTTLS", err)
    local got = srv:finish()
    assert.is_nil(got:find("AUTH", 1, true))
    assert.is_nil(got:find("MAIL", 1, true))
    assert.is_nil(got:find("HELO", 1, true))
  end)

  for _, code in ipairs {"454 4.7.0 no", "502 no", "500 what", "421 bye", "221 bye"} do
    it("CHECKLIST 7: STARTTLS answered " .. code .. " -> error, nothing more in plaintext",
       function()
      local srv = scripted.start(script(GREET, {ehlo{"STARTTLS", "AUTH PLAIN"}},
        {{expect = "STARTTLS"}, {send = code .. "\r\n"}, {hold = 1}}))
      local s, _, kind, reply = session(srv, {tls = "starttls", user = "u", password = "p"})
      assert.is_nil(s)
      assert.equal("tls", kind)
      assert.equal(tonumber(code:sub(1, 3)), reply.code)
      local got = srv:finish()
      assert.equal("STARTTLS\r\n", got:match("STARTTLS\r\n.*$"))
    end)
  end

  it("CHECKLIST 8: a 220 to STARTTLS with pipelined lines -> protocol error, nothing sent",
     function()
    local srv = scripted.start(script(GREET, {ehlo{"STARTTLS"}},
      {{expect = "STARTTLS"}, {send = "220 go\r\n250 AUTH PLAIN\r\n"}, {hold = 1}}))
    local s, err, kind = session(srv, {tls = "starttls"})
    assert.is_nil(s)
    assert.equal("protocol", kind)
    assert.matches("before the TLS handshake", err)
    local got = srv:finish()
    assert.equal("STARTTLS\r\n", got:match("STARTTLS\r\n.*$"))
  end)

  it("CHECKLIST 9: plaintext arriving after the 220 is never taken for TLS", function()
    local srv = scripted.start(script(GREET, {ehlo{"STARTTLS"}},
      {{expect = "STARTTLS"}, {send = "220 go\r\n"}, {sleep = 0.05},
       {send = "250-fake\r\n250 AUTH PLAIN\r\n"}, {hold = 1}}))
    local s, _, kind = session(srv, {tls = "starttls"})
    assert.is_nil(s)
    assert.truthy(kind == "tls" or kind == "protocol")
    srv:finish()
  end)

  it("CHECKLIST 10: after TLS only the new EHLO's AUTH list counts", function()
    local srv = scripted.start(script(GREET, {ehlo{"STARTTLS", "AUTH PLAIN LOGIN"}},
      {{expect = "STARTTLS"}, {send = "220 go\r\n"}, {tls = true}},
      {ehlo{"AUTH CRAM-MD5"}},
      {{expect = "AUTH CRAM-MD5"}, {send = "334 PDEyMzQ1QHNjcmlwdGVkPg==\r\n"},
       {read_line = true}, {send = "235 ok\r\n"}, {expect = "QUIT"}, {send = "221 bye\r\n"}}))
    local s = assert(session(srv, {host = "localhost", tls = "starttls", user = "u",
                                   password = "p", cafile = srv.cafile}))
    assert.equal("CRAM-MD5", s:auth_mechanism())
    s:close()
    local _, log = srv:finish()
    assert.same({}, scripted.failures(log), scripted.format(log))
  end)

  it("CHECKLIST 11: a 220 to STARTTLS and then silence -> the handshake deadline fires", function()
    local srv = scripted.start(script(GREET, {ehlo{"STARTTLS"}},
      {{expect = "STARTTLS"}, {send = "220 go\r\n"}, {hold = 3}}))
    local t0 = os.time()
    local s, _, kind = session(srv, {tls = "starttls", timeout = 1})
    assert.is_nil(s)
    assert.equal("timeout", kind)
    assert.is_true(os.time() - t0 <= 3)
    srv:finish()
  end)

  for _, case in ipairs {
    {"from", {from = "a@x.test\r\nRCPT TO:<evil@x>"}},
    {"recipient", {to = {"b@x.test\nDATA"}}},
    {"recipient", {to = {"b@x.test\0"}}},
    {"recipient", {cc = "c@x.test\27[2J"}},
  } do
    it("CHECKLIST 14: a control byte in the " .. case[1] .. " is refused before any write",
       function()
      local srv = scripted.start(script(GREET, {ehlo{}}, {{expect = "QUIT"},
                                        {send = "221 bye\r\n"}}))
      local s = assert(session(srv))
      local r, err, kind = s:send(msg(case[2]))
      assert.is_nil(r)
      assert.equal("argument", kind)
      assert.matches(case[1], err)
      assert.is_nil(err:find("evil", 1, true))
      assert(s:close())
      local got = srv:finish()
      assert.is_nil(got:find("MAIL", 1, true))
    end)
  end

  for _, field in ipairs {"helo", "user", "password"} do
    it("CHECKLIST 14: a CR/LF in " .. field .. " is refused before connecting", function()
      local o = {host = "127.0.0.1", port = 9, tls = "none", user = "u", password = "p"}
      o[field] = "x\r\nMAIL FROM:<e@x>"
      local s, err, kind = smtp.session(o)
      assert.is_nil(s)
      assert.equal("argument", kind)
      assert.matches(field, err)
      assert.is_nil(err:find("MAIL", 1, true))
    end)
  end

  it("CHECKLIST 16 17 19: the wire carries the stuffed, CRLF-normalised body", function()
    local srv = scripted.start(script(GREET, {ehlo{}}, accept_all(), {{hold = 0.2}}))
    local s = assert(session(srv))
    assert(s:send(msg{data = ".\n..\r\n.x\rbare\n\n.\r\n.last"}))
    s:close()
    local got = srv:finish()
    local data = got:match("DATA\r\n(.*)$")
    assert.equal("..\r\n...\r\n..x\r\nbare\r\n\r\n..\r\n..last\r\n.\r\n", data:sub(1, -7 - 1)
                 .. data:sub(-7):gsub("QUIT\r\n$", ""))
  end)

  it("CHECKLIST 18: one byte at a time gives the same wire bytes as one chunk", function()
    local body = "a\r\n.b\n..\r\r\n.\r\nx\r"
    local wires = {}
    for round = 1, 2 do
      local srv = scripted.start(script(GREET, {ehlo{}}, accept_all()))
      local s = assert(session(srv))
      local data = body
      if round == 2 then
        local i = 0
        data = function()
          i = i + 1
          if i <= #body then return body:sub(i, i) end
        end
      end
      assert(s:send(msg{data = data}))
      s:close()
      wires[round] = srv:finish():match("DATA\r\n(.-\r\n%.\r\n)")
    end
    assert.equal(wires[1], wires[2])
    assert.equal("a\r\n..b\r\n...\r\n\r\n..\r\nx\r\n.\r\n", wires[1])
  end)

  it("CHECKLIST 22: RCPT 250/550/250 -> DATA goes ahead with per-recipient results", function()
    local srv = scripted.start(script(GREET, {ehlo{}}, {
      {expect = "MAIL FROM"}, {send = "250 ok\r\n"},
      {expect = "RCPT TO:<b@x.test>"}, {send = "250 ok\r\n"},
      {expect = "RCPT TO:<c@x.test>"}, {send = "550 5.1.1 no such user\r\n"},
      {expect = "RCPT TO:<d@x.test>"}, {send = "250 ok\r\n"},
      {expect = "DATA"}, {send = "354 go\r\n"}, {read_until = "\r\n.\r\n"},
      {send = "250 2.0.0 queued\r\n"}}))
    local s = assert(session(srv))
    local res = assert(s:send(msg{to = {"b@x.test", "c@x.test", "d@x.test"}}))
    assert.same({"b@x.test", "d@x.test"}, res.accepted)
    assert.same({code = 550, enhanced = "5.1.1", text = "5.1.1 no such user"},
                res.rejected["c@x.test"])
    s:close()
    srv:finish()
  end)

  it("CHECKLIST 22: all recipients rejected -> no DATA, RSET, every reason listed", function()
    local srv = scripted.start(script(GREET, {ehlo{}}, {
      {expect = "MAIL FROM"}, {send = "250 ok\r\n"},
      {expect = "RCPT"}, {send = "550 no\r\n"}, {expect = "RCPT"}, {send = "551 gone\r\n"},
      {expect = "RSET"}, {send = "250 ok\r\n"}, {expect = "QUIT"}, {send = "221 bye\r\n"}}))
    local s = assert(session(srv))
    local r, err, kind = s:send(msg{to = {"b@x.test", "c@x.test"}})
    assert.is_nil(r)
    assert.equal("reply", kind)
    assert.matches("550 551", err)
    s:close()
    local got, log = srv:finish()
    assert.is_nil(got:find("DATA", 1, true))
    assert.same({}, scripted.failures(log), scripted.format(log))
  end)

  it("CHECKLIST 22: with PIPELINING, a 354 after all RCPTs failed is ended empty", function()
    local srv = scripted.start(script(GREET, {ehlo{"PIPELINING"}}, {
      {expect = "MAIL FROM"}, {expect = "RCPT"}, {expect = "DATA"},
      {send = "250 ok\r\n550 no\r\n354 go\r\n"}, {expect = "."}, {send = "554 no valid\r\n"},
      {expect = "RSET"}, {send = "250 ok\r\n"}}))
    local s = assert(session(srv))
    local r, _, kind = s:send(msg())
    assert.is_nil(r)
    assert.equal("reply", kind)
    local _, log = srv:finish()
    assert.same({}, scripted.failures(log), scripted.format(log))
  end)

  local stages = {
    {"greeting", {{send = "421 4.3.2 busy\r\n"}}},
    {"EHLO", {GREET, {expect = "EHLO"}, {send = "421 busy\r\n"}}},
    {"MAIL", {GREET, {ehlo{}}, {expect = "MAIL"}, {send = "421 busy\r\n"}}},
    {"RCPT", {GREET, {ehlo{}}, {expect = "MAIL"}, {send = "250 ok\r\n"},
              {expect = "RCPT"}, {send = "421 busy\r\n"}}},
    {"DATA", {GREET, {ehlo{}}, {expect = "MAIL"}, {send = "250 ok\r\n"},
              {expect = "RCPT"}, {send = "250 ok\r\n"}, {expect = "DATA"},
              {send = "421 busy\r\n"}}},
    {"the final dot", {GREET, {ehlo{}}, accept_all("421 4.4.2 timeout\r\n")}},
  }
  for _, st in ipairs(stages) do
    it("CHECKLIST 23: 421 at " .. st[1] .. " -> stop, no RSET, closed", function()
      local steps = {}
      for _, p in ipairs(st[2]) do
        if p[1] then for _, q in ipairs(p) do steps[#steps + 1] = q end
        else steps[#steps + 1] = p end
      end
      steps[#steps + 1] = {hold = 0.5}
      local srv = scripted.start(steps)
      local s, err, kind, reply = session(srv)
      if s then
        local r
        r, err, kind, reply = s:send(msg())
        assert.is_nil(r)
        assert.is_true(s:close())
      end
      assert.equal("reply", kind)
      assert.equal(421, reply.code)
      assert.truthy(err)
      local got = srv:finish()
      assert.is_nil(got:find("RSET", 1, true))
      assert.is_nil(got:find("QUIT", 1, true))
    end)
  end

  it("CHECKLIST 24: the server closes after 354, before our dot -> not sent (closed)", function()
    local srv = scripted.start(script(GREET, {ehlo{}}, {
      {expect = "MAIL"}, {send = "250 ok\r\n"}, {expect = "RCPT"}, {send = "250 ok\r\n"},
      {expect = "DATA"}, {send = "354 go\r\n"}, {close = true}}))
    local s = assert(session(srv))
    local chunks = 0
    local r, err, kind = s:send(msg{data = function()
      chunks = chunks + 1
      if chunks == 1 then return "Subject: x\r\n\r\n" end
      if chunks < 50 then
        -- give the server's FIN time to arrive while we are still inside DATA
        local t = os.clock() + 0.005
        repeat until os.clock() > t
        return "line\r\n"
      end
    end})
    assert.is_nil(r)
    assert.equal("closed", kind)
    assert.matches("not sent", err)
    srv:finish()
  end)

  it("CHECKLIST 25: EOF after the final dot -> uncertain, never failed or sent", function()
    local srv = scripted.start(script(GREET, {ehlo{}}, {
      {expect = "MAIL"}, {send = "250 ok\r\n"}, {expect = "RCPT"}, {send = "250 ok\r\n"},
      {expect = "DATA"}, {send = "354 go\r\n"}, {read_until = "\r\n.\r\n"}, {close = true}}))
    local s = assert(session(srv))
    local r, err, kind = s:send(msg())
    assert.is_nil(r)
    assert.equal("uncertain", kind)
    assert.matches("may have been delivered", err)
    srv:finish()
  end)

  it("CHECKLIST 25: a timeout after the final dot -> uncertain", function()
    local srv = scripted.start(script(GREET, {ehlo{}}, {
      {expect = "MAIL"}, {send = "250 ok\r\n"}, {expect = "RCPT"}, {send = "250 ok\r\n"},
      {expect = "DATA"}, {send = "354 go\r\n"}, {read_until = "\r\n.\r\n"}, {hold = 2}}))
    local s = assert(session(srv, {timeout = 0.5}))
    local r, _, kind = s:send(msg())
    assert.is_nil(r)
    assert.equal("uncertain", kind)
    srv:finish()
  end)

  for _, final in ipairs {"451 4.3.0 try later", "552 5.3.4 too big"} do
    it("CHECKLIST 26: " .. final:sub(1, 3) .. " to the final dot -> not sent, code kept",
       function()
      local srv = scripted.start(script(GREET, {ehlo{}}, accept_all(final .. "\r\n"),
        {{expect = "NOOP"}, {send = "250 ok\r\n"}}))
      local s = assert(session(srv))
      local r, _, kind, reply = s:send(msg())
      assert.is_nil(r)
      assert.equal("reply", kind)
      assert.equal(tonumber(final:sub(1, 3)), reply.code)
      assert.equal(final:sub(5, 9), reply.enhanced)
      assert(s:noop())  -- the session is still usable
      srv:finish()
    end)
  end

  for _, bad in ipairs {"250-a\r\n251 b\r\n", "25x ok\r\n", "25 ok\r\n", "250\r\n",
                        "250-partial\r\n"} do
    it("CHECKLIST 27: malformed EHLO reply " .. scripted.escape(bad) .. " -> error", function()
      local srv = scripted.start(script(GREET, {{expect = "EHLO"}, {send = bad},
                                                {close = true}}))
      local s, _, kind = session(srv)
      assert.is_nil(s)
      assert.truthy(kind == "protocol" or kind == "closed")
      srv:finish()
    end)
  end

  it("CHECKLIST 28: a 10 MB reply line is stopped by the line cap", function()
    local srv = scripted.start(script(GREET, {{expect = "EHLO"},
      {send = "250 " .. string.rep("x", 10 * 1024 * 1024) .. "\r\n"}}), {timeout = 20})
    local s, err, kind = session(srv, {timeout = 10})
    assert.is_nil(s)
    assert.equal("limit", kind)
    assert.matches("line longer", err)
    srv:finish()
  end)

  it("CHECKLIST 28: an endless 250- continuation is stopped by the lines cap", function()
    local srv = scripted.start(script(GREET, {{expect = "EHLO"},
      {send = string.rep("250-x\r\n", 100000)}}), {timeout = 20})
    local s, err, kind = session(srv, {timeout = 10})
    assert.is_nil(s)
    assert.equal("limit", kind)
    assert.matches("more than %d+ lines", err)
    srv:finish()
  end)

  it("CHECKLIST 29: more 334 challenges than the mechanism has -> '*', auth error", function()
    local srv = scripted.start(script(GREET, {ehlo{"AUTH LOGIN"}}, {
      {expect = "AUTH LOGIN"}, {send = "334 VXNlcm5hbWU6\r\n"}, {read_line = true},
      {send = "334 UGFzc3dvcmQ6\r\n"}, {read_line = true},
      {send = "334 VXNlcm5hbWU6\r\n"}, {expect = "*"}, {send = "501 cancelled\r\n"},
      {expect = "QUIT"}, {send = "221 bye\r\n"}}))
    local s, err, kind = session(srv, {user = "u", password = "secret-pw"})
    assert.is_nil(s)
    assert.equal("auth", kind)
    assert.matches("unexpected SASL challenge", err)
    local _, log = srv:finish()
    assert.same({}, scripted.failures(log), scripted.format(log))
  end)

  it("CHECKLIST 29: a non-base64 334 -> '*' and an auth error", function()
    local srv = scripted.start(script(GREET, {ehlo{"AUTH CRAM-MD5"}}, {
      {expect = "AUTH CRAM-MD5"}, {send = "334 !!!not base64!!!\r\n"}, {expect = "*"},
      {send = "501 cancelled\r\n"}, {expect = "QUIT"}, {send = "221 bye\r\n"}}))
    local s, err, kind = session(srv, {user = "u", password = "p"})
    assert.is_nil(s)
    assert.equal("auth", kind)
    assert.matches("malformed", err)
    local _, log = srv:finish()
    assert.same({}, scripted.failures(log), scripted.format(log))
  end)

  it("CHECKLIST 29 60: a multi-line 535 -> auth error without the password", function()
    local srv = scripted.start(script(GREET, {ehlo{"AUTH PLAIN"}}, {
      {expect = "AUTH PLAIN"}, {send = "535-5.7.8 bad\r\n535 5.7.8 credentials\r\n"},
      {expect = "QUIT"}, {send = "221 bye\r\n"}}))
    local traced = {}
    local s, err, kind, reply = session(srv, {user = "u", password = "hunter2",
      trace = function(_, line) traced[#traced + 1] = line end})
    assert.is_nil(s)
    assert.equal("auth", kind)
    assert.equal(535, reply.code)
    assert.is_nil(err:find("hunter2", 1, true))
    local all = table.concat(traced, "\n")
    assert.is_nil(all:find("hunter2", 1, true))
    assert.is_nil(all:find("aHVudGVyMg", 1, true))   -- base64 of the password
    assert.is_nil(all:find("AHUAaHVudGVyMg", 1, true)) -- the PLAIN blob
    srv:finish()
  end)

  it("CHECKLIST 30: no credentials over cleartext when insecure_auth = false", function()
    local srv = scripted.start(script(GREET, {ehlo{"AUTH PLAIN LOGIN"}},
                                      {{expect = "QUIT"}, {send = "221 bye\r\n"}}))
    local s, err, kind = session(srv, {user = "u", password = "p", insecure_auth = false})
    assert.is_nil(s)
    assert.equal("auth", kind)
    assert.matches("refusing", err)
    local got = srv:finish()
    assert.is_nil(got:find("AUTH", 1, true))
  end)

  it("auth = \"optional\" sends without AUTH when the server offers none", function()
    local srv = scripted.start(script(GREET, {ehlo{}}, accept_all(),
                                      {{expect = "QUIT"}, {send = "221 bye\r\n"}}))
    local s = assert(session(srv, {user = "u", password = "p", auth = "optional"}))
    assert.is_nil(s:auth_mechanism())
    assert(s:send(msg()))
    s:close()
    local _, log = srv:finish()
    assert.same({}, scripted.failures(log), scripted.format(log))
  end)

  it("without auth = \"optional\", a server with no AUTH is a clear error", function()
    local srv = scripted.start(script(GREET, {ehlo{}}, {{hold = 0.5}}))
    local s, err, kind = session(srv, {user = "u", password = "p"})
    assert.is_nil(s)
    assert.equal("auth", kind)
    assert.matches("offers no authentication", err)
    srv:finish()
  end)

  for _, g in ipairs {"554 no service", "421 busy", "500 what", "221 bye",
                      "junk\r\n220 late"} do
    it("CHECKLIST 31: greeting " .. scripted.escape(g) .. " -> clean error", function()
      local srv = scripted.start({{send = g .. "\r\n"}, {hold = 0.5}})
      local s, err, kind = session(srv)
      assert.is_nil(s)
      assert.truthy(kind == "reply" or kind == "protocol", kind)
      assert.truthy(err)
      srv:finish()
    end)
  end

  it("falls back to HELO when EHLO is refused and nothing needs ESMTP", function()
    local srv = scripted.start(script(GREET, {{expect = "EHLO"}, {send = "500 what\r\n"},
      {expect = "HELO"}, {send = "250 hi\r\n"}}, accept_all(),
      {{expect = "QUIT"}, {send = "221 bye\r\n"}}))
    local s = assert(session(srv))
    assert(s:send(msg()))
    s:close()
    local _, log = srv:finish()
    assert.same({}, scripted.failures(log), scripted.format(log))
  end)

  it("CHECKLIST 32: a message over the advertised SIZE fails before MAIL", function()
    local srv = scripted.start(script(GREET, {ehlo{"SIZE 100"}},
                                      {{expect = "QUIT"}, {send = "221 bye\r\n"}}))
    local s = assert(session(srv))
    local r, _, kind = s:send(msg{data = string.rep("x", 200)})
    assert.is_nil(r)
    assert.equal("limit", kind)
    s:close()
    local got = srv:finish()
    assert.is_nil(got:find("MAIL", 1, true))
  end)

  it("CHECKLIST 20: 8-bit data without 8BITMIME is refused before MAIL", function()
    local srv = scripted.start(script(GREET, {ehlo{}}, {{expect = "QUIT"},
                                                       {send = "221 bye\r\n"}}))
    local s = assert(session(srv))
    local r, err, kind = s:send(msg{data = "Subject: caf\195\169\r\n\r\n"})
    assert.is_nil(r)
    assert.equal("limit", kind)
    assert.matches("8BITMIME", err)
    s:close()
    assert.is_nil(srv:finish():find("MAIL", 1, true))
  end)

  -- RFC 5321 4.5.3.1: a 64-byte local-part and a 255-byte domain.  The command
  -- buffers are sized from those bounds: the longest commands go out whole.
  it("the longest helo, addresses and MAIL parameters go out whole; one byte more is refused",
     function()
    local domain = table.concat({("d"):rep(63), ("e"):rep(63), ("f"):rep(63), ("g"):rep(63)},
                                ".")
    local from = ("\195\169"):rep(32) .. "@" .. domain
    local to = ("t"):rep(64) .. "@" .. domain
    assert.equal(320, #from)
    local srv = scripted.start(script(GREET, {ehlo{"SIZE 1000000", "8BITMIME", "SMTPUTF8"}}, {
      {expect = "MAIL"}, {send = "250 ok\r\n"}, {expect = "RCPT"}, {send = "250 ok\r\n"},
      {expect = "DATA"}, {send = "354 go\r\n"},
      {read_until = "\r\n.\r\n"}, {send = "250 queued\r\n"},
      {expect = "QUIT"}, {send = "221 bye\r\n"}}))
    local s = assert(session(srv, {helo = domain}))
    local data = "Subject: caf\195\169\r\n\r\nbody\r\n"
    assert(s:send{from = from, to = {to}, data = data})
    local r, err, kind = s:send{from = from .. "x", to = {to}, data = data}
    assert.is_nil(r)
    assert.equal("argument", kind)
    assert.matches("too long", err)
    r, err, kind = s:send{from = from, to = {"x" .. to}, data = data}
    assert.is_nil(r)
    assert.equal("argument", kind)
    assert.matches("too long", err)
    s:close()
    local got = srv:finish()
    assert.truthy(got:find("EHLO " .. domain .. "\r\n", 1, true))
    assert.truthy(got:find(("MAIL FROM:<%s> SIZE=%d BODY=8BITMIME SMTPUTF8\r\n")
                           :format(from, #data), 1, true))
    assert.truthy(got:find("RCPT TO:<" .. to .. ">\r\n", 1, true))
    srv = scripted.start(script(GREET, {{hold = 0.2}}))
    s, err, kind = session(srv, {helo = domain .. "x"})
    assert.is_nil(s)
    assert.equal("argument", kind)
    assert.matches("helo too long", err)
    assert.is_nil(srv:finish():find("EHLO", 1, true))
  end)

  it("CHECKLIST 20: BDAT does not carry 8-bit data to a server without 8BITMIME", function()
    local srv = scripted.start(script(GREET, {ehlo{"CHUNKING", "PIPELINING"}}, {
      {expect = "MAIL FROM:<a@x.test>\r\n"}, {expect = "RCPT"},
      {send = "250 ok\r\n250 ok\r\n"}, {hold = 0.5}}))
    local s = assert(session(srv, {chunking = true}))
    -- A source: whether it is 8-bit is known only as it streams.
    local sent = false
    local r, err, kind = s:send(msg{data = function()
      if sent then return nil end
      sent = true
      return "Subject: caf\195\169\r\n\r\nd\195\169j\195\160 vu\r\n"
    end})
    assert.is_nil(r)
    assert.equal("limit", kind)
    assert.matches("8BITMIME", err)
    s:close()
    local got = srv:finish()
    assert.is_nil(got:find("BDAT", 1, true))
    assert.is_nil(got:find("\195", 1, true))
  end)

  it("a multi-line refusal reads as its lines joined by \"; \", control bytes replaced",
     function()
    local srv = scripted.start(script(GREET, {ehlo{}}, {
      {expect = "MAIL"}, {send = "550-5.7.1 Sender blocked\r\n550-5.7.1 \27[31mSee\r\n"
                                 .. "550 5.7.1 https://example.test/why\r\n"},
      {expect = "RSET"}, {send = "250 ok\r\n"}}, QUIT))
    local s = assert(session(srv))
    local r, err, kind, reply = s:send(msg())
    assert.is_nil(r)
    assert.equal("reply", kind)
    local text = "5.7.1 Sender blocked; 5.7.1 ?[31mSee; 5.7.1 https://example.test/why"
    assert.equal(text, reply.text)
    assert.equal("sender refused: 550 " .. text, err)
    s:close()
    srv:finish()
  end)

  it("CHECKLIST 60: capabilities() keys, values and AUTH names carry no control bytes",
     function()
    local srv = scripted.start(script(GREET, {ehlo{"X-\27[31mRED\27[0m v\7al\1ue",
      "AUTH PLAIN \27[2JLOGIN\127 CRAM-MD5", "EVIL\0INJECTED", "XCLIENT\27]0;title\7",
      "8BITMIME", "SIZE 100"}}, QUIT))
    local s = assert(session(srv))
    local caps = s:capabilities()
    local function clean(v) return not tostring(v):find("[%c\127-\255]") end
    local n = 0
    for k, v in pairs(caps) do
      n = n + 1
      assert.is_true(clean(k), scripted.escape(k))
      if type(v) == "table" then
        for _, name in ipairs(v) do assert.is_true(clean(name), scripted.escape(name)) end
      else
        assert.is_true(clean(v), scripted.escape(tostring(v)))
      end
    end
    assert.equal(6, n)
    assert.same({"PLAIN", "?[2JLOGIN?", "CRAM-MD5"}, caps.AUTH)
    assert.equal("v?al?ue", caps["X-?[31MRED?[0M"])
    assert.equal(100, caps.SIZE)
    assert.is_true(caps["8BITMIME"])
    assert.is_true(caps["EVIL?INJECTED"])
    s:close()
    srv:finish()
  end)

  it("XOAUTH2: the token goes in the initial response; a 334 error is answered empty", function()
    local blob = "dXNlcj11AWF1dGg9QmVhcmVyIHRvay0xMjMBAQ=="   -- user=u^Aauth=Bearer tok-123^A^A
    local srv = scripted.start(script(GREET, {ehlo{"AUTH PLAIN XOAUTH2"}}, {
      {expect = "AUTH XOAUTH2 " .. blob}, {send = "334 eyJzdGF0dXMiOiI0MDEifQ==\r\n"},
      {expect = ""}, {send = "535 5.7.8 bad token\r\n"}, {expect = "QUIT"},
      {send = "221 bye\r\n"}}))
    local traced = {}
    local s, _, kind, reply = session(srv, {user = "u", token = "tok-123",
      trace = function(_, line) traced[#traced + 1] = line end})
    assert.is_nil(s)
    assert.equal("auth", kind)
    assert.equal(535, reply.code)
    assert.is_nil(table.concat(traced, "\n"):find(blob, 1, true))
    local _, log = srv:finish()
    assert.same({}, scripted.failures(log), scripted.format(log))
  end)

  it("OAUTHBEARER (RFC 7628) is chosen for a token; its JSON error is answered with ^A " ..
     "and reported, the token never traced", function()
    -- n,a=u=2Cx,^Aauth=Bearer tok-123^A^A (the authzid's comma escaped)
    local blob = "bixhPXU9MkN4LAFhdXRoPUJlYXJlciB0b2stMTIzAQE="
    local json = "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xl" ..
                 "LmNvbS8iLCJzY2hlbWVzIjoiQmVhcmVyIn0="
    local srv = scripted.start(script(GREET, {ehlo{"AUTH PLAIN XOAUTH2 OAUTHBEARER"}}, {
      {expect = "AUTH OAUTHBEARER " .. blob}, {send = "334 " .. json .. "\r\n"},
      {expect = "AQ==\r\n"}, {send = "535 5.7.8 bad token\r\n"}, {expect = "QUIT"},
      {send = "221 bye\r\n"}}))
    local traced = {}
    local s, err, kind, reply = session(srv, {user = "u,x", token = "tok-123",
      trace = function(_, line) traced[#traced + 1] = line end})
    assert.is_nil(s)
    assert.equal("auth", kind)
    assert.equal(535, reply.code)
    assert.matches("OAuth status invalid_token, scope https://mail.google.com/", err, 1, true)
    local trace = table.concat(traced, "\n")
    assert.is_nil(trace:find(blob, 1, true))
    assert.is_nil(trace:find("tok-123", 1, true))
    local _, log = srv:finish()
    assert.same({}, scripted.failures(log), scripted.format(log))
  end)

  it("BDAT: with chunking = true and CHUNKING offered, the body goes in BDAT chunks", function()
    local srv = scripted.start(script(GREET, {ehlo{"CHUNKING", "8BITMIME"}}, {
      {expect = "MAIL FROM:<a@x.test>\r\n"}, {send = "250 ok\r\n"},
      {expect = "RCPT"}, {send = "250 ok\r\n"},
      {expect = "BDAT 21 LAST"}, {read_bytes = 21}, {send = "250 2.0.0 queued\r\n"}}))
    local s = assert(session(srv, {chunking = true}))
    local res = assert(s:send(msg{data = "Subject: t\n\n.body\n"}))
    assert.equal(250, res.reply.code)
    local got, log = srv:finish()
    assert.same({}, scripted.failures(log), scripted.format(log))
    assert.equal("Subject: t\r\n\r\n.body\r\n", got:match("BDAT 21 LAST\r\n(.*)$"))
  end)

  it("a client certificate that cannot be loaded is a cert error", function()
    local srv = scripted.start({{send = "220 hi\r\n"}, {hold = 0.5}})
    local s, err, kind = session(srv, {tls = "implicit", client_cert = "/nonexistent.pem",
                                       client_key = "/nonexistent.key"})
    assert.is_nil(s)
    assert.truthy(kind == "cert" or kind == "tls", kind)
    assert.truthy(err)
    srv:finish()
  end)

  it("send_batch chains each end of data with the next envelope (one round trip each)",
     function()
    local env = {{expect = "MAIL FROM:<a@x.test>"}, {expect = "RCPT TO:<b@x.test>"},
                 {expect = "DATA"}}
    local srv = scripted.start(script(GREET, {ehlo{"PIPELINING"}},
      env, {{send = "250 ok\r\n250 ok\r\n354 go\r\n"}, {read_until = "\r\n.\r\n"}},
      env, {{send = "250 first\r\n250 ok\r\n250 ok\r\n354 go\r\n"},
            {read_until = "\r\n.\r\n"}},
      env, {{send = "554 5.7.1 second refused\r\n250 ok\r\n250 ok\r\n354 go\r\n"},
            {read_until = "\r\n.\r\n"}, {send = "250 third\r\n"},
            {expect = "QUIT"}, {send = "221 bye\r\n"}}))
    local s = assert(session(srv))
    local results, sent = s:send_batch{msg(), msg{data = "two\r\n"},
      msg{to = {"bad\r\naddress"}}, msg{data = "three"}}
    s:close()
    assert.equal(2, sent)
    assert.equal("250", tostring(results[1].reply.code))
    assert.equal("first", results[1].reply.text)
    assert.same({"b@x.test"}, results[1].accepted)
    assert.equal("reply", results[2].kind)
    assert.equal(554, results[2].reply.code)
    assert.equal("argument", results[3].kind)          -- refused before anything was sent
    assert.equal("third", results[4].reply.text)
    local _, log = srv:finish()
    assert.same({}, scripted.failures(log), scripted.format(log))
  end)

  it("send_batch: a connection lost after a chained dot leaves that message uncertain",
     function()
    local srv = scripted.start(script(GREET, {ehlo{"PIPELINING"}}, {
      {expect = "MAIL"}, {expect = "RCPT"}, {expect = "DATA"},
      {send = "250 ok\r\n250 ok\r\n354 go\r\n"}, {read_until = "\r\n.\r\n"},
      {expect = "MAIL"}, {close = true}}))
    local s = assert(session(srv))
    local results, sent = s:send_batch{msg(), msg(), msg()}
    assert.equal(0, sent)
    assert.equal("uncertain", results[1].kind)
    assert.truthy(results[2].kind == "closed" or results[2].kind == "io", results[2].kind)
    assert.truthy(results[3].error)
    s:close()
    srv:finish()
  end)

  it("uses PIPELINING: MAIL, RCPTs and DATA go out in one write", function()
    local srv = scripted.start(script(GREET, {ehlo{"PIPELINING", "8BITMIME", "SIZE 1000"}}, {
      {read_bytes = #"MAIL FROM:<a@x.test> SIZE=20\r\nRCPT TO:<b@x.test>\r\nDATA\r\n"},
      {send = "250 ok\r\n250 ok\r\n354 go\r\n"}, {read_until = "\r\n.\r\n"},
      {send = "250 ok\r\n"}}))
    local s = assert(session(srv))
    assert(s:send(msg()))
    local got = srv:finish()
    assert.equal("MAIL FROM:<a@x.test> SIZE=20\r\nRCPT TO:<b@x.test>\r\nDATA\r\n",
                 got:match("(MAIL.-DATA\r\n)"))
  end)
end)
end
