--- missive: email for Lua.  `require "missive"` gathers the modules.
-- @module missive
local config = require "missive.config"

local M = {
  smtp = require "missive.smtp",
  pop3 = require "missive.pop3",
  email = require "missive.email",
  spool = require "missive.spool",
  set_timeout = config.set_timeout,
  version = require("missive.core").version,
}

-- The options both sessions take from the top level of missive.session{...}.
local SHARED = { "host", "user", "password", "token", "timeout", "cafile", "capath",
                 "verify", "client_cert", "client_key", "tls_min", "tls_max", "insecure_auth",
                 "trace", "driver" }

--- An SMTP and a POP3 session used as one: s.smtp, s.pop3 and the methods below.
local Session = {}
Session.__index = Session

--- Sends on the SMTP session (as smtp session:send).
function Session:send(msg) return self.smtp:send(msg) end

--- Iterates over the POP3 mailbox (as pop3 session:messages).
function Session:messages(opts) return self.pop3:messages(opts) end

--- Every message of the POP3 mailbox (as pop3 session:get_all).
function Session:get_all(opts) return self.pop3:get_all(opts) end

--- QUIT on both; true, or the first failure as nil, message, kind[, reply] (both are
-- closed all the same).
function Session:close()
  local a, aerr, akind, areply = self.smtp:close()
  local b, berr, bkind, breply = self.pop3:close()
  if not a then return nil, aerr, akind, areply end
  if not b then return nil, berr, bkind, breply end
  return true
end

Session.__close = function(self) self:close() end

--- Opens SMTP and POP3 sessions at once (as WinDev's EmailStartSession does):
-- `missive.session{smtp = {...}, pop3 = {...}}` and/or the shared host, user, password,
-- token, timeout, cafile, capath, verify, client_cert, client_key, tls_min, tls_max,
-- insecure_auth, trace, driver and socket (a factory; a socket object goes in the smtp
-- or pop3 part).
-- @return the session ({smtp =, pop3 =} with send, messages, get_all, close), or nil,
-- message, kind[, reply]
function M.session(opts)
  if type(opts) ~= "table" then error("session expects a table of options", 2) end
  local function merged(part)
    local o = {}
    for _, k in ipairs(SHARED) do o[k] = opts[k] end
    -- A socket factory can serve both sessions; a socket object only one.
    if type(opts.socket) == "function" then o.socket = opts.socket end
    for k, v in pairs(part or {}) do o[k] = v end
    return o
  end
  local so, serr, skind, sreply = M.smtp.session(merged(opts.smtp))
  if not so then return nil, "smtp: " .. serr, skind, sreply end
  local po, perr, pkind, preply = M.pop3.session(merged(opts.pop3))
  if not po then
    so:close()
    return nil, "pop3: " .. perr, pkind, preply
  end
  local both = setmetatable({ smtp = so, pop3 = po }, Session)
  -- both.close() works without the colon too: it is bound to this pair.
  both.close = function() return Session.close(both) end
  return both
end

return M
