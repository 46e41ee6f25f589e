-- What the OAuth specs share: two tokens to tell apart on the wire, each mechanism's
-- initial response for user "u", and a token function that records its calls.
local mime = require "missive.mime"

local M = {}

M.OLD, M.NEW = "tok-old-1a2b3c", "tok-new-4d5e6f"

local function b64(s) return (mime.base64_encode(s)) end

-- The initial response of XOAUTH2 or OAUTHBEARER (RFC 7628 §3.1) for user "u", base64.
function M.initial(mech, token)
  if mech == "XOAUTH2" then return b64("user=u\1auth=Bearer " .. token .. "\1\1") end
  return b64("n,a=u,\1auth=Bearer " .. token .. "\1\1")
end

-- A token function that records its calls ({user, reason}) and answers from `answers`
-- in turn (each {token, expires_in}, or a function to call instead).
function M.recorder(answers)
  local calls = {}
  local fn = function(user, reason)
    calls[#calls + 1] = { user, reason }
    local a = answers[#calls]
    if type(a) == "function" then return a() end
    return a[1], a[2]
  end
  return fn, calls
end

return M
