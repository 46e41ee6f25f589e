--- Arguments of IMAP commands, as the typed tokens the core encodes (see limap.c: "a"
-- atom, "s" string, "m" mailbox, "l" literal, "(" and ")"): UID sets, flag lists,
-- APPEND dates (search criteria are compiled by the core: imap_search.c).  The core
-- checks every atom and quotes every string, so nothing built here can inject syntax;
-- this module only chooses the tokens.
-- @module missive.imap_args
local core = require "missive.core"

local M = {}

-- Longest UID set in one command: Exchange answers BAD to commands near 40 KB.
local MAX_SET = 8000

-- UIDs: a number, an array of numbers, or a set string ("1:5,9", "1:*").
-- @return a list of set strings, each short enough for one command
local function uid_sets(uids)
  local tu = type(uids)
  if tu == "number" then uids = { uids } tu = "table" end
  if tu == "string" then
    if not uids:match("^[%d:,%*]+$") then error("bad UID set '" .. uids .. "'", 4) end
    return { uids }
  end
  if tu ~= "table" then error("UIDs expected (a number, an array or a set string)", 4) end
  if #uids == 0 then return {} end
  local sets, err, kind = core.imap_uid_sets(uids, MAX_SET)
  if not sets then error(err .. " (" .. kind .. ")", 4) end
  return sets
end

local MONTHS = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                 "Nov", "Dec" }

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do
    if type(k) ~= "number" then keys[#keys + 1] = k end -- the array part is ANDed apart
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

local function check_flags(flags)
  if type(flags) == "string" then flags = { flags } end
  if type(flags) ~= "table" then error("flags expected (a string or an array)", 4) end
  local out = { "(" }
  for _, f in ipairs(flags) do out[#out + 1] = "a" .. f end
  out[#out + 1] = ")"
  return out
end

-- CRLF line ends (IMAP messages are CRLF text, RFC 9051 §6.3.12).
local function crlf(text)
  return (text:gsub("\r?\n", "\r\n"):gsub("\r([^\n])", "\r\n%1"))
end

local function append_date(v)
  if type(v) == "string" then return "s" .. v end
  if type(v) ~= "number" then error("bad 'date' (seconds or an IMAP date-time)", 4) end
  local t = os.date("!*t", v)
  return ("s%02d-%s-%04d %02d:%02d:%02d +0000"):format(t.day, MONTHS[t.month], t.year,
                                                       t.hour, t.min, t.sec)
end

M.uid_sets, M.sorted_keys = uid_sets, sorted_keys
M.check_flags, M.crlf, M.append_date = check_flags, crlf, append_date

return M
