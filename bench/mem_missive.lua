-- bench/mem_missive.lua send HOST PORT FILE | retrieve HOST PORT N OUTFILE
-- Peak RSS growth (kB) while streaming a big message: `send` builds an email with the
-- file as attachment (email.new{attachments = {{path = FILE}}}, streamed by m:source())
-- and sends it over one session to smtp-sink; `retrieve` gets message N from Dovecot
-- straight into a file (s:retrieve(n, file)).  Growth = VmHWM after - VmRSS before,
-- the peak reset (clear_refs) once the session is open.
local C = require "bench.common"
local what, host, port = arg[1], arg[2], tonumber(arg[3])
local key = "mem." .. what .. ".missive"
if what == "send" then
  local smtp, email = require "missive.smtp", require "missive.email"
  local s = assert(smtp.session{host = host, port = port, tls = "none", auth = "none"})
  local m = assert(email.new{from = "a@example.org", to = {"b@example.org"}, subject = "big",
                             text = "See attached.", attachments = {{path = arg[4]}}})
  collectgarbage(); collectgarbage()
  local before = C.rss(); C.reset_peak()
  assert(s:send(m))
  local _, peak = C.rss()
  s:close()
  C.out(key, peak - before)
else
  local pop3 = require "missive.pop3"
  local p = assert(pop3.session{host = host, port = port, tls = "none", user = "alice",
                                password = "secret", auth = "auto", insecure_auth = true})
  local f = assert(io.open(arg[5], "wb"))
  collectgarbage(); collectgarbage()
  local before = C.rss(); C.reset_peak()
  assert(p:retrieve(tonumber(arg[4]), f))
  local _, peak = C.rss()
  f:close(); p:close()
  C.out(key, peak - before)
end
