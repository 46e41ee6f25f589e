--- IMAP sessions: reading, searching, flagging and filing mail on the server.
-- The protocol lives in the C core (commands completed by tag, literals, the response
-- grammar, the open sequence and login, the search compiler, the event queue); this
-- module builds each command from typed arguments (the core quotes, encodes and checks
-- them), runs it through missive.driver (the same way for every transport), shapes the
-- untagged responses the core hands to each command (the core decides whose they are
-- and queues the rest as events), and adds the iterators.
-- @module missive.imap
local core = require "missive.core"
local config = require "missive.config"
local driver = require "missive.driver"
local args_mod = require "missive.imap_args"

local M = {}
local mt = core.imap_mt
local methods = mt.__index
local state = setmetatable({}, { __mode = "k" })  -- session -> {trace, opts}

-- A server ends IDLE after 30 minutes at least (RFC 2177): leave and re-enter before.
local IDLE_MAX = 25 * 60

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

local function check_open(s, level)
  if s:is_closed() then error("attempt to use a closed session", (level or 2) + 1) end
end

local function st(s) return state[s] end

local function call_sink(sink, chunk)
  local a, b
  if type(sink) == "function" then a, b = sink(chunk) else a, b = sink:write(chunk) end
  if a == false or (a == nil and b ~= nil) then
    return "sink failed: " .. (type(b) == "string" and b or "returned false")
  end
end

local function pack(...) return { n = select("#", ...), ... } end
local unpack = table.unpack or unpack -- luacheck: ignore 143

-- Settles every command in flight with one failure (the connection is gone).
local function fail_all(t, ...)
  local flight = t.flight
  for i = #flight, 1, -1 do
    flight[i].res = pack(nil, ...)
    flight[i] = nil
  end
end

local function find_flight(t, tag)
  for i, f in ipairs(t.flight) do
    if f.tag == tag then return f, i end
  end
end

local function take_flight(t, tag)
  local _, i = find_flight(t, tag)
  if i then return table.remove(t.flight, i) end
end

-- Reads until command e is answered.  Commands may be in flight together (pipelined):
-- an untagged response goes to the o.collect of the command the core names as its
-- owner (none: the core queued it as an event), a streamed literal to the oldest one's
-- o.sink, and each tagged reply (the core says whose) settles its own command.
local function await(s, e)
  local t = st(s)
  while not e.res do
    local r, err, kind, reply = driver.drive(s, t.trace)
    local head = t.flight[1]
    if r == "chunk" then
      local what, a, b, c = s:_take()
      if what == "response" then
        if a == nil then
          head.late = head.late or { b, c } -- answered when its tagged reply comes
        elseif b then
          local f = find_flight(t, b)
          if f and f.o.collect then f.o.collect(a) end
        end
      elseif what == "literal" and head.o.sink and not head.late then
        local pok, serr = pcall(call_sink, head.o.sink, a)
        if not pok then head.late = { serr, "io", raise = true }
        elseif serr then head.late = { serr, "io" } end
      end
    elseif r == "body" then
      -- the bytes of a literal streamed from o.source (APPEND of a file; never pipelined)
      local ok, chunk = pcall(head.o.source)
      if not ok or chunk == nil or chunk == "" then
        -- the command cannot be completed: the connection is given up
        s:_abort()
        driver.close(s)
        fail_all(t, "the message source ended before the size announced", "io")
        if not ok then error(chunk, 0) end
      else
        ok, err, kind, reply = s:_feed(chunk)
        if not ok then
          s:_abort()
          driver.close(s)
          fail_all(t, err, kind, reply)
        end
      end
    elseif r == "done" or (not r and kind == "reply") then
      -- (IDLE completes at its "+", before any tagged reply: the oldest command)
      local f = take_flight(t, s:_done_tag()) or table.remove(t.flight, 1)
      if f.late then
        f.res, f.raise = pack(nil, f.late[1], f.late[2]), f.late.raise
      elseif r == "done" then
        f.res = pack(s:_tagged() or {})
      else
        f.res = pack(nil, err, kind, reply)
      end
    else
      if not r and kind == "closed" then t.closed = true end
      fail_all(t, err, kind, reply)
    end
  end
  if e.raise then error(e.res[2], 0) end
  return unpack(e.res, 1, e.res.n)
