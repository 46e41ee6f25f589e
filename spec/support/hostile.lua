-- spec/support/hostile.lua - a hostile-server mode over support.scripted.
--
-- It plays a real-looking SMTP or POP3 session (Postfix- and Dovecot-style replies) and
-- breaks it on purpose: a fault (a 421, a -ERR and close, silence, a truncated reply, a
-- pipelined extra line...) replaces the server's answer at one step, and a probe step
-- after it catches anything the client sends when it must not.  The client side is a
-- fixed sequence of library calls, run with either driver:
--
--   local hostile = require "support.hostile"
--   hostile.use_driver("luasocket")            -- or "native" (the default)
--   local ex = hostile.smtp.exchanges{tls = true}
--   local srv = scripted.start(hostile.script(ex, 5, hostile.fault("421 4.3.2 bye\r\n")))
--   local out = hostile.smtp.run(srv, {tls = "starttls", ...})
--   -- out.phase ("open", "send", "close", "done"), out.ok, out.err, out.kind,
--   -- out.reply, out.seconds
--   hostile.assert_failure(out)                 -- nil, message, kind (documented kind)
--   local received, log = srv:finish()
--   hostile.assert_silent_after(log)            -- the probe saw nothing
--
-- exchanges: an array of {name =, expect = | read_until =, reply =, tls =}; script(ex, k,
-- fault) plays exchanges 1..k-1, then exchange k's read part, then the fault steps.
local prefix = (...):match("^(.-)[^.]*$")
local util = require(prefix .. "util")
local luassert = require "luassert"

local H = { smtp = {}, pop3 = {} }

-- mv_kind_name: every kind a failure may carry ("none" never).
H.KINDS = { timeout = true, closed = true, resolve = true, io = true, tls = true,
            cert = true, protocol = true, reply = true, auth = true, limit = true,
            uncertain = true, argument = true, memory = true }
H.DRIVERS = { "native", "luasocket" }

local DRIVER = "native"
function H.use_driver(name)
  assert(name == "native" or name == "luasocket", "unknown driver " .. tostring(name))
  DRIVER = name
end
function H.driver() return DRIVER end

local function options(base, extra)
  if DRIVER == "luasocket" then base.socket = require("socket").tcp end
  for k, v in pairs(extra or {}) do base[k] = v end
  return base
end

-- The probe: a line the client sends within `secs` after a fault is a violation.  A
-- client that closes (EOF) or stays quiet (timeout) makes the probe step "fail", which
-- is what a well-behaved client does.
local PROBE_TAG = 0.31
function H.probe(secs) return { read_line = true, timeout = secs or PROBE_TAG } end

-- A reply in place of the real one, then the probe, then close.
function H.fault(reply, secs)
  return { { send = reply }, H.probe(secs), { close = true } }
end

