-- DKIM verification inside OpenResty (spec/dkim_verify_spec.lua): GET /dkim?port=N and
-- file=<a message> (verify_dkim, key from the scripted DNS server on 127.0.0.1:N) or
-- name=<a TXT name> (missive.dns alone).  Says "result reason", or the TXT strings.
local M = {}

function M.verify()
  local args = ngx.req.get_uri_args()
  local opts = {nameserver = "127.0.0.1:" .. args.port, timeout = 2}
  if args.name then
    local list, err, kind = require("missive.dns").txt(args.name, opts)
    ngx.say(list and table.concat(list, "|") or ("error " .. tostring(kind) .. " " .. err))
    return
  end
  local f = assert(io.open(args.file, "rb"))
  local text = f:read("*a")
  f:close()
  local r = assert(require("missive.email").verify_dkim(text, opts))
  ngx.say(r[1].result, " ", tostring(r[1].reason))
end

return M
