--- SMTP sessions: sending mail.
-- The protocol lives in the C core; this module fills in option defaults, accepts the
-- friendly shapes of a message (tables, strings, sources, email objects) and runs the
-- core's steps through missive.driver, the same way for every transport.
-- @module missive.smtp
local core = require "missive.core"
local config = require "missive.config"
local driver = require "missive.driver"
local message = require "missive.message"

local M = {}
local mt = core.smtp_mt
local methods = mt.__index
local traces = setmetatable({}, {__mode = "k"})  -- session -> trace function
local dkims = setmetatable({}, {__mode = "k"})   -- session -> its dkim option
local dsns = setmetatable({}, {__mode = "k"})    -- session -> its dsn option

local SLICE = core.smtp_feed_slice
local CHAIN_MAX = 256 * 1024   -- send_batch chains bodies up to this size (0: unknown)

local function drive(s)
  return driver.drive(s, traces[s])
end

-- Sends QUIT (bounded wait) on a connection that is still sound; never raises.
local function quit(s)
  if s:_dead() then return true end
  local ok, err, kind, reply = s:_begin_command("QUIT")
  if ok then ok, err, kind, reply = drive(s) end
  return ok, err, kind, reply
end

--- Opens an asynchronous session: `send` queues and returns an id, a sender thread
-- (an ngx.timer in OpenResty) sends in order; see missive.async.  The same options as
-- `session` but trace and socket.  @return the session, or nil, message, kind
function M.async(opts)
  return require("missive.async").session(opts)
end

--- Opens a session: connect, greeting, EHLO, TLS, AUTH.
-- Options: host (required), port (587), tls ("starttls" | "implicit" | "none"; port 465
-- means "implicit"), user, password, token (OAUTHBEARER or XOAUTH2: a string, or
-- function(user, reason) returning one and its expires_in; see missive.driver),
-- auth ("auto" | "optional" |
-- "none" | a mechanism name), server_name (the name the certificate must carry and
-- SNI; default host, so connect to an address and still verify a name), helo,
-- timeout (seconds per command; missive.set_timeout sets the default), cafile,
-- capath, verify (true), client_cert, client_key, tls_min/tls_max ("1.2" | "1.3"),
-- insecure_auth (nil: only to loopback; true; false), pipelining (true), chunking
-- (false), max_line_length (998), dsn ({notify, ret, envid}: the DSN requests of every
-- message that does not make its own), trace (function(direction, line)), socket (an
-- object or a factory) and driver ("native" | "cosocket").
-- @tparam table opts
-- @return an smtp.session, or nil, message, kind[, reply]
function M.session(opts)
  if type(opts) ~= "table" then
    error("smtp.session expects a table of options", 2)
  end
  if opts.async then return M.async(opts) end
  local o = message.smtp_defaults(opts, 2)
  if o.dkim ~= nil and type(o.dkim) ~= "table" then error("option 'dkim' must be a table", 2) end
  local ok, derr, dkind = message.check_dsn(o.dsn, 2)
  if not ok then return nil, derr, dkind end
  local s, err, kind, reply = driver.open(core.smtp_new, o, o.trace, function(s)
    traces[s] = o.trace
    quit(s)
  end)
  if s then traces[s], dkims[s], dsns[s] = o.trace, o.dkim, o.dsn end
  return s, err, kind, reply
end

local function check_open(s)
  if s:is_closed() then error("attempt to use a closed session", 3) end
end

-- A caller's function failed mid-body.  There is no clean way back from inside DATA or
-- BDAT (the rest of the body would carry the next commands): drop the connection, so
-- the server never sees an end of data and the message is not sent; then re-raise.
local function abandon(s, err)
  s:_abort()
  driver.close(s)
  error(err, 0)
end

-- Feeds the body to the core: a string in slices (no copies), or a source's chunks.
-- At the end it calls finish() (the plain end of data, or a chained one) and returns
-- "ended"; a failure on the way returns nil, message, kind[, reply].
local function feed_body(s, data, progress, finish)
  local total = type(data) == "string" and #data or nil
  local pos = 1
  local r, err, kind, reply = drive(s)
  while r == "body" do
    local ok, chunk
    if total then
      if pos <= total then
        chunk = true
        ok, err, kind = s:_feed(data, pos, pos + SLICE - 1)
        pos = pos + SLICE
      end
    else
      local pok
      pok, chunk = pcall(data)
      if not pok then abandon(s, chunk) end
      if chunk ~= nil and type(chunk) ~= "string" then
        abandon(s, "message source returned a " .. type(chunk) .. ", not a string")
      end
      if chunk then ok, err, kind = s:_feed(chunk) end
    end
    if ok and total and pos > total then chunk = nil end  -- the end goes in the same write
    if chunk == nil and ok ~= false then
      ok, err, kind = finish()
      if not ok then return nil, err, kind end
      return "ended"
    end
    if not ok then return nil, err, kind end
    r, err, kind, reply = drive(s)
    if progress and r then
      local pok, perr = pcall(progress, s:_body_bytes(), total)
      if not pok then abandon(s, perr) end
    end
  end
  return r, err, kind, reply
