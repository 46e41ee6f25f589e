--- The mailbox walks of an IMAP session: `messages{}` (email objects fetched in
-- batches, actions after the loop body), and WinDev's `get_all`, `read_first`,
-- `read_next` and `out`, all built on the session's public methods.
-- @module missive.imap_walk
local core = require "missive.core"
local email = require "missive.email"
local windev = require "missive.windev"

local function check_open(s)
  if s:is_closed() then error("attempt to use a closed session", 3) end
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- run_steps(s, steps, uids): the commands of a delete the core chose; fetch_start(s,
-- uids, items): sends a UID FETCH and returns the function that waits for it (imap.lua).
return function(methods, run_steps, fetch_start)

  local function make_message(raw, r, folder, parse)
    local m, err
    if parse ~= false then m, err = email.parse(raw) end
    if not m then m = core.email_unparsed(raw, err) end
    return core.email_annotate(m, { uid = r.uid, flags = r.flags, size = r.size,
                                    internal_date = r.internal_date, folder = folder })
  end

  -- Lua 5.4 closes the iterator's fourth value when a loop ends by break or error.
  local HAS_CLOSE = _VERSION >= "Lua 5.4"

  -- Messages per FETCH, and the bytes one batch may hold in memory.
  local BATCH, BATCH_BYTES = 64, 16 * 1024 * 1024

  --- Iterates over messages as email objects (uid, flags, size, internal_date, folder
  -- attached): `for m in s:messages{folder =, search =, uids =, headers_only =,
  -- mark_seen =, move_to =, delete =, parse =} do ... end`.  They are fetched in batches
  -- (one UID FETCH with BODY.PEEK each), pipelined: the next batch's FETCH is on the
  -- wire while this one's replies are read.  The loop body may call any session
  -- method (it reads the batch in flight out first).
  -- mark_seen, move_to and delete act on a message only once the loop body returned
  -- normally for it (a `break` or an error leaves it as it was).  A failure raises
  -- "message (kind)".
  function methods:messages(opts)
    check_open(self)
    opts = opts or {}
    if type(opts) ~= "table" then error("options must be a table", 2) end
    local s = self
    local acting = opts.mark_seen or opts.move_to or opts.delete
    local function fail(err, kind) error(("%s (%s)"):format(err, kind), 3) end
    local selected, readonly = s:folder()
    local folder = opts.folder or selected or "INBOX"
    if opts.folder or not selected or (acting and readonly) then
      local ok, err, kind = s:select(folder, { readonly = not acting })
      if not ok then fail(err, kind) end
    end
    local uids = opts.uids
    if uids == nil then
      local err, kind
      uids, err, kind = s:search(opts.search or {})
      if not uids then fail(err, kind) end
    end
    -- sizes first, so a batch holds a bounded number of bytes
    local sizes = {}
    if #uids > 0 then
      local meta, err, kind = s:fetch(uids, { "size" })
      if not meta then fail(err, kind) end
      for _, r in ipairs(meta) do sizes[r.uid] = r.size end
    end
    local order = {}
    for _, u in ipairs(uids) do if sizes[u] then order[#order + 1] = u end end
    local item = opts.headers_only and "BODY.PEEK[HEADER]" or "BODY.PEEK[]"
    local pos, batch, bpos, done, pending = 0, {}, 0, {}, nil
    local function flush_actions()
      if #done == 0 then return end
      local list = done
      done = {}
      if s:folder() ~= folder then
        local ok, err, kind = s:select(folder)
        if not ok then fail(err, kind) end
      end
      local ok, err, kind
      if opts.mark_seen then
        ok, err, kind = s:store(list, "+", "\\Seen")
        if not ok then fail(err, kind) end
      end
      if opts.move_to then
        ok, err, kind = s:move(list, opts.move_to)
        if not ok then fail(err, kind) end
      elseif opts.delete then
        -- Without UIDPLUS the messages stay \Deleted: a bare EXPUNGE would also remove
        -- other clients' deleted messages (unless opts.expunge asks for it).
        ok, err, kind = run_steps(s, s:_delete_steps(opts.expunge), list)
        if not ok then fail(err, kind) end
      end
    end
    -- Sends the FETCH of the next batch: {want = uids, wait = function}.
    local function start_batch()
      local want, bytes = {}, 0
      while pos < #order and #want < BATCH do
        local u = order[pos + 1]
        if #want > 0 and bytes + sizes[u] > BATCH_BYTES then break end
        pos = pos + 1
        want[#want + 1] = u
        bytes = bytes + sizes[u]
      end
      if s:folder() ~= folder then
        local ok, err, kind = s:select(folder, { readonly = not acting })
        if not ok then fail(err, kind) end
      end
      return { want = want, wait = fetch_start(s, want, { "flags", "size", "internal_date",
                                                          item }) }
    end
    local function next_batch()
      local cur = pending or start_batch()
      pending = nil
      if pos < #order then pending = start_batch() end -- sent before cur's replies are read
      local want = cur.want
      local got, err, kind = cur.wait()
      if not got then fail(err, kind) end
      local by = {}
      for _, r in ipairs(got) do by[r.uid] = r end
      batch, bpos = {}, 0
      for _, u in ipairs(want) do
        local r = by[u]
        if r then
          local raw = r.sections and (opts.headers_only and r.sections.HEADER or r.sections[""])
          if raw then batch[#batch + 1] = make_message(raw, r, folder, opts.parse) end
        end
      end
    end
    local current
    local function iter()
      if current and acting then
        done[#done + 1] = current
        -- Without to-be-closed variables (before Lua 5.4) a `break` runs no closer: act at
        -- once rather than lose the action.
        if not HAS_CLOSE then flush_actions() end
      end
      current = nil
      while bpos >= #batch do
        if acting then flush_actions() end
        if pos >= #order and not pending then return nil end
        next_batch()
      end
      bpos = bpos + 1
      local m = batch[bpos]
      batch[bpos] = false
      current = m.uid
      return m
    end
    -- A `break` or an error: the messages whose body returned still get their actions.
    local closer = setmetatable({}, { __close = function()
      if acting and not s:is_closed() then pcall(flush_actions) end
    end })
    return iter, nil, nil, closer
  end

  -- WinDev shapes

  -- "message (kind)" raised by the iterator, back to message, kind.
  local function unraise(e)
    if type(e) ~= "string" then error(e, 0) end
    local msg, kind = e:match("^(.*) %((%a+)%)$")
    return msg or e, kind or "protocol"
  end

  local function walk_opts(opts)
    local o = copy(opts or {})
    if o.unseen then o.search = { unseen = true } end
    o.unseen = nil
    return o
  end

  --- Every message (WinDev's EmailGetAll): opts as messages{}, plus unseen = true for the
  -- unread ones only.  @return an array of email objects, or nil, message, kind
  function methods:get_all(opts)
    check_open(self)
    local all = {}
    local ok, err = pcall(function()
      for m in self:messages(walk_opts(opts)) do all[#all + 1] = m end
    end)
    if not ok then return nil, unraise(err) end
    return all
  end

  -- WinDev's EmailReadFirst / EmailReadNext / EmailOut: the shared cursor over a walk
  -- of messages{} (opts as get_all's).
  windev.install(methods, function(s, opts)
    if s:is_closed() then error("attempt to use a closed session", 3) end
    local ok, iter = pcall(s.messages, s, walk_opts(opts))
    if not ok then return nil, unraise(iter) end
    return { next = function()
      local got, m = pcall(iter)
      if not got then return nil, unraise(m) end
      return m or false
    end }
  end)
end