-- Plays exchanges 1..k-1, exchange k's read part, then `fault` (an array of steps).
function H.script(ex, k, fault)
  local steps = {}
  for i = 1, math.min(k, #ex) do
    local e = ex[i]
    if e.expect then steps[#steps + 1] = { expect = e.expect } end
    if e.read_until then steps[#steps + 1] = { read_until = e.read_until } end
    if i < k then
      if e.reply then steps[#steps + 1] = { send = e.reply } end
      if e.tls then steps[#steps + 1] = { tls = true } end
    end
  end
  for _, st in ipairs(fault or {}) do steps[#steps + 1] = st end
  return steps
end

-- The whole exchange list played right (with a probe-free QUIT at the end).
function H.full(ex)
  return H.script(ex, #ex + 1, {})
end

-- Index of the exchange called `name`.
function H.index(ex, name)
  for i, e in ipairs(ex) do if e.name == name then return i end end
  error("no exchange " .. name)
end

-- The lines probes read (on connection `conn`, or on any).
function H.probe_hits(log, conn)
  local hits = {}
  for _, e in ipairs(log) do
    if e.op == "read_line" and e.ok and (conn == nil or e.conn == conn) then
      hits[#hits + 1] = (tostring(e.data):gsub("[\r\n]+$", ""))
    end
  end
  return hits
end

function H.assert_silent_after(log, what, conn)
  local hits = H.probe_hits(log, conn)
  luassert.same({}, hits, (what or "client sent after the fault") .. ": "
                          .. table.concat(hits, " | "))
end

-- A clean failure: nil, a non-empty message, a documented kind; within `limit` seconds.
function H.assert_failure(out, limit)
  luassert.is_nil(out.ok, "expected a failure, got success in phase " .. tostring(out.phase))
  luassert.is_string(out.err, "failure without a message")
  luassert.is_true(#out.err > 0, "empty error message")
  luassert.is_true(H.KINDS[out.kind] == true, "undocumented kind " .. tostring(out.kind)
                                                .. " (" .. tostring(out.err) .. ")")
  if limit then
    luassert.is_true(out.seconds <= limit, ("took %.2f s (limit %.2f): %s"):format(
      out.seconds, limit, tostring(out.err)))
  end
end

-- -------------------------------------------------------------------------- SMTP
local EHLO_PLAIN = "250-mx.example.org\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n"
                   .. "250-ENHANCEDSTATUSCODES\r\n250 AUTH PLAIN LOGIN\r\n"
local EHLO_TLS = "250-mx.example.org\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n"
                 .. "250-STARTTLS\r\n250 ENHANCEDSTATUSCODES\r\n"
H.smtp.EHLO = EHLO_PLAIN
H.smtp.FINAL = "250 2.0.0 Ok: queued as 4F3B2E1A\r\n"
H.smtp.MESSAGE = { from = "alice@example.org", to = { "bob@example.org", "carol@example.org" },
                   data = "From: alice@example.org\r\nSubject: hostile\r\n\r\nhello\r\n" }

-- A Postfix-like session without PIPELINING, so each command is its own exchange.
-- opts.tls: STARTTLS first; opts.auth (default true): AUTH PLAIN.
function H.smtp.exchanges(opts)
  opts = opts or {}
  local ex = { { name = "greeting", reply = "220 mx.example.org ESMTP Postfix\r\n" } }
  if opts.tls then
    ex[#ex + 1] = { name = "EHLO", expect = "EHLO", reply = EHLO_TLS }
    ex[#ex + 1] = { name = "STARTTLS", expect = "STARTTLS",
                    reply = "220 2.0.0 Ready to start TLS\r\n", tls = true }
    ex[#ex + 1] = { name = "EHLO after TLS", expect = "EHLO", reply = EHLO_PLAIN }
  else
    ex[#ex + 1] = { name = "EHLO", expect = "EHLO", reply = EHLO_PLAIN }
  end
  if opts.auth ~= false then
    ex[#ex + 1] = { name = "AUTH", expect = "AUTH PLAIN",
                    reply = "235 2.7.0 Authentication successful\r\n" }
  end
  local rest = {
    { name = "MAIL", expect = "MAIL FROM:<alice@example.org>", reply = "250 2.1.0 Ok\r\n" },
    { name = "RCPT 1", expect = "RCPT TO:<bob@example.org>", reply = "250 2.1.5 Ok\r\n" },
    { name = "RCPT 2", expect = "RCPT TO:<carol@example.org>", reply = "250 2.1.5 Ok\r\n" },
    { name = "DATA", expect = "DATA", reply = "354 End data with <CR><LF>.<CR><LF>\r\n" },
    { name = "after the dot", read_until = "\r\n.\r\n", reply = H.smtp.FINAL },
    { name = "QUIT", expect = "QUIT", reply = "221 2.0.0 Bye\r\n" },
  }
  for _, e in ipairs(rest) do ex[#ex + 1] = e end
  return ex
end

function H.smtp.options(srv, extra)
  return options({ host = "127.0.0.1", port = srv.port, tls = "none", timeout = 2,
                   user = "alice", password = "s3cret-pw", auth = "PLAIN",
                   insecure_auth = true }, extra)
end

-- session, send(MESSAGE), close; stops at the first failure (closing what is open).
function H.smtp.run(srv, extra, msg)
  local smtp = require "missive.smtp"
  local t0 = util.now()
  local out = { phase = "open" }
  local s, err, kind, reply = smtp.session(H.smtp.options(srv, extra))
  if s then
    out.phase = "send"
    local r
    r, err, kind, reply = s:send(msg or H.smtp.MESSAGE)
    out.result = r
    if r then
      out.phase = "close"
      r, err, kind, reply = s:close()
      if r then out.phase = "done" end
    else
      s:close()
    end
    out.ok = r
  end
  out.err, out.kind, out.reply = err, kind, reply
  out.seconds = util.now() - t0
  return out
end

-- -------------------------------------------------------------------------- POP3
local CAPA = "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nUSER\r\n"
             .. "SASL PLAIN\r\n.\r\n"
local CAPA_TLS = "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nSTLS\r\nUSER\r\n.\r\n"
H.pop3.BODY = "Return-Path: <bob@example.org>\r\nFrom: Bob <bob@example.org>\r\n"
              .. "To: alice@example.org\r\nSubject: hostile\r\n\r\n"
              .. "Hi,\r\n.leading dot\r\n..two\r\n.\r\nlast\r\n"
local function stuff(body)
  return (("\n" .. body):gsub("\n%.", "\n.."):sub(2))
end
H.pop3.RETR = "+OK " .. #H.pop3.BODY .. " octets\r\n" .. stuff(H.pop3.BODY) .. ".\r\n"
H.pop3.LIST = "+OK 2 messages:\r\n1 " .. #H.pop3.BODY .. "\r\n2 300\r\n.\r\n"
H.pop3.UIDL = "+OK\r\n1 000000014f3b2e1a\r\n2 000000024f3b2e1a\r\n.\r\n"

-- A Dovecot-like session: greeting, CAPA, [STLS, TLS, CAPA,] USER, PASS, CAPA, STAT,
-- LIST, RETR 1, DELE 1, QUIT.
function H.pop3.exchanges(opts)
  opts = opts or {}
  local ex = { { name = "greeting", reply = "+OK Dovecot ready.\r\n" } }
  if opts.tls then
    ex[#ex + 1] = { name = "CAPA", expect = "CAPA", reply = CAPA_TLS }
    ex[#ex + 1] = { name = "STLS", expect = "STLS", reply = "+OK Begin TLS negotiation now.\r\n",
                    tls = true }
    ex[#ex + 1] = { name = "CAPA after TLS", expect = "CAPA", reply = CAPA }
  else
    ex[#ex + 1] = { name = "CAPA", expect = "CAPA", reply = CAPA }
  end
  local rest = {
    { name = "USER", expect = "USER alice", reply = "+OK\r\n" },
    { name = "PASS", expect = "PASS ", reply = "+OK Logged in.\r\n" },
    { name = "CAPA after login", expect = "CAPA", reply = CAPA },
    { name = "STAT", expect = "STAT", reply = "+OK 2 " .. (#H.pop3.BODY + 300) .. "\r\n" },
    { name = "LIST", expect = "LIST", reply = H.pop3.LIST },
    { name = "RETR", expect = "RETR 1", reply = H.pop3.RETR },
    { name = "DELE", expect = "DELE 1", reply = "+OK Marked to be deleted.\r\n" },
    { name = "QUIT", expect = "QUIT", reply = "+OK Logging out, messages deleted.\r\n" },
  }
  for _, e in ipairs(rest) do ex[#ex + 1] = e end
  return ex
end

function H.pop3.options(srv, extra)
  return options({ host = "127.0.0.1", port = srv.port, tls = "none", timeout = 2,
                   user = "alice", password = "s3cret-pw", auth = "user" }, extra)
end

-- session, stat, list, retrieve(1), delete(1), close; stops at the first failure and
-- then closes (close sends QUIT only if the session is still sound).
function H.pop3.run(srv, extra)
  local pop3 = require "missive.pop3"
  local t0 = util.now()
  local out = { phase = "open" }
  local s, err, kind, reply = pop3.session(H.pop3.options(srv, extra))
  if s then
    local calls = {
      { "stat", function() return s:stat() end },
      { "list", function() return s:list() end },
      { "retrieve", function()
          local raw, e, k, rp = s:retrieve(1)
          out.raw = raw
          if raw and raw ~= H.pop3.BODY then
            return nil, "retrieved body differs", "protocol"
          end
          return raw, e, k, rp
        end },
      { "delete", function() return s:delete(1) end },
      { "close", function() return s:close() end },
    }
    local r = true
    for _, c in ipairs(calls) do
      out.phase = c[1]
      r, err, kind, reply = c[2]()
      if not r then break end
    end
    if r then out.phase = "done" else s:close() end
    out.ok = r
  end
  out.err, out.kind, out.reply = err, kind, reply
  out.seconds = util.now() - t0
  return out
end

-- One connection per truncation point: the session is played up to exchange k, whose
-- reply is cut after each of its first #reply - 1 bytes (every `stride`-th one), then
-- the server closes.  Returns the scripts and the cut offsets.
function H.truncations(ex, k, stride, reply)
  reply = reply or ex[k].reply
  local scripts, cuts = {}, {}
  for n = 0, #reply - 1, stride or 1 do
    scripts[#scripts + 1] = H.script(ex, k, { { send = reply:sub(1, n) }, { close = true } })
    cuts[#cuts + 1] = n
  end
  return scripts, cuts
end

return H
