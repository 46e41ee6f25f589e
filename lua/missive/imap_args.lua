--- Arguments of IMAP commands, as the typed tokens the core encodes (see limap.c: "a"
-- atom, "s" string, "m" mailbox, "l" literal, "(" and ")"): UID sets, search criteria,
-- flag lists, dates.  The core checks every atom and quotes every string, so nothing
-- built here can inject syntax; this module only chooses the tokens.
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

-- A date for SEARCH (RFC 3501 date: "1-Feb-2024"): "2024-02-01", os.time() seconds, or
-- {year =, month =, day =}.
local function search_date(v)
  local y, m, d
  if type(v) == "number" then
    local t = os.date("!*t", v)
    y, m, d = t.year, t.month, t.day
  elseif type(v) == "string" then
    y, m, d = v:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
    y, m, d = tonumber(y), tonumber(m), tonumber(d)
  elseif type(v) == "table" then
    y, m, d = v.year, v.month, v.day
  end
  if not (y and m and d and MONTHS[m] and d >= 1 and d <= 31) then
    error("bad date '" .. tostring(v) .. "' (YYYY-MM-DD, seconds or {year, month, day})", 5)
  end
  return ("a%d-%s-%d"):format(d, MONTHS[m], y)
end

local FLAG_KEYS = { seen = "SEEN", unseen = "UNSEEN", flagged = "FLAGGED",
                    unflagged = "UNFLAGGED", answered = "ANSWERED", unanswered = "UNANSWERED",
                    deleted = "DELETED", undeleted = "UNDELETED", draft = "DRAFT",
                    undraft = "UNDRAFT", all = "ALL", new = "NEW", old = "OLD",
                    recent = "RECENT" }
local STRING_KEYS = { from = "FROM", to = "TO", cc = "CC", bcc = "BCC", subject = "SUBJECT",
                      body = "BODY", text = "TEXT" }
local DATE_KEYS = { since = "SINCE", before = "BEFORE", on = "ON", sent_since = "SENTSINCE",
                    sent_before = "SENTBEFORE", sent_on = "SENTON" }

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do
    if type(k) ~= "number" then keys[#keys + 1] = k end -- the array part is ANDed apart
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

-- Appends the search keys of criteria table c to out; `utf8` is set when a string is
-- not ASCII (the command then says CHARSET UTF-8).
local function criteria(c, out, flags)
  if type(c) ~= "table" then error("search criteria must be a table", 4) end
  local n0 = #out
  for _, sub in ipairs(c) do criteria(sub, out, flags) end
  for _, k in ipairs(sorted_keys(c)) do
    local v = c[k]
    if FLAG_KEYS[k] then
      if v then out[#out + 1] = "a" .. FLAG_KEYS[k] end
    elseif STRING_KEYS[k] then
      if type(v) ~= "string" then error("search '" .. k .. "' expects a string", 4) end
      if v:find("[\128-\255]") then flags.utf8 = true end
      out[#out + 1] = "a" .. STRING_KEYS[k]
      out[#out + 1] = "s" .. v
    elseif DATE_KEYS[k] then
      out[#out + 1] = "a" .. DATE_KEYS[k]
      out[#out + 1] = search_date(v)
    elseif k == "larger" or k == "smaller" then
      if type(v) ~= "number" or v < 0 or v ~= math.floor(v) then
        error("search '" .. k .. "' expects a size in bytes", 4)
      end
      out[#out + 1] = "a" .. k:upper()
      out[#out + 1] = ("a%d"):format(v)
    elseif k == "header" then
      local name, value = v[1] or v.name, v[2] or v.value or ""
      if type(name) ~= "string" or type(value) ~= "string" then
        error("search 'header' expects {name, value}", 4)
      end
      if (name .. value):find("[\128-\255]") then flags.utf8 = true end
      out[#out + 1] = "aHEADER"
      out[#out + 1] = "s" .. name
      out[#out + 1] = "s" .. value
    elseif k == "keyword" or k == "unkeyword" then
      out[#out + 1] = "a" .. k:upper()
      out[#out + 1] = "a" .. tostring(v)
    elseif k == "uid" then
      out[#out + 1] = "aUID"
      out[#out + 1] = "a" .. table.concat(uid_sets(v), ",")
    elseif k == "not" then
      out[#out + 1] = "aNOT"
      out[#out + 1] = "("
      criteria(v, out, flags)
      out[#out + 1] = ")"
    elseif k == "or" then
      if type(v) ~= "table" or #v ~= 2 then error("search 'or' expects two criteria", 4) end
      out[#out + 1] = "aOR"
      out[#out + 1] = "("
      criteria(v[1], out, flags)
      out[#out + 1] = ")"
      out[#out + 1] = "("
      criteria(v[2], out, flags)
      out[#out + 1] = ")"
    else
      error("unknown search key '" .. tostring(k) .. "'", 4)
    end
  end
  if #out == n0 then out[#out + 1] = "aALL" end
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

M.uid_sets, M.criteria, M.sorted_keys = uid_sets, criteria, sorted_keys
M.check_flags, M.crlf, M.append_date = check_flags, crlf, append_date

return M
