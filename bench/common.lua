-- bench/common.lua - helpers shared by the Lua benchmark scripts.
local M = {}

function M.now()
  local f = io.popen("date +%s.%N")  -- fallback only; replaced below when possible
  local t = tonumber(f:read("*l")); f:close(); return t
end
-- A monotonic wall clock without extra modules: LuaSocket's gettime when present.
local ok, socket = pcall(require, "socket")
if ok and socket.gettime then M.now = socket.gettime end

function M.median(t)
  local c = {}
  for i = 1, #t do c[i] = t[i] end
  table.sort(c)
  local n = #c
  if n % 2 == 1 then return c[(n + 1) / 2] end
  return (c[n / 2] + c[n / 2 + 1]) / 2
end

function M.out(key, value) io.write(("%s\t%.6g\n"):format(key, value)); io.flush() end

-- A message of about `size` bytes: headers and 76-character lines of text.
function M.message(size)
  local hdr = "From: <a@example.org>\r\nTo: <b@example.org>\r\nSubject: bench\r\n\r\n"
  local line = ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;abcdefghijk")
    :sub(1, 76) .. "\r\n"
  local n = math.floor((size - #hdr) / #line)
  return hdr .. line:rep(n)
end

-- Resident set size and its peak (kB); reset_peak() restarts the peak (Linux >= 4.0).
function M.rss()
  local f = io.open("/proc/self/status")
  local s = f:read("*a"); f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)")), tonumber(s:match("VmHWM:%s*(%d+)"))
end
function M.reset_peak()
  local f = io.open("/proc/self/clear_refs", "w")
  if f then f:write("5"); f:close() end
end

-- CPU seconds the whole machine has been busy (user, nice, system, irq, softirq), from
-- /proc/stat; with os.clock() (this process) it splits a run into client and server.
function M.machine_cpu()
  local f = io.open("/proc/stat")
  if not f then return nil end
  local l = f:read("*l"); f:close()
  local t = {}
  for x in l:gmatch("%d+") do t[#t + 1] = tonumber(x) end
  if #t < 7 then return nil end
  return (t[1] + t[2] + t[3] + t[6] + t[7]) / 100   -- user nice system . . irq softirq
end

return M
