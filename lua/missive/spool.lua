--- A durable outgoing mail queue on disk, in the manner of Postfix's queue.
--
--   local q = assert(missive.spool.open("/var/spool/myapp"))
--   local id = assert(q:add(msg))         -- on disk (fsync, atomic rename) when it returns
--   local counts = assert(q:run{host = "mail.example.org", user = ..., password = ...})
--   q:status(id)  -> "queued" | "sending" | "sent" | "failed" | "uncertain", info
--   q:list("failed") -> {id, ...};  q:retry(id);  q:remove(id)
--
-- Layout: dir/tmp (being written), queued/, sending/ (claimed: "<id>.<pid>", plus
-- "<id>.<pid>.dot" once the final dot may be on its way; "<id>.sent" when the server
-- took it but sent/ could not be written), sent/, failed/, uncertain/.
-- One file per message: a small header (envelope, attempts, last outcome) and the bytes.
-- Every move is a rename(2) inside one file system, so a message is always in exactly
-- one place.  A claim is an exclusive lock on the message's file (an OFD lock, else
-- flock), taken before the file is renamed into sending/ and held until it leaves: any
-- number of processes, Lua states in one process or containers sharing the volume may
-- drain one spool at once without sending a message twice.  The kernel drops the lock
-- when its holder dies, so a claim whose lock can be taken is dead, whatever its pid
-- now names; the next run takes it back: without the ".dot" marker the server never saw
-- the end of data and the message is queued again; with it the server may have it, so
-- it goes to uncertain/ for a human to decide (q:retry sends it again).
-- @module missive.spool
local core = require "missive.core"
local config = require "missive.config"
local smtp = require "missive.smtp"
local async = require "missive.async"

local M = {}
local Spool = {}
Spool.__index = Spool

local STATES = {"queued", "sending", "sent", "failed", "uncertain"}
local FINAL = {sent = true, failed = true, uncertain = true}
local MAGIC = "missive-spool 1"
local RUN_KEYS = {backoff = true, max_backoff = true, max_age = true, on_result = true,
                  async = true}

-- A tmp/ file this old whose lock is free was left by a writer that died (its writer
-- holds the lock from the moment after it creates the file).
local TMP_GRACE = 60

local function mypid() return core.getpid() end

-- Shared by every Lua state of the process, so two states never make the same name.
local function next_name()
  return core.serial()
end

local function new_id()
  local t = core.time()
  local sec = math.floor(t)
  return ("%010d-%06d-%d-%d"):format(sec, math.floor((t - sec) * 1e6), mypid(), next_name())
end

-- The format new_id writes, and only it: an id becomes a file name inside the spool, so
-- anything else ("../../x", "/etc/passwd", a claim or marker name) must not reach a path.
local ID = "^%d%d%d%d%d%d%d%d%d%d+%-%d%d%d%d%d%d%-%d+%-%d+$"

local function is_id(id)
  return #id <= 64 and id:match(ID) ~= nil
end

local function check_id(id, method)
  if type(id) ~= "string" then error(method .. " expects a message id", 3) end
  return is_id(id)
end

local function clean(v)
  return (tostring(v):gsub("%c", " "))
end

-- A NOTIFY word list as one line: "failure,delay".
local function words(v)
  if type(v) == "table" then return table.concat(v, ",") end
  return v
end

