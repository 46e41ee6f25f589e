-- spec/support/scripted.lua - scripted SMTP/POP3 servers for fault specs.
--
-- The server runs in a child process (the interpreter running the spec, plus
-- LuaSocket and, for {tls = true}, LuaSec), because the client under test
-- blocks.  It listens on 127.0.0.1 with an ephemeral port.
--
--   local scripted = require "support.scripted"
--   local srv = scripted.start({
--       {send = "220 scripted ESMTP\r\n"},
--       {expect = "EHLO"},                 -- one line; mismatch unless it starts so
--       {send = "250-hi\r\n250 STARTTLS\r\n"},
--       {expect = "STARTTLS"}, {send = "220 go\r\n"},
--       {tls = true},                      -- server-side handshake
--       {read_line = true},                -- one line, whatever it is
--       {read_bytes = 10},
--       {read_until = "\r\n.\r\n"},        -- e.g. a DATA body
--       {sleep = 0.5},                     -- say nothing for a while
--       {drip = "250 ok\r\n", interval = 0.1}, -- one byte at a time
--       {flood = ("y"):rep(70000), seconds = 5, interval = 0.2}, -- send it again and
--                                          -- again (an endless body) until then
--       {hold = 2},                        -- read and discard, keep the line open
--       {read_line = true, timeout = 0.5}, -- any reading step: own time limit
--       {close = true},                    -- or close = "reset" for a TCP RST
--   }, {timeout = 10, connections = 1})
--   -- srv.port, srv.host ("127.0.0.1"), srv.hostname ("localhost"), srv.cafile
--   ... run the client against srv.port ...
--   local received, log = srv:finish()
--
-- received: every byte the server got from the client, exactly, all connections
--   concatenated (srv.received_by_conn has them one per connection).  After
--   {tls = true} these are the decrypted application bytes.
-- log: one event per step, {conn =, step =, op =, ok =, err =, data =}; ok is
--   false for a mismatch, a timeout or EOF.  Plaintext the client sent before a
--   handshake is logged as event "plaintext before handshake".  Use
--   scripted.failures(log) and scripted.format(log) in assertions.
--
-- opts: timeout (s, default 10: the server exits by then whatever happens),
--   connections (default 1; each runs the same script unless steps is an array
--   of scripts, one per connection), linger (s, default 0.5: after the last step
--   the server keeps reading until the client closes or this passes),
--   cert/key (PEM files for {tls = true}; default: a leaf for "localhost" signed
--   by a throwaway CA made once per process, whose certificate is srv.cafile),
--   lua (interpreter; default: the one running this spec, MISSIVE_SPEC_LUA).
local prefix = (...):match("^(.-)[^.]*$")
local util = require(prefix .. "util")

local scripted = {}
local SERVER = util.here .. "/scripted_server.lua"
local tls_state = util.state("scripted.tls")

-- The default TLS fixture: made once per process, removed at exit.
function scripted.tls_fixture()
    if not tls_state.dir then
        local dir = util.mkdtemp("missive-scripted-tls")
        local ok, err = util.make_ca(dir, "missive scripted")
        if not ok then
            util.rmtree(dir)
            error(err, 2)
        end
        tls_state.dir = dir
        util.at_exit("scripted.tls", function()
            util.rmtree(tls_state.dir)
            tls_state.dir = nil
        end)
    end
    local d = tls_state.dir
    return { cafile = d .. "/ca.crt", cert = d .. "/server.crt", key = d .. "/server.key" }
end

local function uses_tls(steps)
    for _, st in ipairs(steps) do
        if st.tls then return true end
        if type(st[1]) == "table" and uses_tls(st) then return true end
    end
    return false
end

local Server = {}
Server.__index = Server

