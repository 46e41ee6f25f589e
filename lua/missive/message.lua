--- What the senders (missive.smtp, missive.async) share: the option defaults of an
-- SMTP session and the shapes a message may take.
-- @module missive.message
local config = require "missive.config"
local core = require "missive.core"

local M = {}

function M.copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

--- The SMTP session options with defaults filled in: port 587 with STARTTLS, port 465
-- means implicit TLS (missive.config's smtp.port, smtp.implicit_port), and the
-- module-wide timeout.
function M.smtp_defaults(opts, level)
  local o = M.copy(opts)
  local d = config.smtp
  o.async = nil
  if o.port == nil then o.port = (o.tls == "implicit") and d.implicit_port or d.port end
  if o.tls == nil then o.tls = (o.port == d.implicit_port) and "implicit" or "starttls" end
  if o.timeout == nil then o.timeout = config.timeout end
  if o.user ~= nil and o.password == nil and o.token == nil then
    error("option 'user' needs 'password' or 'token'", level + 1)
  end
  return o
end

-- An email object (missive.email) knows its envelope and serialises itself.
function M.as_email(v)
  if type(v) ~= "userdata" then return nil end
  local ok, env = pcall(function() return v.envelope end)
  if ok and type(env) == "function" then return v end
  return nil
end

-- A recipient is a string or {address =, orcpt =, notify =} (its DSN requests, kept in
-- rdsn at the recipient's index).
local function list(v, field, out, level, rdsn)
  if v == nil then return end
  if type(v) == "table" and v.address ~= nil then v = {v} end
  if type(v) == "string" then
    out[#out + 1] = v
  elseif type(v) == "table" then
    for i = 1, #v do
      local r = v[i]
      if type(r) == "table" then
        if type(r.address) ~= "string" then
          error(("'%s' entry %d has no 'address' string"):format(field, i), level + 1)
        end
        out[#out + 1] = r.address
        if r.orcpt ~= nil or r.notify ~= nil then
          rdsn[#out] = {orcpt = r.orcpt, notify = r.notify}
        end
      elseif type(r) ~= "string" then
        error(("'%s' entry %d is not a string"):format(field, i), level + 1)
      else
        out[#out + 1] = r
      end
    end
  else
    error(("'%s' must be a string or an array of strings"):format(field), level + 1)
  end
end

--- Checks a session's `dsn` option: a wrong type raises at `level`, a wrong value
-- returns nil, message, "argument".
function M.check_dsn(dsn, level)
  if dsn == nil then return true end
  if type(dsn) ~= "table" then error("option 'dsn' must be a table", level + 1) end
  if dsn.rcpt ~= nil then error("option 'dsn' takes notify, ret and envid", level + 1) end
  return core.smtp_check_dsn(dsn, 0)
end

--- A message's DSN requests (RFC 3461) over the session's `dsn` default: {notify, ret,
-- envid, rcpt = {[i] = {notify, orcpt}}}, or nil when nothing is asked.  The core checks
-- the values.
function M.merge_dsn(mine, session)
  if session == nil then return mine end
  mine = mine or {}
  local d = {notify = mine.notify, ret = mine.ret, envid = mine.envid, rcpt = mine.rcpt}
  for _, k in ipairs {"notify", "ret", "envid"} do
    if d[k] == nil then d[k] = session[k] end
  end
  if d.notify == nil and d.ret == nil and d.envid == nil and d.rcpt == nil then return nil end
  return d
end

--- Reads a message given as an email object or as {from, to, cc, bcc, data | message,
-- progress}.  Misuse raises at `level`.
-- @return {from =, rcpts =, data = (string, function or nil), email =, progress =}
function M.read(msg, level)
  level = level + 1
  local email = M.as_email(msg)
  local t = email and {message = email} or msg
  if type(t) ~= "table" then error("send expects a table or an email", level) end
  email = email or M.as_email(t.message)
  local m = {from = t.from, rcpts = {}, data = t.data, email = email, progress = t.progress,
             dkim = t.dkim}
  if m.dkim ~= nil and type(m.dkim) ~= "table" then error("'dkim' must be a table", level) end
  local rdsn = {}
  list(t.to, "to", m.rcpts, level, rdsn)
  list(t.cc, "cc", m.rcpts, level, rdsn)
  list(t.bcc, "bcc", m.rcpts, level, rdsn)
  if t.notify ~= nil or t.ret ~= nil or t.envid ~= nil or next(rdsn) ~= nil then
    m.dsn = {notify = t.notify, ret = t.ret, envid = t.envid, rcpt = next(rdsn) and rdsn}
  end
  if email then
    local efrom, erc = email:envelope()
    m.from = m.from or efrom
    if #m.rcpts == 0 then m.rcpts = erc end
  end
  if type(m.from) ~= "string" then error("send needs 'from'", level) end
  if m.data == nil and not email then error("send needs 'data' or 'message'", level) end
  if m.data ~= nil and type(m.data) ~= "string" and type(m.data) ~= "function" then
    error("'data' must be a string or a source function", level)
  end
  return m
end

--- Signs a message read by `read` with DKIM when asked (its own `dkim`, else the
-- session's): an email object through email:sign_dkim (the signature is added to it);
-- a string is parsed, signed and written again (its body bytes as they were).  A source
-- function could only be signed by holding it whole: refused.  `dkim` may be a list of
-- signature tables (RSA and Ed25519 side by side, RFC 8463 §4): each adds its field,
-- all or none.
-- @return true, or nil, message, kind
function M.sign(m, dkim)
  dkim = m.dkim or dkim
  if dkim == nil then return true end
  local e = m.email
  if not e then
    if type(m.data) ~= "string" then
      return nil, "DKIM signing needs an email object or a string, not a source function",
        "argument"
    end
    local err, kind
    e, err, kind = core.email_parse(m.data)
    if not e then return nil, err, kind end
  end
  local ok, err, kind = e:sign_dkim(dkim)
  if not ok then return nil, err, kind end
  if not m.email then m.data = e:tostring() end
  return true
end

return M
