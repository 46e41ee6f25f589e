--- POP3 sessions: reading a mailbox.
-- The protocol lives in the C core; this module fills in option defaults and adds
-- the iterators (`messages`, `get_all`, WinDev-style `read_first`/`read_next`).
-- @module missive.pop3
local core = require "missive.core"
local config = require "missive.config"

local M = {}
local methods = core.pop3_methods

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

--- Opens a session: connect, greeting, CAPA, TLS, login.
-- Options: host (required), port (995; 110 means required STLS), tls ("implicit" |
-- "starttls" | "none"), user, password, token (XOAUTH2), auth ("auto" | "user" |
-- "apop" | "none" | a SASL mechanism), timeout (seconds per command), cafile, capath,
-- verify (true), client_cert, client_key, insecure_auth, max_size (bytes per message,
-- 256 MiB), max_messages, progress (function(received, total)), trace.
-- @return a pop3.session, or nil, message, kind[, reply]
function M.session(opts)
  if type(opts) ~= "table" then
    error("pop3.session expects a table of options", 2)
  end
  local o = copy(opts)
  if o.port == nil then
    o.port = (o.tls == "starttls" or o.tls == "none") and 110 or 995
  end
  if o.tls == nil then
    o.tls = (o.port == 110) and "starttls" or "implicit"
  end
  if o.timeout == nil then o.timeout = config.timeout end
  if o.user ~= nil and o.password == nil and o.token == nil then
    error("option 'user' needs 'password' or 'token'", 2)
  end
  return core.pop3_open(o)
end

-- Messages become email objects when missive.email can carry the four POP3 fields;
-- otherwise (and with parse = false) plain tables {number, uid, size, raw}.
local email_ok
local function as_email(fields)
  if email_ok == false then return nil end
  local ok, email = pcall(require, "missive.email")
  if not ok or type(email) ~= "table" or type(email.parse) ~= "function" then
    email_ok = false
    return nil
  end
  local m = email.parse(fields.raw)
  if not m then return nil end
  local set = pcall(function()
    for k, v in pairs(fields) do m[k] = v end
  end)
  if not set or m.number ~= fields.number or m.raw ~= fields.raw then
    email_ok = false
    return nil
  end
  email_ok = true
  return m
end

local function make_message(opts, n, uid, size, raw)
  local fields = { number = n, uid = uid, size = size, raw = raw }
  if opts.parse ~= false then
    local m = as_email(fields)
    if m then return m end
  end
  return fields
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
  if s:pipelining() and opts.pipelining ~= false then window = opts.window or 16 end
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
    local ok, err, kind = s:_ahead(lines and "TOP" or "RETR", n, lines, self.sizes[n])
    if not ok then return nil, err, kind end
  end
  return true
end

-- DELE for the message handed out last: called only when the caller came back.
function Walk:delete_previous()
  local n = self.prev
  self.prev = nil
  if not (n and self.delete) then return true end
  if self.window > 0 then return self.s:_ahead("DELE", n) end
  return self.s:delete(n)
end

function Walk:next()
  local s = self.s
  local ok, err, kind, reply = self:delete_previous()
  if not ok then return nil, err, kind, reply end
  self.idx = self.idx + 1
  if self.idx > #self.nums then
    ok, err, kind, reply = s:_settle()
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
  local raw, ferr, fkind, freply = s:_fetch(n, self.opts.headers_only and 0 or nil,
                                            self.sizes[n])
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
  if not self.s:is_closed() and self.s:_pending() > 0 then self.s:_settle() end
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

-- WinDev's EmailReadFirst / EmailReadNext: a cursor per session; the message read
-- has out = false, and the end gives {out = true} (as does s:out()).
local cursors = setmetatable({}, { __mode = "k" })

local function read(c)
  local m, err, kind, reply = c.walk:next()
  if m == nil then return nil, err, kind, reply end
  c.out = m == false
  if c.out then return { out = true } end
  m.out = false
  return m
end

function methods:read_first(opts)
  local o = copy(opts or {})
  o.delete = nil
  local w, err, kind, reply = new_walk(self, o)
  if not w then return nil, err, kind, reply end
  local c = { walk = w, out = false }
  cursors[self] = c
  return read(c)
end

function methods:read_next()
  local c = cursors[self]
  if not c then return self:read_first() end
  if c.out then return { out = true } end
  return read(c)
end

function methods:out()
  local c = cursors[self]
  return c == nil or c.out
end

--- Opens an SMTP and a POP3 session at once (the seeds' EmailStartSession):
-- {smtp = {...}, pop3 = {...}} and/or shared host, user, password, token, timeout,
-- cafile, capath, verify, client_cert, client_key, insecure_auth, trace.
-- @return {smtp = session, pop3 = session, close = fn}, or nil, message, kind[, reply]
local SHARED = { "host", "user", "password", "token", "timeout", "cafile", "capath",
                 "verify", "client_cert", "client_key", "insecure_auth", "trace" }

function M.start_session(opts)
  if type(opts) ~= "table" then error("session expects a table of options", 2) end
  local function merged(part)
    local o = {}
    for _, k in ipairs(SHARED) do o[k] = opts[k] end
    for k, v in pairs(part or {}) do o[k] = v end
    return o
  end
  local smtp = require "missive.smtp"
  local so, serr, skind, sreply = smtp.session(merged(opts.smtp))
  if not so then return nil, "smtp: " .. serr, skind, sreply end
  local po, perr, pkind, preply = M.session(merged(opts.pop3))
  if not po then
    so:close()
    return nil, "pop3: " .. perr, pkind, preply
  end
  local both = { smtp = so, pop3 = po }
  function both.close()
    local a, aerr, akind, areply = so:close()
    local b, berr, bkind, breply = po:close()
    if not a then return nil, aerr, akind, areply end
    if not b then return nil, berr, bkind, breply end
    return true
  end
  return setmetatable(both, { __close = function(t) t.close() end })
end

M.set_timeout = config.set_timeout

return M
