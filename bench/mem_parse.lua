-- bench/mem_parse.lua [MB [CHARSET]] - peak RSS growth while parsing a message whose
-- text body is MB megabytes of 8-bit text in CHARSET (windows-1252: prose with accented
-- letters, curly quotes and euro signs), and while reading m.text.  Run in a fresh
-- process (peak reset through /proc/self/clear_refs).  Prints "mem.parse.<charset><TAB>
-- growth kB", the same for "+text", and "mem.parse.<charset>.x<TAB>growth / body".
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
local C = require "bench.common"
local email = require "missive.email"
local MB = tonumber(arg[1]) or 32
local cs = arg[2] or "windows-1252"

local line = "Caf\233 cr\232me br\251l\233e, \147quoted\148 \128 10 \150 na\239ve r\233sum\233 " ..
             "and more plain words to make a line of mail.\r\n"
local body = line:rep(math.floor(MB * 1e6 / #line))
local raw = "From: a@example.org\r\nTo: b@example.org\r\nSubject: big\r\nMIME-Version: 1.0\r\n" ..
            "Content-Type: text/plain; charset=" .. cs .. "\r\n" ..
            "Content-Transfer-Encoding: 8bit\r\n\r\n" .. body
line = nil -- luacheck: ignore
collectgarbage(); collectgarbage()
local before = C.rss()
C.reset_peak()
local m = assert(email.parse(raw))
local _, peak = C.rss()
local tag = "mem.parse." .. cs
C.out(tag, peak - before)
C.out(tag .. ".x", (peak - before) * 1024 / #body)
local t = m.text
local _, peak2 = C.rss()
C.out(tag .. "+text", peak2 - before)
assert(#t > #body * 0.9)
