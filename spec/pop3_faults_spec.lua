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

local function open(srv, extra)
  local o = { host = "127.0.0.1", port = srv.port, tls = "none", user = "alice",
              password = "secret", auth = "user", timeout = 3 }
  for k, v in pairs(extra or {}) do o[k] = v end
  return pop3.session(o)
end

describe("pop3 faults", function()
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
    assert.is_true(s:noop())  -- the session is still in step
    s = nil -- luacheck: ignore
    collectgarbage()
    collectgarbage()
    local received = srv:finish()
    assert.not_matches("DELE", received)
    assert.not_matches("QUIT", received)
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
end)
