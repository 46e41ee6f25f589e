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

--- Opens SMTP and POP3 sessions at once (the seeds' EmailStartSession):
-- `missive.session{smtp = {...}, pop3 = {...}}`, or shared host/user/password/... keys.
-- @return {smtp =, pop3 =, close =}, or nil, message, kind[, reply]
function M.session(opts)
  return M.pop3.start_session(opts)
end

return M
