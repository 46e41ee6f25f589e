--- Module-wide defaults (what WinDev's EmailSetTimeOut sets: the per-command timeout).
-- @module missive.config
local M = { timeout = 60 }

--- Sets the default per-command timeout, in seconds, for sessions opened afterwards.
function M.set_timeout(seconds)
  if type(seconds) ~= "number" or seconds <= 0 then
    error("timeout must be a positive number of seconds", 2)
  end
  M.timeout = seconds
  return true
end

return M
