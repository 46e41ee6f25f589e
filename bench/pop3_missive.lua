-- bench/pop3_missive.lua HOST PORT TLS(none|implicit) CAFILE RUNS KEY:
-- seconds for connect + login + list + retrieve all (s:messages{parse = false}, which
-- pipelines RETRs when the server offers PIPELINING).
local C = require "bench.common"
local pop3 = require "missive.pop3"
local host, port, tls, cafile, runs, key = arg[1], tonumber(arg[2]), arg[3], arg[4],
  tonumber(arg[5]), arg[6]
local ts, cpu, machine = {}, {}, {}
for _ = 1, runs do
  local t0, c0, m0 = C.now(), os.clock(), C.machine_cpu()
  local p = assert(pop3.session{host = host, port = port, tls = tls, cafile = cafile,
                                server_name = "localhost", user = "bob", password = "secret",
                                auth = "auto", insecure_auth = true})
  local n, bytes = 0, 0
  for m in p:messages{parse = false} do n = n + 1; bytes = bytes + #m.raw end
  p:close()
  ts[#ts + 1] = C.now() - t0
  cpu[#cpu + 1] = os.clock() - c0
  if m0 then machine[#machine + 1] = C.machine_cpu() - m0 end
  assert(n > 0)
end
C.out(key, C.median(ts))
-- CPU seconds per run: this client, and the whole machine (client + server + kernel)
C.out(key .. ".cpu", C.median(cpu))
if #machine > 0 then C.out(key .. ".machine", C.median(machine)) end