-- The DSN requests (RFC 3461, checked before they were queued: printable ASCII).
local function encode_dsn(h, dsn)
  if not dsn then return end
  if dsn.notify then h[#h + 1] = "dsn_notify: " .. clean(words(dsn.notify)) end
  if dsn.ret then h[#h + 1] = "dsn_ret: " .. clean(dsn.ret) end
  if dsn.envid then h[#h + 1] = "dsn_envid: " .. clean(dsn.envid) end
  for i, r in pairs(dsn.rcpt or {}) do
    h[#h + 1] = ("dsn_rcpt: %d %s %s"):format(i, clean(words(r.notify) or "-"),
                                              clean(r.orcpt or ""))
  end
end

local function decode_dsn(meta, k, v)
  local d = meta.dsn or {}
  meta.dsn = d
  if k == "dsn_rcpt" then
    local i, notify, orcpt = v:match("^(%d+) (%S+) ?(.*)$")
    if not i then return end
    d.rcpt = d.rcpt or {}
    d.rcpt[tonumber(i)] = {notify = notify ~= "-" and notify or nil,
                           orcpt = orcpt ~= "" and orcpt or nil}
  else
    d[k:sub(5)] = v
  end
end

local function encode(meta, data)
  local h = {MAGIC, "id: " .. meta.id, "from: " .. clean(meta.from)}
  for _, r in ipairs(meta.to) do h[#h + 1] = "to: " .. clean(r) end
  encode_dsn(h, meta.dsn)
  for _, k in ipairs {"state", "created", "age_from", "attempts", "next_try", "updated",
                      "code", "enhanced", "text", "error", "kind"} do
    if meta[k] ~= nil and meta[k] ~= "" then h[#h + 1] = k .. ": " .. clean(meta[k]) end
  end
  for _, r in ipairs(meta.rejected or {}) do h[#h + 1] = "rejected: " .. clean(r) end
  h[#h + 1] = ""
  return table.concat(h, "\n") .. "\n" .. data
end

local NUMERIC = {created = true, age_from = true, attempts = true, next_try = true,
                 updated = true, code = true}

-- meta, data (data only when want_data), or nil for a missing or foreign file (one
-- whose header names another id: the file's name is what the spool acts on).
local function read(path, id, want_data)
  local f = io.open(path, "rb")
  if not f then return nil end
  if f:read("*l") ~= MAGIC then f:close(); return nil end
  local meta = {to = {}, rejected = {}}
  for line in f:lines() do
    if line == "" then break end
    local k, v = line:match("^([%w_]+): ?(.*)$")
    if k == "to" or k == "rejected" then
      meta[k][#meta[k] + 1] = v
    elseif k and k:match("^dsn_") then
      decode_dsn(meta, k, v)
    elseif k then
      meta[k] = NUMERIC[k] and tonumber(v) or v
    end
  end
  local data
  if want_data then data = f:read("*a") end
  f:close()
  if meta.id ~= id or not meta.from then return nil end
  return meta, data
end

-- Whoever can put a file into the spool has it sent with this application's
-- credentials, so, as Postfix does for its queue, a directory that is not this user's
-- own or that group or others may write is refused, never used.
local function own_dir(d)
  local ok, err, kind = core.mkdir(d, tonumber("700", 8))
  if not ok then return nil, err, kind end
  local st
  st, err, kind = core.stat(d)
  if not st then return nil, err, kind end
  if not st.dir then return nil, "spool path " .. d .. " is not a directory", "argument" end
  local euid = core.geteuid()
  if st.uid ~= euid then
    return nil, ("spool directory %s is owned by uid %d, not by this process (uid %d)")
      :format(d, st.uid, euid), "argument"
  end
  local group_w, other_w = math.floor(st.mode / 16) % 2, math.floor(st.mode / 2) % 2
  if group_w + other_w > 0 then
    return nil, ("spool directory %s is writable by group or others (mode %o): "
      .. "chmod go-w it"):format(d, st.mode), "argument"
  end
  return true
end

--- Opens (creating it if need be) the spool in `dir`.  New directories are made 0700; an
-- existing spool or state directory must belong to the effective user and be writable
-- by no one else.
-- @return the spool, or nil, message, kind ("argument" for a directory not to trust)
function M.open(dir)
  if type(dir) ~= "string" or dir == "" then error("spool.open expects a directory", 2) end
  dir = dir:gsub("/+$", "")
  local ok, err, kind = own_dir(dir)
  if not ok then return nil, err, kind end
  local dirs = {tmp = dir .. "/tmp"}
  for _, s in ipairs(STATES) do dirs[s] = dir .. "/" .. s end
  for _, s in ipairs {"tmp", "queued", "sending", "sent", "failed", "uncertain"} do
    ok, err, kind = own_dir(dirs[s])
    if not ok then return nil, err, kind end
  end
  core.fsync_dir(dir)
  return setmetatable({dir = dir, dirs = dirs}, Spool)
end

local function fail_io(err)
  return nil, err, "io"
end

-- rename + fsync of both directories: the move is durable when this returns.
local function move(from, to, from_dir, to_dir)
  local ok, err = os.rename(from, to)
  if not ok then return nil, err end
  core.fsync_dir(to_dir)
  if from_dir ~= to_dir then core.fsync_dir(from_dir) end
  return true
end

-- Replaces the claimed file with new contents, atomically (tmp file, fsync, rename):
-- the new file is locked before it takes the name, so the claim never lapses.
local function rewrite(self, c, meta, data)
  local tmp = ("%s/%d.%d.%s"):format(self.dirs.tmp, mypid(), next_name(), meta.id)
  local lock, err = core.write_locked(tmp, encode(meta, data))
  if not lock then return nil, err end
  local ok
  ok, err = os.rename(tmp, c.path)
  if not ok then os.remove(tmp); lock:release(); return nil, err end
  c.lock:release()
  c.lock = lock
  return true
end

local function check_addr(a)
  return type(a) == "string" and not a:find("%c")
end

--- Writes a message to the spool.  `m` is what smtp session's send takes (an email
-- object, or {from, to, cc, bcc, data}); a source function is drained first.  When this
-- returns the message is on disk (file and directory fsynced).
-- @return the message id, or nil, message, kind
function Spool:add(m)
  local from, rcpts, data, dsn = async.serialise(m)
  if not from then return nil, rcpts, data end
  if not check_addr(from) then
    return nil, "from contains a control character (CR, LF, NUL...)", "argument"
  end
  if #rcpts == 0 then error("the message has no recipient", 2) end
  for _, r in ipairs(rcpts) do
    if not check_addr(r) then
      return nil, "recipient contains a control character (CR, LF, NUL...)", "argument"
    end
  end
  local now = core.time()
  local meta = {from = from, to = rcpts, state = "queued", created = now,
                age_from = now, attempts = 0, next_try = 0, dsn = dsn}
  -- An id is unique within a process; across PID namespaces sharing the volume two
  -- writers could make the same one: link(2) never replaces a message, so try another.
  for _ = 1, 8 do
    meta.id = new_id()
    local tmp = ("%s/%d.%d.%s"):format(self.dirs.tmp, mypid(), next_name(), meta.id)
    local lock, err = core.write_locked(tmp, encode(meta, data))
    if not lock then return fail_io(err) end
    local ok, lerr, lkind = core.link_new(tmp, self.dirs.queued .. "/" .. meta.id)
    lock:release()
    if ok then
      core.fsync_dir(self.dirs.queued)
      core.fsync_dir(self.dirs.tmp)
      return meta.id
    end
    os.remove(tmp)
    if lkind ~= "exists" then return fail_io(lerr) end
  end
  return fail_io("no free message id in " .. self.dirs.queued)
end

-- Claims <from_state>/<id>: lock the file, make sure the name still holds the locked
-- file, rename it into sending/.  Only the holder of a file's lock moves or replaces it,
-- so the check stays true until the rename.  The claim {path =, lock =} lasts until
-- finish() or release(); if the caller raises, the lock is collected and the claim is
-- dead, for the next recover() to take back.
local function claim(self, id, from_state)
  local from = self.dirs[from_state or "queued"] .. "/" .. id
  local lock = core.lock(from)
  if not lock then return nil end
  local path = ("%s/%s.%d"):format(self.dirs.sending, id, mypid())
  if not lock:holds(from) or not os.rename(from, path) then lock:release(); return nil end
  return {id = id, path = path, lock = lock}
end

local function markers_of(self, id)
  local names = core.listdir(self.dirs.sending) or {}
  local out, prefix = {}, id .. "."
  for _, n in ipairs(names) do
    if n:sub(1, #prefix) == prefix and n:match("^[^.]+%.%d+%.dot$") then
      out[#out + 1] = self.dirs.sending .. "/" .. n
    end
  end
  return out
end

local function remove_markers(self, id)
  local list = markers_of(self, id)
  for _, p in ipairs(list) do os.remove(p) end
  if #list > 0 then core.fsync_dir(self.dirs.sending) end
end

local function release(c)
  c.lock:release()
end

-- Moves a claimed message to its next state with the header brought up to date, and
-- ends the claim.  Where it lies is what says where a message stands, so a header that
-- cannot be rewritten (disk full) does not keep it from moving.  A message the server
-- took must never look unsent or uncertain: when sent/ cannot take it, it is renamed
-- "<id>.sent" inside sending/, which recover() moves on later.
-- @return true, or nil, message (the header or the move failed: the caller reports it)
local function finish(self, c, meta, data, state)
  meta.state = state
  meta.updated = core.time()
  local rok, rerr = rewrite(self, c, meta, data)
  if state == "queued" then
    -- The server's answer was definite: no "maybe delivered" marker may follow it.
    remove_markers(self, meta.id)
  end
  local to = self.dirs[state] .. "/" .. meta.id
  local ok, err = move(c.path, to, self.dirs.sending, self.dirs[state])
  if not ok and state == "sent" then
    -- A rename can fail once and then succeed (a transient error): one more try first.
    ok, err = move(c.path, to, self.dirs.sending, self.dirs[state])
    if not ok then
      local parked = ("%s/%s.sent"):format(self.dirs.sending, meta.id)
      if move(c.path, parked, self.dirs.sending, self.dirs.sending) then
        c.path = parked
        remove_markers(self, meta.id)
      end
      err = ("cannot record message %s as sent: %s"):format(meta.id, tostring(err))
    end
  end
  if ok and state ~= "queued" then remove_markers(self, meta.id) end
  release(c)
  if not ok then return nil, err end
  if not rok then return nil, ("cannot update the header of %s: %s"):format(meta.id,
                                                                         tostring(rerr)) end
  return true
end

-- The id and tag of a claim's name in sending/: "<id>.<pid>" (tag: the claimer's pid),
-- or "<id>.sent" (tag "sent": a claim whose outcome is known); nil for anything else.
local function claim_name(n)
  local id, tag = n:match("^([^.]+)%.(%d+)$")
  if not id then id, tag = n:match("^([^.]+)%.(sent)$") end
  if id and is_id(id) then return id, tag end
end

-- Takes back one dead claim (c holds its lock now).
local function take_back(self, c, tag)
  local meta, data = read(c.path, c.id, true)
  if not meta then
    os.rename(c.path, self.dirs.failed .. "/" .. c.id)
    release(c)
  elseif tag == "sent" then
    finish(self, c, meta, data, "sent")
  elseif FINAL[meta.state] then
    finish(self, c, meta, data, meta.state)   -- the outcome was already known
  elseif #markers_of(self, c.id) > 0 then
    meta.error = ("the sending process (pid %s) died after the end of data: the "
      .. "server may have the message"):format(tag)
    meta.kind = "uncertain"
    finish(self, c, meta, data, "uncertain")
  else
    meta.state = "queued"
    move(c.path, self.dirs.queued .. "/" .. c.id, self.dirs.sending, self.dirs.queued)
    release(c)
  end
end

--- Takes back claims whose holder is gone (a process that died, in any PID namespace
-- sharing the volume, or a run that raised and whose claim was collected): queued
-- again, or uncertain/ when the final dot may have gone out.  A claim is live while its
-- lock is held, whatever its pid names now.  q:run does this first; it is safe to call
-- at any time from any process.
function Spool:recover()
  local names = core.listdir(self.dirs.sending) or {}
  local claimed, markers = {}, {}
  for _, n in ipairs(names) do
    local id, tag = claim_name(n)
    local path = self.dirs.sending .. "/" .. n
    if id then
      claimed[id] = true
      local lock = core.lock(path)
      if lock and lock:holds(path) then
        take_back(self, {id = id, path = path, lock = lock}, tag)
      elseif lock then
        lock:release()
      end
    else
      local mid = n:match("^([^.]+)%.%d+%.dot$")
      if mid and is_id(mid) then markers[#markers + 1] = {mid, path} end
    end
  end
  -- A marker outlives its claim only when the process died between the final move and
  -- the unlink; it is litter once no claim of its message is left and the message is
  -- in a final state.
  for _, m in ipairs(markers) do
    if not claimed[m[1]] then
      for _, s in ipairs {"sent", "failed", "uncertain"} do
        local f = io.open(self.dirs[s] .. "/" .. m[1])
        if f then f:close(); os.remove(m[2]); break end
      end
    end
  end
  -- Temporary files ("<pid>.<n>.<id>") of writers that died: their lock is free.
  local now = core.time()
  for _, n in ipairs(core.listdir(self.dirs.tmp) or {}) do
    local path = self.dirs.tmp .. "/" .. n
    local st = n:match("^%d+%.") and core.stat(path)
    if st and now - st.mtime > TMP_GRACE then
      local lock = core.lock(path)
      if lock then os.remove(path); lock:release() end
    end
  end
  return true
end

-- missive.smtp's transaction, with one addition: the ".dot" marker is on disk before
-- the final dot can leave.
local function transmit(self, s, c, meta, data)
  local marker = c.path .. ".dot"
  return smtp._transaction(s, {from = meta.from, rcpts = meta.to, data = data,
                               dsn = meta.dsn}, {
    before_end = function()
      local ok, err = core.write_new(marker, "")
      if ok then ok, err = core.fsync_dir(self.dirs.sending) end
      -- Without the marker a crash could resend: the line drops before the dot.
      if not ok then return nil, "cannot write the spool marker: " .. tostring(err), "io" end
      return true
    end,
  })
end

local function set_outcome(meta, err, kind, reply)
  meta.error, meta.kind = err, kind
  meta.code, meta.enhanced, meta.text = nil, nil, nil
  if reply then meta.code, meta.enhanced, meta.text = reply.code, reply.enhanced, reply.text end
end

-- What an error means for the message: "failed" (never retry), "uncertain" or "retry".
local function classify(kind, reply)
  if kind == "uncertain" then return "uncertain" end
  if kind == "reply" and reply and reply.code >= 500 then return "failed" end
  if kind == "argument" or kind == "limit" then return "failed" end
  return "retry"
end

local function defer(self, c, meta, data, opts)
  local now = core.time()
  meta.attempts = (meta.attempts or 0) + 1
  if now - (meta.age_from or meta.created or now) >= opts.max_age then
    meta.error = "gave up after " .. meta.attempts .. " attempt(s): " .. tostring(meta.error)
    return "failed", finish(self, c, meta, data, "failed")
  end
  local delay = math.min(opts.backoff * 2 ^ (meta.attempts - 1), opts.max_backoff)
  meta.next_try = now + delay
  return "deferred", finish(self, c, meta, data, "queued")
end

-- Names that are not ids (an editor's backup, a stray file) are no messages: left alone.
local function queued_ids(self)
  local ids = {}
  for _, n in ipairs(core.listdir(self.dirs.queued) or {}) do
    if is_id(n) then ids[#ids + 1] = n end
  end
  table.sort(ids)
  return ids
end

-- The session options and the retry policy of q:run's options.
local function run_options(opts)
  local so, policy = {}, {
    backoff = opts.backoff or config.spool.backoff,
    max_backoff = opts.max_backoff or config.spool.max_backoff,
    max_age = opts.max_age or config.spool.max_age,
  }
  for k, v in pairs(opts) do if not RUN_KEYS[k] then so[k] = v end end
  return so, policy
end

-- Writes down the outcome of one attempt: sent, failed, uncertain, or deferred for a
-- retry.  Returns the state and whether (and why not) it was recorded.
local function record_outcome(self, c, meta, data, policy, res, err, kind, reply)
  if res then
    set_outcome(meta, nil, nil, res.reply)
    for addr, r in pairs(res.rejected) do
      meta.rejected[#meta.rejected + 1] = addr .. " " .. r.code .. " " .. r.text
    end
    return "sent", finish(self, c, meta, data, "sent")
  end
  set_outcome(meta, err, kind, reply)
  local state = classify(kind, reply)
  if state == "retry" then return defer(self, c, meta, data, policy) end
  return state, finish(self, c, meta, data, state)
end

-- Sends a claimed message over the run's session (opened, or reopened after a loss,
-- on the way) and records the outcome.  Without a session the run stops (run.err).
local function deliver(self, run, c, meta, data)
  local s, err, kind, reply, res = run.s, nil, nil, nil, nil
  if not s then s, err, kind, reply = smtp.session(run.so) end
  if s then res, err, kind, reply = transmit(self, s, c, meta, data) end
  local state, recorded, rec_err = record_outcome(self, c, meta, data, run.policy, res, err,
                                                  kind, reply)
  if not s then run.err = {err, kind, reply} end
  if s and s:_dead() then s:close(); s = nil end
  run.s = s
  return state, recorded, rec_err
end

-- Counts a message's outcome and tells on_result.
local function tally(run, id, meta, state, recorded, rec_err)
  local counts = run.counts
  counts[state] = counts[state] + 1
  if not recorded then
    counts.record_failed = counts.record_failed or {}
    counts.record_failed[#counts.record_failed + 1] = id
    meta.record_error = rec_err
  end
  if run.on_result then
    run.on_result(id, state == "deferred" and "queued" or state, meta)
  end
end

-- Takes queued message id when it is due: claims it, then fails it for age or
-- delivers it.  Returns true when a message was handled.
local function attempt(self, run, id)
  local head = not run.tried[id] and read(self.dirs.queued .. "/" .. id, id)
  local now = core.time()
  if not head or (head.next_try or 0) > now then return false end
  run.tried[id] = true
  local c = claim(self, id)
  local meta, data
  if c then meta, data = read(c.path, id, true) end
  if not meta then
    if c then
      -- Not ours to read (foreign file): set it aside for a human.
      os.rename(c.path, self.dirs.failed .. "/" .. id)
      release(c)
    end
    return false
  end
  if now - (meta.age_from or meta.created or now) >= run.policy.max_age then
    set_outcome(meta, "too old: not sent within max_age", "limit")
    tally(run, id, meta, "failed", finish(self, c, meta, data, "failed"))
  else
    tally(run, id, meta, deliver(self, run, c, meta, data))
  end
  return true
end

--- Sends what is due, then returns.  opts: the options of missive.smtp.session (host,
-- port, tls, user, password, ...) plus backoff (seconds before the first retry of a
-- temporary failure, doubled each time; default 60), max_backoff (default 3600),
-- max_age (seconds after which a message that still fails temporarily fails for good;
-- default 5 days) and on_result (function(id, state, info) called after each message).
-- One session is reused for every message and reopened after a connection loss.
-- @return {sent =, failed =, deferred =, uncertain =[, record_failed = {id, ...}]}, or
--   nil, message, kind[, reply] when no session could be opened (the message tried is
--   deferred).  record_failed lists the messages whose outcome is counted but could not
--   be written (disk full, sent/ not writable); on_result's info has record_error.  A
--   message the server took still reads "sent" and is never sent again.
function Spool:run(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("run expects a table of smtp options", 2) end
  local so, policy = run_options(opts)
  self:recover()
  local run = {so = so, policy = policy, on_result = opts.on_result, tried = {},
               counts = {sent = 0, failed = 0, deferred = 0, uncertain = 0}}
  local progress = true
  while progress and not run.err do
    progress = false
    for _, id in ipairs(queued_ids(self)) do
      if attempt(self, run, id) then progress = true end
      if run.err then break end
    end
  end
  if run.s then run.s:close() end
  if run.err then return nil, run.err[1], run.err[2], run.err[3] end
  return run.counts
end

local function info_of(meta, state)
  local reply
  if meta.code then reply = {code = meta.code, enhanced = meta.enhanced, text = meta.text or ""} end
  return {id = meta.id, state = state, from = meta.from, to = meta.to,
          attempts = meta.attempts, created = meta.created, next_try = meta.next_try,
          reply = reply, error = meta.error, kind = meta.kind, rejected = meta.rejected}
end

--- Where a message is: "queued", "sending", "sent", "failed" or "uncertain", and
-- {id, from, to, attempts, created, next_try, reply, error, kind, rejected}; nil for
-- an unknown id; nil, "invalid spool id", "argument" for a string that is no spool id.
function Spool:status(id)
  if not check_id(id, "status") then return nil, "invalid spool id", "argument" end
  for _, s in ipairs {"queued", "sent", "failed", "uncertain"} do
    local meta = read(self.dirs[s] .. "/" .. id, id)
    if meta then return s, info_of(meta, s) end
  end
  for _, n in ipairs(core.listdir(self.dirs.sending) or {}) do
    local cid, tag = claim_name(n)
    if cid == id then
      local state = tag == "sent" and "sent" or "sending"
      local meta = read(self.dirs.sending .. "/" .. n, id)
      if meta then return state, info_of(meta, state) end
    end
  end
  return nil
end

--- The ids in one state, oldest first ("sent" includes the sent messages whose record
-- is still in sending/).
function Spool:list(state)
  if not self.dirs[state] or state == "tmp" then
    error("list expects queued, sending, sent, failed or uncertain", 2)
  end
  local out = {}
  for _, n in ipairs(core.listdir(self.dirs[state]) or {}) do
    local id = n
    if state == "sending" then
      local tag
      id, tag = claim_name(n)
      if tag == "sent" then id = nil end
    end
    if id and is_id(id) then out[#out + 1] = id end
  end
  if state == "sent" then
    for _, n in ipairs(core.listdir(self.dirs.sending) or {}) do
      local id, tag = claim_name(n)
      if tag == "sent" then out[#out + 1] = id end
    end
  end
  table.sort(out)
  return out
end

--- Queues a failed or uncertain message again (or makes a queued one due now), with a
-- fresh attempt count and age.  @return true, or nil, message, kind
function Spool:retry(id)
  if not check_id(id, "retry") then return nil, "invalid spool id", "argument" end
  for _, state in ipairs {"failed", "uncertain", "queued"} do
    local c = claim(self, id, state)
    if c then
      local meta, data = read(c.path, id, true)
      if not meta then
        os.rename(c.path, self.dirs[state] .. "/" .. id)
        release(c)
        return nil, "unreadable spool file " .. id, "io"
      end
      meta.attempts, meta.next_try, meta.age_from = 0, 0, core.time()
      set_outcome(meta, nil, nil, nil)
      meta.rejected = {}
      remove_markers(self, id)
      local ok, err = finish(self, c, meta, data, "queued")
      if not ok then return fail_io(err) end
      return true
    end
  end
  return nil, "no failed, uncertain or queued message " .. id, "argument"
end

--- Deletes a message that is not being sent.  @return true, or nil, message, kind
function Spool:remove(id)
  if not check_id(id, "remove") then return nil, "invalid spool id", "argument" end
  for _, state in ipairs {"queued", "failed", "uncertain", "sent"} do
    local c = claim(self, id, state)
    if c then
      os.remove(c.path)
      release(c)
      remove_markers(self, id)
      core.fsync_dir(self.dirs.sending)
      return true
    end
  end
  return nil, "no message " .. id .. " outside sending/", "argument"
end

Spool.__tostring = function(self) return "spool (" .. self.dir .. ")" end

return M
