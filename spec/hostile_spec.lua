-- A hostile server (spec/support/hostile.lua) against both drivers, SMTP and POP3:
-- pipelined replies around STARTTLS/STLS, endless multi-line replies, codes that change
-- mid-reply, a 10 MB line, drip-feed, a 421 / -ERR at every step of a full session,
-- and EOF at every byte offset of a reply.  Every case ends in a clean
-- `nil, message, kind` (a documented kind) within its deadline, never in success, and
-- a probe step after the fault catches anything the client sends when it must not.
local scripted = require "support.scripted"
local hostile = require "support.hostile"

-- One scripted server for a list of scripts (one connection each).
local function serve(scripts, timeout)
  return scripted.start(scripts, { connections = #scripts, timeout = timeout or 30,
                                   linger = 0.2 })
end

local SLACK = 1.5   -- seconds a failure may take beyond the client's own timeout

for _, driver in ipairs(hostile.DRIVERS) do
describe("hostile server (" .. driver .. " driver)", function()
  setup(function() hostile.use_driver(driver) end)

  -- ------------------------------------------------------------------- SMTP
  it("CHECKLIST 7 23 31: a 421 at every step of a STARTTLS + AUTH session stops it dead",
     function()
    local ex = hostile.smtp.exchanges { tls = true }
    local scripts, names = {}, {}
    for k = 1, #ex - 1 do  -- every step but QUIT
      scripts[#scripts + 1] = hostile.script(ex, k, hostile.fault("421 4.3.2 Service not "
                                                                  .. "available\r\n"))
      names[#names + 1] = ex[k].name
    end
    local srv = serve(scripts)
    local outs = {}
    for i = 1, #scripts do
      outs[i] = hostile.smtp.run(srv, { host = "localhost", tls = "starttls",
                                        cafile = srv.cafile })
    end
    local _, log = srv:finish()
    for i, out in ipairs(outs) do
      local what = "421 at " .. names[i]
      hostile.assert_failure(out, 2 + SLACK)
      if out.reply then assert.equal(421, out.reply.code, what) end
      if names[i] == "after the dot" then
        assert.equal("reply", out.kind, what)   -- failed, not sent, not uncertain
      end
      -- nothing at all after a 421: no RSET, no QUIT, no HELO fallback, no next RCPT
      hostile.assert_silent_after(log, what, i)
    end
  end)

  it("CHECKLIST 8 9: pipelined lines after the STARTTLS reply -> error, nothing follows",
     function()
    local ex = hostile.smtp.exchanges { tls = true }
    local k = hostile.index(ex, "STARTTLS")
    local faults = {
      "220 2.0.0 Ready\r\n250 AUTH PLAIN\r\n",        -- a fake capability line
      "220 2.0.0 Ready\r\n\22\3\1\0\5junk",           -- bytes waiting at the switch
      "454 4.7.0 TLS not available\r\n250 AUTH PLAIN\r\n",
      "220-Ready\r\n220 go\r\n",                        -- a multi-line 220: still one reply
    }
    local scripts = {}
    for _, f in ipairs(faults) do scripts[#scripts + 1] = hostile.script(ex, k,
                                                                         hostile.fault(f)) end
    local srv = serve(scripts)
    local outs = {}
    for i = 1, #scripts do
      outs[i] = hostile.smtp.run(srv, { host = "localhost", tls = "starttls",
                                        cafile = srv.cafile })
    end
    local received, log = srv:finish()
    for i, out in ipairs(outs) do
      local what = scripted.escape(faults[i])
      if i < 4 then
        hostile.assert_failure(out, 2 + SLACK)
        assert.equal("open", out.phase, what)
        assert.truthy(out.kind == "protocol" or out.kind == "tls", what .. ": " .. out.kind)
        hostile.assert_silent_after(log, what, i)
      else
        -- a well-formed multi-line 220 starts TLS; the server then drops the line
        hostile.assert_failure(out, 2 + SLACK)
      end
    end
    assert.is_nil(received:find("AUTH", 1, true))
    assert.is_nil(received:find("s3cret", 1, true))
  end)

  it("CHECKLIST 27: a code that changes mid-reply at each step -> protocol error", function()
    local ex = hostile.smtp.exchanges { auth = false }
    local cases = {
      { "greeting", "220-mx.example.org\r\n554 5.3.2 not really\r\n" },
      { "EHLO", "250-mx.example.org\r\n251 8BITMIME\r\n" },
      { "MAIL", "250-2.1.0 Ok\r\n550 5.1.0 no\r\n" },
      { "RCPT 1", "250-2.1.5 Ok\r\n450 4.2.0 later\r\n" },
      { "DATA", "354-go ahead\r\n250 done\r\n" },
      { "after the dot", "250-2.0.0 Ok\r\n451 4.3.0 oops\r\n" },
    }
    local scripts = {}
    for _, c in ipairs(cases) do
      scripts[#scripts + 1] = hostile.script(ex, hostile.index(ex, c[1]), hostile.fault(c[2]))
    end
    local srv = serve(scripts)
    local outs = {}
    for i = 1, #scripts do outs[i] = hostile.smtp.run(srv, { auth = "none" }) end
    local _, log = srv:finish()
    for i, out in ipairs(outs) do
      local what = cases[i][1] .. ": " .. scripted.escape(cases[i][2])
      hostile.assert_failure(out, 2 + SLACK)
      if cases[i][1] == "after the dot" then
        -- the server may have taken the message: never "sent", never plain "failed"
        assert.equal("uncertain", out.kind, what)
      else
        assert.equal("protocol", out.kind, what)
      end
      -- a connection out of step is dropped: nothing more, not even QUIT
      hostile.assert_silent_after(log, what, i)
    end
  end)

  it("CHECKLIST 28: endless multi-line replies are stopped by the caps", function()
    local ex = hostile.smtp.exchanges { auth = false }
    local endless = ("250-x\r\n"):rep(20000)
    local cases = {
      { "greeting", ("220-x\r\n"):rep(20000) },
      { "EHLO", endless },
      { "RCPT 2", endless },
      { "after the dot", endless },
    }
    local scripts = {}
    for _, c in ipairs(cases) do
      scripts[#scripts + 1] = hostile.script(ex, hostile.index(ex, c[1]), hostile.fault(c[2]))
    end
    local srv = serve(scripts)
    local outs = {}
    for i = 1, #scripts do outs[i] = hostile.smtp.run(srv, { auth = "none" }) end
    local _, log = srv:finish()
    for i, out in ipairs(outs) do
      hostile.assert_failure(out, 2 + SLACK)
      if cases[i][1] == "after the dot" then
        assert.equal("uncertain", out.kind, cases[i][1])
      else
        assert.equal("limit", out.kind, cases[i][1])
        assert.matches("more than %d+ lines", out.err)
      end
      hostile.assert_silent_after(log, cases[i][1], i)
    end
  end)

  it("CHECKLIST 28 33: after a cap mid-reply the session is dead; nothing reads the rest",
     function()
    -- 1200 continuation lines then an end: the cap fires at 1000, 200 lines are left.
    -- A session kept alive would take them as the reply to the next MAIL, and every
    -- reply after it would belong to the command before (misattributed RCPT results).
    local rest = ("250-x\r\n"):rep(1200) .. "250 end of the long reply\r\n"
    local srv = serve({
      { { send = "220 mx ESMTP\r\n" }, { expect = "EHLO" },
        { send = "250-mx\r\n250 8BITMIME\r\n" }, { expect = "MAIL" }, { send = "250 ok\r\n" },
        { expect = "RCPT" }, { send = rest }, hostile.probe(0.5), { close = true } },
      hostile.script(hostile.pop3.exchanges(), hostile.index(hostile.pop3.exchanges(), "LIST"),
        { { send = "+OK\r\n1 1\r\n2 2\r\n3 3\r\n4 4\r\n.\r\n" }, hostile.probe(0.5),
          { close = true } }),
    })
    local smtp = require "missive.smtp"
    local s = assert(smtp.session(hostile.smtp.options(srv, { auth = "none" })))
    local m = { from = "a@x.test", to = { "b@x.test" }, data = "Subject: t\r\n\r\nx\r\n" }
    local r, _, kind = s:send(m)
    assert.is_nil(r)
    assert.equal("limit", kind)
    r = s:send(m)
    assert.is_nil(r)
    s:close()
    local pop3 = require "missive.pop3"
    local p = assert(pop3.session(hostile.pop3.options(srv, { max_messages = 2 })))
    assert.truthy(p:stat())  -- STAT goes through
    local t, _, pkind = p:list()
    assert.is_nil(t)
    assert.equal("limit", pkind)
    assert.is_nil(p:stat())
    p:close()
    local _, log = srv:finish()
    hostile.assert_silent_after(log, "SMTP after the lines cap", 1)
    hostile.assert_silent_after(log, "POP3 after max_messages", 2)
  end)

  it("CHECKLIST 28: a 10 MB line (greeting, RCPT) is stopped by the line cap", function()
    local ex = hostile.smtp.exchanges { auth = false }
    local huge = ("x"):rep(10 * 1024 * 1024)
    local cases = { { "greeting", "220 " .. huge .. "\r\n" }, { "RCPT 1", "250 " .. huge } }
    local scripts = {}
    for _, c in ipairs(cases) do
      scripts[#scripts + 1] = hostile.script(ex, hostile.index(ex, c[1]), hostile.fault(c[2]))
    end
    local srv = serve(scripts)
    local outs = {}
    for i = 1, #scripts do outs[i] = hostile.smtp.run(srv, { auth = "none", timeout = 5 }) end
    local _, log = srv:finish()
    for i, out in ipairs(outs) do
      hostile.assert_failure(out, 5 + SLACK)
      assert.equal("limit", out.kind, cases[i][1])
      assert.matches("line longer", out.err)
      hostile.assert_silent_after(log, cases[i][1], i)
    end
  end)

  it("CHECKLIST 59: a drip-fed reply hits the command deadline; a quick drip is fine",
     function()
    local ex = hostile.smtp.exchanges { auth = false }
    local slow = { { drip = "220 mx.example.org ESMTP slowly\r\n", interval = 0.05 },
                   hostile.probe(1.5), { close = true } }
    local quick = hostile.script(ex, #ex + 1, {})
    quick[1] = { drip = "220 mx.example.org ESMTP\r\n", interval = 0.002 }
    local srv = serve({ slow, quick })
    local out = hostile.smtp.run(srv, { auth = "none", timeout = 0.5 })
    local ok_out = hostile.smtp.run(srv, { auth = "none", timeout = 2 })
    local _, log = srv:finish()
    hostile.assert_failure(out, 0.5 + SLACK)
    assert.equal("timeout", out.kind)
    hostile.assert_silent_after(log, "after a timeout at the greeting", 1)
    assert.equal("done", ok_out.phase, tostring(ok_out.err))
    assert.is_true(ok_out.ok)
  end)

  it("CHECKLIST 12 27: EOF at every byte of the EHLO reply -> clean error, never open",
     function()
    local ex = hostile.smtp.exchanges { auth = false }
    local scripts, cuts = hostile.truncations(ex, hostile.index(ex, "EHLO"), 1)
    local srv = serve(scripts)
    local outs = {}
    for i = 1, #scripts do outs[i] = hostile.smtp.run(srv, { auth = "none" }) end
    local received = srv:finish()
    for i, out in ipairs(outs) do
      local what = "EHLO reply cut at byte " .. cuts[i]
      hostile.assert_failure(out, 2 + SLACK)
      assert.equal("open", out.phase, what)
      assert.truthy(out.kind == "closed" or out.kind == "protocol", what .. ": " .. out.kind)
    end
    assert.is_nil(received:find("MAIL", 1, true))
    assert.is_nil(received:find("HELO", 1, true))
  end)

  it("CHECKLIST 25: EOF at every byte of the reply to the dot -> uncertain, never sent",
     function()
    local ex = hostile.smtp.exchanges { auth = false }
    local scripts, cuts = hostile.truncations(ex, hostile.index(ex, "after the dot"), 1)
    local srv = serve(scripts)
    local outs = {}
    for i = 1, #scripts do outs[i] = hostile.smtp.run(srv, { auth = "none" }) end
    srv:finish()
    for i, out in ipairs(outs) do
      local what = "final reply cut at byte " .. cuts[i]
      hostile.assert_failure(out, 2 + SLACK)
      assert.equal("send", out.phase, what)
      assert.equal("uncertain", out.kind, what .. ": " .. out.err)
    end
  end)

  it("CHECKLIST 25: with CHUNKING, EOF at every byte of the reply to BDAT LAST, or "
     .. "silence -> uncertain", function()
    local data = hostile.smtp.MESSAGE.data
    local head = { { send = "220 mx.example.org ESMTP\r\n" }, { expect = "EHLO" },
      { send = "250-mx.example.org\r\n250-CHUNKING\r\n250 8BITMIME\r\n" },
      { expect = "MAIL" }, { send = "250 2.1.0 Ok\r\n" },
      { expect = "RCPT" }, { send = "250 2.1.5 Ok\r\n" },
      { expect = "RCPT" }, { send = "250 2.1.5 Ok\r\n" },
      { expect = "BDAT " .. #data .. " LAST" }, { read_bytes = #data } }
    local final = hostile.smtp.FINAL
    local scripts = {}
    for n = 0, #final - 1 do
      local sc = {}
      for _, st in ipairs(head) do sc[#sc + 1] = st end
      sc[#sc + 1] = { send = final:sub(1, n) }
      sc[#sc + 1] = { close = true }
      scripts[#scripts + 1] = sc
    end
    local silent = {}
    for _, st in ipairs(head) do silent[#silent + 1] = st end
    silent[#silent + 1] = hostile.probe(1.5)
    scripts[#scripts + 1] = silent
    local srv = serve(scripts)
    local outs = {}
    for i = 1, #scripts do
      outs[i] = hostile.smtp.run(srv, { auth = "none", chunking = true,
                                        timeout = i == #scripts and 0.5 or 2 })
    end
    local _, log = srv:finish()
    for i, out in ipairs(outs) do
      local what = i == #scripts and "silence after BDAT LAST"
                   or ("BDAT LAST reply cut at byte " .. (i - 1))
      hostile.assert_failure(out, 2 + SLACK)
      assert.equal("send", out.phase, what)
      assert.equal("uncertain", out.kind, what .. ": " .. out.err)
    end
    hostile.assert_silent_after(log, "after a timeout following BDAT LAST", #scripts)
  end)

  -- ------------------------------------------------------------------- POP3
  it("CHECKLIST 7 38 39: -ERR and close at every step of a STLS session", function()
    local ex = hostile.pop3.exchanges { tls = true }
    local scripts = {}
    for k = 1, #ex do
      scripts[#scripts + 1] = hostile.script(ex, k, hostile.fault("-ERR [SYS/TEMP] no\r\n"))
    end
    local srv = serve(scripts)
    local outs = {}
    for i = 1, #scripts do
      outs[i] = hostile.pop3.run(srv, { host = "localhost", tls = "starttls",
                                        cafile = srv.cafile })
    end
    local _, log = srv:finish()
    local opening = { greeting = true, CAPA = true, STLS = true, ["CAPA after TLS"] = true,
                      USER = true, PASS = true }
    for i, out in ipairs(outs) do
      local name = ex[i].name
      local what = "-ERR at " .. name
      local hits = hostile.probe_hits(log, i)
      hostile.assert_failure(out, 2 + SLACK)
      if name == "CAPA after TLS" or name == "CAPA after login" then
        -- CAPA is optional: the session goes on, then meets the closed connection
        for _, h in ipairs(hits) do assert.is_nil(h:find("DELE", 1, true), what) end
      elseif opening[name] then
        -- a failed opening: no QUIT, nothing (RFC 1939 6)
        assert.equal("open", out.phase, what)
        assert.same({}, hits, what)
      elseif name == "QUIT" then
        -- CHECKLIST 39: the -ERR to QUIT reaches the caller
        assert.equal("close", out.phase, what)
        assert.equal("reply", out.kind, what)
      elseif out.phase ~= "open" then
        assert.equal("reply", out.kind, what)
        -- after a -ERR the session is sound: QUIT may follow, DELE never
        for _, h in ipairs(hits) do assert.equal("QUIT", h, what) end
      end
    end
  end)

  it("CHECKLIST 8 9: pipelined lines after the STLS reply -> error, nothing follows",
     function()
    local ex = hostile.pop3.exchanges { tls = true }
    local k = hostile.index(ex, "STLS")
    local faults = { "+OK begin\r\n+OK SASL PLAIN\r\n", "+OK begin\r\n\22\3\1\0\5junk",
                     "-ERR not now\r\n+OK go on\r\n" }
    local scripts = {}
    for _, f in ipairs(faults) do scripts[#scripts + 1] = hostile.script(ex, k,
                                                                         hostile.fault(f)) end
    local srv = serve(scripts)
    local outs = {}
    for i = 1, #scripts do
      outs[i] = hostile.pop3.run(srv, { host = "localhost", tls = "starttls",
                                        cafile = srv.cafile })
    end
    local received, log = srv:finish()
    for i, out in ipairs(outs) do
      local what = scripted.escape(faults[i])
      hostile.assert_failure(out, 2 + SLACK)
      assert.equal("open", out.phase, what)
      assert.truthy(out.kind == "protocol" or out.kind == "tls", what .. ": " .. out.kind)
      hostile.assert_silent_after(log, what, i)
    end
    assert.is_nil(received:find("USER", 1, true))
    assert.is_nil(received:find("s3cret", 1, true))
  end)

  it("CHECKLIST 33 34: endless CAPA, LIST and RETR replies are stopped by the caps",
     function()
    local ex = hostile.pop3.exchanges()
    local entries = {}
    for n = 1, 3000 do entries[n] = n .. " 100\r\n" end
    local cases = {
      { "CAPA", "+OK\r\n" .. ("X-CAP\r\n"):rep(20000) },
      { "LIST", "+OK\r\n" .. table.concat(entries) },
      { "RETR", "+OK\r\n" .. ("y"):rep(70) .. ("\r\n" .. ("y"):rep(70)):rep(20000) },
    }
    local scripts = {}
    for _, c in ipairs(cases) do
      scripts[#scripts + 1] = hostile.script(ex, hostile.index(ex, c[1]), hostile.fault(c[2]))
    end
    local srv = serve(scripts)
    local outs = {}
    for i = 1, #scripts do
      outs[i] = hostile.pop3.run(srv, { max_messages = 1000, max_size = 64 * 1024 })
    end
    local _, log = srv:finish()
    for i, out in ipairs(outs) do
      hostile.assert_failure(out, 2 + SLACK)
      assert.equal("limit", out.kind, cases[i][1] .. ": " .. out.err)
      -- a cap kills the session mid-reply: nothing more, no DELE, no QUIT
      hostile.assert_silent_after(log, cases[i][1], i)
    end
  end)

  it("CHECKLIST 27 33: a malformed status line at each step -> protocol error, no QUIT",
     function()
    local ex = hostile.pop3.exchanges()
    local cases = { { "greeting", "+OKAY ready\r\n" }, { "STAT", "OK 2 320\r\n" },
                    { "LIST", "\r\n" }, { "RETR", "+ok\0 x\r\n" }, { "DELE", "250 ok\r\n" } }
    local scripts = {}
    for _, c in ipairs(cases) do
      scripts[#scripts + 1] = hostile.script(ex, hostile.index(ex, c[1]), hostile.fault(c[2]))
    end
    local srv = serve(scripts)
    local outs = {}
    for i = 1, #scripts do outs[i] = hostile.pop3.run(srv) end
    local _, log = srv:finish()
    for i, out in ipairs(outs) do
      local what = cases[i][1] .. ": " .. scripted.escape(cases[i][2])
      hostile.assert_failure(out, 2 + SLACK)
      assert.equal("protocol", out.kind, what)
      hostile.assert_silent_after(log, what, i)
    end
  end)

  it("CHECKLIST 28 33: a 10 MB line (greeting, LIST entry) is stopped by the line cap",
     function()
    local ex = hostile.pop3.exchanges()
    local huge = ("x"):rep(10 * 1024 * 1024)
    local cases = { { "greeting", "+OK " .. huge .. "\r\n" },
                    { "LIST", "+OK\r\n1 " .. huge .. "\r\n.\r\n" } }
    local scripts = {}
    for _, c in ipairs(cases) do
      scripts[#scripts + 1] = hostile.script(ex, hostile.index(ex, c[1]), hostile.fault(c[2]))
    end
    local srv = serve(scripts)
    local outs = {}
    for i = 1, #scripts do outs[i] = hostile.pop3.run(srv, { timeout = 5 }) end
    local _, log = srv:finish()
    for i, out in ipairs(outs) do
      hostile.assert_failure(out, 5 + SLACK)
      assert.equal("limit", out.kind, cases[i][1] .. ": " .. out.err)
      hostile.assert_silent_after(log, cases[i][1], i)
    end
  end)

  it("CHECKLIST 35 38 59: a drip-fed or stalled RETR, a stalled DELE: timeout, no DELE, "
     .. "no QUIT", function()
    local ex = hostile.pop3.exchanges()
    local retr = hostile.index(ex, "RETR")
    local scripts = {
      -- the body drips slower than the deadline allows
      hostile.script(ex, retr, { { send = "+OK\r\nSubject: x\r\n\r\n" },
        { drip = ("z"):rep(30), interval = 0.05 }, hostile.probe(1.5), { close = true } }),
      -- half the body, then silence
      hostile.script(ex, retr, { { send = hostile.pop3.RETR:sub(1, 60) }, hostile.probe(1.5),
                                 { close = true } }),
      -- DELE sent, no answer: deletions uncertain, so no QUIT either
      hostile.script(ex, hostile.index(ex, "DELE"), { hostile.probe(1.5), { close = true } }),
    }
    local srv = serve(scripts)
    local outs = {}
    for i = 1, #scripts do outs[i] = hostile.pop3.run(srv, { timeout = 0.5 }) end
    local _, log = srv:finish()
    local phases = { "retrieve", "retrieve", "delete" }
    for i, out in ipairs(outs) do
      hostile.assert_failure(out, 0.5 + SLACK)
      assert.equal(phases[i], out.phase, out.err)
      assert.equal("timeout", out.kind, out.err)
      if i < 3 then assert.matches("incomplete", out.err) end
      hostile.assert_silent_after(log, phases[i] .. " timed out", i)
    end
  end)

  it("CHECKLIST 12 36: EOF at every byte of a RETR reply -> incomplete, never the message",
     function()
    local ex = hostile.pop3.exchanges()
    local k = hostile.index(ex, "RETR")
    local scripts, cuts = hostile.truncations(ex, k, 1)
    local srv = serve(scripts)
    local outs = {}
    for i = 1, #scripts do outs[i] = hostile.pop3.run(srv) end
    srv:finish()
    local status_len = #hostile.pop3.RETR:match("^[^\n]*\n")
    for i, out in ipairs(outs) do
      local what = "RETR reply cut at byte " .. cuts[i]
      hostile.assert_failure(out, 2 + SLACK)
      assert.equal("retrieve", out.phase, what)
      assert.is_nil(out.raw, what)
      assert.truthy(out.kind == "closed" or out.kind == "protocol", what .. ": " .. out.kind)
      if cuts[i] >= status_len then assert.matches("incomplete", out.err, nil, nil, what) end
      -- the session is dead: nothing more on this connection
      assert.is_nil(srv.received_by_conn[i]:find("DELE", 1, true), what)
      assert.is_nil(srv.received_by_conn[i]:find("QUIT", 1, true), what)
    end
  end)

  it("CHECKLIST 36 38: messages{delete = true} with the RETR cut at sampled offsets: no DELE",
     function()
    local base = hostile.pop3.exchanges()
    -- LIST, UIDL, RETR 1: the walk the library drives itself
    local ex = {}
    for i = 1, hostile.index(base, "CAPA after login") do ex[#ex + 1] = base[i] end
    ex[#ex + 1] = { name = "LIST", expect = "LIST", reply = hostile.pop3.LIST }
    ex[#ex + 1] = { name = "UIDL", expect = "UIDL", reply = hostile.pop3.UIDL }
    ex[#ex + 1] = { name = "RETR", expect = "RETR 1", reply = hostile.pop3.RETR }
    local scripts, cuts = {}, {}
    local reply = hostile.pop3.RETR
    for n = 0, #reply - 1, 20 do
      scripts[#scripts + 1] = hostile.script(ex, #ex, { { send = reply:sub(1, n) },
                                                        hostile.probe(0.5), { close = true } })
      cuts[#cuts + 1] = n
    end
    local srv = serve(scripts)
    local pop3 = require "missive.pop3"
    local results = {}
    for i = 1, #scripts do
      local s = assert(pop3.session(hostile.pop3.options(srv, { timeout = 0.3 })))
      local handed = 0
      local ok, err = pcall(function()
        for _ in s:messages { delete = true, parse = false } do handed = handed + 1 end
      end)
      s:close()
      results[i] = { ok = ok, err = err, handed = handed }
    end
    local _, log = srv:finish()
    for i, r in ipairs(results) do
      local what = "RETR cut at byte " .. cuts[i]
      assert.is_false(r.ok, what)
      assert.equal(0, r.handed, what)
      assert.matches("%((%a+)%)", tostring(r.err))
      assert.truthy(hostile.KINDS[tostring(r.err):match("%((%a+)%)$")], tostring(r.err))
      hostile.assert_silent_after(log, what, i)
    end
  end)
end)
end
