-- bench/imap_missive.lua fetch HOST PORT TLS(none|implicit) CAFILE USER RUNS KEY:
-- seconds for connect + login + list + fetch every message of INBOX, each parsed into an
-- email object (for m in s:messages{folder = "INBOX"}: pipelined batches, BODY.PEEK).
-- bench/imap_missive.lua mem HOST PORT USER OUTFILE: peak RSS growth (kB) fetching the
-- message of UID 1 into OUTFILE (s:fetch_part(uid, "", file): the whole message, streamed).
-- Growth = VmHWM after - VmRSS before, the peak reset (clear_refs) once the session is open.
-- Without missive.imap the script prints nothing (the report shows n/a) and exits 0.
local C = require "bench.common"
local ok, imap = pcall(require, "missive.imap")
if not ok then
  io.stderr:write("imap_missive: no missive.imap: ", tostring(imap):match("^[^\n]*"), "\n")
  return
end

local function open(host, port, tls, cafile, user)
  local s, err = imap.session{host = host, port = port, tls = tls, user = user,
                              password = "secret",
                              cafile = tls ~= "none" and cafile or nil,
                              server_name = tls ~= "none" and "localhost" or nil}
  if not s then
    io.stderr:write("imap_missive: session: ", tostring(err), "\n")
    os.exit(0)
  end
  return s
end

local mode = arg[1]
if mode == "mem" then
  local host, port, user, outfile = arg[2], tonumber(arg[3]), arg[4], arg[5]
  local s = open(host, port, "none", nil, user)
  assert(s:select("INBOX", {readonly = true}))
  local f = assert(io.open(outfile, "wb"))
  collectgarbage(); collectgarbage()
  local before = C.rss(); C.reset_peak()
  local done, err = s:fetch_part(1, "", f)
  local _, peak = C.rss()
  f:close(); s:close()
  if not done then
    io.stderr:write("imap_missive: fetch_part: ", tostring(err), "\n")
    return
  end
  C.out("mem.imap.missive", peak - before)
  return
end

local host, port, tls, cafile, user = arg[2], tonumber(arg[3]), arg[4], arg[5], arg[6]
local runs, key = tonumber(arg[7]), arg[8]
local ts, cpu, machine = {}, {}, {}
local n
for _ = 1, runs do
  local t0, c0, m0 = C.now(), os.clock(), C.machine_cpu()
  local s = open(host, port, tls, cafile, user)
  n = 0
  for m in s:messages{folder = "INBOX"} do
    assert(m.uid, "a message without its uid")
    n = n + 1
  end
  s:close()
  ts[#ts + 1] = C.now() - t0
  cpu[#cpu + 1] = os.clock() - c0
  if m0 then machine[#machine + 1] = C.machine_cpu() - m0 end
  assert(n > 0, "no message fetched")
end
C.out(key, C.median(ts))
-- CPU seconds per run: this client, and the whole machine (client + server + kernel)
C.out(key .. ".cpu", C.median(cpu))
if #machine > 0 then C.out(key .. ".machine", C.median(machine)) end
C.out(key .. ".count", n)
