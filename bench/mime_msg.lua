-- bench/mime_msg.lua DIR RUNS: build + serialise a message with a 50 MB attachment (from
-- a file), and parse that 50 MB multipart message; seconds.  Leaves DIR/big.eml for the
-- Python peer.
local C = require "bench.common"
local email = require "missive.email"
local dir, runs = arg[1], tonumber(arg[2])
local att = dir .. "/att.bin"
local f = assert(io.open(att, "wb"))
local chunk = {}
for i = 1, 65536 do chunk[i] = string.char((i * 7919) % 256) end
chunk = table.concat(chunk)
for _ = 1, 50 * 1048576 / #chunk do f:write(chunk) end
f:close()
local tb, tp, raw = {}, {}, nil
for _ = 1, runs do
  local t0 = C.now()
  local m = assert(email.new{from = "a@example.org", to = {"b@example.org"}, subject = "big",
                             text = "See attached.", attachments = {{path = att}}})
  raw = m:tostring()
  tb[#tb + 1] = C.now() - t0
end
io.open(dir .. "/big.eml", "wb"):write(raw):close()
for _ = 1, runs do
  local t0 = C.now()
  local m = assert(email.parse(raw))
  local a = m.attachments[1]
  assert(a and #a.content == 50 * 1048576)
  tp[#tp + 1] = C.now() - t0
end
C.out("mime.build50.missive", C.median(tb))
C.out("mime.parse50.missive", C.median(tp))
