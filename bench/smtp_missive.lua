-- bench/smtp_missive.lua HOST PORT COUNT SIZE RUNS KEY [MODE [CAFILE]]: messages/s over
-- one session; with CAFILE, implicit TLS (server name "localhost").
local C = require "bench.common"
local smtp = require "missive.smtp"
local host, port, count, size, runs, key = arg[1], tonumber(arg[2]), tonumber(arg[3]),
  tonumber(arg[4]), tonumber(arg[5]), arg[6]
local data = C.message(size)
-- mode "batch": s:send_batch over all messages (PIPELINING: dot + next envelope);
-- mode "source": the same bytes from a source function (64 KB chunks), whose 8-bit
-- content is not known before MAIL (has8 = -1); mode "batch-dkim=KEYFILE": "batch" with
-- every message signed (rsa-sha256, relaxed/relaxed) by the session's `dkim` option
local mode = arg[7] or "string"
local dkim
if mode:match("^batch%-dkim=") then
  local pem = assert(io.open(mode:match("=(.*)$"), "rb")):read("*a")
  dkim, mode = {domain = "example.org", selector = "bench", key = pem}, "batch"
end
local cafile = arg[8]
local function body()
  if mode ~= "source" then return data end
  local pos = 1
  return function()
    if pos > #data then return nil end
    local c = data:sub(pos, pos + 65535)
    pos = pos + 65536
    return c
  end
end
local rates = {}
for _ = 1, runs do
  local s = assert(smtp.session{host = host, port = port, auth = "none",
                                tls = cafile and "implicit" or "none", cafile = cafile,
                                server_name = cafile and "localhost" or nil, dkim = dkim})
  local t0 = C.now()
  if mode == "batch" then
    -- one send_batch call: each end of data travels with the next envelope
    local list = {}
    for i = 1, count do list[i] = {from = "a@example.org", to = {"b@example.org"}, data = data} end
    local _, sent = s:send_batch(list)
    assert(sent == count)
  else
    for _ = 1, count do
      assert(s:send{from = "a@example.org", to = {"b@example.org"}, data = body()})
    end
  end
  rates[#rates + 1] = count / (C.now() - t0)
  s:close()
end
C.out(key, C.median(rates))
