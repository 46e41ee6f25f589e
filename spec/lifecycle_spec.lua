-- Sessions under abuse: abandoned mid-transfer, callbacks that raise, servers that
-- drip or stop reading (CHECKLIST 13, 56, 58, 59).
local scripted = require "support.scripted"
local smtp = require "missive.smtp"
local pop3 = require "missive.pop3"

-- Plain Lua 5.1 cannot yield across pcall (missive calls sources under pcall); LuaJIT
-- and 5.2+ can, and those are where coroutine schedulers run.
local CAN_YIELD = _VERSION ~= "Lua 5.1" or rawget(_G, "jit") ~= nil
local function yielding_it(name, fn)
  if CAN_YIELD then it(name, fn) else pending(name .. " (needs yield across pcall)") end
end

local GREET = {send = "220 scripted ESMTP\r\n"}
local EHLO = {expect = "EHLO"}
local EHLO_OK = {send = "250-scripted\r\n250 PIPELINING\r\n"}
local ENVELOPE = {{expect = "MAIL"}, {expect = "RCPT"}, {expect = "DATA"},
                  {send = "250 ok\r\n250 ok\r\n354 go\r\n"}}

local function steps(...)
  local out = {}
  for _, part in ipairs {...} do
    if part[1] then for _, s in ipairs(part) do out[#out + 1] = s end
    else out[#out + 1] = part end
  end
  return out
end

for _, driver_name in ipairs {"native", "luasocket"} do
  local function session(srv, extra)
    local o = {host = "127.0.0.1", port = srv.port, tls = "none", timeout = 2}
    if driver_name == "luasocket" then o.socket = require("socket").tcp end
    for k, v in pairs(extra or {}) do o[k] = v end
    return smtp.session(o)
  end

  describe("session lifecycle (" .. driver_name .. " driver)", function()
    yielding_it("CHECKLIST 56: a send abandoned mid-DATA is freed by the GC with no network I/O",
       function()
      local srv = scripted.start(steps(GREET, EHLO, EHLO_OK, ENVELOPE, {hold = 1}))
      local co = coroutine.create(function()
        local s = assert(session(srv))
        s:send{from = "a@x.test", to = "b@x.test", data = function()
          coroutine.yield("in the middle")
          return nil
        end}
      end)
      local ok, where = coroutine.resume(co)
      assert.is_true(ok)
      assert.equal("in the middle", where)
      co = nil  -- luacheck: ignore (dropped on purpose)
      collectgarbage()
      collectgarbage()
      local got = srv:finish()
      assert.is_nil(got:find("QUIT", 1, true))       -- __gc said nothing
      assert.is_nil(got:find("\r\n.\r\n", 1, true))  -- and no end of data
    end)

    it("CHECKLIST 58: a message source that raises leaves the session closed, unsent",
       function()
      local srv = scripted.start(steps(GREET, EHLO, EHLO_OK, ENVELOPE, {hold = 1}))
      local s = assert(session(srv))
      local n = 0
      local ok, err = pcall(s.send, s, {from = "a@x.test", to = "b@x.test", data = function()
        n = n + 1
        if n == 1 then return "Subject: x\r\n\r\n" end
        error("source broke")
      end})
      assert.is_false(ok)
      assert.matches("source broke", err)
      local r, _, kind = s:noop()
      assert.is_nil(r)
      assert.equal("closed", kind)
      assert.is_true(s:close())
      local got = srv:finish()
      assert.is_nil(got:find("\r\n.\r\n", 1, true))
    end)

    it("CHECKLIST 58: a trace function that raises does not leak or wedge the session",
       function()
      local srv = scripted.start(steps(GREET, EHLO, EHLO_OK, {hold = 0.5}))
      local ok, err = pcall(session, srv, {trace = function() error("trace broke") end})
      assert.is_false(ok)
      assert.matches("trace broke", err)
      collectgarbage()
      srv:finish()
    end)

    it("CHECKLIST 59: a drip-fed reply (a byte just inside the timeout) hits the deadline",
       function()
      local srv = scripted.start(steps(GREET, EHLO,
        {drip = "250-scripted\r\n250 PIPELINING\r\n", interval = 0.4}), {timeout = 15})
      local t0 = os.time()
      local s, _, kind = session(srv, {timeout = 1})
      assert.is_nil(s)
      assert.equal("timeout", kind)
      assert.is_true(os.time() - t0 <= 3)
      srv:finish()
    end)

    it("CHECKLIST 59: a server that stops reading during DATA hits the deadline, not sent",
       function()
      local srv = scripted.start(steps(GREET, EHLO, EHLO_OK, ENVELOPE, {sleep = 4}),
                                 {timeout = 10})
      local s = assert(session(srv, {timeout = 1}))
      local chunk = string.rep("x", 76) .. "\r\n"
      chunk = chunk:rep(math.floor(65536 / #chunk))
      local sent = 0
      local r, err, kind = s:send{from = "a@x.test", to = "b@x.test", data = function()
        if sent > 64 * 1024 * 1024 then return nil end
        sent = sent + #chunk
        return chunk
      end}
      assert.is_nil(r)
      assert.equal("timeout", kind, err)
      assert.is_true(sent < 64 * 1024 * 1024)
      s:close()
      srv:finish()
    end)
  end)
end

describe("no pooling (CHECKLIST 13)", function()
  it("CHECKLIST 13: each session verifies anew; nothing from an earlier one is reused",
     function()
    -- One cleartext session to the server, then a session that requires STARTTLS to
    -- the same address: it must negotiate (and here fail) on its own connection.
    local srv = scripted.start({
      {GREET, EHLO, EHLO_OK, {expect = "QUIT"}, {send = "221 bye\r\n"}},
      {GREET, EHLO, EHLO_OK, {hold = 0.5}},
    }, {connections = 2})
    local s = assert(smtp.session{host = "127.0.0.1", port = srv.port, tls = "none"})
    s:close()
    local s2, err, kind = smtp.session{host = "127.0.0.1", port = srv.port, tls = "starttls",
                                       timeout = 2}
    assert.is_nil(s2)
    assert.equal("tls", kind)
    assert.matches("STARTTLS", err)
    srv:finish()
  end)

  yielding_it("CHECKLIST 56: a POP3 session collected mid-retrieve sends nothing more",
              function()
    local body = string.rep("line of the message\r\n", 5000)
    local srv = scripted.start({
      {send = "+OK ready\r\n"}, {expect = "CAPA"}, {send = "+OK\r\nUSER\r\n.\r\n"},
      {expect = "USER"}, {send = "+OK\r\n"}, {expect = "PASS"}, {send = "+OK\r\n"},
      {expect = "CAPA"}, {send = "+OK\r\nUSER\r\n.\r\n"},
      {expect = "RETR 1"}, {send = "+OK\r\n" .. body .. ".\r\n"}, {hold = 1}})
    local co = coroutine.create(function()
      local p = assert(pop3.session{host = "127.0.0.1", port = srv.port, tls = "none",
                                    user = "u", password = "p", timeout = 2})
      p:retrieve(1, function() coroutine.yield("chunk") end)
    end)
    local ok, what = coroutine.resume(co)
    assert.is_true(ok, what)
    co = nil  -- luacheck: ignore
    collectgarbage()
    collectgarbage()
    local got = srv:finish()
    assert.is_nil(got:find("QUIT", 1, true))
    assert.is_nil(got:find("DELE", 1, true))
  end)
end)
