-- spec/support/scripted_smtp.lua - SMTP transcripts for the scripted server
-- (spec/support/scripted.lua) and sessions against it under either driver.
--
--   local ss = require "support.scripted_smtp"
--   local srv = scripted.start(ss.script(ss.GREET, {ss.ehlo{"PIPELINING"}},
--                                        ss.accept_all()))
--   local s = ss.session(srv, "luasocket", {chunking = true})
local smtp = require "missive.smtp"

local M = {}

-- Both ways of moving bytes: the native C driver, and LuaSocket objects going through
-- lua/missive/driver.lua (the path cosockets take).
M.DRIVERS = {"native", "luasocket"}

M.GREET = {send = "220 scripted ESMTP\r\n"}
-- the end of every session: QUIT, answered
M.QUIT = {{expect = "QUIT"}, {send = "221 bye\r\n"}}

-- An EHLO exchange advertising `caps` (an array of capability lines).
function M.ehlo(caps)
  local lines = {"250-scripted"}
  for _, c in ipairs(caps or {}) do lines[#lines + 1] = "250-" .. c end
  lines[#lines] = lines[#lines]:gsub("^250%-", "250 ")
  return {expect = "EHLO"}, {send = table.concat(lines, "\r\n") .. "\r\n"}
end

-- Flattens steps and arrays of steps into one script.
function M.script(...)
  local steps = {}
  for _, part in ipairs {...} do
    if part[1] == nil then
      steps[#steps + 1] = part
    else
      for _, s in ipairs(part) do steps[#steps + 1] = s end
    end
  end
  return steps
end

-- A plaintext session on the scripted server; driver "native" or "luasocket".
function M.session(srv, driver, extra)
  local o = {host = "127.0.0.1", port = srv.port, tls = "none", timeout = 2}
  if driver == "luasocket" then o.socket = require("socket").tcp end
  for k, v in pairs(extra or {}) do o[k] = v end
  return smtp.session(o)
end

function M.msg(extra)
  local m = {from = "a@x.test", to = {"b@x.test"}, data = "Subject: t\r\n\r\nbody\r\n"}
  for k, v in pairs(extra or {}) do m[k] = v end
  return m
end

-- The envelope+data exchange of a server without PIPELINING that accepts everything.
function M.accept_all(final)
  return {
    {expect = "MAIL FROM:<a@x.test>"}, {send = "250 ok\r\n"},
    {expect = "RCPT TO:<b@x.test>"}, {send = "250 ok\r\n"},
    {expect = "DATA"}, {send = "354 go\r\n"},
    {read_until = "\r\n.\r\n"}, {send = final or "250 2.0.0 queued\r\n"},
  }
end

return M