end

-- What the core needs before MAIL: for a string body its size and whether it holds
-- 8-bit bytes (the core's one check, in C), so SIZE and BODY=8BITMIME go out and a
-- server without 8BITMIME refuses before anything is sent.  A source's are unknown
-- (the core then checks each byte as it stuffs it).
local function measure(m)
  m.size, m.has8 = 0, -1
  if type(m.data) == "string" then
    m.size = #m.data
    m.has8 = core.has_8bit(m.data) and 1 or 0
  end
  return m
end

-- The envelope and body of a message given as an email object or a table, signed with
-- DKIM when asked (its own `dkim`, else the session's); an email streams itself.
-- Returns the message, or nil, message, kind when it cannot be signed.
local function normalise(msg, level, s)
  local m = message.read(msg, level + 1)
  local ok, err, kind = message.sign(m, dkims[s])
  if not ok then return nil, err, kind end
  if m.email then m.data = m.email:source() end
  m.dsn = message.merge_dsn(m.dsn, dsns[s])
  return measure(m)
end

local function failure(err, kind, reply)
  return {error = err, kind = kind, reply = reply}
end

-- How the body ends: after how.before_end (the spool's marker; when it fails the
-- connection is dropped, so the server never sees an end of data), either the plain
-- end of data or, with how.chain, the end together with the next message's envelope.
local function ending(s, how)
  return function()
    if how.before_end then
      local ok, err, kind = how.before_end()
      if not ok then
        s:_abort()
        driver.close(s)
        return nil, err, kind
      end
    end
    local n = how.chain
    if not n then return s:_feed_end() end
    how.snapshot = s:_result()            -- before the next envelope replaces it
    return s:_feed_end_chain(n.from, n.rcpts, n.size, n.has8, n.dsn)
  end
end

-- A chained message's outcome, known from its final reply (read ahead of the next
-- envelope's replies), and what became of the next message: true when its body is
-- awaited, else its failure.
local function chained_outcome(s, snapshot, r, err, kind, reply)
  local prev, nxt = s:_prev_reply(), true
  if r ~= "body" then nxt = failure(err, kind, reply) end
  if not prev then
    return nil, "outcome unknown: the connection failed after the end of data; the "
      .. "message may have been delivered", "uncertain", nil, nxt
  elseif math.floor(prev.code / 100) == 2 then
    snapshot.reply = prev
    return snapshot, nil, nil, nil, nxt
  end
  return nil, ("message refused: %d %s"):format(prev.code, prev.text), "reply", prev, nxt
end

-- One mail transaction, the same for send, send_batch and missive.spool (internal, not
-- part of the API): MAIL and RCPT (unless how.begun: a chained end of data sent them),
-- the body, the end of data and the final reply.  m: {from, rcpts, data, progress}; its
-- size and 8-bit content are measured here when not yet known.  how (optional): begun,
-- before_end (a function that must succeed before the end of data may leave), chain
-- (the next message, whose envelope goes out with this end of data).
-- Returns what `send` returns; after a chained end, a fifth value: true when the next
-- message's body is awaited, else {error =, kind =, reply =} for it.
function M._transaction(s, m, how)
  how = how or {}
  if m.has8 == nil then measure(m) end
  if not how.begun then
    m.dsn = message.merge_dsn(m.dsn, dsns[s])
    local ok, err, kind, reply = s:_begin_send(m.from, m.rcpts, m.size, m.has8, m.dsn)
    if not ok then return nil, err, kind, reply end
  end
  local r, err, kind, reply = feed_body(s, m.data, m.progress, ending(s, how))
  if r == "ended" then
    r, err, kind, reply = drive(s)
    if how.chain then return chained_outcome(s, how.snapshot, r, err, kind, reply) end
    if r and m.progress then m.progress(s:_body_bytes(), m.size > 0 and m.size or nil) end
  end
  if not r then return nil, err, kind, reply end
  return s:_result()
end

--- Sends one message.
-- `msg` is an email object, or a table {from, to, cc, bcc, data | message, progress,
-- notify, ret, envid} where data is a string or a source function returning chunks and
-- then nil; a recipient may be {address =, orcpt =, notify =} (DSN, RFC 3461).
-- @return {accepted = {addr...}, rejected = {[addr] = reply}, reply = reply},
--   or nil, message, kind[, reply]; kind "uncertain" means the server may have it.
function methods:send(msg)
  check_open(self)
  local m, err, kind = normalise(msg, 2, self)
  if not m then return nil, err, kind end
  return M._transaction(self, m)
end

-- The message to chain with message i: the next one whose envelope the server would
-- take (those before it are refused on the spot), when chaining is possible and
-- message i is small.  Returns where the batch goes on after i, and that message.
local function chain_partner(s, msgs, i, record)
  if not s:_can_chain() then return i + 1, nil end
  local j = i + 1
  while j <= #msgs do
    local n = msgs[j]
    local ok, err, kind = false, n.failed, n.kind
    if not n.failed then
      ok, err, kind = s:_check_envelope(n.from, n.rcpts, n.size, n.has8, n.dsn)
    end
    if ok then break end
    record(j, nil, err, kind)
    j = j + 1
  end
  -- A large body gains nothing from sharing a round trip, and its last TLS record
  -- would wait behind it: chain small messages only.
  if j <= #msgs and msgs[i].size <= CHAIN_MAX then return j, msgs[j] end
  return j, nil
end

-- Sends message i of a batch (its envelope already out when begun), chained to the
-- next acceptable one when it can.  Returns the next message to send and whether its
-- envelope went out already.
local function send_in_batch(s, msgs, i, begun, record)
  local m = msgs[i]
  if m.failed then
    record(i, nil, m.failed, m.kind)
    return i + 1, false
  end
  if not begun then
    local ok, err, kind, reply = s:_begin_send(m.from, m.rcpts, m.size, m.has8, m.dsn)
    if not ok then
      record(i, nil, err, kind, reply)
      return i + 1, false
    end
  end
  local j, partner = chain_partner(s, msgs, i, record)
  local res, err, kind, reply, nxt = M._transaction(s, m, {begun = true, chain = partner})
  record(i, res, err, kind, reply)
  if nxt == nil or nxt == true then return j, nxt == true end
  record(j, nil, nxt.error, nxt.kind, nxt.reply)
  return j + 1, false
end

--- Sends many messages on this session.  With PIPELINING, each message's end of data
-- goes out together with the next envelope: one round trip per message.
-- @tparam table list messages as for `send`
-- @return an array with, for each message, the result `send` would give or
--   {error = message, kind = kind, reply = reply}; then the count sent.
function methods:send_batch(list_)
  check_open(self)
  if type(list_) ~= "table" then error("send_batch expects an array of messages", 2) end
  local msgs, results, sent = {}, {}, 0
  for i = 1, #list_ do
    local m, err, kind = normalise(list_[i], 2, self)
    msgs[i] = m or {failed = err, kind = kind}
  end
  local function record(i, res, err, kind, reply)
    results[i] = res or failure(err, kind, reply)
    if res then sent = sent + 1 end
  end
  local i, begun = 1, false
  while i <= #msgs do i, begun = send_in_batch(self, msgs, i, begun, record) end
  return results, sent
end

local function command(s, verb)
  check_open(s)
  local ok, err, kind, reply = s:_begin_command(verb)
  if ok then ok, err, kind, reply = drive(s) end
  if not ok then return nil, err, kind, reply end
  return s:_reply()
end

--- NOOP: checks the connection. @return the reply, or nil, message, kind[, reply]
function methods:noop() return command(self, "NOOP") end

--- RSET: abandons a transaction. @return the reply, or nil, message, kind[, reply]
function methods:reset() return command(self, "RSET") end

--- s:close(): QUIT and free (idempotent); `local s <close>` too.
driver.closing(methods, mt, quit)

--- Sends one message on a new session and closes it.
-- @tparam table opts session options plus the fields of `send`
function M.send(opts)
  local s, err, kind, reply = M.session(opts)
  if not s then return nil, err, kind, reply end
  local res, serr, skind, sreply = s:send(opts)
  s:close()
  if not res then return nil, serr, skind, sreply end
  return res
end

M.set_timeout = config.set_timeout

return M
