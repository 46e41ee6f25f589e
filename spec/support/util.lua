-- spec/support/util.lua - small helpers shared by the spec support modules
-- (stack.lua, scripted.lua, scripted_server.lua).  Lua 5.1 .. 5.4 and LuaJIT;
-- no dependency beyond the standard library (LuaSocket only where noted).
local M = {}

-- Directory of this file, so support code never depends on the current directory.
M.here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "spec/support"

-- State that must outlive busted's per-file insulation (it restores _G and
-- package.loaded after every spec file) lives in the registry, which busted
-- does not touch: one mail stack and one TLS fixture per process.
function M.state(key)
    local reg = debug.getregistry()
    local k = "missive.spec." .. key
    local t = reg[k]
    if t == nil then
        t = {}
        reg[k] = t
    end
    return t
end

function M.shquote(s)
    return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- os.execute returns true/0 depending on the Lua version; normalise to boolean.
function M.execute(cmd)
    local a, _, c = os.execute(cmd)
    if type(a) == "number" then return a == 0 end
    return a == true and (c == nil or c == 0)
end

-- Run a shell command, return its stdout (trailing newlines stripped) and
-- whether it exited 0.  The status is echoed by the shell because Lua 5.1's
-- popen():close() does not report it.
function M.capture(cmd)
    local f = assert(io.popen("(" .. cmd .. "); echo \"@rc=$?\"", "r"))
    local out = f:read("*a")
    f:close()
    local body, rc = out:match("^(.-)\n?@rc=(%d+)\n*$")
    if not body then return out, false end
    return (body:gsub("\n+$", "")), rc == "0"
end

function M.read_file(path)
    local f = io.open(path, "rb")
    if not f then return nil end
    local s = f:read("*a")
    f:close()
    return s
end

-- Write then rename, so a reader polling for `path` never sees half a file.
function M.write_file(path, data)
    local tmp = path .. ".tmp"
    local f = assert(io.open(tmp, "wb"))
    assert(f:write(data))
    assert(f:close())
    assert(os.rename(tmp, path))
end

function M.mkdtemp(prefix)
    local dir, ok = M.capture("mktemp -d " .. M.shquote("/tmp/" .. prefix .. ".XXXXXX"))
    assert(ok and dir ~= "", "mktemp -d failed")
    return dir
end

function M.rmtree(dir)
    if dir and dir:match("^/tmp/[^/]") then
        M.execute("rm -rf " .. M.shquote(dir))
    end
end

-- PID of this Lua process (/proc/self is whoever opens it: us).
function M.getpid()
    local s = M.read_file("/proc/self/stat")
    return s and tonumber(s:match("^(%d+)"))
end

