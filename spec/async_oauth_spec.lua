-- OAuth tokens from a function with the native smtp.async (a C sender thread), against
-- scripted servers.  The thread cannot call Lua: it asks, and the owner's own calls
-- (send, status, wait, pending, close) answer in the owner's thread.
local smtp = require "missive.smtp"
local scripted = require "support.scripted"
local util = require "support.util"

local oauth = require "support.oauth"

local OLD, NEW = oauth.OLD, oauth.NEW
local function xoauth2(token) return oauth.initial("XOAUTH2", token) end

-- The opening of one connection: each attempt {token, "refuse" | "accept"}.
local function opening(attempts)
  local t = { { send = "220 scripted ESMTP\r\n" }, { expect = "EHLO" },
              { send = "250-scripted\r\n250 AUTH PLAIN XOAUTH2\r\n" } }
  for _, a in ipairs(attempts) do
    t[#t + 1] = { expect = "AUTH XOAUTH2 " .. xoauth2(a[1]) .. "\r\n" }
    t[#t + 1] = { send = a[2] == "accept" and "235 2.7.0 ok\r\n" or "535 5.7.8 bad token\r\n" }
  end
  return t
end

local function delivered(t)
  for _, st in ipairs {
    { expect = "MAIL FROM" }, { send = "250 ok\r\n" }, { expect = "RCPT TO" },
    { send = "250 ok\r\n" }, { expect = "DATA" }, { send = "354 go\r\n" },
    { read_until = "\r\n.\r\n" }, { send = "250 2.0.0 queued\r\n" },
    { expect = "QUIT" }, { send = "221 bye\r\n" } } do t[#t + 1] = st end
  return t
end

local recorder = oauth.recorder

local MSG = { from = "a@x.test", to = "b@x.test", data = "Subject: t\r\n\r\nx\r\n" }

local function open(srv, fn)
  return assert(smtp.async { host = "127.0.0.1", port = srv.port, tls = "none", user = "u",
                             token = fn, timeout = 5, insecure_auth = true })
end

local function clean(srv)
  local received, log = srv:finish()
  assert.same({}, scripted.failures(log), scripted.format(log))
  return received
end

describe("native smtp.async with a token function", function()
  it("a refused token is renewed (reason rejected), AUTH goes again on the same " ..
     "connection, and the message is sent", function()
    local srv = scripted.start(delivered(opening { { OLD, "refuse" }, { NEW, "accept" } }))
    local fn, calls = recorder { { OLD, 3600 }, { NEW, 3600 } }
    local s = open(srv, fn)
    local id = assert(s:send(MSG))
    local state, d = s:wait(id)
    assert.equal("sent", state, d and d.error)
    assert.same({ { "u", "connect" }, { "u", "rejected" } }, calls)
    assert.is_true(s:close())
    local received = clean(srv)
    local first = received:find(xoauth2(OLD), 1, true)
    local second = received:find(xoauth2(NEW), 1, true)
    assert.is_truthy(first and second and first < second, received)
  end)

  it("refused twice: the message fails with kind auth, the function called twice, and " ..
     "the refused token is not kept for the next connection", function()
    local srv = scripted.start({ opening { { OLD, "refuse" }, { NEW, "refuse" } },
                                 delivered(opening { { "tok-3", "accept" } }) },
                               { connections = 2 })
    local fn, calls = recorder { { OLD, 3600 }, { NEW, 3600 }, { "tok-3", 3600 } }
    local s = open(srv, fn)
    local state, d = s:wait(assert(s:send(MSG)))
    assert.equal("failed", state)
    assert.equal("auth", d.kind)
    assert.matches("bad token", d.error, 1, true)
    assert.is_nil(d.error:find(NEW, 1, true))
    assert.same({ { "u", "connect" }, { "u", "rejected" } }, calls)
    -- the next message opens a new connection, which asks again (not the kept NEW)
    assert.equal("sent", (s:wait(assert(s:send(MSG)))))
    assert.same({ { "u", "connect" }, { "u", "rejected" }, { "u", "connect" } }, calls)
    assert.is_true(s:close())
    clean(srv)
  end)

  it("a kept fresh token serves the next connection without calling the function",
     function()
    local srv = scripted.start({ delivered(opening { { OLD, "accept" } }),
                                 delivered(opening { { OLD, "accept" } }) },
                               { connections = 2 })
    local fn, calls = recorder { { OLD, 3600 } }
    for _ = 1, 2 do
      local s = open(srv, fn)
      assert.equal("sent", (s:wait(assert(s:send(MSG)))))
      assert.is_true(s:close())
    end
    assert.same({ { "u", "connect" } }, calls)
    clean(srv)
  end)

  it("a function that raises: the message fails with kind auth and its error, no AUTH " ..
     "sent", function()
    local srv = scripted.start(opening {})
    local fn, calls = recorder { function() error("refresh endpoint down") end }
    local s = open(srv, fn)
    local state, d = s:wait(assert(s:send(MSG)))
    assert.equal("failed", state)
    assert.equal("auth", d.kind)
    assert.matches("refresh endpoint down", d.error, 1, true)
    assert.equal(1, #calls)
    assert.is_true(s:close())
    assert.is_nil(clean(srv):find("AUTH", 1, true))
  end)

  it("a function that uses the session it serves fails the message (kind auth), no " ..
     "hang", function()
    local srv = scripted.start(opening {})
    local s
    s = open(srv, function() s:pending(); return OLD end)
    local state, d = s:wait(assert(s:send(MSG)))
    assert.equal("failed", state)
    assert.equal("auth", d.kind)
    assert.matches("must not use the session it serves", d.error, 1, true)
    assert.is_true(s:close())
    assert.is_nil(clean(srv):find("AUTH", 1, true))
  end)

  it("status() and pending() answer the question too (a daemon polling them makes " ..
     "progress)", function()
    local srv = scripted.start(delivered(opening { { OLD, "accept" } }))
    local fn, calls = recorder { { OLD } }
    local s = open(srv, fn)
    local id = assert(s:send(MSG))
    local t0 = util.now()
    while s:status(id) ~= "sent" and util.now() - t0 < 5 do
      util.sleep(0.02)
      s:pending()
    end
    assert.equal("sent", (s:status(id)))
    assert.same({ { "u", "connect" } }, calls)
    assert.is_true(s:close())
    clean(srv)
  end)

  -- In a child process, so that a hang is a failure, not a stuck run.  close() answers
  -- the question (the queue is flushed); the core's own close, under it, fails one still
  -- open, as collection does.
  for _, case in ipairs {
    { "close", "state=sent kind=nil calls=1" },
    { "_close", "state=failed kind=auth calls=0" },
  } do
    it(case[1] .. "() while the sender waits for a token returns (no hang): " .. case[2],
       function()
      local srv = scripted.start(case[1] == "close" and delivered(opening { { OLD, "accept" } })
                                 or opening {})
      local child = ([[
        local smtp = require "missive.smtp"
        local n = 0
        local s = assert(smtp.async { host = "127.0.0.1", port = %d, tls = "none",
          user = "u", timeout = 5, insecure_auth = true,
          token = function() n = n + 1; return %q end })
        local id = assert(s:send { from = "a@x.test", to = "b@x.test",
                                   data = "Subject: t\r\n\r\nx\r\n" })
        local t0 = os.clock()
        while os.clock() - t0 < 0.3 do end   -- no call: the question waits
        assert(s:%s())
        local state, d = s:status(id)
        print("state=" .. state .. " kind=" .. tostring(d.kind) .. " calls=" .. n)
      ]]):format(srv.port, OLD, case[1])
      local pre = ("package.path=%q package.cpath=%q"):format(package.path, package.cpath)
      local out = util.capture(("timeout 10 %s -e %s -e %s 2>&1; echo rc=$?"):format(
        util.interpreter(), util.shquote(pre), util.shquote(child)))
      assert.matches(case[2], out, 1, true)
      assert.matches("rc=0", out, 1, true)
      local received = clean(srv)
      if case[1] == "_close" then assert.is_nil(received:find("AUTH", 1, true)) end
    end)
  end

  it("collecting the session while the sender waits for a token is bounded; the " ..
     "message fails, no AUTH sent", function()
    local srv = scripted.start(opening {})
    local fn, calls = recorder { { OLD } }
    local s = open(srv, fn)
    assert(s:send(MSG))
    util.sleep(0.3)   -- the sender is at its question now
    local t0 = util.now()
    s = nil -- luacheck: ignore
    collectgarbage()
    collectgarbage()
    assert.is_true(util.now() - t0 < 1)
    assert.same({}, calls)
    assert.is_nil(clean(srv):find("AUTH", 1, true))
  end)
end)
