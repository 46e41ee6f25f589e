--- missive.dkim: DKIM verification (RFC 6376 §6) of a received message; the checks run
-- in C (csrc/mime/mime_dkim_verify.c), the key lookup here, between them, so it may use
-- any resolver (and yield, in OpenResty).  email.verify_dkim is this module's verify.
local core = require "missive.core"

local M = {}

--- The algorithms this build signs and verifies: {"rsa-sha256"[, "ed25519-sha256"]}.
M.algorithms = core.dkim_algorithms()

local function default_lookup(opts)
  return function(name)
    local dns = require "missive.dns"
    return dns.txt(name, opts)
  end
end

-- A lookup's answer: a string, or a list of TXT strings (the first DKIM1 one is used).
local function record_of(rec)
  if type(rec) ~= "table" then return rec end
  for _, r in ipairs(rec) do
    if r:match("^%s*v%s*=%s*DKIM1") then return r end
  end
  return rec[1]
end

local COPY = { "domain", "selector", "algorithm", "canonicalization", "headers", "identity",
               "timestamp", "expires", "length" }

--- Verifies every DKIM-Signature field of msg (a string, or an email object, which is
-- serialised).  opts: lookup(name) -> TXT string (or a list), or nil, message, kind
-- (kind "nxdomain"/"nodata", or no message at all: the key does not exist, permerror;
-- anything else: temperror); without it, a DNS TXT query (missive.dns; opts.nameserver,
-- opts.timeout).  opts.time: the verifier's clock for x= (default os.time()).
-- Returns a list, one table per signature in header order: {domain, selector,
-- algorithm, canonicalization, headers, identity, timestamp, expires, length (l=, the
-- body beyond it is not covered), result = "pass"|"fail"|"neutral"|"temperror"|
-- "permerror" (RFC 8601), reason, body_hash, header_hash, testing (key t=y)}; an empty
-- list when the message has no signature.
function M.verify(msg, opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("verify_dkim: options must be a table", 2) end
  local text = msg
  if type(msg) ~= "string" then
    if type(msg) ~= "userdata" or not msg.tostring then
      error("verify_dkim: expects a message string or an email object", 2)
    end
    local err, kind
    text, err, kind = msg:tostring()
    if not text then return nil, err, kind end
  end
  local lookup = opts.lookup or default_lookup(opts)
  local now = opts.time or os.time()
  local sigs, err, kind = core.dkim_signatures(text)
  if not sigs then return nil, err, kind end
  local out = {}
  for i, s in ipairs(sigs) do
    local r = {}
    for _, k in ipairs(COPY) do r[k] = s[k] end
    if s.result then
      r.result, r.reason = s.result, s.reason
    else
      local rec, lerr, lkind = lookup(s.selector .. "._domainkey." .. s.domain)
      rec = record_of(rec)
      if type(rec) == "string" then
        r.result, r.reason, r.body_hash, r.header_hash, r.testing =
          core.dkim_check(text, s.field, rec, now)
      elseif lerr == nil or lkind == "nxdomain" or lkind == "nodata" then
        r.result, r.reason = "permerror", "key not found"         -- §6.1.2
      else
        r.result, r.reason = "temperror", "key unavailable: " .. tostring(lerr)
      end
    end
    out[i] = r
  end
  return out
end

return M
