--- Module-wide defaults: the one Lua place that reads the defaults of the C core
-- (core.defaults, from csrc/base/mv_defaults.h; README's "Defaults" lists them), and the
-- per-command timeout WinDev's EmailSetTimeOut sets.  The other modules take their
-- defaults from here.
-- @module missive.config
local defaults = require("missive.core").defaults

local M = {
  timeout = defaults.timeout,   -- seconds per command; set_timeout changes it
  smtp = defaults.smtp,         -- port, implicit_port, helo, max_line_length, ...
  pop3 = defaults.pop3,         -- port, starttls_port, max_size, max_time, window, ...
  email = defaults.email,       -- the parser's caps, save_mode
  spool = defaults.spool,       -- backoff, max_backoff, max_age (seconds)
}

--- Sets the default per-command timeout, in seconds, for sessions opened afterwards.
function M.set_timeout(seconds)
  if type(seconds) ~= "number" or seconds <= 0 then
    error("timeout must be a positive number of seconds", 2)
  end
  M.timeout = seconds
  return true
end

return M
