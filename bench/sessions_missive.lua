-- bench/sessions_missive.lua PORT CAFILE N KEY: RSS growth (kB per session) of N open,
-- idle, implicit-TLS SMTP sessions (handshake + EHLO done) to bench/tls_server.py;
-- CAFILE "-": plain TCP sessions (to a plain tls_server.py), what missive itself holds.
local C = require "bench.common"
local smtp = require "missive.smtp"
local port, cafile, n, key = tonumber(arg[1]), arg[2], tonumber(arg[3]), arg[4]
local tls = "implicit"
if cafile == "-" then cafile, tls = nil, "none" end
-- one session first, so the library's one-time state is not counted per session
local first = assert(smtp.session{host = "127.0.0.1", port = port, tls = tls,
                                  cafile = cafile, server_name = "localhost", auth = "none"})
collectgarbage(); collectgarbage()
local before = C.rss()
local t = {}
for i = 1, n do
  t[i] = assert(smtp.session{host = "127.0.0.1", port = port, tls = tls,
                             cafile = cafile, server_name = "localhost", auth = "none"})
end
collectgarbage(); collectgarbage()
local after = C.rss()
C.out(key, (after - before) / n)
for i = 1, n do t[i]:close() end
first:close()
