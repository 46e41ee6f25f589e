--- missive.email: build, serialise and parse MIME messages.
-- The email value is a C userdata ("missive.email"); this module adds the sugar:
-- `new` with defaults, `parse` from a string or a source function, `parts` as an
-- iterator, and the codecs under readable names.
local core = require "missive.core"

local M = {}

-- Fields set by `new`, in an order that makes the serialised header read naturally.
local ORDER = { "date", "from", "sender", "reply_to", "to", "cc", "bcc", "subject",
                "message_id", "priority", "headers", "allow_8bit", "text", "html",
                "attachments" }
local KNOWN = {}
for _, k in ipairs(ORDER) do KNOWN[k] = true end

local function domain_of(from)
  if type(from) == "table" then from = from[1] or from.address end
  if type(from) == "table" then from = from.address end
  if type(from) ~= "string" then return nil end
  local d = from:match("@([^@<>%s]+)>?%s*$")
  d = d and core.to_ascii_domain(d)     -- an international domain by its A-labels
  return d and d:match("^[%w%.%-]+$")
end

--- Builds a message.  Returns the email, or nil, message, "argument" when a value is
-- refused (CR/LF/NUL in a header, an ambiguous address, a bad attachment spec).
-- Misuse (a non-table argument, an unknown field) raises.
function M.new(t)
  t = t or {}
  if type(t) ~= "table" then error("email.new expects a table", 2) end
  for k in pairs(t) do
    if not KNOWN[k] then error("unknown email field '" .. tostring(k) .. "'", 2) end
  end
  local m = core.email_new()
  for _, k in ipairs(ORDER) do
    local v = t[k]
    if k == "date" and v == nil then v = core.email_date() end
    if k == "message_id" and v == nil then v = core.email_message_id(domain_of(t.from)) end
    if v ~= nil then
      local ok, err, kind = m:set(k, v)
      if not ok then return nil, err, kind end
    end
  end
  return m
end

--- Parses a message from a string or a source function (returning chunks, then nil).
-- opts: max_depth, max_parts, max_headers, max_header_bytes.  Damage is repaired and
-- listed in m.defects; a cap gives nil, message, "limit".
function M.parse(src, opts)
  if type(src) == "function" then
    local chunks = {}
    while true do
      local c, err, kind = src()
      if c == nil then
        if err then return nil, err, kind or "io" end
        break
      end
      chunks[#chunks + 1] = c
    end
    src = table.concat(chunks)
  elseif type(src) ~= "string" then
    error("email.parse expects a string or a source function", 2)
  end
  return core.email_parse(src, opts)
end

--- Reads a .eml file.
function M.load(path, opts)
  local f, err = io.open(path, "rb")
  if not f then return nil, err, "io" end
  local s = f:read("*a")  -- "*a" is understood by every Lua from 5.1 to 5.4
  f:close()
  return M.parse(s, opts)
end

local methods = core.email_methods

--- Iterates every leaf part: {type=, headers={{name=, value=}...}, content=, ...}.
function methods.parts(m)
  local list, err, kind = m:parts_list()
  if not list then error(err .. " (" .. tostring(kind) .. ")", 2) end
  local i = 0
  return function()
    i = i + 1
    return list[i]
  end
end

M.base64_encode = core.b64_encode
M.base64_decode = function(s) return (core.b64_decode(s)) end
M.qp_encode = core.qp_encode
M.qp_decode = function(s) return (core.qp_decode(s)) end
M.date = core.email_date
--- A domain as A-labels (IDNA2008, what the envelope and the builder send) and as
-- U-labels (for display); nil, message, "argument" for one IDNA refuses.
M.to_ascii_domain = core.to_ascii_domain
M.to_unicode_domain = core.to_unicode_domain

--- DKIM: email.verify_dkim(msg, {lookup = fn}) and the algorithms this build has
-- (missive.dkim).
M.verify_dkim = function(...) return require("missive.dkim").verify(...) end
M.dkim_algorithms = core.dkim_algorithms()

return M
