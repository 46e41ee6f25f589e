-- OAuth2 tokens that renew themselves: token = function(user, reason) on SMTP, POP3 and
-- IMAP sessions, against scripted servers, under both drivers.  The function is called
-- at connect and once more after the server refused the token; AUTH then goes again
-- on the same connection.  Tokens never show in a trace or an error.
local scripted = require "support.scripted"
local smtp = require "missive.smtp"
local pop3 = require "missive.pop3"
local imap = require "missive.imap"
local mime = require "missive.mime"
local oauth = require "support.oauth"

local OLD, NEW = oauth.OLD, oauth.NEW
-- RFC 7628 §3.2.2's error challenge, as Google sends it for both mechanisms
local JSON = '{"status":"invalid_token","scope":"https://mail.google.com/",' ..
             '"schemes":"Bearer"}'

local function b64(s) return (mime.base64_encode(s)) end

local initial = oauth.initial

-- What a refusal with the JSON challenge looks like on the wire before the final
-- failure: the client answers empty (XOAUTH2) or ^A (OAUTHBEARER, §3.2.3).
local function json_answer(mech) return mech == "XOAUTH2" and "\r\n" or "AQ==\r\n" end

-- Each protocol: its login script for a list of AUTH attempts, each {token, outcome}
-- with outcome "refuse", "json" (refused with the JSON challenge) or "accept"; what
-- follows a success and a failure; and how to open a session.
local PROTOCOLS = {}

