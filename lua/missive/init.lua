--- missive: email for Lua.  `require "missive"` gathers the modules.
-- @module missive
local config = require "missive.config"

local M = {
  smtp = require "missive.smtp",
  pop3 = require "missive.pop3",
  imap = require "missive.imap",
  email = require "missive.email",
  spool = require "missive.spool",
  set_timeout = config.set_timeout,
  version = require("missive.core").version,
}

-- The options both sessions take from the top level of missive.session{...}.
local SHARED = { "host", "user", "password", "token", "timeout", "cafile", "capath",
                 "verify", "client_cert", "client_key", "tls_min", "tls_max", "insecure_auth",
                 "trace", "driver" }

--- An SMTP and a POP3 (or IMAP) session used as one: s.smtp, s.pop3 or s.imap, and the
-- methods below.
local Session = {}
Session.__index = Session

--- Sends on the SMTP session (as smtp session:send).
function Session:send(msg) return self.smtp:send(msg) end

--- Iterates over the mailbox (as pop3 or imap session:messages).
function Session:messages(opts) return (self.imap or self.pop3):messages(opts) end

--- Every message of the mailbox (as pop3 or imap session:get_all).
function Session:get_all(opts) return (self.imap or self.pop3):get_all(opts) end

--- QUIT on both; true, or the first failure as nil, message, kind[, reply] (both are
-- closed all the same).
function Session:close()
  local a, aerr, akind, areply = self.smtp:close()
  local b, berr, bkind, breply = (self.imap or self.pop3):close()
  if not a then return nil, aerr, akind, areply end
  if not b then return nil, berr, bkind, breply end
  return true
end

Session.__close = function(self) self:close() end

--- Opens SMTP and POP3 sessions at once (as WinDev's EmailStartSession does):
-- `missive.session{smtp = {...}, pop3 = {...}}` (or imap = {...} to read over IMAP)
-- and/or the shared host, user, password, token, timeout, cafile, capath, verify,
-- client_cert, client_key, tls_min, tls_max, insecure_auth, trace, driver and socket (a
-- factory; a socket object goes in the smtp, pop3 or imap part).
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
  -- missive.session{imap = {...}} reads over IMAP instead of POP3.
  local which = opts.imap and "imap" or "pop3"
  local po, perr, pkind, preply = M[which].session(merged(opts[which]))
  if not po then
    so:close()
    return nil, which .. ": " .. perr, pkind, preply
  end
  local both = setmetatable({ smtp = so, [which] = po }, Session)
  -- both.close() works without the colon too: it is bound to this pair.
  both.close = function() return Session.close(both) end
  return both
end

return M
