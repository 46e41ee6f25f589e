--- Asynchronous SMTP sessions: `smtp.async{...}` (or `smtp.session{..., async = true}`).
-- `s:send(m)` serialises the message, queues it and returns its id at once; a sender
-- owns the connection and sends the queue in order.  Outside nginx the sender is a C
-- thread (it never touches the Lua state); in OpenResty it is an ngx.timer running an
-- ordinary session over cosockets.  Same API either way:
--   s:send(m)        -> id, or nil, message, kind
--   s:status(id)     -> "queued" | "sending" | "sent" | "failed" | "uncertain", detail
--                       (the spool's words: queued until the sender takes it)
--                       detail (once done): {accepted, rejected, reply} for "sent", plus
--                       error and kind for "failed" and "uncertain"
--   s:wait([id[, seconds]]) -> the state and detail of id (or true for all), or nil,
--                       "timed out", "timeout"
--   s:pending()      -> messages queued or in flight
--   s:close()        -> flushes the queue, QUIT; outcomes stay readable afterwards
-- A session that is garbage-collected without close() does not send what is still
-- queued (those end "failed"); call close() or wait().
-- OAuth tokens from a function (token = function(user, reason)): the C thread cannot
-- call it, so it asks and waits, and every call above answers a question waiting (wait()
-- wakes up for one, answers and waits on).  Such a sender makes progress on its
-- owner's calls only.
-- @module missive.async
local core = require "missive.core"
local driver = require "missive.driver"
local message = require "missive.message"

local M = {}

-- The states a message ends in (missive.spool uses the same words).
local FINAL = {sent = true, failed = true, uncertain = true}

local function ngx_() return rawget(_G, "ngx") end

--- Turns what `send` accepts into from, recipients and the message bytes, so the
-- sender needs nothing from the caller afterwards.  A source function is drained here.
-- Signed with DKIM when asked (the message's `dkim`, else the session's); its DSN
-- requests over the session's `dsn` default, checked.
-- @return from, rcpts, data, dsn, or nil, message, kind
function M.serialise(msg, dkim, dsn)
  local m = message.read(msg, 2)
  m.dsn = message.merge_dsn(m.dsn, dsn)
  if m.dsn then
    local ok, err, kind = core.smtp_check_dsn(m.dsn, #m.rcpts)
    if not ok then return nil, err, kind end
  end
  local ok, serr, skind = message.sign(m, dkim)
  if not ok then return nil, serr, skind end
  local data = m.data
  if m.email then
    local err, kind
    data, err, kind = m.email:tostring()
    if not data then return nil, err, kind end
  elseif type(data) == "function" then
    local parts = {}
    while true do
      local chunk = data()
      if chunk == nil then break end
      if type(chunk) ~= "string" then
        error("message source returned a " .. type(chunk) .. ", not a string", 3)
      end
      parts[#parts + 1] = chunk
    end
    data = table.concat(parts)
  end
  return m.from, m.rcpts, data, m.dsn
end

------------------------------------------------------------------ native: a C thread

local mt = core.async_mt
local methods = mt.__index
local dkims = setmetatable({}, {__mode = "k"})   -- session -> its dkim option
local dsns = setmetatable({}, {__mode = "k"})    -- session -> its dsn option
local tokens = setmetatable({}, {__mode = "k"})  -- session -> {fn =, user =}
local answering = setmetatable({}, {__mode = "k"})  -- session -> its function is running

-- Answers the sender's question for a token, if it asks, in the caller's thread, through
-- missive.driver's kept tokens (a token refused since is forgotten first).  A function
-- that calls back into the session it serves would answer itself: that is its error.
local function answer_token(self)
  local t = tokens[self]
  if not t then return end
  if answering[self] then
    error("a token function must not use the session it serves", 3)
  end
  local reason, refused = self:_token_asked()
  if refused then driver.forget_token(t.fn, t.user) end
  if reason then
    answering[self] = true
    local token, err = driver.fetch_token(t.fn, t.user, reason)
    answering[self] = nil
    self:_token_answer(token, err)
  end
end

-- _wait, answering the sender's questions as they come.
local function wait_answering(self, id, seconds)
  local r, left = self:_wait(id, seconds)
  while r == "token" do
    answer_token(self)
    r, left = self:_wait(id, left)
  end
  return r
end

function methods:send(msg)
  if self:is_closed() then error("attempt to use a closed session", 2) end
  answer_token(self)
  local from, rcpts, data, dsn = M.serialise(msg, dkims[self], dsns[self])
  if not from then return nil, rcpts, data end
  return self:_submit(from, rcpts, data, dsn)
end

function methods:status(id)
  if type(id) ~= "number" then error("status expects a message id", 2) end
  answer_token(self)
  return self:_status(id)
end

function methods:wait(id, seconds)
  if id ~= nil and type(id) ~= "number" then error("wait expects a message id", 2) end
  local r = wait_answering(self, id or 0, seconds)
  if r == nil then error("no such message id: " .. tostring(id), 2) end
  if not r then return nil, "timed out waiting for the message to be sent", "timeout" end
  if id == nil then return true end
  return self:_status(id)
end

function methods:pending()
  answer_token(self)
  return self:_pending()
end

-- With a token function, the queue is flushed here, answering questions, before the
-- core's close (which would fail a question still open).
function methods:close()
  if tokens[self] and not self:is_closed() then wait_answering(self, 0) end
  local ok = self:_close()
  answer_token(self)   -- a refusal at the end still forgets the kept token
  return ok
end

mt.__close = function(s) s:close() end

------------------------------------------------------------------ OpenResty: ngx.timer

local Ngx = {}
Ngx.__index = Ngx

local function ngx_worker(premature, self)
  local smtp = require "missive.smtp"
  local s
  while self.head <= self.tail do
    local job = self.queue[self.head]
    local rec = self.records[job.id]
    rec.state = "sending"
    if premature then
      rec.state, rec.detail = "failed", {error = "nginx is shutting down: message not sent",
                                         kind = "closed", accepted = {}, rejected = {}}
    else
      local err, kind, reply
      if not s then s, err, kind, reply = smtp.session(self.opts) end
      if not s then
        rec.state = "failed"
        rec.detail = {error = err, kind = kind, reply = reply, accepted = {}, rejected = {}}
      else
        local res
        res, err, kind, reply = smtp._transaction(s, {from = job.from, rcpts = job.rcpts,
                                                      data = job.data, dsn = job.dsn})
        if res then
          rec.state, rec.detail = "sent", res
        else
          rec.state = (kind == "uncertain") and "uncertain" or "failed"
          rec.detail = {error = err, kind = kind, reply = reply, accepted = {}, rejected = {}}
          if s:_dead() then s:close(); s = nil end
        end
      end
    end
    self.queue[self.head] = nil
    self.head = self.head + 1
    self.npending = self.npending - 1
  end
  if s then s:close() end
  self.running = false
end

local function ngx_kick(self)
  if self.running or self.head > self.tail then return true end
  local ok, err = ngx_().timer.at(0, ngx_worker, self)
  if not ok then return nil, "cannot start the sender timer: " .. tostring(err), "io" end
  self.running = true
  return true
end

function Ngx:send(msg)
  if self.closed then error("attempt to use a closed session", 2) end
  local from, rcpts, data, dsn = M.serialise(msg, self.dkim, self.dsn)
  if not from then return nil, rcpts, data end
  self.next_id = self.next_id + 1
  local id = self.next_id
  self.records[id] = {state = "queued"}
  self.tail = self.tail + 1
  self.queue[self.tail] = {id = id, from = from, rcpts = rcpts, data = data, dsn = dsn}
  self.npending = self.npending + 1
  local ok, err, kind = ngx_kick(self)
  if not ok then
    self.records[id] = {state = "failed", detail = {error = err, kind = kind,
                                                    accepted = {}, rejected = {}}}
    self.queue[self.tail] = nil
    self.tail = self.tail - 1
    self.npending = self.npending - 1
    return nil, err, kind
  end
  return id
end

function Ngx:status(id)
  if type(id) ~= "number" then error("status expects a message id", 2) end
  local rec = self.records[id]
  if not rec then return nil end
  if not FINAL[rec.state] then return rec.state end
  return rec.state, rec.detail
end

-- Polls with ngx.sleep, so it needs a yieldable phase (content, access, timer...).
function Ngx:wait(id, seconds)
  if id ~= nil and (type(id) ~= "number" or not self.records[id]) then
    error("no such message id: " .. tostring(id), 2)
  end
  local ngx = ngx_()
  local deadline = seconds and (ngx.now() + seconds)
  while true do
    if id == nil and self.npending == 0 then return true end
    if id ~= nil and FINAL[self.records[id].state] then return self:status(id) end
    if deadline and ngx.now() >= deadline then
      return nil, "timed out waiting for the message to be sent", "timeout"
    end
    ngx.sleep(0.01)
  end
end

function Ngx:pending() return self.npending end

function Ngx:is_closed() return self.closed end

--- Flushes (waiting, so from a yieldable phase) and closes.  The timer says QUIT when
-- the queue is empty.
function Ngx:close()
  if self.closed then return true end
  self.closed = true
  self:wait()
  return true
end

Ngx.__close = Ngx.close
Ngx.__tostring = function(self)
  return self.closed and "smtp.async (closed)" or "smtp.async (ngx.timer)"
end

local function use_ngx(o)
  local ngx = ngx_()
  if o.driver == "native" then return false end
  if o.socket ~= nil then
    error("async = true needs the native driver or OpenResty cosockets, not a socket "
          .. "object", 3)
  end
  return o.driver == "cosocket" or (ngx ~= nil and ngx.timer ~= nil
    and ngx.get_phase ~= nil and ngx.get_phase() ~= "init")
end

--- Opens an asynchronous session (smtp.async).  Takes the options of
-- missive.smtp.session except trace and socket.  Option errors are reported here;
-- connection and server errors (the sender connects in the background) in the status
-- of the messages.
-- @return the session, or nil, message, kind
function M.session(opts)
  if type(opts) ~= "table" then error("smtp.async expects a table of options", 2) end
  if opts.trace ~= nil then error("option 'trace' is not available with async = true", 2) end
  local o = message.smtp_defaults(opts, 2)
  -- messages are signed as they are queued, never again by the sender
  local dkim = o.dkim
  if dkim ~= nil and type(dkim) ~= "table" then error("option 'dkim' must be a table", 2) end
  o.dkim = nil
  -- the DSN default too is applied as messages are queued
  local dsn = o.dsn
  local ok, derr, dkind = message.check_dsn(dsn, 2)
  if not ok then return nil, derr, dkind end
  o.dsn = nil
  if use_ngx(o) then
    if o.host == nil then error("option 'host' is required", 2) end
    o.driver = "cosocket"
    return setmetatable({opts = o, dkim = dkim, dsn = dsn, queue = {}, head = 1, tail = 0,
                         records = {}, next_id = 0, npending = 0, running = false,
                         closed = false}, Ngx)
  end
  local s, err, kind = core.async_new(o)
  if s then
    dkims[s], dsns[s] = dkim, dsn
    -- the sender thread cannot call Lua: it asks, and the session's methods answer
    if type(o.token) == "function" then tokens[s] = {fn = o.token, user = o.user} end
  end
  return s, err, kind
end

return M
