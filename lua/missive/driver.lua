--- Moves bytes for a session: the native driver (a socket the C core owns) or an
-- external socket object (OpenResty cosocket, LuaSocket, copas...).  With an external
-- socket, TLS runs in the core over memory buffers and this loop carries ciphertext,
-- so a cosocket yield happens here, in Lua, never across a C call.
-- @module missive.driver
local M = {}

-- Sessions that move bytes through a Lua socket object.  Weak: a session that is
-- collected takes its entry with it.
local sockets = setmetatable({}, {__mode = "k"})

local function set_timeout(sock, seconds)
  if seconds == nil then return end
  if sock.settimeouts then                      -- cosocket: milliseconds
    local ms = math.max(1, math.floor(seconds * 1000))
    sock:settimeouts(ms, ms, ms)
  else
    sock:settimeout(math.max(seconds, 0.001))
  end
end

local select_fn -- LuaSocket's select, loaded only for LuaSocket objects

-- Returns some bytes, or nil and "timeout" | "closed" | message.
local function receive(sock, want, seconds)
  if sock.receiveany then
    set_timeout(sock, seconds)
    return sock:receiveany(65536)
  end
  if want > 0 then
    -- TLS asks for exactly what it needs (a record header, then its body).
    set_timeout(sock, seconds)
    local data, err, partial = sock:receive(want)
    if data then return data end
    if partial and #partial > 0 then return partial end
    return nil, err
  end
  -- Plain text: take whatever is there once the socket is readable.
  if sock.getfd then
    if not select_fn then select_fn = require("socket").select end
    local ready = select_fn({sock}, nil, seconds)
    if #ready == 0 then return nil, "timeout" end
  else
    -- Nothing to select on: wait for one byte with the object's own timeout, then
    -- take whatever else has arrived.
    if seconds then set_timeout(sock, seconds) else sock:settimeout(nil) end
    local first, err, partial = sock:receive(1)
    if not first then
      if not (partial and #partial > 0) then return nil, err end
      first = partial
    end
    sock:settimeout(0)
    local more, _, mpartial = sock:receive(65536)
    more = more or mpartial
    if more and #more > 0 then return first .. more end
    return first
  end
  sock:settimeout(0)
  local data, err, partial = sock:receive(65536)
  if data then return data end
  if partial and #partial > 0 then return partial end
  return nil, err
end

local function flush_trace(s, trace)
  local t = s:_trace()
  if t and trace then
    for i = 1, #t, 2 do trace(t[i], t[i + 1]) end
  end
end

--- Runs the session's current operation until it is done, pauses for the message body, or fails.
-- @return "done", "body" (send more of the message), "chunk" (a received piece
-- waits), or nil, message, kind[, reply]
function M.drive(s, trace)
  local sock = sockets[s]
  if not sock then
    local r, err, kind, reply = s:_run()
    flush_trace(s, trace)
    return r, err, kind, reply
  end
  while true do
    local r, err, kind, reply = s:_step()
    local out = s:_output()
    if out then
      set_timeout(sock, s:_time_left())
      local ok, serr = sock:send(out)
      if not ok then
        s:_io_error(serr or "closed")
        r, err, kind, reply = s:_step()
      end
    end
    if r ~= "read" and r ~= "write" then
      flush_trace(s, trace)
      return r, err, kind, reply
    end
    if r == "read" then
      local left = s:_time_left()
      if left and left <= 0 then
        s:_io_error("timeout")
      else
        local data, rerr = receive(sock, s:_want(), left)
        if data then
          s:_input(data)
        elseif rerr == "closed" then
          s:_eof()
        elseif not (rerr == "timeout" and left and (s:_time_left() or 0) > 0) then
          -- (A "timeout" of the object's own before the session's deadline: wait on.)
          s:_io_error(rerr or "closed")
        end
      end
    end
  end
end

-- An address literal in 127.0.0.0/8 or ::1 (also IPv4-mapped).  Never a name: a
-- resolver the session does not control (nginx's, for one) may answer "localhost" with
-- any address.
local function is_loopback_ip(addr)
  if type(addr) ~= "string" then return false end
  if addr == "::1" then return true end
  local a, b, c, d = addr:gsub("^::[fF][fF][fF][fF]:", ""):match(
    "^(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)$")
  return a == "127" and tonumber(b) <= 255 and tonumber(c) <= 255 and tonumber(d) <= 255
end

-- Whether the connected peer is on this machine: decided from its address where the
-- object tells it (getpeername), else from the host only when it is an IP literal
-- (CHECKLIST 66).
local function peer_is_loopback(sock, host)
  if sock.getpeername then
    local ok, addr = pcall(sock.getpeername, sock)
    if ok and type(addr) == "string" then return is_loopback_ip(addr) end
  end
  return is_loopback_ip(host)
end

-- The socket object to use: opts.socket (an object or a factory), else a cosocket
-- inside an nginx request, else nil for the native driver.  opts.driver = "native"
-- or "cosocket" forces the choice.
function M.pick_socket(opts)
  local sock = opts.socket
  if type(sock) == "function" then sock = sock() end
  if sock ~= nil or opts.driver == "native" then return sock end
  local ngx = rawget(_G, "ngx")
  if opts.driver == "cosocket" or (ngx and ngx.socket and ngx.get_phase
      and ngx.get_phase() ~= "init" and ngx.get_phase() ~= "init_worker") then
    return ngx.socket.tcp()
  end
  return nil
end

--- Connects a configured session: natively, or through `sock` (from pick_socket).
-- @return true, or nil, message, kind
function M.connect(s, opts, sock)
  if not sock then return s:_connect() end
  set_timeout(sock, opts.timeout)
  local ok, err = sock:connect(opts.host, opts.port)
  if not ok then
    if sock.close then sock:close() end
    local kind = (err == "timeout") and "timeout"
      or (tostring(err):find("resolve", 1, true) and "resolve") or "io"
    return nil, ("cannot connect to %s port %d: %s"):format(opts.host, opts.port,
                                                            tostring(err)), kind
  end
  sockets[s] = sock
  s:_set_loopback(peer_is_loopback(sock, opts.host))
  return true
end

--- Closes the external socket, if any (after the protocol said goodbye).
function M.close(s)
  local sock = sockets[s]
  sockets[s] = nil
  if sock then sock:close() end
end

--- Frees a session and its external socket, if any.  The only I/O is a last TLS
-- close_notify, sent without waiting (a short timeout; failures are ignored).
function M.release(s)
  local bye = s:_release()
  local sock = sockets[s]
  if bye and sock then
    set_timeout(sock, 0)
    pcall(sock.send, sock, bye)
  end
  M.close(s)
end

--- Creates, connects and opens a session.  `new(o, external)` is the C constructor;
-- `on_fail(s)`, if given, runs on a sound connection after a failed opening (SMTP says
-- QUIT; POP3 must not).  The session is freed on any failure.
-- @return the session, or nil, message, kind[, reply]
function M.open(new, o, trace, on_fail)
  local sock = M.pick_socket(o)
  local s, err, kind = new(o, sock ~= nil)
  if not s then
    if sock then sock:close() end
    return nil, err, kind
  end
  local ok, reply
  ok, err, kind = M.connect(s, o, sock)
  if ok then
    ok, err, kind, reply = s:_begin_open()
    if ok then ok, err, kind, reply = M.drive(s, trace) end
    if not ok and on_fail then on_fail(s) end
  end
  if not ok then
    M.release(s)
    return nil, err, kind, reply
  end
  return s
end

--- Gives a session type its `close` and Lua 5.4's `<close>`, the same for every
-- protocol.  `quit(s)` says goodbye on a sound connection (true, or nil, message,
-- kind[, reply]).  close is idempotent and returns true, or nil, message, "reply" when
-- the server answered the goodbye with an error (CHECKLIST 39: the session is closed all
-- the same); `<close>` says goodbye when the block ended normally, and only frees on an
-- error.
function M.closing(methods, mt, quit)
  function methods:close()
    if self:is_closed() then return true end
    local ok, err, kind, reply = quit(self)
    M.release(self)
    if not ok and kind == "reply" then return nil, err, kind, reply end
    return true
  end
  mt.__close = function(s, err)
    if err == nil then
      s:close()
    else
      M.release(s)
    end
  end
end

function M.is_external(s)
  return sockets[s] ~= nil
end

return M
