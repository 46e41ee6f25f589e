--- WinDev's mailbox cursor (EmailReadFirst, EmailReadNext, EmailOut) over any session
-- that walks its mailbox.  read_first starts a walk, read_next takes the next message,
-- and the end reads as {out = true}; the message read carries out = false.  The cursor
-- and its `out` flag live here: neither the session nor the email type knows them.
-- @module missive.windev
local core = require "missive.core"
local copy = require("missive.message").copy

local M = {}

local cursors = setmetatable({}, { __mode = "k" })  -- session -> {walk =, out =}

local function read(c)
  local m, err, kind, reply = c.walk:next()
  if m == nil then return nil, err, kind, reply end
  c.out = m == false
  if c.out then return { out = true } end
  core.email_annotate(m, { out = false })
  return m
end

--- Gives a session type the cursor methods read_first(opts), read_next() and out().
-- open_walk(session, opts) starts a walk over the mailbox whose :next() gives an email,
-- false at the end, or nil, message, kind[, reply]; it gets a copy of opts without
-- `delete` (reading with the cursor never deletes).
function M.install(methods, open_walk)
  function methods:read_first(opts)
    local o = copy(opts or {})
    o.delete = nil
    local w, err, kind, reply = open_walk(self, o)
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
end

return M