-- Alive and not a zombie (orphaned zombies may linger here, see MAILSTACK.md #9).
function M.pid_alive(pid)
    local s = M.read_file("/proc/" .. pid .. "/stat")
    if not s then return false end
    local state = s:match("^%d+ %b() (%a)")
    return state ~= nil and state ~= "Z"
end

-- Wall clock with sub-second resolution; LuaSocket where present.
local ok_socket, socket = pcall(require, "socket")
function M.now()
    if ok_socket then return socket.gettime() end
    return os.time()
end

function M.sleep(s)
    if ok_socket then return socket.sleep(s) end
    M.execute("sleep " .. string.format("%.3f", s))
end

-- The interpreter running us (the lowest negative arg index: "lua5.4",
-- "/usr/bin/luajit", ...), so children run on the same Lua as the spec.
function M.interpreter()
    local env = os.getenv("MISSIVE_SPEC_LUA")
    if env and env ~= "" then return env end
    local a = rawget(_G, "arg")
    if type(a) == "table" then
        local i = -1
        while a[i - 1] ~= nil do i = i - 1 end
        if type(a[i]) == "string" and a[i] ~= "" then return a[i] end
    end
    if rawget(_G, "jit") then return "luajit" end
    return "lua" .. _VERSION:match("%d+%.%d+")
end

-- Run `fn` once when the process ends: at busted's 'exit' event when busted is
-- loaded, else (and as a backup) from a finaliser on a registry-anchored
-- sentinel, which runs at lua_close (busted exits with os.exit(code, true)).
function M.at_exit(key, fn)
    local st = M.state("at_exit")
    if st[key] then return end
    local done = false
    local function run()
        if done then return end
        done = true
        pcall(fn)
    end
    st[key] = run
    local ok_busted, busted = pcall(require, "busted")
    if ok_busted and type(busted) == "table" and busted.subscribe then
        busted.subscribe({ "exit" }, function()
            run()
            return nil, true
        end)
    end
    local sentinel
    if rawget(_G, "newproxy") then -- Lua 5.1 / LuaJIT: tables have no __gc
        sentinel = newproxy(true)
        getmetatable(sentinel).__gc = run
    else
        sentinel = setmetatable({}, { __gc = run })
    end
    st[key .. ".sentinel"] = sentinel
end

-- Serialise plain data (strings, numbers, booleans, nested tables without
-- cycles) to a Lua chunk `return ...` that loads on every Lua version.  Bytes
-- outside printable ASCII become \ddd, so binary data survives exactly.
local function ser(v, out)
    local t = type(v)
    if t == "string" then
        out[#out + 1] = '"' .. v:gsub('[%c"\\\128-\255]', function(c)
            return string.format("\\%03d", c:byte())
        end) .. '"'
    elseif t == "number" then
        if v ~= v or v == math.huge or v == -math.huge then
            error("cannot serialise " .. tostring(v))
        end
        out[#out + 1] = (math.floor(v) == v and math.abs(v) < 2^53)
            and string.format("%d", v) or string.format("%.17g", v)
    elseif t == "boolean" or t == "nil" then
        out[#out + 1] = tostring(v)
    elseif t == "table" then
        out[#out + 1] = "{"
        local n = #v
        for i = 1, n do
            ser(v[i], out)
            out[#out + 1] = ","
        end
        for k, x in pairs(v) do
            local array_key = type(k) == "number" and k >= 1 and k <= n and math.floor(k) == k
            if not array_key then
                out[#out + 1] = "["
                ser(k, out)
                out[#out + 1] = "]="
                ser(x, out)
                out[#out + 1] = ","
            end
        end
        out[#out + 1] = "}"
    else
        error("cannot serialise a " .. t)
    end
end

function M.serialize(v)
    local out = { "return " }
    ser(v, out)
    return table.concat(out)
end

function M.deserialize(s)
    local chunk, err = (rawget(_G, "loadstring") or load)(s, "=serialized")
    if not chunk then return nil, err end
    return chunk()
end

-- A throwaway CA and a leaf for "localhost" (DNS SAN only), made with openssl
-- into dir: ca.crt ca.key server.crt server.key.  Skipped when already there.
function M.make_ca(dir, label)
    if M.read_file(dir .. "/server.key") then return true end
    local q = M.shquote
    local newkey = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30"
    local cmd = table.concat({
        "set -e; umask 077; mkdir -p " .. q(dir) .. "; cd " .. q(dir) .. ";",
        "openssl req -x509 " .. newkey .. " -keyout ca.key -out ca.crt",
        " -subj " .. q("/O=missive specs/CN=" .. label .. " CA"),
        " -addext basicConstraints=critical,CA:TRUE",
        " -addext keyUsage=critical,keyCertSign,cRLSign;",
        "openssl req -x509 " .. newkey .. " -CA ca.crt -CAkey ca.key",
        " -keyout server.key.new -out server.crt",
        " -subj " .. q("/O=missive specs/CN=localhost"),
        " -addext basicConstraints=critical,CA:FALSE",
        " -addext keyUsage=critical,digitalSignature,keyEncipherment",
        " -addext extendedKeyUsage=serverAuth",
        " -addext subjectAltName=DNS:localhost;",
        "chmod 755 .; chmod 644 ca.crt server.crt; chmod 600 ca.key server.key.new;",
        "mv server.key.new server.key",
    }, "")
    local out, ok = M.capture("(" .. cmd .. ") 2>&1")
    if not ok then return nil, "openssl failed: " .. out end
    return true
end

return M
