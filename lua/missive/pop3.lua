--- POP3 sessions: reading a mailbox.
-- The protocol lives in the C core; this module fills in option defaults, runs the
-- core's steps through missive.driver (the same way for every transport), hands
-- message bodies to sinks and progress callbacks, and adds the iterators
-- (`messages`, `get_all`, WinDev-style `read_first`/`read_next`).
-- @module missive.pop3
local core = require "missive.core"
local config = require "missive.config"
local driver = require "missive.driver"

local M = {}
local mt = core.pop3_mt
local methods = mt.__index
local traces = setmetatable({}, {__mode = "k"})      -- session -> trace function
local progresses = setmetatable({}, {__mode = "k"})  -- session -> progress function
local MAX_MSG_NUMBER = core.pop3_max_msg_number
local MAX_TOP_LINES = core.pop3_max_top_lines

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

local function drive(s)
  return driver.drive(s, traces[s])
end

local function check_open(s)
  if s:is_closed() then error("attempt to use a closed session", 3) end
end

local function check_number(n, level)
  if type(n) ~= "number" or n ~= math.floor(n) or n < 1 or n > MAX_MSG_NUMBER then
    error("bad message number (an integer from 1 expected)", level + 1)
  end
end

--- Opens a session: connect, greeting, CAPA, TLS, login.
-- Options: host (required), port (995; 110 means required STLS), tls ("implicit" |
-- "starttls" | "none"), user, password, token (OAUTHBEARER or XOAUTH2: a string, or
-- function(user, reason) returning one and its expires_in; see missive.driver),
-- auth ("auto" | "user" |
-- "apop" | "none" | a SASL mechanism), timeout (seconds per command), cafile, capath,
-- verify (true), client_cert, client_key, tls_min/tls_max ("1.2" | "1.3"),
-- insecure_auth (nil: cleartext credentials only to a loopback peer; true; false),
-- max_size (bytes per message, 256 MiB), max_time (seconds for a whole command or
-- message, 600), max_messages, max_listing_bytes (one LIST/UIDL reply, 8 MiB),
-- progress (function(received, total)), trace, socket (an object or a factory) and
-- driver ("native" | "cosocket").
-- @return a pop3.session, or nil, message, kind[, reply]
function M.session(opts)
  if type(opts) ~= "table" then
    error("pop3.session expects a table of options", 2)
  end
  local o = copy(opts)
  if o.port == nil then
    o.port = (o.tls == "starttls" or o.tls == "none") and config.pop3.starttls_port
             or config.pop3.port
  end
  if o.tls == nil then
    o.tls = (o.port == config.pop3.starttls_port) and "starttls" or "implicit"
  end
  if o.timeout == nil then o.timeout = config.timeout end
  if o.user ~= nil and o.password == nil and o.token == nil then
    error("option 'user' needs 'password' or 'token'", 2)
  end
  -- A failed opening kills the session: no QUIT (RFC 1939 6), only free.
  local s, err, kind, reply = driver.open(core.pop3_new, o, o.trace)
  if s then
    traces[s] = o.trace
    progresses[s] = o.progress
  end
  return s, err, kind, reply
end

-- One command without a message body: begin, drive.  @return true or nil, err...
local function command(s, verb, n)
  local ok, err, kind, reply = s:_begin_command(verb, n)
  if ok then ok, err, kind, reply = drive(s) end
  if not ok then return nil, err, kind, reply end
  return true
end

--- STAT. @return count, size, or nil, message, kind[, reply]
function methods:stat()
  check_open(self)
  local ok, err, kind, reply = command(self, "STAT")
  if not ok then return nil, err, kind, reply end
  return self:_stat_result()
end

local function listing(s, verb, n)
  check_open(s)
  if n ~= nil then check_number(n, 3) end
  local ok, err, kind, reply = command(s, verb, n)
  if not ok then return nil, err, kind, reply end
  return s:_entries(verb == "UIDL", n ~= nil)
end

--- LIST: {[n] = size}, or the size of message n.
function methods:list(n) return listing(self, "LIST", n) end

--- UIDL: {[n] = uid}, or the UID of message n.
function methods:uidl(n) return listing(self, "UIDL", n) end

-- RSET and NOOP answer as in SMTP: the server's reply ({status = "+OK", text}: text is
-- what followed +OK; code only when the server gave a response code).
local function answered(s, verb)
  check_open(s)
  local ok, err, kind, reply = command(s, verb)
  if not ok then return nil, err, kind, reply end
  return s:_reply()
end

--- DELE n. @return true, or nil, message, kind[, reply]
function methods:delete(n)
  check_open(self)
  check_number(n, 2)
  return command(self, "DELE", n)
end

--- RSET. @return the reply, or nil, message, kind[, reply]
function methods:reset() return answered(self, "RSET") end

--- NOOP. @return the reply, or nil, message, kind[, reply]
function methods:noop() return answered(self, "NOOP") end

