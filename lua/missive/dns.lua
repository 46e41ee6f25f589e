--- missive.dns: TXT lookups for DKIM key records (RFC 6376 §3.6.2), in plain Lua.
-- A query over UDP (LuaSocket) to the first nameserver of /etc/resolv.conf, again over
-- TCP when the answer is truncated (RFC 1035 §4.2, RFC 7766); in OpenResty through
-- resty.dns.resolver when it is installed, else the same queries over cosockets.
-- Answers are read with a bound check on every byte.
local M = {}

local byte, char, sub = string.byte, string.char, string.sub

local TYPE_TXT, TYPE_CNAME, CLASS_IN = 16, 5, 1
local RCODES = { [1] = "format error", [2] = "server failure", [3] = "no such domain",
                 [4] = "not implemented", [5] = "refused" }

--- The first nameserver of /etc/resolv.conf (or `path`), or nil.
function M.system_nameserver(path)
  local f = io.open(path or "/etc/resolv.conf")
  if not f then return nil end
  for line in f:lines() do
    local ns = line:match("^%s*nameserver%s+([%x%.:]+)")
    if ns then f:close() return ns end
  end
  f:close()
  return nil
end

-- "1.2.3.4", "1.2.3.4:5353", "::1", "[::1]:5353" -> host, port
local function host_port(s)
  local h, p = s:match("^%[(.-)%]:(%d+)$")
  if h then return h, tonumber(p) end
  h, p = s:match("^([^:]+):(%d+)$")
  if h then return h, tonumber(p) end
  return s, 53
end

local function u16(n) return char(math.floor(n / 256) % 256, n % 256) end

