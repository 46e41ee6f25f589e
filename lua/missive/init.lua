--- missive: email for Lua.  `require "missive"` gathers the modules.
-- @module missive
local config = require "missive.config"

local M = {
  smtp = require "missive.smtp",
  set_timeout = config.set_timeout,
  version = require("missive.core").version,
}

-- POP3 and the email object load when present, so each lands on its own.
for _, name in ipairs { "pop3", "email", "spool" } do
  local ok, mod = pcall(require, "missive." .. name)
  if ok then
    M[name] = mod
  elseif not tostring(mod):find("module 'missive." .. name .. "' not found", 1, true) then
    error(mod, 0)
  end
end

--- Opens SMTP and POP3 sessions at once (the seeds' EmailStartSession):
-- `missive.session{smtp = {...}, pop3 = {...}}`, or shared host/user/password/... keys.
-- @return {smtp =, pop3 =, close =}, or nil, message, kind[, reply]
function M.session(opts)
  if not M.pop3 then error("missive.pop3 is not available", 2) end
  return M.pop3.start_session(opts)
end

return M