local function check_sink(sink)
  if sink == nil or type(sink) == "function" then return end
  local t = type(sink)
  if t == "userdata" or t == "table" then
    local ok, w = pcall(function() return sink.write end)
    if ok and w ~= nil then return end
  end
  error("bad argument #2 to 'retrieve' (sink must be a function or have a write method)", 3)
end

-- Calls the sink with a chunk: a function, or an object with :write (a file).
-- @return nil when it took the chunk, or a "sink failed: ..." message.
local function call_sink(sink, chunk)
  local a, b
  if type(sink) == "function" then
    a, b = sink(chunk)
  else
    a, b = sink:write(chunk)
  end
  -- Fails on false, or on nil followed by an error (the io/ltn12 convention).
  if a == false or (a == nil and b ~= nil) then
    return "sink failed: " .. (type(b) == "string" and b or "returned false")
  end
  return nil
end

-- The message was not handed off: read the rest of it into the void so the session
-- stays in step (within max_size and max_time); when that fails too, give the
-- connection up.  @return nil, or the failure's message and kind
local function discard_rest(s, r)
  if r ~= "chunk" then return end
  local ok, err, kind = s:_discard_rest()
  if ok then ok, err, kind = drive(s) end
  if not ok then
    s:_abort()
    driver.close(s)
    return err, kind
  end
end

-- RETR (lines == nil) or TOP n lines.  With a sink the body goes to it chunk by chunk
-- and the result is true; without, the body (bounded by max_size) is returned.
-- Sinks and progress run here, in Lua, between two drives of the core.
local function fetch(s, n, lines, expect, sink, progress)
  local verb = lines and "TOP" or "RETR"
  local ok, err, kind, reply = s:_begin_command(verb, n, lines, expect,
                                                sink ~= nil or progress ~= nil)
  if not ok then return nil, err, kind, reply end
  local total = (expect and expect > 0) and expect or nil
  while true do
    local r
    r, err, kind, reply = drive(s)
    if not r then return nil, err, kind, reply end
    if sink then
      local chunk = s:_take_body()
      if #chunk > 0 then
        local pok, serr = pcall(call_sink, sink, chunk)
        if not pok or serr then
          -- No handoff, so no DELE; keep the session usable, then report.
          local derr, dkind = discard_rest(s, r)
          if not pok then error(serr, 0) end
          -- The connection could not be kept either: say why, with its kind.
          if derr then return nil, serr .. "; then the rest of the message: " .. derr, dkind end
          return nil, serr, "io"
        end
      end
    end
    if progress then
      local pok, perr = pcall(progress, s:_body_bytes(), total)
      if not pok then
        discard_rest(s, r)
        error(perr, 0)
      end
    end
    if r == "done" then break end
  end
  if sink then return true end
  return s:_take_body(true)
end

--- RETR n: the message as a string, or streamed to sink (a function, or an object with
-- :write such as a file), with progress(received, total) after each chunk.
-- @return the message (true with a sink), or nil, message, kind[, reply]
function methods:retrieve(n, sink, progress)
  check_open(self)
  check_number(n, 2)
  check_sink(sink)
  if progress ~= nil and type(progress) ~= "function" then
    error("bad argument #3 to 'retrieve' (function expected)", 2)
  end
  return fetch(self, n, nil, nil, sink, progress or progresses[self])
end

--- TOP n lines: the headers and the first `lines` lines of the body.
function methods:top(n, lines)
  check_open(self)
  check_number(n, 2)
  if type(lines) ~= "number" or lines ~= math.floor(lines) or lines < 0
     or lines > MAX_TOP_LINES then
    error("bad argument #2 to 'top' (line count expected)", 2)
  end
  return fetch(self, n, lines, nil, nil, progresses[self])
end

-- Reads and drops every reply still owed (pipelined commands).
local function settle(s)
  while s:_pending() > 0 do
    local ok, err, kind, reply = command(s, "NOOP")
    if not ok then return nil, err, kind, reply end
  end
  return true
end

-- Sends QUIT (bounded wait) on a connection that is still sound; never raises.
-- Never after an error that left deletions uncertain: such an error kills the session.
local function quit(s)
  if s:_dead() then return true end
  return command(s, "QUIT")
end

--- s:close(): QUIT and free (idempotent); `local s <close>` too.
driver.closing(methods, mt, quit)