function scripted.start(steps, opts)
    assert(type(steps) == "table", "steps must be an array of step tables")
    opts = opts or {}
    local job_opts = {
        timeout = opts.timeout or 10,
        connections = opts.connections or 1,
        linger = opts.linger or 0.5,
        cert = opts.cert, key = opts.key,
    }
    local cafile = opts.cafile
    if uses_tls(steps) and not (job_opts.cert and job_opts.key) then
        local fx = scripted.tls_fixture()
        job_opts.cert, job_opts.key, cafile = fx.cert, fx.key, fx.cafile
    end

    local dir = util.mkdtemp("missive-scripted")
    util.write_file(dir .. "/job.lua", util.serialize({ steps = steps, opts = job_opts }))
    local lua = opts.lua or util.interpreter()
    -- Detached with all output in a file: the parent never blocks on a pipe.
    local cmd = string.format("%s %s %s </dev/null >%s 2>&1 &", util.shquote(lua),
        util.shquote(SERVER), util.shquote(dir), util.shquote(dir .. "/stderr"))
    assert(util.execute(cmd), "cannot spawn " .. cmd)

    local t_end = util.now() + 5
    local line
    repeat
        line = util.read_file(dir .. "/port")
        if line then break end
        if util.read_file(dir .. "/result.lua") or util.now() > t_end then break end
        util.sleep(0.005)
    until false
    if not line then
        local why = (util.read_file(dir .. "/stderr") or "") ..
            (util.read_file(dir .. "/result.lua") or "")
        util.rmtree(dir)
        error("scripted server did not start (" .. lua .. "): " .. why, 2)
    end
    local port, pid = line:match("^(%d+) (%d+)")
    return setmetatable({
        host = "127.0.0.1", hostname = "localhost",
        port = tonumber(port), pid = tonumber(pid),
        cafile = cafile, dir = dir, timeout = job_opts.timeout,
    }, Server)
end

-- Wait for the server to finish its script (at most its own timeout plus a
-- grace period; then it is killed), and return received, log.
function Server:finish(grace)
    if self.result then return self.result.received, self.result.log end
    local t_end = util.now() + self.timeout + (grace or 2)
    local text
    repeat
        text = util.read_file(self.dir .. "/result.lua")
        if text or util.now() > t_end then break end
        util.sleep(0.005)
    until false
    local res
    if text then
        res = assert(util.deserialize(text))
    else
        res = { received = {}, log = {} }
        local cmdline = util.read_file("/proc/" .. self.pid .. "/cmdline") or ""
        if util.pid_alive(self.pid) and cmdline:find(SERVER, 1, true) then
            util.execute("kill -9 " .. self.pid)
        end
        res.log[1] = { op = "finish", ok = false, err = "server killed after timeout: "
            .. (util.read_file(self.dir .. "/stderr") or "") }
    end
    self.received_by_conn = res.received
    res.received = table.concat(res.received)
    self.result = res
    util.rmtree(self.dir)
    return res.received, res.log
end

-- The events that went wrong (mismatch, timeout, EOF, error), as an array.
function scripted.failures(log)
    local out = {}
    for _, e in ipairs(log) do
        if e.ok == false then out[#out + 1] = e end
    end
    return out
end

-- Bytes as a one-line literal: \r, \n, \t, \\, \" and \xHH for other controls.
function scripted.escape(s)
    return (s:gsub('[%c"\\\128-\255]', function(ch)
        local named = { ["\r"] = "\\r", ["\n"] = "\\n", ["\t"] = "\\t",
                        ['"'] = '\\"', ["\\"] = "\\\\" }
        return named[ch] or string.format("\\x%02X", ch:byte())
    end))
end

-- A readable rendering of a log for assertion messages.
function scripted.format(log)
    local out = {}
    for _, e in ipairs(log) do
        out[#out + 1] = string.format("conn %s step %s %s %s%s%s", tostring(e.conn),
            tostring(e.step), tostring(e.op), e.ok == false and "FAILED" or "ok",
            e.err and (" (" .. tostring(e.err) .. ")") or "",
            e.data and (': "' .. scripted.escape(e.data) .. '"') or "")
    end
    return table.concat(out, "\n")
end

return scripted
