--- missive: email for Lua.  `require "missive"` gathers the modules.
-- @module missive
local config = require "missive.config"

local M = {
  smtp = require "missive.smtp",
  set_timeout = config.set_timeout,
  version = require("missive.core").version,
}

-- POP3 and the email object load when present, so each lands on its own.
for _, name in ipairs { "pop3", "email" } do
  local ok, mod = pcall(require, "missive." .. name)
  if ok then
    M[name] = mod
  elseif not tostring(mod):find("module 'missive." .. name .. "' not found", 1, true) then
    error(mod, 0)
  end
end

return M
