-- spec/support/scripted_server.lua - the child process behind scripted.lua.
--
--   lua scripted_server.lua WORKDIR
--
-- Reads WORKDIR/job.lua ({steps = ..., opts = ...}, see scripted.lua), listens on
-- 127.0.0.1 with an ephemeral port, writes WORKDIR/port ("port pid") once it
-- listens, plays the script on each accepted connection, and writes
-- WORKDIR/result.lua ({received = {...}, log = {...}}) before it exits.  Every
-- wait is bounded by opts.timeout measured from start.
local workdir = assert(arg[1], "usage: scripted_server.lua WORKDIR")
local here = (arg[0]:match("^(.*)/[^/]*$")) or "."
package.path = here .. "/?.lua;" .. package.path

local util = require "util"
local socket = require "socket"

local job = assert(util.deserialize(assert(util.read_file(workdir .. "/job.lua"))))
local opts = job.opts
local deadline = util.now() + opts.timeout
local log = {}
local received = {}

local function event(t)
    log[#log + 1] = t
    return t
end

-- One script may serve every connection, or steps may hold one script per
-- connection (an array whose first element is itself an array of steps).
local function script_for(n)
    local steps = job.steps
    if type(steps[1]) == "table" and type(steps[1][1]) == "table" then
        return steps[n] or {}
    end
    return steps
end

local Conn = {}
Conn.__index = Conn

local function new_conn(sock, n)
    return setmetatable({ sock = sock, n = n, buf = "", got = {}, eof = false }, Conn)
end

function Conn:record(chunk)
    self.got[#self.got + 1] = chunk
    self.buf = self.buf .. chunk
end

-- Read what is available (waiting at most until `until_t`); false on EOF/timeout.
function Conn:fill(until_t)
    if self.eof then return false, "closed" end
    local sock = self.sock
    local pending = sock.dirty and sock:dirty() -- TLS may hold decrypted bytes
    if not pending then
        -- 0 = just poll (never negative: that would make select block forever)
        local left = math.max(math.min(until_t, deadline) - util.now(), 0)
        local r = socket.select({ sock }, nil, left)
        if not r[1] then return false, "timeout" end
    end
    sock:settimeout(0)
    local data, err, partial = sock:receive(8192)
    local chunk = data or partial
    if chunk and #chunk > 0 then
        self:record(chunk)
        return true
    end
    if err == "closed" then
        self.eof = true
        return false, "closed"
    end
    if err and err ~= "timeout" and err ~= "wantread" then
        self.eof = true
        return false, err
    end
    return true
end

-- Take bytes from the buffer once `want(buf)` returns an end index; give up
-- at `until_t` (a step's own timeout) or the server's deadline.
function Conn:take(want, until_t)
    while true do
        local e = want(self.buf)
        if e then
            local s = self.buf:sub(1, e)
            self.buf = self.buf:sub(e + 1)
            return s
        end
        local ok, err = self:fill(until_t or deadline)
        if not ok then
            local s = self.buf
            self.buf = ""
            return nil, err, s
        end
    end
end

function Conn:read_line(until_t)
    return self:take(function(b) return (b:find("\n", 1, true)) end, until_t)
end

function Conn:send_all(data)
    local sock, i = self.sock, 1
    while i <= #data do
        sock:settimeout(math.max(deadline - util.now(), 0.001))
        local last, err, partial = sock:send(data, i)
        if last then
            i = last + 1
        else
            if partial and partial >= i then i = partial + 1 end
            if err ~= "timeout" and err ~= "wantwrite" then return nil, err end
            if util.now() >= deadline then return nil, "timeout" end
        end
    end
    return true
end

-- Read whatever the client sends within `secs` (or until EOF), discarding it
-- from the buffer but keeping it in `received`.  secs = 0 takes what is there.
function Conn:drain(secs)
    local until_t = util.now() + secs
    repeat
        local ok = self:fill(until_t)
        self.buf = ""
    until not ok or util.now() >= until_t
end

function Conn:close(reset)
    if self.closed then return end
    self.closed = true
    self:drain(0)
    if reset and self.sock.setoption then
        pcall(self.sock.setoption, self.sock, "linger", { on = true, timeout = 0 })
    end
    self.sock:close()
end

local function start_tls(c)
    local ssl = require "ssl"
    if c.buf ~= "" then
        -- bytes the client pipelined before the handshake: worth asserting on
        event({ conn = c.n, op = "tls", event = "plaintext before handshake", data = c.buf })
        c.buf = ""
    end
    local params = {
        mode = "server", protocol = "any", key = opts.key, certificate = opts.cert,
        options = { "all", "no_sslv2", "no_sslv3" },
    }
    local s, err = ssl.wrap(c.sock, params)
    if not s then return nil, err end
    s:settimeout(math.max(deadline - util.now(), 0.001))
    local ok, herr = s:dohandshake()
    if not ok then return nil, herr end
    c.sock = s
    return true
end

-- Each op returns (ok, detail); a false ok is logged as a mismatch.
local ops = {}

function ops.send(c, st)
    return c:send_all(st.send)
end

function ops.drip(c, st)
    local data, interval = st.drip, st.interval or 0.01
    for i = 1, #data do
        local ok, err = c:send_all(data:sub(i, i))
        if not ok then return nil, err end
        if i < #data then socket.sleep(interval) end
    end
    return true
end

-- Sends `flood` again and again for `seconds` (an endless body), pausing `interval`
-- between sends; stops early once the client is gone.
function ops.flood(c, st)
    local until_t = math.min(util.now() + (st.seconds or 5), deadline)
    local sent = 0
    while util.now() < until_t do
        local ok, err = c:send_all(st.flood)
        if not ok then return true, err .. " after " .. sent .. " bytes" end
        sent = sent + #st.flood
        c:drain(0)
        c.buf = ""
        if st.interval then socket.sleep(st.interval) end
    end
    return true, sent .. " bytes"
end

-- A reading step may carry its own `timeout` (seconds) below the server's.
local function step_deadline(st)
    return st.timeout and (util.now() + st.timeout) or nil
end

function ops.expect(c, st)
    local line, err, partial = c:read_line(step_deadline(st))
    if not line then return nil, (err or "?") .. " before a line", partial end
    if line:sub(1, #st.expect) ~= st.expect then
        return nil, "expected " .. string.format("%q", st.expect), line
    end
    return true, nil, line
end

function ops.read_line(c, st)
    local line, err, partial = c:read_line(step_deadline(st))
    if not line then return nil, err, partial end
    return true, nil, line
end

function ops.read_bytes(c, st)
    local n = st.read_bytes
    local s, err, partial = c:take(function(b) return #b >= n and n or nil end,
        step_deadline(st))
    if not s then return nil, err, partial end
    return true, nil, s
end

function ops.read_until(c, st)
    local delim = st.read_until
    local s, err, partial = c:take(function(b)
        local _, e = b:find(delim, 1, true)
        return e
    end, step_deadline(st))
    if not s then return nil, err, partial end
    return true, nil, s
end

function ops.sleep(_, st)
    socket.sleep(math.min(st.sleep, math.max(deadline - util.now(), 0)))
    return true
end

function ops.hold(c, st)
    c:drain(math.min(st.hold, math.max(deadline - util.now(), 0)))
    return true, c.eof and "client closed" or nil
end

function ops.close(c, st)
    c:close(st.close == "reset")
    return true
end

function ops.tls(c)
    return start_tls(c)
end

local ORDER = { "send", "drip", "flood", "expect", "read_line", "read_bytes", "read_until",
                "sleep", "hold", "close", "tls" }

local function run_script(c, steps)
    for i, st in ipairs(steps) do
        if c.closed then break end
        local name
        for _, k in ipairs(ORDER) do
            if st[k] ~= nil then name = k break end
        end
        if not name then
            event({ conn = c.n, step = i, op = "?", ok = false, err = "unknown step" })
        else
            local ok, err, data = ops[name](c, st)
            event({ conn = c.n, step = i, op = name, ok = not not ok, err = err, data = data })
            -- A peer that is gone will not say more: skip the rest instead of waiting.
            if not ok and (err == "closed" or (name == "tls" and c.sock.dohandshake == nil
                                               and err ~= nil)) then
                c.closed = true
            end
        end
    end
    if not c.closed then
        c:drain(opts.linger) -- let the client finish (QUIT, close) and record it
        c:close()
    end
end

local function main()
    local server = assert(socket.bind("127.0.0.1", 0))
    local _, port = server:getsockname()
    util.write_file(workdir .. "/port", port .. " " .. util.getpid() .. "\n")
    for n = 1, opts.connections do
        server:settimeout(math.max(deadline - util.now(), 0))
        local sock, err = server:accept()
        if not sock then
            event({ conn = n, op = "accept", ok = false, err = err })
            break
        end
        sock:setoption("tcp-nodelay", true)
        local c = new_conn(sock, n)
        local ok, perr = pcall(run_script, c, script_for(n))
        if not ok then event({ conn = n, op = "error", ok = false, err = tostring(perr) }) end
        received[n] = table.concat(c.got)
        pcall(c.close, c)
    end
    server:close()
end

local ok, err = pcall(main)
if not ok then event({ op = "error", ok = false, err = tostring(err) }) end
util.write_file(workdir .. "/result.lua", util.serialize({ received = received, log = log }))
