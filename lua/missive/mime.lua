--- missive.mime: the MIME codecs on their own, one-shot and streaming.
-- Transfer encodings (base64, quoted-printable), RFC 2047 header text and RFC 2231
-- parameters, all in C (the same code the email object uses).  Decoders are lenient
-- and return the repaired text with the count of repairs; encoders refuse what they
-- cannot write (nil, message, "argument").  Streaming: mime.encoder(name[, opts]) and
-- mime.decoder(name) return a filter in LuaSocket's ltn12 style: call it with each
-- chunk (it returns what is ready, possibly ""), then with nil for the tail; after
-- that it returns nil.  The pieces joined equal the one-shot result for any chunking.
local core = require "missive.core"

local M = {}

--- base64_encode(s[, wrap]): wrap = true breaks lines at 76 characters with CRLF.
function M.base64_encode(s, wrap) return core.b64_encode(s, wrap) end
--- base64_decode(s) -> bytes, repairs.  Bytes outside the alphabet are skipped; the
-- data ends at the padding that completes a group (what follows is ignored, as
-- Python's email and GMime do).
function M.base64_decode(s) return core.b64_decode(s) end
--- qp_encode(s[, binary]): text (line breaks become CRLF) unless binary is true.
function M.qp_encode(s, binary) return core.qp_encode(s, binary) end
--- qp_decode(s) -> bytes, repairs.  Blanks before a hard line break are dropped (RFC
-- 2045 6.7 rule 3), those before a soft break are kept.
function M.qp_decode(s) return core.qp_decode(s) end
--- header_encode(text[, name]) -> RFC 2047 wire form of UTF-8 text, folded for a
-- header called name (default "Subject"), without "Name: " and the final CRLF.
M.header_encode = core.header_encode
--- header_decode(wire) -> UTF-8 text, repairs (controls become U+FFFD).
M.header_decode = core.header_decode
--- param_encode(name, value) -> `name="value"` or the RFC 2231 form for UTF-8 values.
M.param_encode = core.param_encode
--- param_decode(wire) -> main token (lowercase), {name = UTF-8 value}, repairs.
M.param_decode = core.param_decode

local function check_chunk(chunk)
  if type(chunk) ~= "string" then
    error("a filter takes a string or nil, got " .. type(chunk), 3)
  end
end

-- A filter over `step(chunk)` and `tail()`: nil once the tail was given.
local function filter(step, tail)
  local ended = false
  return function(chunk)
    if ended then return nil end
    if chunk == nil then
      ended = true
      local t = tail()
      if t == "" then return nil end
      return t
    end
    check_chunk(chunk)
    return step(chunk)
  end
end

local function b64_encoder(wrap)
  -- Whole lines (57 bytes) or whole groups (3 bytes) now, the rest with the next chunk.
  local unit, rest, started = wrap and 57 or 3, "", false
  local function enc(s)
    if s == "" then return "" end
    local out = core.b64_encode(s, wrap)
    if wrap and started then out = "\r\n" .. out end
    started = true
    return out
  end
  return filter(function(chunk)
    local s = rest .. chunk
    local k = #s - #s % unit
    rest = s:sub(k + 1)
    return enc(s:sub(1, k))
  end, function()
    local s = rest
    rest = ""
    return enc(s)
  end)
end

local function b64_decoder()
  local state = 0
  return filter(function(chunk)
    local out
    out, state = core.b64_decode_part(chunk, state, false)
    return out
  end, function()
    return (core.b64_decode_part("", state, true))
  end)
end

local function qp_encoder(binary)
  local rest, col = "", 0
  return filter(function(chunk)
    local s = rest .. chunk
    local out, used
    out, used, col = core.qp_encode_part(s, binary, col, false)
    rest = s:sub(used + 1)
    return out
  end, function()
    local out = core.qp_encode_part(rest, binary, col, true)
    rest = ""
    return out
  end)
end

-- Quoted-printable is line-local (an escape, a soft break and the blanks a hard break
-- drops all end at a line feed), so the text up to the last line feed decodes as it
-- does within the whole.  The unfinished line waits as a list of pieces, joined once
-- when its line feed comes: linear in the input whatever the chunking (a stream of
-- blanks or "=A" never re-joins what it holds).
local function qp_decoder()
  local held, n = {}, 0
  return filter(function(chunk)
    local lf = chunk:find("\n[^\n]*$")
    if not lf then
      n = n + 1
      held[n] = chunk
      return ""
    end
    held[n + 1] = chunk:sub(1, lf)
    local s = table.concat(held, "", 1, n + 1)
    held, n = { chunk:sub(lf + 1) }, 1
    return (core.qp_decode(s))
  end, function()
    local s = table.concat(held, "", 1, n)
    held, n = {}, 0
    return (core.qp_decode(s))
  end)
end

local NAMES = { base64 = "base64", ["quoted-printable"] = "qp", qp = "qp" }

local function kind_of(name, what)
  local k = type(name) == "string" and NAMES[name:lower()]
  if not k then
    error("unknown " .. what .. " '" .. tostring(name) ..
          "' (base64 or quoted-printable)", 3)
  end
  return k
end

--- encoder(name[, opts]): a streaming encoder, "base64" (opts.wrap as in
-- base64_encode) or "quoted-printable" (opts.binary as in qp_encode).
function M.encoder(name, opts)
  local k = kind_of(name, "encoder")
  if opts ~= nil and type(opts) ~= "table" then error("encoder options must be a table", 2) end
  opts = opts or {}
  if k == "base64" then return b64_encoder(opts.wrap and true or false) end
  return qp_encoder(opts.binary and true or false)
end

--- decoder(name): a streaming decoder, "base64" or "quoted-printable".
function M.decoder(name)
  if kind_of(name, "decoder") == "base64" then return b64_decoder() end
  return qp_decoder()
end

return M
