-- Every sender runs the same transaction: s:send, s:send_batch and the spool go through
-- missive.smtp's one transaction helper, and they and the C sender thread (smtp.async)
-- use the core's one 8-bit check.  The same message on the same scripted server must
-- give the same outcome and the same bytes on the wire whichever path sends it.
local core = require "missive.core"
local smtp = require "missive.smtp"
local spool = require "missive.spool"
local scripted = require "support.scripted"
local ss = require "support.scripted_smtp"
local util = require "support.util"

local GREET, ehlo, script = ss.GREET, ss.ehlo, ss.script
local QUIT = ss.QUIT
local BODY8 = "Subject: caf\195\169\r\n\r\nna\195\175ve r\195\169sum\195\169\r\n"

local function msg(from, to)
  return {from = from or "a@x.test", to = to or {"b@x.test"}, data = BODY8}
end

-- Counts the calls of the core's 8-bit check while f runs.
local function counting_8bit_checks(f)
  local real, calls = core.has_8bit, 0
  core.has_8bit = function(...) calls = calls + 1; return real(...) end  -- luacheck: ignore 122
  local ok, a, b, c = pcall(f)
  core.has_8bit = real  -- luacheck: ignore 122
  assert(ok, a)
  return calls, a, b, c
end

-- Each path: sends msg() to srv, returns {error, kind} (nil fields when sent) and how
-- many times the Lua side asked the core's 8-bit check.
local function via_send(srv, driver, m)
  local s = assert(ss.session(srv, driver))
  local calls, res, err, kind = counting_8bit_checks(function() return s:send(m or msg()) end)
  assert(s:close())
  return {sent = res ~= nil, error = err, kind = kind}, calls
end

local function via_batch(srv, driver, m)
  local s = assert(ss.session(srv, driver))
  local calls, results = counting_8bit_checks(function() return s:send_batch{m or msg()} end)
  assert(s:close())
  local r = results[1]
  return {sent = r.error == nil, error = r.error, kind = r.kind}, calls
end

local function via_spool(srv, driver, m)
  local dir = util.mkdtemp("missive-paths")
  local q = assert(spool.open(dir))
  local id = assert(q:add(m or msg()))
  local o = {host = "127.0.0.1", port = srv.port, tls = "none", timeout = 2}
  if driver == "luasocket" then o.socket = require("socket").tcp end
  local calls = counting_8bit_checks(function() return assert(q:run(o)) end)
  local state, info = q:status(id)
  util.rmtree(dir)
  return {sent = state == "sent", error = info.error, kind = info.kind}, calls
end

-- The C thread: its check is the core's own, so no Lua call is counted.
local function via_async(srv)
  local a = assert(smtp.async{host = "127.0.0.1", port = srv.port, tls = "none", timeout = 2})
  local id = assert(a:send(msg()))
  local state, detail = a:wait(id, 10)
  a:close()
  return {sent = state == "sent", error = detail.error, kind = detail.kind}
end

-- Runs one path against a fresh server; returns its outcome, the check count and the
-- bytes the server received.
local function run(steps, path, driver, m)
  local srv = scripted.start(steps)
  local outcome, calls = path(srv, driver, m)
  local got, log = srv:finish()
  assert.same({}, scripted.failures(log), scripted.format(log))
  return outcome, calls, got
end

for _, driver in ipairs(ss.DRIVERS) do
describe("one transaction for every sender (scripted server, " .. driver .. " driver)",
         function()
  local paths = {send = via_send, send_batch = via_batch, spool = via_spool}

  it("an 8-bit body without 8BITMIME is refused identically before MAIL", function()
    local steps = script(GREET, {ehlo{"PIPELINING", "SIZE 1000"}}, QUIT)
    local seen = {}
    for name, path in pairs(paths) do
      local outcome, calls, got = run(steps, path, driver)
      assert.equal(1, calls, name .. " asks the core's 8-bit check once")
      assert.is_false(outcome.sent, name)
      assert.equal("limit", outcome.kind, name)
      assert.matches("lacks 8BITMIME", outcome.error, nil, true)
      assert.is_nil(got:find("MAIL", 1, true), name .. " sent no MAIL")
      seen[name] = outcome
    end
    if driver == "native" then seen.async = run(steps, via_async) end
    for name, outcome in pairs(seen) do assert.same(seen.send, outcome, name) end
  end)

  it("with 8BITMIME the same MAIL (SIZE, BODY=8BITMIME) and body go out", function()
    local steps = script(GREET, {ehlo{"8BITMIME", "SIZE 1000"}}, ss.accept_all(), QUIT)
    local wires = {}
    for name, path in pairs(paths) do
      local outcome, calls, got = run(steps, path, driver)
      assert.equal(1, calls, name)
      assert.is_true(outcome.sent, name)
      wires[name] = got
    end
    if driver == "native" then wires.async = select(3, run(steps, via_async)) end
    assert.matches("MAIL FROM:<a@x.test> SIZE=" .. #BODY8 .. " BODY=8BITMIME\r\n",
                   wires.send, nil, true)
    for name, got in pairs(wires) do assert.equal(wires.send, got, name) end
  end)

  -- Refused before MAIL, in the same words whichever path (no spec pinned these).
  local refusals = {
    {"a non-ASCII address without SMTPUTF8", nil, {"b@x.test", "j\195\169r\195\180me@x.test"},
     "recipient j\195\169r\195\180me@x.test: a non-ASCII local part needs SMTPUTF8, which "
     .. "the server does not offer"},
    {"an unclosed bracket", "Alice <a@x.test", nil, "from is not a valid address"},
    {"a bracket inside an address", nil, {"b>c@x.test"}, "recipient is not a valid address"},
    {"an empty recipient", nil, {""}, "recipient is empty or too long"},
    {"an address over 320 bytes", nil, {("b"):rep(64) .. "@" .. ("x"):rep(256)},
     "recipient is empty or too long"},
  }
  for _, case in ipairs(refusals) do
    it("an envelope with " .. case[1] .. " is refused identically before MAIL", function()
      local steps = script(GREET, {ehlo{"PIPELINING", "8BITMIME"}}, QUIT)
      for name, path in pairs(paths) do
        local outcome, _, got = run(steps, path, driver, msg(case[2], case[3]))
        assert.is_false(outcome.sent, name)
        assert.equal("argument", outcome.kind, name)
        assert.equal(case[4], outcome.error, name)
        assert.is_nil(got:find("MAIL", 1, true), name .. " sent no MAIL")
      end
    end)
  end
end)
end