-- Every message is a missive.email object carrying number, uid, size and raw; one the
-- parser refuses (a cap hit) has only those and parse_error (the parser's message), and
-- with parse = false nothing is parsed.
local email = require "missive.email"

local function make_message(opts, n, uid, size, raw)
  local m, err
  if opts.parse ~= false then m, err = email.parse(raw) end
  if not m then m = core.email_unparsed(raw, err) end
  return core.email_annotate(m, { number = n, uid = uid, size = size })
end

local function uid_set(since)
  if since == nil then return nil end
  if type(since) ~= "table" then error("'since' must be a table of UIDs", 3) end
  local set = {}
  for k, v in pairs(since) do
    if type(k) == "number" and type(v) == "string" then set[v] = true
    elseif type(k) == "string" and v then set[k] = true end
  end
  return set
end

-- A walk over the mailbox: numbers to fetch, sizes, UIDs, the pipelining window.
-- :next() gives a message, false at the end, or nil, message, kind[, reply].
local Walk = {}
Walk.__index = Walk

local function new_walk(s, opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("options must be a table", 3) end
  local since = uid_set(opts.since)
  local sizes, err, kind, reply = s:list()
  if not sizes then return nil, err, kind, reply end
  local uids = s:uidl()  -- optional: a server without UIDL gives no UIDs
  if since and not uids then
    return nil, "the server does not support UIDL, needed for 'since'", "protocol"
  end
  local nums = {}
  for n in pairs(sizes) do
    if not (since and uids[n] and since[uids[n]]) then nums[#nums + 1] = n end
  end
  table.sort(nums)
  local window = 0
  if s:pipelining() and opts.pipelining ~= false then window = opts.window or config.pop3.window end
  return setmetatable({
    s = s, opts = opts, nums = nums, sizes = sizes, uids = uids or {}, idx = 0,
    sent = 0, window = window, delete = opts.delete and not opts.defer_delete,
  }, Walk)
end

function Walk:ahead()
  local s, lines = self.s, self.opts.headers_only and 0 or nil
  while self.sent < #self.nums and self.sent < self.idx + self.window do
    self.sent = self.sent + 1
    local n = self.nums[self.sent]
    local ok, err, kind = s:_send_ahead(lines and "TOP" or "RETR", n, lines, self.sizes[n])
    if not ok then return nil, err, kind end
  end
  return true
end

-- DELE for the message handed out last: called only when the caller came back.
function Walk:delete_previous()
  local n = self.prev
  self.prev = nil
  if not (n and self.delete) then return true end
  if self.window > 0 then return self.s:_send_ahead("DELE", n) end
  return self.s:delete(n)
end

function Walk:next()
  local s = self.s
  local ok, err, kind, reply = self:delete_previous()
  if not ok then return nil, err, kind, reply end
  self.idx = self.idx + 1
  if self.idx > #self.nums then
    ok, err, kind, reply = settle(s)
    if not ok then return nil, err, kind, reply end
    local _, derr, dkind, dreply = s:_dele_error()
    if derr then return nil, derr, dkind, dreply end
    return false
  end
  local n = self.nums[self.idx]
  if self.window > 0 then
    ok, err, kind = self:ahead()
    if not ok then return nil, err, kind end
  end
  local raw, ferr, fkind, freply = fetch(s, n, self.opts.headers_only and 0 or nil,
                                         self.sizes[n], nil, progresses[s])
  if not raw then return nil, ferr, fkind, freply end
  local _, derr, dkind, dreply = s:_dele_error()
  if derr then return nil, derr, dkind, dreply end
  self.prev = n
  return make_message(self.opts, n, self.uids[n], self.sizes[n], raw)
end

-- Reads the replies still owed, so the session stays usable after a break or an
-- error in the loop body (the message in hand is not deleted).
function Walk:settle()
  self.prev = nil
  if not self.s:is_closed() and self.s:_pending() > 0 then settle(self.s) end
end

--- Iterates over the messages: `for m in s:messages{...} do ... end`.
-- opts: headers_only (TOP n 0), delete (DELE a message once the loop body returned
-- normally for it: `break` or an error keeps it), since (UIDs already seen: an array
-- or a set), parse (false: plain tables), window (pipelined commands, 16).
-- A failure raises "message (kind)"; the message in hand is never deleted.
function methods:messages(opts)
  local w, err, kind = new_walk(self, opts)
  if not w then error(("%s (%s)"):format(err, kind), 2) end
  local function iter()
    local m, ierr, ikind = w:next()
    if m == false then return nil end
    if m == nil then error(("%s (%s)"):format(ierr, ikind), 2) end
    return m
  end
  local closer = setmetatable({}, { __close = function() w:settle() end })
  return iter, nil, nil, closer
end

--- Retrieves every message; with delete = true, DELE is sent only once all of them
-- were received.  @return an array of messages, or nil, message, kind[, reply]
function methods:get_all(opts)
  opts = copy(opts or {})
  local delete = opts.delete
  opts.delete = nil
  local w, err, kind, reply = new_walk(self, opts)
  if not w then return nil, err, kind, reply end
  local all = {}
  while true do
    local m, merr, mkind, mreply = w:next()
    if m == false then break end
    if m == nil then
      w:settle()
      return nil, merr, mkind, mreply
    end
    all[#all + 1] = m
  end
  if delete then
    for _, m in ipairs(all) do
      local ok, derr, dkind, dreply = self:delete(m.number)
      if not ok then return nil, derr, dkind, dreply end
    end
  end
  return all
end

-- WinDev's EmailReadFirst / EmailReadNext / EmailOut: a cursor over this session's walk.
require("missive.windev").install(methods, new_walk)

--- Opens an SMTP and a POP3 session at once: missive.session, kept here by this name.
function M.start_session(opts)
  return require("missive").session(opts)
end

M.set_timeout = config.set_timeout

return M
