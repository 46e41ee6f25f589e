-- bench/smtp_luasocket.lua HOST PORT COUNT SIZE RUNS KEY: LuaSocket's socket.smtp,
-- one session (smtp.open + greet, then one send per message).
local C = require "bench.common"
local smtp = require "socket.smtp"
local ltn12 = require "ltn12"
local host, port, count, size, runs, key = arg[1], tonumber(arg[2]), tonumber(arg[3]),
  tonumber(arg[4]), tonumber(arg[5]), arg[6]
local data = C.message(size)
local rates = {}
for _ = 1, runs do
  local s = assert(smtp.open(host, port))
  s:greet("localhost")  -- raises on error
  local t0 = C.now()
  for _ = 1, count do
    s:send{from = "<a@example.org>", rcpt = {"<b@example.org>"},
           source = ltn12.source.string(data)}  -- raises on error
  end
  rates[#rates + 1] = count / (C.now() - t0)
  s:quit(); s:close()
end
C.out(key, C.median(rates))
