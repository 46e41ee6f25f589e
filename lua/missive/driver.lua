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

-- OAuth tokens from a function (token = function(user, reason) return access_token,
-- expires_in end).  The core asks (MV_WANT_TOKEN) before the first AUTH that needs a
-- token, reason "connect", and once after the server refused it, reason "rejected";
-- this module only calls the function and hands the answer back.
--
-- A token returned with expires_in is kept, per function and user, until EXPIRY_MARGIN
-- seconds before it expires: a later "connect" (a new session from the same options, a
-- spool run reopening its session) takes it without calling the function, and a token
-- known to be stale is never sent.  A token without expires_in is not kept: the
-- function is called at every connect.  "rejected" always calls the function, and a
-- token refused again is forgotten.  missive.async asks through the same two functions
-- for its sender thread, so both share the kept tokens.
local EXPIRY_MARGIN = 30
local token_fns = setmetatable({}, {__mode = "k"})  -- session -> {fn =, user =}
local token_cache = setmetatable({}, {__mode = "k"}) -- fn -> user -> {token =, stale_at =}

local function clock()
  local ngx = rawget(_G, "ngx")
  if ngx and ngx.now then return ngx.now() end
  return os.time()
end

local function forget_token(fn, user)
  local per_user = token_cache[fn]
  if per_user then per_user[user] = nil end
end
M.forget_token = forget_token

-- The token for `reason`: kept and fresh, else the function's.  Returns it, or nil and
-- why not (the function's own error included; never a token).
local function fetch_token(fn, user, reason)
  local per_user = token_cache[fn]
  local kept = per_user and per_user[user]
  if reason == "connect" and kept and clock() < kept.stale_at then return kept.token end
  local ok, token, expires_in = pcall(fn, user, reason)
  if not ok then return nil, "the token function failed: " .. tostring(token) end
  if type(token) ~= "string" then
    return nil, "the token function returned " .. type(token) .. ", not a token string"
  end
  if expires_in ~= nil and type(expires_in) ~= "number" then
    return nil, "the token function returned a " .. type(expires_in) ..
                " expires_in, not a number of seconds"
  end
  if expires_in then
    if not per_user then per_user = {}; token_cache[fn] = per_user end
    per_user[user] = {token = token, stale_at = clock() + expires_in - EXPIRY_MARGIN}
  else
    forget_token(fn, user)
  end
  return token
end
M.fetch_token = fetch_token

-- Answers the core's request for a token.
local function answer_token(s)
  local t = token_fns[s]
  local reason = s:_token_reason()
  if not t or not reason then
    s:_token_failed("no token function to ask for a token")
    return
  end
  local token, err = fetch_token(t.fn, t.user, reason)
  if token then s:_set_token(token) else s:_token_failed(err) end
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
    while r == "token" do
      flush_trace(s, trace)
      answer_token(s)
      r, err, kind, reply = s:_run()
    end
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
    if r == "token" then
      flush_trace(s, trace)
      answer_token(s)
    elseif r ~= "read" and r ~= "write" then
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
  local token_fn = type(o.token) == "function" and {fn = o.token, user = o.user} or nil
  token_fns[s] = token_fn
  ok, err, kind = M.connect(s, o, sock)
  if ok then
    ok, err, kind, reply = s:_begin_open()
    if ok then ok, err, kind, reply = M.drive(s, trace) end
    if not ok and on_fail then on_fail(s) end
  end
  token_fns[s] = nil
  if not ok then
    -- a kept token the server refused is not offered again
    if token_fn and kind == "auth" then forget_token(token_fn.fn, token_fn.user) end
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
