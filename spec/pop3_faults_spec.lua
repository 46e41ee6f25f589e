-- POP3 faults against a scripted server: CHECKLIST items 6-12 and 33-41.
local scripted = require "support.scripted"
local pop3 = require "missive.pop3"

local GREET = { send = "+OK ready <1896.697170952@dbc.example>\r\n" }
local function login_steps(extra_capa)
  return {
    GREET,
    { expect = "CAPA" },
    { send = "+OK\r\nUSER\r\nPIPELINING\r\n" .. (extra_capa or "") .. ".\r\n" },
    { expect = "USER alice" }, { send = "+OK\r\n" },
    { expect = "PASS secret" }, { send = "+OK logged in\r\n" },
    { expect = "CAPA" }, { send = "+OK\r\nUSER\r\nPIPELINING\r\nUIDL\r\n.\r\n" },
  }
end

local function steps(list, more)
  local t = {}
  for _, s in ipairs(list) do t[#t + 1] = s end
  for _, s in ipairs(more) do t[#t + 1] = s end
  return t
end

-- Sinks run under pcall (a raising sink must not leave the session half-way): a yield
-- from one needs a yieldable pcall, which Lua 5.1 lacks.
local YIELDABLE_PCALL = (function()
  local co = coroutine.create(function() pcall(coroutine.yield) end)
  coroutine.resume(co)
  return coroutine.status(co) == "suspended"
end)()

-- Every spec runs twice: with the native C driver, and with LuaSocket objects moving
-- the bytes through lua/missive/driver.lua (the path cosockets take).
local DRIVER

local function socket_now() return require("socket").gettime() end

local function open(srv, extra)
  local o = { host = "127.0.0.1", port = srv.port, tls = "none", user = "alice",
              password = "secret", auth = "user", timeout = 3 }
  if DRIVER == "luasocket" then o.socket = require("socket").tcp end
  for k, v in pairs(extra or {}) do o[k] = v end
  return pop3.session(o)
end

for _, driver_name in ipairs { "native", "luasocket" } do
describe("pop3 faults (scripted server, " .. driver_name .. " driver)", function()
  setup(function() DRIVER = driver_name end)

  it("CHECKLIST 6: STLS required but not in CAPA, or CAPA -ERR: error before any login", function()
    for _, capa in ipairs { "+OK\r\nUSER\r\n.\r\n", "-ERR no CAPA\r\n" } do
      local srv = scripted.start({ GREET, { expect = "CAPA" }, { send = capa },
                                   { hold = 0.3 } })
      local s, err, kind = open(srv, { tls = "starttls" })
      assert.is_nil(s)
      assert.equal("tls", kind)
      assert.matches("STLS", err)
      local received = srv:finish()
      assert.equal("CAPA\r\n", received)
    end
  end)

  it("CHECKLIST 7: STLS answered -ERR: error and close, plaintext never continues", function()
    local srv = scripted.start({ GREET, { expect = "CAPA" }, { send = "+OK\r\nSTLS\r\n.\r\n" },
      { expect = "STLS" }, { send = "-ERR not now\r\n" }, { hold = 0.3 } })
    local s, err, kind, reply = open(srv, { tls = "starttls" })
    assert.is_nil(s)
    assert.equal("tls", kind)
    assert.matches("STLS refused", err)
    assert.equal("not now", reply.text)
    assert.equal("CAPA\r\nSTLS\r\n", (srv:finish()))
  end)

  it("a refused login gives the response code (RFC 2449 §8, RFC 3206) in reply.code",
     function()
    local srv = scripted.start({ GREET, { expect = "CAPA" },
      { send = "+OK\r\nUSER\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n.\r\n" },
      { expect = "USER alice" }, { send = "+OK\r\n" },
      { expect = "PASS secret" }, { send = "-ERR [IN-USE] maildrop locked by another session\r\n" },
      { hold = 0.3 } })
    local s, err, kind, reply = open(srv)
    assert.is_nil(s)
    assert.equal("auth", kind)
    assert.equal("authentication failed: -ERR [IN-USE] maildrop locked by another session",
                 err)
    assert.same({ status = "-ERR", code = "IN-USE",
                  text = "[IN-USE] maildrop locked by another session" }, reply)
    srv:finish()
    -- A server that did not announce RESP-CODES: the bracket is only text.
    srv = scripted.start({ GREET, { expect = "CAPA" }, { send = "+OK\r\nUSER\r\n.\r\n" },
      { expect = "USER alice" }, { send = "+OK\r\n" },
      { expect = "PASS secret" }, { send = "-ERR [IN-USE] maildrop locked\r\n" },
      { hold = 0.3 } })
    s, err, kind, reply = open(srv)
    assert.is_nil(s)
    assert.equal("auth", kind)
    assert.equal("authentication failed: -ERR [IN-USE] maildrop locked", err)
    assert.same({ status = "-ERR", text = "[IN-USE] maildrop locked" }, reply)
    srv:finish()
  end)

  it("CHECKLIST 8: +OK to STLS with a pipelined fake line is a protocol error", function()
    local srv = scripted.start({ GREET, { expect = "CAPA" }, { send = "+OK\r\nSTLS\r\n.\r\n" },
      { expect = "STLS" }, { send = "+OK begin\r\n+OK SASL PLAIN\r\n" }, { hold = 0.3 } })
    local s, _, kind = open(srv, { tls = "starttls" })
    assert.is_nil(s)
    assert.equal("protocol", kind)
    assert.equal("CAPA\r\nSTLS\r\n", (srv:finish()))
  end)

  it("CHECKLIST 9: plaintext bytes waiting at the switch to TLS: error", function()
    local srv = scripted.start({ GREET, { expect = "CAPA" }, { send = "+OK\r\nSTLS\r\n.\r\n" },
      { expect = "STLS" }, { send = "+OK begin\r\n\22\3\1junk" }, { hold = 0.3 } })
    local s, err, kind = open(srv, { tls = "starttls" })
    assert.is_nil(s)
    assert.equal("protocol", kind)
    assert.matches("before the TLS handshake", err)
  end)

  it("CHECKLIST 10: only the post-TLS CAPA decides the SASL mechanism", function()
    local srv = scripted.start({ GREET, { expect = "CAPA" },
      { send = "+OK\r\nSTLS\r\nSASL CRAM-MD5\r\n.\r\n" },
      { expect = "STLS" }, { send = "+OK begin\r\n" }, { tls = true },
      { expect = "CAPA" }, { send = "+OK\r\nSASL PLAIN\r\n.\r\n" },
      { expect = "AUTH PLAIN " }, { send = "+OK\r\n" },
      { expect = "CAPA" }, { send = "+OK\r\n.\r\n" },
      { expect = "QUIT" }, { send = "+OK bye\r\n" } })
    local s = assert(open(srv, { host = "localhost", tls = "starttls", cafile = srv.cafile,
                                 auth = "auto" }))
    assert.equal("PLAIN", s:auth_mechanism())
    assert.is_true(s:close())
    local _, log = srv:finish()
    assert.same({}, scripted.failures(log), scripted.format(log))
  end)

  it("CHECKLIST 11: +OK to STLS then silence: the handshake deadline fires", function()
    local srv = scripted.start({ GREET, { expect = "CAPA" }, { send = "+OK\r\nSTLS\r\n.\r\n" },
      { expect = "STLS" }, { send = "+OK begin\r\n" }, { hold = 3 } })
    local t0 = os.time()
    local s, _, kind = open(srv, { tls = "starttls", timeout = 0.5 })
    assert.is_nil(s)
    assert.equal("timeout", kind)
    assert.is_true(os.time() - t0 <= 2)
    srv:finish()
  end)

  it("CHECKLIST 12: TLS connection cut inside a RETR body: incomplete, never complete", function()
    local srv = scripted.start({ { tls = true }, GREET, { expect = "CAPA" },
      { send = "+OK\r\nUSER\r\n.\r\n" }, { expect = "USER" }, { send = "+OK\r\n" },
      { expect = "PASS" }, { send = "+OK\r\n" }, { expect = "CAPA" }, { send = "+OK\r\n.\r\n" },
      { expect = "RETR 1" }, { send = "+OK\r\nSubject: x\r\n\r\npartial" }, { close = true } })
    local s = assert(open(srv, { host = "localhost", tls = "implicit", cafile = srv.cafile }))
    local raw, err, kind = s:retrieve(1)
    assert.is_nil(raw)
    assert.equal("closed", kind)
    assert.matches("incomplete", err)
    s:close()
    srv:finish()
  end)

  it("CHECKLIST 33: overlong UIDL line, zero/huge numbers, duplicate UIDs: bounded errors",
     function()
    local cases = {
      { "UIDL", "+OK\r\n1 " .. ("u"):rep(20000) .. "\r\n.\r\n", "limit" },
      { "LIST", "+OK\r\n0 10\r\n.\r\n", "protocol" },
      { "LIST", "+OK\r\n-1 10\r\n.\r\n", "protocol" },
      { "LIST", "+OK\r\n99999999999999999999999 10\r\n.\r\n", "protocol" },
      { "UIDL", "+OK\r\n1 same\r\n2 same\r\n.\r\n", "protocol" },
      { "LIST", "+OK\r\n2 10\r\n2 10\r\n.\r\n", "protocol" },
    }
    for _, c in ipairs(cases) do
      local srv = scripted.start(steps(login_steps(), { { expect = c[1] }, { send = c[2] },
                                                        { hold = 0.3 } }))
      local s = assert(open(srv))
      local t, _, kind = (c[1] == "UIDL" and s.uidl or s.list)(s)
      assert.is_nil(t)
      assert.equal(c[3], kind)
      s:close()
      srv:finish()
    end
  end)

  it("CHECKLIST 34: a size that lies is caught; a 4 GB claim is refused before RETR", function()
    local big = ("x"):rep(200000)
    local srv = scripted.start(steps(login_steps(), {
      { expect = "LIST" }, { send = "+OK\r\n1 10\r\n2 4294967296\r\n.\r\n" },
      { expect = "UIDL" }, { send = "+OK\r\n1 a\r\n2 b\r\n.\r\n" },
      { read_line = true }, { send = "+OK\r\n" .. big .. "\r\n.\r\n" }, { hold = 0.5 } }))
    local s = assert(open(srv, { max_size = 1024 * 1024 }))
    local ok, err = pcall(function() for _ in s:messages { delete = true } do end end)
    assert.is_false(ok)
    assert.matches("larger than the 10 bytes the server listed", err)
    s:close()
    local received = srv:finish()
    assert.not_matches("DELE", received)
    assert.not_matches("RETR 2", received)
    assert.not_matches("QUIT", received)
    -- the claim alone
    srv = scripted.start(steps(login_steps(), {
      { expect = "LIST" }, { send = "+OK\r\n1 4294967296\r\n.\r\n" },
      { expect = "UIDL" }, { send = "+OK\r\n1 a\r\n.\r\n" }, { hold = 0.3 } }))
    s = assert(open(srv, { max_size = 1024 * 1024 }))
    local all, _, kind = s:get_all()
    assert.is_nil(all)
    assert.equal("limit", kind)
    s:close()
    assert.not_matches("RETR", (srv:finish()))
  end)

  it("CHECKLIST 35: a RETR body that never ends (drip): deadline, no handoff, no DELE", function()
    local srv = scripted.start(steps(login_steps(), {
      { expect = "RETR 1" }, { send = "+OK\r\nSubject: x\r\n\r\n" },
      { drip = ("y"):rep(40), interval = 0.05 }, { hold = 1 } }))
    local s = assert(open(srv, { timeout = 1 }))
    local got = {}
    local raw, err, kind = s:retrieve(1, function(c) got[#got + 1] = c end)
    assert.is_nil(raw)
    assert.equal("timeout", kind)
    assert.matches("incomplete", err)
    assert.is_true(s:close())
    local received = srv:finish()
    assert.not_matches("DELE", received)
    assert.not_matches("QUIT", received)
  end)

  it("CHECKLIST 36: RETR cut by EOF before the terminator: incomplete, no DELE, no QUIT", function()
    local srv = scripted.start(steps(login_steps(), {
      { expect = "LIST" }, { send = "+OK\r\n1 30\r\n.\r\n" },
      { expect = "UIDL" }, { send = "+OK\r\n1 a\r\n.\r\n" },
      { expect = "RETR 1" }, { send = "+OK\r\nSubject: x\r\n\r\nbody\r\n" }, { close = true } }))
    local s = assert(open(srv))
    local handed = 0
    local ok, err = pcall(function()
      for _ in s:messages { delete = true } do handed = handed + 1 end
    end)
    assert.is_false(ok)
    assert.matches("incomplete", err)
    assert.equal(0, handed)
    assert.is_true(s:close())
    local received = srv:finish()
    assert.not_matches("DELE", received)
    assert.not_matches("QUIT", received)
  end)

  it("CHECKLIST 37: byte-unstuffing and a '.' line in the middle of the body", function()
    local srv = scripted.start(steps(login_steps(), {
      { expect = "RETR 1" }, { send = "+OK\r\na\r\n..x\r\n...\r\n..\r\nb\r\n.\r\n" },
      { expect = "QUIT" }, { send = "+OK\r\n" } }))
    local s = assert(open(srv))
    assert.equal("a\r\n.x\r\n..\r\n.\r\nb\r\n", s:retrieve(1))
    assert.is_true(s:close())
    srv:finish()
  end)

  it("CHECKLIST 38: a failing or raising handoff means no DELE; __gc sends no QUIT", function()
    local srv = scripted.start(steps(login_steps(), {
      { expect = "RETR 1" }, { send = "+OK\r\n" .. ("z"):rep(100000) .. "\r\n.\r\n" },
      { expect = "RETR 1" }, { send = "+OK\r\nsmall\r\n.\r\n" },
      { expect = "NOOP" }, { send = "+OK\r\n" }, { hold = 0.5 } }))
    local s = assert(open(srv))
    local raw, err, kind = s:retrieve(1, function() return nil, "disk full" end)
    assert.is_nil(raw)
    assert.equal("io", kind)
    assert.matches("disk full", err)
    assert.has_error(function() s:retrieve(1, function() error("handler raised") end) end)
    assert.is_table(s:noop())  -- the session is still in step
    s = nil -- luacheck: ignore
    collectgarbage()
    collectgarbage()
    local received = srv:finish()
    assert.not_matches("DELE", received)
    assert.not_matches("QUIT", received)
  end)

  it("CHECKLIST 70, 59: after a sink failure an endless body is bounded by max_time",
     function()
    -- 70 KB every 0.3 s: each chunk is progress (it re-arms the 1 s timeout), so only
    -- the command's total bound can stop it.
    local srv = scripted.start(steps(login_steps(), {
      { expect = "RETR 1" }, { send = "+OK\r\n" },
      { flood = ("y"):rep(70000) .. "\r\n", seconds = 8, interval = 0.3 } }),
      { timeout = 12 })
    local s = assert(open(srv, { timeout = 1, max_time = 2 }))
    local t0 = socket_now()
    local raw, err, kind = s:retrieve(1, function() return nil, "disk full" end)
    local took = socket_now() - t0
    assert.is_nil(raw)
    assert.equal("timeout", kind)
    assert.matches("disk full", err)
    assert.matches("max_time", err)
    assert.is_true(took < 4, "took " .. took .. " s")
    assert.is_true(s:close())
    local received = srv:finish()
    assert.not_matches("DELE", received)
    assert.not_matches("QUIT", received)
  end)

  it("CHECKLIST 70: discarding after a sink failure honours max_size", function()
    local srv = scripted.start(steps(login_steps(), {
      { expect = "RETR 1" }, { send = "+OK\r\n" },
      { flood = ("y"):rep(70000) .. "\r\n", seconds = 8 } }), { timeout = 12 })
    local s = assert(open(srv, { max_size = 300000 }))
    local t0 = socket_now()
    local raw, err, kind = s:retrieve(1, function() return nil, "disk full" end)
    assert.is_nil(raw)
    assert.equal("limit", kind)
    assert.matches("max_size", err)
    assert.is_true(socket_now() - t0 < 3)
    assert.is_true(s:close())
    assert.not_matches("QUIT", (srv:finish()))
  end)

  it("CHECKLIST 70: skipping a sent-ahead RETR after leaving a walk honours max_size",
     function()
    local srv = scripted.start(steps(login_steps(), {
      { expect = "LIST" }, { send = "+OK\r\n1 20\r\n2 20\r\n.\r\n" },
      { expect = "UIDL" }, { send = "+OK\r\n1 a\r\n2 b\r\n.\r\n" },
      { expect = "RETR 1" }, { expect = "RETR 2" },
      { send = "+OK\r\nSubject: 1\r\n\r\none\r\n.\r\n+OK\r\n" },
      { flood = ("y"):rep(70000) .. "\r\n", seconds = 8 } }), { timeout = 12 })
    local s = assert(open(srv, { max_size = 300000 }))
    assert.equal("a", assert(s:read_first { parse = false }).uid)
    local t0 = socket_now()
    local ok, _, kind = s:noop()   -- reads RETR 2's reply into the void first
    assert.is_nil(ok)
    assert.equal("limit", kind)
    assert.is_true(socket_now() - t0 < 3)
    assert.is_true(s:close())
    srv:finish()
  end)

  it("CHECKLIST 70: one LIST or UIDL reply is bounded by max_listing_bytes (8 MiB default)",
     function()
    local lines = {}
    for i = 1, 36000 do lines[i] = i .. " " .. ("u"):rep(240) .. "\r\n" end
    local huge = "+OK\r\n" .. table.concat(lines) .. ".\r\n"   -- 8.9 MB, 36000 entries
    local srv = scripted.start(steps(login_steps(), {
      { expect = "UIDL" }, { send = huge }, { hold = 0.3 } }), { timeout = 20 })
    local s = assert(open(srv))
    local t, err, kind = s:uidl()
    assert.is_nil(t)
    assert.equal("limit", kind)
    assert.matches("max_listing_bytes", err)
    s:close()
    srv:finish()
    -- The budget counts every line of the reply, the final "." too: 3 entries are 21 bytes.
    srv = scripted.start(steps(login_steps(), {
      { expect = "LIST" }, { send = "+OK\r\n1 10\r\n2 10\r\n3 10\r\n.\r\n" },
      { expect = "LIST" }, { send = "+OK\r\n1 10\r\n2 10\r\n3 10\r\n4 10\r\n.\r\n" },
      { hold = 0.3 } }))
    s = assert(open(srv, { max_listing_bytes = 21 }))
    assert.same({ 10, 10, 10 }, (assert(s:list())))
    t, err, kind = s:list()
    assert.is_nil(t)
    assert.equal("limit", kind)
    assert.matches("max_listing_bytes %(21%)", err)
    s:close()
    srv:finish()
  end)

  it("CHECKLIST 70: a message number of 2^31 or more is a protocol error, never a raise",
     function()
    for _, listing in ipairs { "+OK\r\n1 10\r\n2147483648 10\r\n.\r\n",
                               "+OK\r\n4294967295 10\r\n.\r\n" } do
      local srv = scripted.start(steps(login_steps(), {
        { expect = "LIST" }, { send = listing }, { hold = 0.3 } }))
      local s = assert(open(srv))
      local all, err, kind = s:get_all()
      assert.is_nil(all)
      assert.equal("protocol", kind)
      assert.matches("LIST", err)
      s:close()
      assert.not_matches("RETR", (srv:finish()))
    end
    local srv = scripted.start(steps(login_steps(), {
      { expect = "UIDL 1" }, { send = "+OK 2147483649 abc\r\n" }, { hold = 0.3 } }))
    local s = assert(open(srv))
    local uid, _, kind = s:uidl(1)
    assert.is_nil(uid)
    assert.equal("protocol", kind)
    s:close()
    srv:finish()
  end)

  it("CHECKLIST 60: CAPA keywords and SASL names reach Lua without control or ANSI bytes",
     function()
    local evil = "+OK\r\nUSER\r\nX-\27[31mRED\27[0m\r\nSASL PLAIN\1 \27]0;t\7LOGIN\r\n"
                 .. "IMPLEMENTATION \27[2Jwiped\r\n.\r\n"
    local srv = scripted.start({ GREET, { expect = "CAPA" }, { send = evil },
      { expect = "USER alice" }, { send = "+OK\r\n" },
      { expect = "PASS secret" }, { send = "+OK logged in\r\n" },
      { expect = "CAPA" }, { send = evil }, { expect = "QUIT" }, { send = "+OK\r\n" } })
    local s = assert(open(srv))
    local caps = s:capabilities()
    local n = 0
    for k, v in pairs(caps) do
      n = n + 1
      assert.is_nil(k:find("[%c\127]"), "key " .. scripted.escape(k))
      local values = type(v) == "table" and v or { v }
      for _, x in ipairs(values) do
        if type(x) == "string" then
          assert.is_nil(x:find("[%c\127]"), scripted.escape(k) .. " = " .. scripted.escape(x))
        end
      end
    end
    assert.equal(4, n)
    assert.equal("PLAIN?", caps.SASL[1])
    assert.is_true(s:close())
    srv:finish()
  end)

  it("CHECKLIST 39: QUIT answered -ERR is reported to the caller", function()
    local srv = scripted.start(steps(login_steps(), {
      { expect = "DELE 1" }, { send = "+OK\r\n" },
      { expect = "QUIT" }, { send = "-ERR some deleted messages not removed\r\n" } }))
    local s = assert(open(srv))
    assert.is_true(s:delete(1))
    local ok, err, kind, reply = s:close()
    assert.is_nil(ok)
    assert.equal("reply", kind)
    assert.matches("not removed", err)
    assert.equal("some deleted messages not removed", reply.text)
    assert.is_true(s:close())
    srv:finish()
  end)

  it("CHECKLIST 40: pathological APOP greeting is linear; cleartext login refused", function()
    local greeting = "+OK " .. ("<"):rep(4000) .. ("<@"):rep(1900) .. "\r\n"
    local srv = scripted.start({ { send = greeting }, { expect = "CAPA" },
      { send = "+OK\r\nUSER\r\n.\r\n" }, { hold = 0.3 } })
    local t0 = os.clock()
    local s, err, kind = open(srv, { _assume_remote = true })
    assert.is_true(os.clock() - t0 < 1)
    assert.is_nil(s)
    assert.equal("auth", kind)
    assert.matches("unencrypted", err)
    assert.equal("CAPA\r\n", (srv:finish()))
  end)

  it("CHECKLIST 41: CR or LF in USER, PASS or a message number is rejected", function()
    local srv = scripted.start(steps(login_steps(), { { expect = "QUIT" },
                                                      { send = "+OK\r\n" } }))
    for _, o in ipairs { { user = "alice\r\nDELE 1" }, { password = "x\nDELE 1" } } do
      local s, err, kind = open(srv, o)
      assert.is_nil(s)
      assert.equal("argument", kind)
      assert.not_matches("DELE", err)
    end
    local s = assert(open(srv))
    assert.has_error(function() s:retrieve("1\r\nDELE 2") end)
    assert.has_error(function() s:delete(" 1\r\n") end)
    assert.is_true(s:close())
    local received = srv:finish()
    assert.not_matches("DELE", received)
  end)

  it("RETR streams to a sink in bounded chunks, with progress; in memory it is whole",
     function()
    local body = ("0123456789abcdef"):rep(300000 / 16) .. "\r\n"
    local srv = scripted.start(steps(login_steps(), {
      { expect = "RETR 1" }, { send = "+OK\r\n" .. body .. ".\r\n" },
      { expect = "RETR 1" }, { send = "+OK\r\n" .. body .. ".\r\n" },
      { expect = "QUIT" }, { send = "+OK\r\n" } }))
    local s = assert(open(srv))
    local chunks, seen = {}, {}
    assert.is_true(s:retrieve(1, function(c) chunks[#chunks + 1] = c return true end,
                              function(got, total)
                                assert.is_nil(total)
                                seen[#seen + 1] = got
                              end))
    assert.equal(body, table.concat(chunks))
    assert.is_true(#chunks >= 3)
    for _, c in ipairs(chunks) do assert.is_true(#c <= 65536) end
    for i = 2, #seen do assert.is_true(seen[i] >= seen[i - 1]) end
    assert.equal(#body, seen[#seen])
    assert.equal(body, s:retrieve(1))
    assert.is_true(s:close())
    local _, log = srv:finish()
    assert.same({}, scripted.failures(log), scripted.format(log))
  end)

  it("max_size bounds a message kept in memory", function()
    local srv = scripted.start(steps(login_steps(), {
      { expect = "RETR 1" }, { send = "+OK\r\n" .. ("x"):rep(5000) .. "\r\n.\r\n" },
      { hold = 0.3 } }))
    local s = assert(open(srv, { max_size = 1000 }))
    local raw, err, kind = s:retrieve(1)
    assert.is_nil(raw)
    assert.equal("limit", kind)
    assert.matches("max_size", err)
    s:close()
    srv:finish()
  end)

  it("sinks, progress, trace and the socket may yield (callbacks run in Lua)", function()
    if not YIELDABLE_PCALL then
      pending("Lua 5.1 cannot yield across pcall (5.2+ and LuaJIT can)")
      return
    end
    local body = ("y"):rep(200000) .. "\r\n"
    local srv = scripted.start(steps(login_steps(), {
      { expect = "RETR 1" }, { send = "+OK\r\n" .. body .. ".\r\n" },
      { expect = "QUIT" }, { send = "+OK\r\n" } }))
    local yields = 0
    local extra = { trace = function() coroutine.yield("trace") end,
                    progress = function() coroutine.yield("progress") end }
    if DRIVER == "luasocket" then
      -- A cosocket-like object: every receive and send yields first.
      extra.socket = function()
        local tcp = require("socket").tcp()
        local w = {}
        for _, m in ipairs { "connect", "settimeout", "close", "getfd" } do
          w[m] = function(_, ...) return tcp[m](tcp, ...) end
        end
        function w.receive(_, ...)
          coroutine.yield("receive")
          return tcp:receive(...)
        end
        function w.send(_, ...)
          coroutine.yield("send")
          return tcp:send(...)
        end
        w.tcp = tcp
        return w
      end
    end
    local got = {}
    local co = coroutine.create(function()
      local s = assert(open(srv, extra))
      assert.is_true(s:retrieve(1, function(c)
        coroutine.yield("sink")
        got[#got + 1] = c
      end))
      assert.is_true(s:close())
      return "finished"
    end)
    local kinds = {}
    while true do
      local ok, what = coroutine.resume(co)
      assert(ok, what)
      if coroutine.status(co) == "dead" then
        assert.equal("finished", what)
        break
      end
      yields = yields + 1
      kinds[what] = true
    end
    assert.equal(body, table.concat(got))
    assert.is_true(kinds.sink and kinds.progress and kinds.trace)
    if DRIVER == "luasocket" then assert.is_true(kinds.receive and kinds.send) end
    assert.is_true(yields > 10)
    local _, log = srv:finish()
    assert.same({}, scripted.failures(log), scripted.format(log))
  end)

  it("messages{delete = true} pipelined: DELE only for messages handed out, then QUIT",
     function()
    local srv = scripted.start(steps(login_steps(), {
      { expect = "LIST" }, { send = "+OK\r\n1 20\r\n2 20\r\n.\r\n" },
      { expect = "UIDL" }, { send = "+OK\r\n1 a\r\n2 b\r\n.\r\n" },
      { expect = "RETR 1" }, { expect = "RETR 2" },
      { send = "+OK\r\nSubject: 1\r\n\r\none\r\n.\r\n+OK\r\nSubject: 2\r\n\r\ntwo\r\n.\r\n" },
      { expect = "DELE 1" }, { expect = "DELE 2" }, { expect = "NOOP" },
      { send = "+OK\r\n+OK\r\n+OK\r\n" },
      { expect = "QUIT" }, { send = "+OK\r\n" } }))
    local s = assert(open(srv))
    local uids = {}
    for m in s:messages { delete = true, parse = false } do uids[#uids + 1] = m.uid end
    assert.same({ "a", "b" }, uids)
    assert.is_true(s:close())
    local _, log = srv:finish()
    assert.same({}, scripted.failures(log), scripted.format(log))
  end)

  it("read_first/read_next walk the mailbox; __close QUITs only on a normal exit",
     function()
    local srv = scripted.start({ steps(login_steps(), {
      { expect = "LIST" }, { send = "+OK\r\n1 9\r\n.\r\n" },
      { expect = "UIDL" }, { send = "+OK\r\n1 a\r\n.\r\n" },
      { expect = "RETR 1" }, { send = "+OK\r\nSubject: 1\r\n\r\nx\r\n.\r\n" },
      { expect = "QUIT" }, { send = "+OK\r\n" } }),
      steps(login_steps(), { { hold = 0.5 } }) }, { connections = 2 })
    local s = assert(open(srv))
    local m = assert(s:read_first { parse = false })
    assert.is_false(m.out)
    assert.equal("a", m.uid)
    assert.is_true(s:read_next().out)
    assert.is_true(s:out())
    getmetatable(s).__close(s, nil)
    assert.is_true(s:is_closed())
    local s2 = assert(open(srv))
    getmetatable(s2).__close(s2, "an error")
    assert.is_true(s2:is_closed())
    assert.is_true(s2:close())
    local received, log = srv:finish()
    assert.same({}, scripted.failures(log), scripted.format(log))
    assert.equal(1, select(2, received:gsub("QUIT", "")))
  end)
end)
end

-- A LuaSocket tcp object seen through a wrapper: `changes` replaces methods, and a
-- method set to false is hidden.
local function wrapped_tcp(changes)
  local tcp = require("socket").tcp()
  local w = {}
  for _, m in ipairs { "connect", "settimeout", "send", "receive", "close", "getfd",
                       "getpeername" } do
    w[m] = function(_, ...) return tcp[m](tcp, ...) end
  end
  for k, v in pairs(changes or {}) do w[k] = v or nil end
  return w
end

describe("loopback is decided from the peer address (socket objects)", function()
  local function refused(srv, o)
    local s, err, kind = pop3.session(o)
    assert.is_nil(s)
    assert.equal("auth", kind)
    assert.matches("insecure_auth", err)
    local received = srv:finish()
    assert.equal("CAPA\r\n", received)
  end

  local function pop3_opts(srv, sock)
    return { host = "localhost", port = srv.port, tls = "none", user = "alice",
             password = "secret", auth = "user", timeout = 3, socket = sock }
  end

  it("CHECKLIST 66: host 'localhost' with a non-loopback getpeername: no cleartext login",
     function()
    local srv = scripted.start({ GREET, { expect = "CAPA" }, { send = "+OK\r\nUSER\r\n.\r\n" },
                                 { hold = 0.3 } })
    refused(srv, pop3_opts(srv, wrapped_tcp {
      getpeername = function() return "192.0.2.7", srv.port, "inet" end }))
  end)

  it("CHECKLIST 66: host 'localhost' on an object without getpeername is not loopback",
     function()
    local srv = scripted.start({ GREET, { expect = "CAPA" }, { send = "+OK\r\nUSER\r\n.\r\n" },
                                 { hold = 0.3 } })
    refused(srv, pop3_opts(srv, wrapped_tcp { getpeername = false }))
  end)

  it("CHECKLIST 66: a loopback peer address or IP literal keeps the loopback default",
     function()
    local login = steps(login_steps(), { { expect = "QUIT" }, { send = "+OK\r\n" } })
    local srv = scripted.start({ login, login }, { connections = 2 })
    local o = pop3_opts(srv, wrapped_tcp())               -- getpeername says 127.0.0.1
    assert(pop3.session(o)):close()
    o = pop3_opts(srv, wrapped_tcp { getpeername = false })
    o.host = "127.0.0.1"
    assert(pop3.session(o)):close()
    local _, log = srv:finish()
    assert.same({}, scripted.failures(log), scripted.format(log))
  end)

  it("CHECKLIST 66: SMTP follows the same rule (driver.lua is shared)", function()
    local smtp = require "missive.smtp"
    local srv = scripted.start({ { send = "220 scripted ESMTP\r\n" }, { expect = "EHLO" },
      { send = "250-scripted\r\n250 AUTH PLAIN LOGIN\r\n" }, { hold = 0.3 } })
    local s, _, kind = smtp.session { host = "localhost", port = srv.port, tls = "none",
      user = "alice", password = "secret", timeout = 3, socket = wrapped_tcp {
        getpeername = function() return "2001:db8::1", srv.port, "inet6" end } }
    assert.is_nil(s)
    assert.equal("auth", kind)
    assert.not_matches("AUTH", (srv:finish()))
  end)
end)

describe("a socket object whose own timeout is shorter than the session's", function()
  it("waits on until the session deadline (no getfd: no select)", function()
    local srv = scripted.start(steps({ { sleep = 0.6 } }, steps(login_steps(), {
      { expect = "STAT" }, { sleep = 0.6 }, { send = "+OK 0 0\r\n" },
      { expect = "QUIT" }, { send = "+OK\r\n" } })))
    local sock = wrapped_tcp { getfd = false }
    local settimeout = sock.settimeout
    -- An object that never waits longer than 0.1 s whatever it is asked.
    sock.settimeout = function(self, t) return settimeout(self, t and math.min(t, 0.1)) end
    local s = assert(pop3.session { host = "127.0.0.1", port = srv.port, tls = "none",
      user = "alice", password = "secret", auth = "user", timeout = 3, socket = sock })
    assert.equal(0, (s:stat()))
    assert.is_true(s:close())
    local _, log = srv:finish()
    assert.same({}, scripted.failures(log), scripted.format(log))
  end)
end)