--- The query for `name` (type, class IN, recursion desired), or nil, message.
function M.query(id, name, qtype)
  local labels = {}
  name = name:gsub("%.$", "")
  if #name == 0 or #name > 253 then return nil, "bad domain name" end
  for label in (name .. "."):gmatch("([^.]*)%.") do
    if #label == 0 or #label > 63 then return nil, "bad domain name" end
    labels[#labels + 1] = char(#label) .. label
  end
  return u16(id) .. "\1\0" .. "\0\1\0\0\0\0\0\0" .. table.concat(labels) .. "\0"
    .. u16(qtype) .. u16(CLASS_IN)
end

local function get16(s, i)
  local a, b = byte(s, i, i + 1)
  if not b then return nil end
  return a * 256 + b
end

-- Skips a (possibly compressed) name at i; the index after it, or nil.
local function skip_name(s, i)
  while true do
    local n = byte(s, i)
    if not n then return nil end
    if n == 0 then return i + 1 end
    if n >= 192 then
      if i + 1 > #s then return nil end
      return i + 2
    end
    if n >= 64 then return nil end
    i = i + 1 + n
  end
end

-- The TXT RDATA's character-strings, joined (§3.6.2.2), or nil.
local function txt_data(s, i, j)
  local parts = {}
  while i <= j do
    local n = byte(s, i)
    if i + n > j then return nil end
    parts[#parts + 1] = sub(s, i + 1, i + n)
    i = i + 1 + n
  end
  return table.concat(parts)
end

--- Reads an answer to query `id`: a list of TXT strings, or nil, message, kind with kind
-- "nxdomain", "nodata" (no TXT record), "protocol", "resolve" (a server error), or
-- "truncated" (retry over TCP).
function M.parse(s, id)
  if #s < 12 then return nil, "short DNS answer", "protocol" end
  local rid, flags, qd, an = get16(s, 1), get16(s, 3), get16(s, 5), get16(s, 7)
  if rid ~= id or flags < 32768 then return nil, "not an answer to the query", "protocol" end
  if math.floor(flags / 512) % 2 == 1 then return nil, "answer truncated", "truncated" end
  local rcode = flags % 16
  if rcode == 3 then return nil, "no such domain", "nxdomain" end
  if rcode ~= 0 then
    return nil, "DNS error: " .. (RCODES[rcode] or ("rcode " .. rcode)), "resolve"
  end
  local i = 13
  for _ = 1, qd do
    i = skip_name(s, i)
    if not i or i + 3 > #s then return nil, "malformed DNS answer", "protocol" end
    i = i + 4
  end
  local out = {}
  for _ = 1, an do
    i = skip_name(s, i)
    if not i or i + 9 > #s then return nil, "malformed DNS answer", "protocol" end
    local rtype, class, len = get16(s, i), get16(s, i + 2), get16(s, i + 8)
    i = i + 10
    if i + len - 1 > #s then return nil, "malformed DNS answer", "protocol" end
    if rtype == TYPE_TXT and class == CLASS_IN then
      local t = txt_data(s, i, i + len - 1)
      if not t then return nil, "malformed TXT record", "protocol" end
      out[#out + 1] = t
    elseif rtype ~= TYPE_CNAME then   -- the chain to the TXT record is followed for us
      return nil, "unexpected record in the DNS answer", "protocol"
    end
    i = i + len
  end
  if #out == 0 then return nil, "no TXT record", "nodata" end
  return out
end

local function ask_udp(socket, host, port, q, id, timeout)
  local u = (host:find(":", 1, true) and socket.udp6 or socket.udp)()
  if not u then return nil, "cannot open a UDP socket", "io" end
  u:settimeout(timeout)
  local ok, err = u:setpeername(host, port)
  if ok then ok, err = u:send(q) end
  if not ok then u:close() return nil, "DNS: " .. tostring(err), "io" end
  local deadline = socket.gettime() + timeout
  while true do   -- a datagram for another query is dropped
    local left = deadline - socket.gettime()
    if left <= 0 then u:close() return nil, "DNS query timed out", "timeout" end
    u:settimeout(left)
    local a, rerr = u:receive()
    if not a then
      u:close()
      return nil, "DNS: " .. tostring(rerr), rerr == "timeout" and "timeout" or "io"
    end
    if get16(a, 1) == id then u:close() return a end
  end
end

local function ask_tcp(socket, host, port, q, timeout)
  local t = (host:find(":", 1, true) and socket.tcp6 or socket.tcp)()
  if not t then return nil, "cannot open a TCP socket", "io" end
  t:settimeout(timeout)
  local ok, err = t:connect(host, port)
  if ok then ok, err = t:send(u16(#q) .. q) end
  local len, a
  if ok then len, err = t:receive(2) end
  if len then a, err = t:receive(get16(len, 1)) end
  t:close()
  if not a then
    return nil, "DNS over TCP: " .. tostring(err), err == "timeout" and "timeout" or "io"
  end
  return a
end

-- ngx cosockets behind LuaSocket's names (timeouts in seconds, not milliseconds).
local function ngx_sockets(ngx)
  local function wrap(sock)
    local w = {}
    function w.settimeout(_, t) sock:settimeout(math.floor(t * 1000)) end
    function w.setpeername(_, h, p) return sock:setpeername(h, p) end
    function w.connect(_, h, p) return sock:connect(h, p) end
    function w.send(_, d) return sock:send(d) end
    function w.receive(_, n) return sock:receive(n) end
    function w.close() return sock:close() end
    return w
  end
  local function udp() return wrap(ngx.socket.udp()) end
  local function tcp() return wrap(ngx.socket.tcp()) end
  return { udp = udp, udp6 = udp, tcp = tcp, tcp6 = tcp,
           gettime = function() ngx.update_time() return ngx.now() end }
end

local function resty_txt(name, opts)
  local ok, resolver = pcall(require, "resty.dns.resolver")
  if not ok then return nil end
  local servers
  if opts.nameserver then
    local h, p = host_port(opts.nameserver)
    servers = { { h, p } }
  else
    servers = { M.system_nameserver() or "127.0.0.1" }
  end
  local r, err = resolver:new{ nameservers = servers, timeout = (opts.timeout or 5) * 1000,
                                retrans = 2 }
  if not r then return nil, "DNS: " .. tostring(err), "io" end
  local ans
  ans, err = r:query(name, { qtype = resolver.TYPE_TXT })
  if not ans then
    return nil, "DNS: " .. tostring(err), tostring(err):find("timeout") and "timeout" or "io"
  end
  if ans.errcode == 3 then return nil, "no such domain", "nxdomain" end
  if ans.errcode then return nil, "DNS error: " .. tostring(ans.errstr), "resolve" end
  local out = {}
  for _, rr in ipairs(ans) do
    if rr.type == resolver.TYPE_TXT then
      out[#out + 1] = type(rr.txt) == "table" and table.concat(rr.txt) or rr.txt
    end
  end
  if #out == 0 then return nil, "no TXT record", "nodata" end
  return out
end

--- The TXT records of `name` (each record's strings joined), or nil, message, kind.
-- opts: nameserver ("ip" or "ip:port", default /etc/resolv.conf's first), timeout
-- (seconds, default 5), socket (a module with LuaSocket's udp/tcp/gettime; default
-- LuaSocket, or ngx cosockets in OpenResty).
function M.txt(name, opts)
  opts = opts or {}
  if type(name) ~= "string" then error("dns.txt: name must be a string", 2) end
  local ngx = rawget(_G, "ngx")
  local socket = opts.socket
  if ngx and ngx.socket and socket == nil then
    local out, err, kind = resty_txt(name, opts)
    if out or err then return out, err, kind end
    socket = ngx_sockets(ngx)
  end
  socket = socket or require "socket"
  local server = opts.nameserver or M.system_nameserver()
  if not server then return nil, "no nameserver in /etc/resolv.conf", "resolve" end
  local host, port = host_port(server)
  local id = math.random(0, 65535)
  local q, qerr = M.query(id, name, TYPE_TXT)
  if not q then return nil, qerr, "argument" end
  local timeout = opts.timeout or 5
  local a, err, kind = ask_udp(socket, host, port, q, id, timeout)
  if not a then return nil, err, kind end
  local out
  out, err, kind = M.parse(a, id)
  if kind ~= "truncated" then return out, err, kind end
  a, err, kind = ask_tcp(socket, host, port, q, timeout)
  if not a then return nil, err, kind end
  return M.parse(a, id)
end

return M
