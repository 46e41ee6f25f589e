-- smtp_probe.lua: tiny SMTP/POP3 clients on ngx.socket.tcp() cosockets, used by the
-- nginx config that mailstack.sh writes (MAILSTACK_NGINX=1).
local _M = {}

local function new_sock()
    local sock = ngx.socket.tcp()
    sock:settimeouts(2000, 2000, 5000) -- connect, send, read (ms)
    return sock
end

-- read one (possibly multi-line) SMTP reply -> code, {lines}
local function smtp_reply(sock)
    local lines = {}
    while true do
        local line, err = sock:receive("*l")
        if not line then return nil, "receive: " .. tostring(err) end
        lines[#lines + 1] = line
        local code, sep = line:match("^(%d%d%d)([ -])")
        if not code then return nil, "malformed reply: " .. line end
        if sep == " " then return tonumber(code), lines end
    end
end

local function smtp_cmd(sock, line)
    local ok, err = sock:send(line .. "\r\n")
    if not ok then return nil, "send: " .. tostring(err) end
    return smtp_reply(sock)
end

local function fail(status, ...)
    ngx.status = status
    ngx.say(...)
    return ngx.exit(status)
end

-- GET /smtp/ehlo : connect, read greeting, EHLO, QUIT; body = greeting + EHLO reply
function _M.ehlo(host, port)
    local sock = new_sock()
    local ok, err = sock:connect(host, port)
    if not ok then return fail(502, "connect ", host, ":", port, " failed: ", err) end
    local code, greet = smtp_reply(sock)
    if code ~= 220 then
        return fail(502, "bad greeting: ", tostring(greet and greet[1] or greet))
    end
    local ecode, ehlo = smtp_cmd(sock, "EHLO nginx-lua.test")
    if ecode ~= 250 then return fail(502, "EHLO failed: ", tostring(ehlo)) end
    smtp_cmd(sock, "QUIT")
    sock:close()
    ngx.say(greet[1])
    ngx.say(table.concat(ehlo, "\n"))
end

-- GET /smtp/starttls : EHLO, STARTTLS, TLS handshake verified against
-- lua_ssl_trusted_certificate (SNI/hostname "localhost"), EHLO, AUTH PLAIN, QUIT
function _M.starttls(host, port, user, pass)
    local sock = new_sock()
    local ok, err = sock:connect(host, port)
    if not ok then return fail(502, "connect failed: ", err) end
    local out = {}
    local _, r = smtp_reply(sock); out[#out + 1] = "S: " .. r[1]
    _, r = smtp_cmd(sock, "EHLO nginx-lua.test"); out[#out + 1] = "S: " .. r[#r]
    local code
    code, r = smtp_cmd(sock, "STARTTLS"); out[#out + 1] = "S: " .. tostring(r[1])
    if code ~= 220 then return fail(502, table.concat(out, "\n")) end
    -- sslhandshake(reused_session, server_name, ssl_verify)
    local sess, herr = sock:sslhandshake(nil, "localhost", true)
    if not sess then return fail(502, "sslhandshake failed: ", herr) end
    out[#out + 1] = "-- TLS handshake OK (certificate verified)"
    _, r = smtp_cmd(sock, "EHLO nginx-lua.test")
    for _, l in ipairs(r) do if l:find("AUTH") then out[#out + 1] = "S: " .. l end end
    code, r = smtp_cmd(sock, "AUTH PLAIN " .. ngx.encode_base64("\0" .. user .. "\0" .. pass))
    out[#out + 1] = "S: " .. tostring(r[1])
    smtp_cmd(sock, "QUIT")
    sock:close()
    if code ~= 235 then return fail(502, table.concat(out, "\n")) end
    ngx.say(table.concat(out, "\n"))
end

-- GET /pop3/stat : implicit-TLS POP3, USER/PASS/STAT/QUIT
function _M.pop3s_stat(host, port, user, pass)
    local sock = new_sock()
    local ok, err = sock:connect(host, port)
    if not ok then return fail(502, "connect failed: ", err) end
    local sess, herr = sock:sslhandshake(nil, "localhost", true)
    if not sess then return fail(502, "sslhandshake failed: ", herr) end
    local out = {}
    local function pop(line)
        if line then sock:send(line .. "\r\n") end
        local l, e = sock:receive("*l")
        local shown = line and ("C: " .. (line:match("^PASS") and "PASS ***" or line) .. "  ")
        out[#out + 1] = (shown or "") .. "S: " .. tostring(l or e)
        return l
    end
    pop(); pop("USER " .. user); local l = pop("PASS " .. pass); pop("STAT"); pop("QUIT")
    sock:close()
    if not (l and l:sub(1, 3) == "+OK") then return fail(502, table.concat(out, "\n")) end
    ngx.say(table.concat(out, "\n"))
end

return _M
