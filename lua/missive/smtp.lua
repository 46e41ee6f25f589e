--- SMTP sessions: sending mail.
-- The protocol lives in the C core; this module fills in option defaults and
-- accepts the friendly shapes of a message (tables, strings, sources, emails).
-- @module missive.smtp
local core = require "missive.core"
local config = require "missive.config"

local M = {}
local methods = core.smtp_methods

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

--- Opens a session: connect, greeting, EHLO, TLS, AUTH.
-- Options: host (required), port (587), tls ("starttls" | "implicit" | "none"; port 465
-- means "implicit"), user, password, token (XOAUTH2), auth ("auto" | "optional" |
-- "none" | a mechanism), helo, timeout (seconds, per command), cafile, capath,
-- verify (true), client_cert, client_key, insecure_auth, pipelining, chunking, trace.
-- @tparam table opts
-- @return an smtp.session, or nil, message, kind[, reply]
function M.session(opts)
  if type(opts) ~= "table" then
    error("smtp.session expects a table of options", 2)
  end
  local o = copy(opts)
  if o.port == nil then
    o.port = (o.tls == "implicit") and 465 or 587
  end
  if o.tls == nil then
    o.tls = (o.port == 465) and "implicit" or "starttls"
  end
  if o.timeout == nil then o.timeout = config.timeout end
  if o.user ~= nil and o.password == nil and o.token == nil then
    error("option 'user' needs 'password' or 'token'", 2)
  end
  return core.smtp_open(o)
end

local function list(v, field, out)
  if v == nil then return end
  if type(v) == "string" then
    out[#out + 1] = v
  elseif type(v) == "table" then
    for i = 1, #v do
      if type(v[i]) ~= "string" then
        error(("'%s' entry %d is not a string"):format(field, i), 3)
      end
      out[#out + 1] = v[i]
    end
  else
    error(("'%s' must be a string or an array of strings"):format(field), 3)
  end
end

-- An email object (missive.email) knows its envelope and streams itself.
local function as_email(v)
  if type(v) ~= "userdata" then return nil end
  local ok, env = pcall(function() return v.envelope end)
  if ok and type(env) == "function" then return v end
  return nil
end

--- Sends one message.
-- `msg` is an email object, or a table {from, to, cc, bcc, data | message, progress}
-- where data is a string or a source function returning chunks and then nil.
-- @return {accepted = {addr...}, rejected = {[addr] = reply}, reply = reply},
--   or nil, message, kind[, reply]; kind "uncertain" means the server may have it.
function methods:send(msg)
  local email = as_email(msg)
  local t = email and {message = email} or msg
  if type(t) ~= "table" then
    error("send expects a table or an email", 2)
  end
  email = email or as_email(t.message)
  local from, rcpts, data = t.from, {}, t.data
  list(t.to, "to", rcpts)
  list(t.cc, "cc", rcpts)
  list(t.bcc, "bcc", rcpts)
  if email then
    local efrom, erc = email:envelope()
    from = from or efrom
    if #rcpts == 0 then rcpts = erc end
    data = email:source()
  end
  if type(from) ~= "string" then error("send needs 'from'", 2) end
  if data == nil then error("send needs 'data' or 'message'", 2) end
  if type(data) ~= "string" and type(data) ~= "function" then
    error("'data' must be a string or a source function", 2)
  end
  return self:_send(from, rcpts, data, t.progress)
end

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