end

-- Reads every command in flight to its tagged reply (before one that cannot be
-- pipelined, IDLE, or a wait).
local function drain(s)
  local flight = st(s).flight
  while #flight > 0 do await(s, flight[#flight]) end
end

-- Sends one command.  args: the typed arguments (see limap.c), or o.begin(), which
-- starts the command itself; o.collect(r): adds an untagged response the core says is
-- the command's to its result; o.sink: streamed literals go to it; o.source: the bytes of an "L"
-- literal.  It goes at once while others are in flight when the core allows it
-- (pipelined), else after they are answered.  @return the command in flight, or nil,
-- message, kind[, reply]
local function submit(s, args, o)
  local t = st(s)
  for _ = 1, 2 do
    local ok, tag, kind, reply
    if o.begin then ok, tag, kind, reply = o.begin() else
      ok, tag, kind, reply = s:_command(args, o.sink ~= nil)
    end
    if ok then
      local e = { tag = tag, o = o }
      t.flight[#t.flight + 1] = e
      return e
    end
    if ok == nil then return nil, tag, kind, reply end
    drain(s) -- false: it must wait for the commands in flight
  end
  error("the session cannot send a command") -- not reached: nothing is in flight now
end

-- Runs one command to its tagged reply.  @return the tagged OK as a table, or nil,
-- message, kind[, reply]
local function run(s, args, o)
  o = o or {}
  drain(s)
  local e, err, kind, reply = submit(s, args, o)
  if not e then return nil, err, kind, reply end
  return await(s, e)
end

-- Sends several commands sharing o, pipelined (the long UID sets of one operation).
-- @return {commands in flight, failure = {nil, message, kind, reply} if one could not go}
local function start_all(s, list, o)
  local sent = {}
  for _, args in ipairs(list) do
    local e, err, kind, reply = submit(s, args, o)
    if not e then
      sent.failure = pack(nil, err, kind, reply)
      break
    end
    sent[#sent + 1] = e
  end
  return sent
end

-- Reads the commands start_all sent to their tagged replies.  @return the commands
-- (each with res, its tagged reply), or the first failure.
local function finish_all(s, sent)
  local first = sent.failure
  for _, e in ipairs(sent) do
    local res = pack(await(s, e))
    if not res[1] and not first then first = res end
  end
  if first then return unpack(first, 1, first.n) end
  return sent
end

local function run_all(s, list, o)
  drain(s)
  return finish_all(s, start_all(s, list, o))
end
M._run = run

local function drive_plain(s)
  return driver.drive(s, st(s).trace)
end

--- Opens a session: connect, greeting, CAPABILITY, TLS, login, ENABLE.
-- Options: host (required), port (993; 143 means required STARTTLS), tls ("implicit" |
-- "starttls" | "none"), user, password, token (OAUTHBEARER or XOAUTH2: a string, or
-- function(user, reason) returning one and its expires_in; see missive.driver),
-- auth ("auto" | "login" |
-- "none" | a SASL mechanism), timeout, cafile, capath, verify, server_name,
-- client_cert, client_key, tls_min, tls_max, insecure_auth, max_size (bytes of one
-- message held in memory, 256 MiB), max_time, enable (false: no ENABLE), trace,
-- socket and driver.
-- @return an imap.session, or nil, message, kind[, reply]
function M.session(opts)
  if type(opts) ~= "table" then error("imap.session expects a table of options", 2) end
  local o = copy(opts)
  if o.port == nil then
    o.port = (o.tls == "starttls" or o.tls == "none") and 143 or 993
  end
  if o.tls == nil then o.tls = (o.port == 143) and "starttls" or "implicit" end
  if o.timeout == nil then o.timeout = config.timeout end
  if o.user ~= nil and o.password == nil and o.token == nil then
    error("option 'user' needs 'password' or 'token'", 2)
  end
  local s, err, kind, reply = driver.open(core.imap_new, o, o.trace)
  if s then state[s] = { trace = o.trace, opts = o, flight = {} } end
  return s, err, kind, reply
end

--- The capabilities the server announced last, as a set: caps["IDLE"] == true.
-- (s:capabilities() is the C method.)
local function has(s, cap) return s:capabilities()[cap] == true end
methods.has = function(s, cap)
  check_open(s)
  return has(s, cap:upper())
end

-- ------------------------------------------------------------------ arguments

local uid_sets, sorted_keys = args_mod.uid_sets, args_mod.sorted_keys
local check_flags, crlf, append_date = args_mod.check_flags, args_mod.crlf,
                                       args_mod.append_date

local function mailbox_arg(name, what)
  if type(name) ~= "string" then error("bad argument (" .. what .. " name expected)", 4) end
  return "m" .. name
end

-- ------------------------------------------------------------------ mailboxes

--- SELECT (or EXAMINE with {readonly = true}).
-- @return {exists, recent, uidvalidity, uidnext, highestmodseq, flags,
-- permanent_flags, readonly}, or nil, message, kind[, reply]
function methods:select(name, opts)
  check_open(self)
  opts = opts or {}
  local info = { exists = 0, flags = {}, permanent_flags = {} }
  local verb = opts.readonly and "aEXAMINE" or "aSELECT"
  local res, err, kind, reply = run(self, { verb, mailbox_arg(name, "folder") }, {
    collect = function(r)
      if r.name == "EXISTS" then info.exists = r.number
      elseif r.name == "RECENT" then info.recent = r.number
      elseif r.name == "FLAGS" then info.flags = r.flags
      elseif r.code == "UIDVALIDITY" then info.uidvalidity = r.uidvalidity
      elseif r.code == "UIDNEXT" then info.uidnext = r.number
      elseif r.code == "HIGHESTMODSEQ" then info.highestmodseq = r.number
      elseif r.code == "UNSEEN" then info.unseen = r.number
      elseif r.code == "PERMANENTFLAGS" then info.permanent_flags = r.list end
    end })
  if not res then
    if not self:is_closed() then self:_selected(nil) end
    return nil, err, kind, reply
  end
  info.readonly = res.code == "READ-ONLY" or (opts.readonly == true and res.code ~= "READ-WRITE")
  self:_selected(name, info.readonly)
  return info
end

-- s:folder(): the folder selected (and whether read-only), or nil (the C method).

--- LIST: {{name =, delimiter =, flags = {...}, special = "sent"|..., raw =}, ...}.
-- Names are UTF-8; special comes from the SPECIAL-USE attributes, else from the name
-- (Sent, Sent Items, Trash, Deleted Items, Drafts, Junk, Spam, Archive).
function methods:folders(pattern)
  check_open(self)
  local list = {}
  local res, err, kind, reply = run(self, { "aLIST", 's', "m" .. (pattern or "*") }, {
    collect = function(r)
      list[#list + 1] = { name = r.mailbox, delimiter = r.delimiter, flags = r.flags,
                          special = r.special, raw = r.raw }
    end })
  if not res then return nil, err, kind, reply end
  self:_fill_specials(list) -- by name where SPECIAL-USE said nothing (the core's table)
  return list
end

--- The name of the special folder `kind` ("sent", "trash", "drafts", "junk",
-- "archive", "all", "flagged"), or nil.
function methods:special(kind)
  local list, err, k, reply = self:folders()
  if not list then return nil, err, k, reply end
  for _, f in ipairs(list) do if f.special == kind then return f.name end end
  return nil
end

--- STATUS: {messages, uidnext, uidvalidity, unseen[, highestmodseq]}.
function methods:status(name)
  check_open(self)
  local info
  local args = { "aSTATUS", mailbox_arg(name, "folder") }
  for _, a in ipairs(self:_status_items()) do args[#args + 1] = a end
  local res, err, kind, reply = run(self, args, {
    collect = function(r)
      info = r
      r.name = nil
    end })
  if not res then return nil, err, kind, reply end
  return info or {}
end

local function simple(s, verb, ...)
  check_open(s, 3)
  local args = { "a" .. verb }
  for i = 1, select("#", ...) do args[#args + 1] = mailbox_arg((select(i, ...)), "folder") end
  local res, err, kind, reply = run(s, args)
  if not res then return nil, err, kind, reply end
  return true
end

function methods:create(name) return simple(self, "CREATE", name) end
function methods:delete_folder(name) return simple(self, "DELETE", name) end
--- s:delete(name): the same as delete_folder (the folder verbs are create, rename,
-- delete); messages are deleted with expunge, move or messages{delete = true}.
methods.delete = methods.delete_folder
function methods:rename(from, to) return simple(self, "RENAME", from, to) end
function methods:subscribe(name) return simple(self, "SUBSCRIBE", name) end
function methods:unsubscribe(name) return simple(self, "UNSUBSCRIBE", name) end

--- ID (RFC 2971): tells the server who we are (fields: {name =, version =, ...}, or nil)
-- and returns what it says of itself, as a table (empty when it says NIL).
function methods:id(fields)
  check_open(self)
  local args = { "aID" }
  if fields and next(fields) then
    args[#args + 1] = "("
    for _, k in ipairs(sorted_keys(fields)) do
      args[#args + 1] = "s" .. k
      args[#args + 1] = "s" .. tostring(fields[k])
    end
    args[#args + 1] = ")"
  else
    args[#args + 1] = "aNIL"
  end
  local info = {}
  local res, err, kind, reply = run(self, args, {
    collect = function(r) info = r.fields or {} end })
  if not res then return nil, err, kind, reply end
  return info
end

--- NOOP: lets the server report changes (they go to the event queue).
function methods:noop()
  check_open(self)
  local res, err, kind, reply = run(self, { "aNOOP" })
  if not res then return nil, err, kind, reply end
  return true
end

-- ------------------------------------------------------------------ search, fetch

local function need_folder(s)
  if not s:folder() then error("no folder selected (call s:select first)", 4) end
end

--- SEARCH with a criteria table: seen/unseen, flagged, answered, deleted, draft, from,
-- to, cc, bcc, subject, body, text (strings), header = {name, value}, since/before/on
-- (dates), larger/smaller (bytes), uid, keyword, not = {...}, or = {{...}, {...}}; an
-- array part is ANDed.  Strings are always quoted or literals; a non-ASCII one makes
-- the search CHARSET UTF-8.  @return the UIDs (sorted), or nil, message, kind[, reply]
function methods:search(c)
  check_open(self)
  need_folder(self)
  if c ~= nil and type(c) ~= "table" then error("search criteria must be a table", 2) end
  local uids = {}
  local res, err, kind, reply = run(self, nil, {
    begin = function() return self:_search(c or {}) end,
    collect = function(r)
      for _, u in ipairs(r.uids or {}) do uids[#uids + 1] = u end
    end })
  if not res then return nil, err, kind, reply end
  table.sort(uids)
  return uids
end

-- A FETCH response as the caller sees it: headers/body/text from the sections.
local function fetched(r)
  local secs = r.sections
  if secs then
    r.headers = secs.HEADER
    r.body = secs[""]
    r.text = secs.TEXT
  end
  r.name = nil
  return r
end

--- UID FETCH: items is an array (or one string) of "uid", "flags", "envelope",
-- "bodystructure", "size", "internal_date", "modseq", "headers", "body", "text", or a
-- raw fetch item ("BODY.PEEK[1.2]").  @return an array of {uid, flags, size,
-- internal_date, envelope, bodystructure, headers, body, text, sections, seq}
-- Sends UID FETCH (one command per bounded set, pipelined) and returns a function that
-- waits for the results: the array, or the first failure.  More commands may be sent
-- before it is called (messages{} fetches its next batch that way).
local function fetch_start(s, uids, items)
  if type(items) == "string" then items = { items } end
  if type(items) ~= "table" then error("bad argument #2 to 'fetch' (items expected)", 3) end
  local list = s:_fetch_list(items)
  local out = {}
  -- (FETCH responses for other UIDs, flag changes another client made, are events.)
  local o = { collect = function(r)
    out[#out + 1] = fetched(r)
    r.seq = r.number
    r.number = nil
  end }
  local cmds = {}
  for _, set in ipairs(uid_sets(uids)) do
    local args = { "aUID", "aFETCH", "a" .. set }
    for _, a in ipairs(list) do args[#args + 1] = a end
    cmds[#cmds + 1] = args
  end
  local sent = start_all(s, cmds, o)
  return function()
    local ok, err, kind, reply = finish_all(s, sent)
    if not ok then return nil, err, kind, reply end
    return out
  end
end

function methods:fetch(uids, items)
  check_open(self)
  need_folder(self)
  drain(self) -- its results are its own: no other command's responses mixed in
  return fetch_start(self, uids, items)()
end

--- Streams one body part (section "1.2", "" for the whole message, "HEADER", "TEXT")
-- to sink (a function or an object with :write), without holding it in memory; BINARY
-- (decoded content, RFC 3516) for a numbered part when the server offers it.
-- Without a sink the part is returned.  @return true (or the part), decoded (BINARY
-- was used), or nil, message, kind[, reply]
function methods:fetch_part(uid, section, sink)
  check_open(self)
  need_folder(self)
  if type(uid) ~= "number" then error("bad argument #1 to 'fetch_part' (UID expected)", 2) end
  section = section or ""
  local parts
  if sink == nil then
    parts = {}
    sink = function(c) parts[#parts + 1] = c return true end
  end
  local item, binary = self:_part_item(section)
  local got = false
  local res, err, kind, reply = run(self, { "aUID", "aFETCH", ("a%d"):format(uid), "a" .. item },
    { sink = sink, collect = function() got = true end })
  if not res then return nil, err, kind, reply end
  if not got then return nil, ("no message with UID %d"):format(uid), "reply" end
  if parts then return table.concat(parts), binary end
  return true, binary
end

-- ------------------------------------------------------------------ changing

--- STORE: op is "+" (add), "-" (remove) or "=" (replace); flags a string or an array
-- ("\\Seen", "$Label").  @return true, or nil, message, kind[, reply]
function methods:store(uids, op, flags)
  check_open(self)
  need_folder(self)
  local verb = type(op) == "string" and self:_store_item(op)
  if not verb then error("bad argument #2 to 'store' (\"+\", \"-\" or \"=\" expected)", 2) end
  local fl = check_flags(flags)
  local cmds = {}
  for _, set in ipairs(uid_sets(uids)) do
    local args = { "aUID", "aSTORE", "a" .. set, "a" .. verb }
    for _, a in ipairs(fl) do args[#args + 1] = a end
    cmds[#cmds + 1] = args
  end
  local ok, err, kind, reply = run_all(self, cmds, {})
  if not ok then return nil, err, kind, reply end
  return true
end

local function add_map(map, code)
  map.uidvalidity = code.uidvalidity
  for u, d in pairs(code.map or {}) do map[u] = d end
end

local function copy_or_move(s, verb, uids, folder)
  local map, any = {}, false
  local cmds = {}
  for _, set in ipairs(uid_sets(uids)) do
    cmds[#cmds + 1] = { "aUID", "a" .. verb, "a" .. set, mailbox_arg(folder, "folder") }
  end
  local sent, err, kind, reply = run_all(s, cmds, {
    collect = function(r) add_map(map, r) any = true end })
  if not sent then return nil, err, kind, reply end
  for _, e in ipairs(sent) do
    if e.res[1].code == "COPYUID" then add_map(map, e.res[1]) any = true end
  end
  return any and map or true
end

--- UID COPY.  @return {[src uid] = dst uid, uidvalidity =} from COPYUID (UIDPLUS), or
-- true; or nil, message, kind[, reply]
function methods:copy(uids, folder)
  check_open(self)
  need_folder(self)
  return copy_or_move(self, "COPY", uids, folder)
end

--- UID EXPUNGE of exactly these UIDs (UIDPLUS), or with no UIDs, EXPUNGE of every
-- message flagged \Deleted.  @return true, or nil, message, kind[, reply]
function methods:expunge(uids)
  check_open(self)
  need_folder(self)
  if uids == nil then
    local res, err, kind, reply = run(self, { "aEXPUNGE" })
    if not res then return nil, err, kind, reply end
    return true
  end
  if not has(self, "UIDPLUS") then
    return nil, "the server has no UIDPLUS, so it cannot expunge only these messages", "protocol"
  end
  local cmds = {}
  for _, set in ipairs(uid_sets(uids)) do cmds[#cmds + 1] = { "aUID", "aEXPUNGE", "a" .. set } end
  local ok, err, kind, reply = run_all(self, cmds, {})
  if not ok then return nil, err, kind, reply end
  return true
end

-- The steps the core chose (imap_ops.h: "copy", "store_deleted", "uid_expunge",
-- "expunge"), run in order.  @return true, or nil, message, kind[, reply]
local function run_steps(s, steps, uids)
  for _, step in ipairs(steps) do
    local ok, err, kind, reply = true
    if step == "store_deleted" then ok, err, kind, reply = s:store(uids, "+", "\\Deleted")
    elseif step == "uid_expunge" then ok, err, kind, reply = s:expunge(uids)
    elseif step == "expunge" then ok, err, kind, reply = s:expunge() end
    if not ok then return nil, err, kind, reply end
  end
  return true
end

--- Moves messages: UID MOVE (RFC 6851), else COPY, STORE \Deleted and UID EXPUNGE of
-- exactly those UIDs (UIDPLUS).  Without either, the originals stay flagged \Deleted
-- (no bare EXPUNGE, which would remove other clients' deleted messages) unless
-- opts.expunge is true.  @return the COPYUID map or true, or nil, message, kind[, reply]
function methods:move(uids, folder, opts)
  check_open(self)
  need_folder(self)
  local steps = self:_move_steps(opts and opts.expunge)
  local map, err, kind, reply = copy_or_move(self, steps[1] == "move" and "MOVE" or "COPY",
                                             uids, folder)
  if not map then return nil, err, kind, reply end
  local ok
  ok, err, kind, reply = run_steps(self, steps, uids)
  if not ok then return nil, err, kind, reply end
  return map
end

-- A file is streamed as it is (its size announced first, RFC 9051 §4.3); CRLF lines
-- are the caller's to give.  @return size, source
local function file_source(f)
  local here = f:seek()
  local size = f:seek("end")
  f:seek("set", here)
  size = size - here
  local left = size
  return size, function()
    if left <= 0 then return nil end
    local chunk = f:read(math.min(left, 65536))
    if chunk then left = left - #chunk end
    return chunk
  end
end

local function message_text(msg)
  if type(msg) == "string" then return msg end
  local ok, f = pcall(function() return msg.tostring end)
  if ok and f then
    local text, err, kind = msg:tostring()
    if not text then return nil, err, kind end
    return text
  end
  error("bad argument #2 to 'append' (email, string or file expected)", 3)
end

--- APPEND a message (an email object, a string or a file) to folder as one literal,
-- with opts.flags and opts.date (seconds).  A string or email gets CRLF line ends; a
-- file is streamed as it is, from its current position to its end, never held whole.
-- @return {uid =, uidvalidity =} from APPENDUID (UIDPLUS), or true; or nil, message,
-- kind[, reply]
function methods:append(folder, msg, opts)
  check_open(self)
  opts = opts or {}
  local args = { "aAPPEND", mailbox_arg(folder, "folder") }
  if opts.flags then for _, a in ipairs(check_flags(opts.flags)) do args[#args + 1] = a end end
  if opts.date then args[#args + 1] = append_date(opts.date) end
  local source
  if io.type(msg) == "file" then
    local size
    size, source = file_source(msg)
    args[#args + 1] = ("L%d"):format(size)
  else
    local text, terr, tkind = message_text(msg)
    if not text then return nil, terr, tkind end
    args[#args + 1] = "l" .. crlf(text)
  end
  local res, err, kind, reply = run(self, args, { source = source })
  if not res then return nil, err, kind, reply end
  if res.code == "APPENDUID" then
    return { uidvalidity = res.uidvalidity, uid = res.dst and res.dst[1] }
  end
  return true
end

-- ------------------------------------------------------------------ events, IDLE

-- s:take_events(): the events queued so far (EXISTS, EXPUNGE, flag changes, VANISHED,
-- ALERT), taken; s:dropped_events(): how many the bounded queue dropped (C methods).

-- Reads untagged data into the event queue until the step ends ("done": the wait's end
-- or a tagged reply), or, with n0, until the queue grows past n0.  @return "done",
-- "event", or nil, message, kind[, reply]
local function read_events(s, n0)
  while true do
    local r, err, kind, reply = drive_plain(s)
    if r == "chunk" then
      -- (the core queued what it read as an event)
      if n0 and s:_event_count() > n0 then return "event" end
    elseif r == "done" then
      return "done"
    else
      return nil, err, kind, reply
    end
  end
end

-- How often (seconds) a wait asks the caller's stop() whether to end early.
local STOP_CHECK = 1

-- Waits up to `seconds` for an event, in slices of STOP_CHECK when there is a stop()
-- to ask between them.  @return true, or nil, message, kind[, reply]
local function wait_slices(s, seconds, stop)
  local t_end = core.time() + seconds
  while true do
    local left = t_end - core.time()
    if left <= 0 then return true end
    local n0 = s:_event_count()
    local ok, err, kind, reply = s:_wait(stop and math.min(left, STOP_CHECK) or left)
    if ok then ok, err, kind, reply = read_events(s, n0) end
    if not ok then return nil, err, kind, reply end
    if ok == "event" or not s:_idling() or (stop and stop()) then return true end
  end
end

-- One IDLE round: waits up to `seconds` for an event (or until stop() says so), then
-- DONE; whatever comes before the tagged OK is queued too.
-- @return true or nil, message, kind[, reply]
local function idle_once(s, seconds, stop)
  local ok, err, kind, reply = run(s, { "aIDLE" })
  if not ok then return nil, err, kind, reply end
  if not s:_idling() then return true end -- the server ended it at once
  ok, err, kind, reply = wait_slices(s, seconds, stop)
  if not ok then return nil, err, kind, reply end
  if not s:_idling() then return true end
  ok, err, kind, reply = s:_done()
  if ok then ok, err, kind, reply = read_events(s) end
  if not ok then return nil, err, kind, reply end
  return true
end

-- Without IDLE: wait (reading what comes), then NOOP.
local function poll_once(s, seconds)
  local ok, err, kind, reply = s:_wait(seconds)
  if ok then ok, err, kind, reply = read_events(s) end
  if not ok then return nil, err, kind, reply end
  return s:noop()
end

local function wait_events(s, seconds, poll, stop)
  drain(s)
  local deadline = core.time() + seconds
  local left = seconds
  while s:_event_count() == 0 and left > 0 and not (stop and stop()) do
    local ok, err, kind, reply
    if has(s, "IDLE") then
      ok, err, kind, reply = idle_once(s, math.min(left, IDLE_MAX), stop)
    else
      ok, err, kind, reply = poll_once(s, math.min(left, poll or 15, stop and STOP_CHECK
                                                       or math.huge))
    end
    if not ok then return nil, err, kind, reply end
    left = deadline - core.time()
  end
  return true
end

--- IDLE (RFC 2177), or NOOP polling (every opts.poll seconds, 15) where the server has
-- no IDLE: waits up to opts.timeout seconds (default 60) for the server to report
-- something, leaving IDLE before the server's limit and re-entering.  opts.stop, a
-- function, is asked about once a second; when it returns true the wait ends early
-- (a daemon shutting down, ngx.worker.exiting).
-- @return the events (possibly none), or nil, message, kind[, reply]
function methods:idle(opts)
  check_open(self)
  need_folder(self)
  opts = opts or {}
  local ok, err, kind, reply = wait_events(self, opts.timeout or 60, opts.poll, opts.stop)
  if not ok then return nil, err, kind, reply end
  return self:take_events()
end

--- `for ev in s:events{timeout =, poll =, stop =} do ... end`: the queued events, then
-- more as they arrive (IDLE or NOOP polling); ends when timeout (seconds, default:
-- never) passes without one, or when stop() returns true.  A failure raises
-- "message (kind)".
function methods:events(opts)
  check_open(self)
  opts = opts or {}
  return function()
    if self:_event_count() == 0 then
      local ok, err, kind = wait_events(self, opts.timeout or math.huge, opts.poll,
                                        opts.stop)
      if not ok then error(("%s (%s)"):format(err, kind), 2) end
    end
    return self:_next_event()
  end
end

-- messages{}, get_all, read_first/read_next
require "missive.imap_walk"(methods, run_steps, fetch_start)

-- ------------------------------------------------------------------ closing

--- LOGOUT and free.  Idempotent; returns true.
function methods:close()
  if self:is_closed() then return true end
  if not self:_dead() then
    if self:_idling() and self:_done() then
      -- leave IDLE first: its tagged OK, then LOGOUT
      local r
      repeat r = drive_plain(self) until r ~= "chunk"
    end
    if not self:_dead() and not self:_idling() then run(self, { "aLOGOUT" }) end
  end
  driver.release(self)
  return true
end

mt.__close = function(s, err)
  if err == nil then s:close() else driver.release(s) end
end

M.set_timeout = config.set_timeout

return M
