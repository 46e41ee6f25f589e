-- bench/codec_sizes.lua [RUNS [MiB...]] - one codec call on a fresh input of 1..128 MiB,
-- missive beside Python in the same run (bench/codec_sizes.py, same inputs).  A warm
-- loop over one 8 MB input hides what a single big call costs (page faults of a fresh
-- result, copies of it): this measures the call a user makes.
-- Prints "name.<MiB><TAB>MB/s" (MB = 10^6 bytes of raw input, median of RUNS calls) and
-- "ratio.<codec>.<MiB><TAB>missive/python".  "floor.b64_encode.<MiB>" is the rate at
-- which Lua can merely create a string of the encoded size from another (s:sub(2) of a
-- fresh one): no binding returns its result faster, whatever its codec costs.  From
-- 32 MiB on, glibc maps every such block fresh (its mmap threshold stops at 32 MiB), so
-- page faults of the new string bound the rate; Python pays them once (it writes into
-- the bytes object), a Lua binding twice (its buffer, then the string it copies into).
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
local C = require "bench.common"
local core = require "missive.core"
local RUNS = tonumber(arg[1]) or tonumber(os.getenv("BENCH_RUNS")) or 3
local sizes = {}
for i = 2, #arg do sizes[#sizes + 1] = tonumber(arg[i]) end
if #sizes == 0 then sizes = {1, 2, 4, 8, 16, 32, 64, 128} end

local function urandom(n)
  local f = assert(io.open("/dev/urandom", "rb"))
  local s = f:read(n); f:close(); return s
end

local WORDS = {"the ", "quick ", "brown ", "fox ", "jumps ", "over ", "lazy ", "dog, ",
               "and ", "then ", "some ", "more ", "words. ", "text ", "with ", "a ", "line ",
               "of ", "prose ", "in ", "it ", "is ", "fine ", "here, ", "\n", "\n",
               "caf\233 ", "x = y "}
local block
local function prose(n)
  if not block then
    math.randomseed(7)
    local t, k = {}, 0
    while k < 1048576 do
      local w = WORDS[math.random(#WORDS)]; t[#t + 1] = w; k = k + #w
    end
    block = table.concat(t):sub(1, 1048576)
  end
  return (block:rep(math.floor(n / 1048576) + 1)):sub(1, n)
end

-- Median MB/s of RUNS calls, each on a fresh input (a copy: a new string every call).
local function one(f, make, decoded)
  local rs = {}
  for r = 1, RUNS do
    local x = make(r)
    collectgarbage(); collectgarbage()
    local t0 = C.now()
    local y = f(x)
    local dt = C.now() - t0
    rs[#rs + 1] = (decoded and #y or #x) / dt / 1e6
    x, y = nil, nil -- luacheck: ignore
  end
  return C.median(rs)
end

local got = {}
local function out(k, v) got[k] = v; C.out(k, v) end
for _, mib in ipairs(sizes) do
  local n = mib * 1048576
  local text = prose(n)
  local qp = core.qp_encode(text)
  out("missive.b64_encode." .. mib, one(core.b64_encode, function() return urandom(n) end))
  out("missive.b64_decode." .. mib, one(core.b64_decode,
      function() return core.b64_encode(urandom(n)) end, true))
  -- a fresh copy of the same text each call (`..` makes a new string)
  out("missive.qp_encode." .. mib, one(core.qp_encode, function(r) return text .. r end))
  out("missive.qp_decode." .. mib, one(core.qp_decode, function(r) return qp .. r end, true))
  local enc_len = math.floor((n + 2) / 3) * 4
  out("floor.b64_encode." .. mib, one(function(x) return x:sub(2) end,
      function() return urandom(enc_len) end) * n / enc_len)
  text, qp = nil, nil -- luacheck: ignore
  collectgarbage()
end
local py = io.popen("python3 bench/codec_sizes.py " .. RUNS .. " " .. table.concat(sizes, " "))
for l in py:lines() do
  local k, v = l:match("^(%S+)\t(%S+)$")
  if k then out(k, tonumber(v)) end
end
py:close()
for _, mib in ipairs(sizes) do
  for _, c in ipairs{"b64_encode", "b64_decode", "qp_encode", "qp_decode"} do
    local a, b = got["missive." .. c .. "." .. mib], got["python." .. c .. "." .. mib]
    if a and b then C.out("ratio." .. c .. "." .. mib, a / b) end
  end
  local f, b = got["floor.b64_encode." .. mib], got["python.b64_encode." .. mib]
  if f and b then C.out("ratio_max.b64_encode." .. mib, f / b) end
end