PROTOCOLS.smtp = {
  script = function(mech, attempts, accepted)
    local t = { { send = "220 scripted ESMTP\r\n" }, { expect = "EHLO" },
                { send = "250-scripted\r\n250 AUTH PLAIN " .. mech .. "\r\n" } }
    for _, a in ipairs(attempts) do
      t[#t + 1] = { expect = "AUTH " .. mech .. " " .. initial(mech, a[1]) .. "\r\n" }
      if a[2] == "accept" then
        t[#t + 1] = { send = "235 2.7.0 ok\r\n" }
      else
        if a[2] == "json" then
          t[#t + 1] = { send = "334 " .. b64(JSON) .. "\r\n" }
          t[#t + 1] = { expect = json_answer(mech) }
        end
        t[#t + 1] = { send = "535 5.7.8 bad token\r\n" }
      end
    end
    -- SMTP says QUIT after a failed opening as after a close
    t[#t + 1] = { expect = "QUIT" }
    t[#t + 1] = { send = "221 bye\r\n" }
    return t, accepted
  end,
  open = function(o) return smtp.session(o) end,
}

PROTOCOLS.pop3 = {
  script = function(mech, attempts, accepted)
    local t = { { send = "+OK ready\r\n" }, { expect = "CAPA" },
                { send = "+OK\r\nUSER\r\nSASL PLAIN " .. mech .. "\r\n.\r\n" } }
    for _, a in ipairs(attempts) do
      t[#t + 1] = { expect = "AUTH " .. mech .. " " .. initial(mech, a[1]) .. "\r\n" }
      if a[2] == "accept" then
        t[#t + 1] = { send = "+OK in\r\n" }
      else
        if a[2] == "json" then
          t[#t + 1] = { send = "+ " .. b64(JSON) .. "\r\n" }
          t[#t + 1] = { expect = json_answer(mech) }
        end
        t[#t + 1] = { send = "-ERR [AUTH] bad token\r\n" }
      end
    end
    if accepted then
      t[#t + 1] = { expect = "CAPA" }
      t[#t + 1] = { send = "+OK\r\nUSER\r\n.\r\n" }
      t[#t + 1] = { expect = "QUIT" }
      t[#t + 1] = { send = "+OK bye\r\n" }
    else
      t[#t + 1] = { hold = 0.3 }   -- a failed opening says nothing more (RFC 1939 6)
    end
    return t, accepted
  end,
  open = function(o) return pop3.session(o) end,
}

PROTOCOLS.imap = {
  script = function(mech, attempts, accepted)
    local t = { { send = "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=" .. mech ..
                         "] hi\r\n" } }
    for i, a in ipairs(attempts) do
      local tag = "A" .. i
      t[#t + 1] = { expect = tag .. " AUTHENTICATE " .. mech .. " " .. initial(mech, a[1]) ..
                             "\r\n" }
      if a[2] == "accept" then
        t[#t + 1] = { send = tag .. " OK [CAPABILITY IMAP4rev1] in\r\n" }
      else
        if a[2] == "json" then
          t[#t + 1] = { send = "+ " .. b64(JSON) .. "\r\n" }
          t[#t + 1] = { expect = json_answer(mech) }
        end
        t[#t + 1] = { send = tag .. " NO [AUTHENTICATIONFAILED] bad token\r\n" }
      end
    end
    if accepted then
      t[#t + 1] = { expect = "A" .. (#attempts + 1) .. " LOGOUT" }
      t[#t + 1] = { send = "* BYE bye\r\nA" .. (#attempts + 1) .. " OK done\r\n" }
    else
      t[#t + 1] = { hold = 0.3 }
    end
    return t, accepted
  end,
  open = function(o) return imap.session(o) end,
}

local recorder = oauth.recorder

for _, driver_name in ipairs { "native", "luasocket" } do
for _, proto_name in ipairs { "smtp", "pop3", "imap" } do
describe("oauth token function (" .. proto_name .. ", " .. driver_name .. " driver)", function()
  local P = PROTOCOLS[proto_name]

  -- Opens a session on srv with the token function; returns what the open returned,
  -- and the whole trace text.
  local function open(srv, fn, extra)
    local traced = {}
    local o = { host = "127.0.0.1", port = srv.port, tls = "none", user = "u", token = fn,
                timeout = 3, insecure_auth = true,
                trace = function(_, line) traced[#traced + 1] = line end }
    if driver_name == "luasocket" then o.socket = require("socket").tcp end
    for k, v in pairs(extra or {}) do o[k] = v end
    local s, err, kind, reply = P.open(o)
    return s, err, kind, reply, table.concat(traced, "\n"), o
  end

  -- No token in the trace or the error, in clear or inside an initial response.
  local function assert_hidden(text)
    for _, tok in ipairs { OLD, NEW } do
      assert.is_nil(text:find(tok, 1, true), "token shown: " .. text)
      for _, mech in ipairs { "XOAUTH2", "OAUTHBEARER" } do
        assert.is_nil(text:find(initial(mech, tok), 1, true), "token shown: " .. text)
      end
    end
  end

  local function clean(srv)
    local received, log = srv:finish()
    assert.same({}, scripted.failures(log), scripted.format(log))
    return received
  end

  for _, mech in ipairs { "XOAUTH2", "OAUTHBEARER" } do
    it(mech .. ": a refused token is renewed once (reason rejected) and AUTH goes " ..
       "again on the same connection with the new one", function()
      local srv = scripted.start((P.script(mech, { { OLD, "refuse" }, { NEW, "accept" } },
                                           true)))
      local fn, calls = recorder { { OLD, 3600 }, { NEW, 3600 } }
      local s, err, _, _, trace = open(srv, fn)
      assert.is_truthy(s, err)
      assert.same({ { "u", "connect" }, { "u", "rejected" } }, calls)
      assert.equal(mech, s:auth_mechanism())
      assert.is_true(s:close())
      assert_hidden(trace)
      local received = clean(srv)
      -- the second AUTH carried the new token, the first the old one
      local first = received:find(initial(mech, OLD), 1, true)
      local second = received:find(initial(mech, NEW), 1, true)
      assert.is_truthy(first and second and first < second, received)
    end)

    it(mech .. ": the JSON error challenge on the renewed AUTH is read and reported " ..
       "(status, scope), the tokens never shown", function()
      local srv = scripted.start((P.script(mech, { { OLD, "json" }, { NEW, "json" } })))
      local fn, calls = recorder { { OLD }, { NEW } }
      local s, err, kind, _, trace = open(srv, fn)
      assert.is_nil(s)
      assert.equal("auth", kind)
      assert.equal(2, #calls)
      assert.matches("OAuth status invalid_token, scope https://mail.google.com/", err, 1,
                     true)
      assert_hidden(trace .. "\n" .. err)
      clean(srv)
    end)
  end

  it("CHECKLIST 90: refused twice: the usual auth error, the function called exactly twice",
     function()
    local srv = scripted.start((P.script("XOAUTH2", { { OLD, "refuse" },
                                                     { NEW, "refuse" } })))
    local fn, calls = recorder { { OLD, 3600 }, { NEW, 3600 } }
    local s, err, kind, reply, trace = open(srv, fn)
    assert.is_nil(s)
    assert.equal("auth", kind)
    assert.matches("authentication failed", err, 1, true)
    assert.matches("bad token", reply.text, 1, true)
    assert.same({ { "u", "connect" }, { "u", "rejected" } }, calls)
    assert_hidden(trace .. "\n" .. err .. "\n" .. reply.text)
    clean(srv)
  end)

  it("a token refused twice is not kept: the next session asks again", function()
    local srv = scripted.start({ (P.script("XOAUTH2", { { OLD, "refuse" },
                                                        { NEW, "refuse" } })),
                                 (P.script("XOAUTH2", { { NEW, "accept" } }, true)) },
                               { connections = 2 })
    local fn, calls = recorder { { OLD, 3600 }, { NEW, 3600 }, { NEW, 3600 } }
    assert.is_nil((open(srv, fn)))
    local s = assert(open(srv, fn))
    assert.same({ { "u", "connect" }, { "u", "rejected" }, { "u", "connect" } }, calls)
    s:close()
    clean(srv)
  end)

  for _, case in ipairs {
    { "raises", function() error("refresh endpoint down") end, "refresh endpoint down" },
    { "returns nil", function() return nil end, "returned nil" },
    { "returns a number", function() return 42 end, "returned number" },
    { "returns an empty string", function() return "" end, "empty token" },
    { "returns a table as expires_in", function() return NEW, {} end, "expires_in" },
  } do
    it("CHECKLIST 90: a function that " .. case[1] .. ": a clear auth error, no AUTH sent",
       function()
      local srv = scripted.start((P.script("XOAUTH2", {})))
      local s, err, kind = open(srv, case[2])
      assert.is_nil(s)
      assert.equal("auth", kind)
      assert.matches(case[3], err, 1, true)
      assert.matches("token function", err, 1, true)
      local received = clean(srv)
      assert.is_nil(received:find("AUTH", 1, true))
    end)
  end

  it("a function that raises on renewal: the open fails with its error", function()
    local srv = scripted.start((P.script("XOAUTH2", { { OLD, "refuse" } })))
    local fn, calls = recorder { { OLD }, function() error("no refresh token") end }
    local s, err, kind = open(srv, fn)
    assert.is_nil(s)
    assert.equal("auth", kind)
    assert.matches("no refresh token", err, 1, true)
    assert.equal(2, #calls)
    clean(srv)
  end)

  it("CHECKLIST 90: a token with CR LF from the function is refused before it is sent",
     function()
    local srv = scripted.start((P.script("XOAUTH2", {})))
    local s, err, kind = open(srv, function() return "tok\r\nQUIT" end)
    assert.is_nil(s)
    assert.equal("argument", kind)
    assert.matches("control character", err, 1, true)
    local received = clean(srv)
    assert.is_nil(received:find("AUTH", 1, true))
  end)

  it("expires_in: a later session takes the kept token while it is fresh, and asks " ..
     "again (reason connect) once it is stale", function()
    local srv = scripted.start({ (P.script("XOAUTH2", { { OLD, "accept" } }, true)),
                                 (P.script("XOAUTH2", { { OLD, "accept" } }, true)) },
                               { connections = 2 })
    local fn, calls = recorder { { OLD, 3600 } }
    local s1 = assert(open(srv, fn))
    s1:close()
    local s2 = assert(open(srv, fn))
    s2:close()
    assert.same({ { "u", "connect" } }, calls)
    clean(srv)

    -- 10 s is inside the margin kept before expiry: stale at once
    srv = scripted.start({ (P.script("XOAUTH2", { { OLD, "accept" } }, true)),
                           (P.script("XOAUTH2", { { NEW, "accept" } }, true)) },
                         { connections = 2 })
    fn, calls = recorder { { OLD, 10 }, { NEW, 10 } }
    s1 = assert(open(srv, fn))
    s1:close()
    s2 = assert(open(srv, fn))
    s2:close()
    assert.same({ { "u", "connect" }, { "u", "connect" } }, calls)
    clean(srv)
  end)
end)
end
end

for _, driver_name in ipairs { "native", "luasocket" } do
describe("oauth over IMAP without SASL-IR (" .. driver_name .. " driver)", function()
  for _, mech in ipairs { "XOAUTH2", "OAUTHBEARER" } do
    it(mech .. ": the initial response answers the server's empty \"+\" (RFC 4959), " ..
       "also on the renewed AUTHENTICATE, and the JSON error that follows is read", function()
      local srv = scripted.start({
        { send = "* OK [CAPABILITY IMAP4rev1 AUTH=" .. mech .. "] hi\r\n" },
        { expect = "A1 AUTHENTICATE " .. mech .. "\r\n" }, { send = "+ \r\n" },
        { expect = initial(mech, OLD) .. "\r\n" },
        { send = "+ " .. b64(JSON) .. "\r\n" }, { expect = json_answer(mech) },
        { send = "A1 NO [AUTHENTICATIONFAILED] expired\r\n" },
        { expect = "A2 AUTHENTICATE " .. mech .. "\r\n" }, { send = "+ \r\n" },
        { expect = initial(mech, NEW) .. "\r\n" },
        { send = "A2 OK [CAPABILITY IMAP4rev1] in\r\n" },
        { expect = "A3 LOGOUT" }, { send = "* BYE bye\r\nA3 OK done\r\n" },
      })
      local fn, calls = recorder { { OLD }, { NEW } }
      local traced = {}
      local o = { host = "127.0.0.1", port = srv.port, tls = "none", user = "u",
                  token = fn, timeout = 3, insecure_auth = true,
                  trace = function(_, line) traced[#traced + 1] = line end }
      if driver_name == "luasocket" then o.socket = require("socket").tcp end
      local s = assert(imap.session(o))
      assert.same({ { "u", "connect" }, { "u", "rejected" } }, calls)
      s:close()
      local trace = table.concat(traced, "\n")
      assert.is_nil(trace:find(OLD, 1, true))
      assert.is_nil(trace:find(NEW, 1, true))
      local _, log = srv:finish()
      assert.same({}, scripted.failures(log), scripted.format(log))
    end)
  end
end)
end

describe("oauth token function in the spool", function()
  it("q:run reopens its session with the kept token, and renews it when refused", function()
    local spool = require "missive.spool"
    local util = require "support.util"
    local dir = util.mkdtemp("missive-oauth-spool")
    local q = assert(spool.open(dir))
    local function deliver(attempts)
      local t = PROTOCOLS.smtp.script("XOAUTH2", attempts, true)
      table.remove(t)   -- QUIT comes after the message
      table.remove(t)
      for _, st in ipairs {
        { expect = "MAIL FROM" }, { send = "250 ok\r\n" }, { expect = "RCPT TO" },
        { send = "250 ok\r\n" }, { expect = "DATA" }, { send = "354 go\r\n" },
        { read_until = "\r\n.\r\n" }, { send = "250 2.0.0 queued\r\n" },
        { expect = "QUIT" }, { send = "221 bye\r\n" } } do t[#t + 1] = st end
      return t
    end
    local fn, calls = recorder { { OLD, 3600 }, { NEW, 3600 } }
    local srv = scripted.start({ deliver { { OLD, "accept" } },
                                 deliver { { OLD, "refuse" }, { NEW, "accept" } } },
                               { connections = 2 })
    local opts = { host = "127.0.0.1", port = srv.port, tls = "none", user = "u",
                   token = fn, timeout = 3, insecure_auth = true }
    for i = 1, 2 do
      assert(q:add { from = "a@x.test", to = "b@x.test",
                     data = "Subject: " .. i .. "\r\n\r\nx\r\n" })
      local counts = assert(q:run(opts))
      assert.equal(1, counts.sent)
    end
    assert.same({ { "u", "connect" }, { "u", "rejected" } }, calls)
    local _, log = srv:finish()
    util.rmtree(dir)
    assert.same({}, scripted.failures(log), scripted.format(log))
  end)
end)

describe("oauth token function: bad values", function()
  it("a token that is neither a string nor a function is a usage error", function()
    assert.has_error(function()
      smtp.session { host = "127.0.0.1", port = 1, tls = "none", user = "u", token = 42 }
    end, "option 'token' must be a string or a function")
  end)
end)
