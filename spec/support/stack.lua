-- spec/support/stack.lua - the real Postfix + Dovecot stack for integration specs.
--
--   local stack = require "support.stack"       -- busted adds ./spec/?.lua
--   local ok, why = stack.available()           -- false, reason when not root or
--                                               -- a package is missing
--   local s = stack.start()                     -- one stack per process, reused
--   s.smtp_port, s.smtps_port, s.submission_port, s.pop3_port, s.pop3s_port
--   s.smtps_ip_port, s.smtps_dnsip_port
--   s.imap_port, s.imaps_port   Dovecot IMAP, STARTTLS and implicit TLS (nil without
--                 dovecot-imapd); special-use folders Sent Drafts Trash Junk Archive
--                 implicit-TLS Postfix presenting leaves of the same CA with
--                 IP:127.0.0.1 + IP:::1, and with DNS:127.0.0.1 only
--   s.host        "127.0.0.1" (the stack listens on IPv4 loopback only)
--   s.hostname    "localhost": the only name the server certificate carries
--   s.cafile      CA that signed the stack's certificate
--   s.other_cafile, s.other_certfile, s.other_keyfile
--                 an unrelated CA and a "localhost" leaf signed by it: verify
--                 the stack against other_cafile to get an unknown-CA failure
--   s.users       {alice = "secret", bob = "secret"}, domain localhost
--                 (nomailbox@localhost is accepted, then bounced with a DSN)
--   s.maildir(u)  Maildir of user u (mail for u@localhost lands there)
--   stack.messages(u)                  delivered messages (file contents, sorted
--                                      by delivery time; LF line ends on disk)
--   stack.wait_messages(u, n, secs)    wait for >= n messages (delivery is
--                                      asynchronous), else nil, reason
--   stack.clear([u])                   remove delivered messages
--   stack.stop()                       also runs at process exit
--
-- Certificate names: the server certificate has CN=localhost and exactly one
-- subjectAltName, DNS:localhost (mailstack.sh MAILSTACK_SAN default), no IP
-- entries.  So connect to 127.0.0.1 and verify "localhost" for success; verify
-- "127.0.0.1" (or "localhos", "example.org", ...) for a hostname mismatch, with
-- every mbedTLS version.  Only smtps_ip_port's certificate carries the address.
--
-- Environment: MISSIVE_STACK_DIR (use this directory; tools/run-specs.sh sets it
-- and stops the stack from a trap too), MISSIVE_STACK_INSTANCE (fixed port
-- offset, see mailstack.sh; default: first free of 0..19), MISSIVE_KEEP_STACK=1
-- (leave a self-made directory and its logs behind after stop).
local prefix = (...):match("^(.-)[^.]*$")
local util = require(prefix .. "util")

local stack = {}
local MAILSTACK = util.here .. "/mailstack.sh"
local state = util.state("stack") -- survives busted's per-file insulation

local function mailstack(cmd, dir, instance)
    local env = instance and ("MAILSTACK_INSTANCE=" .. instance .. " ") or ""
    return util.capture(env .. "bash " .. util.shquote(MAILSTACK) .. " " .. cmd .. " "
        .. util.shquote(dir) .. " 2>&1")
end

-- Programs the stack needs, with the Debian package that provides each.
local REQUIRED = {
    { "/usr/sbin/postfix", "postfix" },
    { "/usr/lib/postfix/sbin/master", "postfix" },
    { "/usr/sbin/dovecot", "dovecot-core" },
    { "/usr/lib/dovecot/pop3", "dovecot-pop3d" },
    { "/usr/bin/openssl", "openssl" },
    { "/bin/bash", "bash" },
}

function stack.available()
    if state.available == nil then
        local why
        local uid = util.capture("id -u")
        if uid ~= "0" then
            why = "the mail stack needs root (Postfix and Dovecot masters), uid is " .. uid
        else
            local missing, seen = {}, {}
            for _, r in ipairs(REQUIRED) do
                if not util.execute("test -x " .. util.shquote(r[1])) and not seen[r[2]] then
                    seen[r[2]] = true
                    missing[#missing + 1] = r[2]
                end
            end
            if #missing > 0 then
                why = "missing packages: " .. table.concat(missing, " ")
                    .. " (run: sh tools/deps.sh test)"
            end
        end
        state.available, state.why = why == nil, why
    end
    return state.available, state.why
end

local function parse_env(path)
    local text = util.read_file(path)
    if not text then return nil end
    local env = {}
    for k, v in text:gmatch("([%w_]+)=([^\n]*)") do
        env[k] = v:match('^"(.*)"$') or v
    end
    return env
end

local function build_info(dir, env)
    local users = {}
    for name, pass in (env.MAILSTACK_USERS or ""):gmatch("([^%s:]+):(%S+)") do
        users[name] = pass
    end
    local base = env.MAILSTACK_MAILDIR_BASE
    return {
        dir = dir,
        host = env.MAILSTACK_HOST,
        hostname = "localhost",
        smtp_port = tonumber(env.MAILSTACK_SMTP_PORT),
        smtps_port = tonumber(env.MAILSTACK_SMTPS_PORT),
        smtps_ip_port = tonumber(env.MAILSTACK_SMTPS_IP_PORT),
        smtps_dnsip_port = tonumber(env.MAILSTACK_SMTPS_DNSIP_PORT),
        submission_port = tonumber(env.MAILSTACK_SUBMISSION_PORT),
        pop3_port = tonumber(env.MAILSTACK_POP3_PORT),
        pop3s_port = tonumber(env.MAILSTACK_POP3S_PORT),
        imap_port = tonumber(env.MAILSTACK_IMAP_PORT),
        imaps_port = tonumber(env.MAILSTACK_IMAPS_PORT),
        cafile = env.MAILSTACK_CA,
        certfile = dir .. "/tls/server.crt",
        keyfile = dir .. "/tls/server.key",
        other_cafile = dir .. "/tls-other/ca.crt",
        other_certfile = dir .. "/tls-other/server.crt",
        other_keyfile = dir .. "/tls-other/server.key",
        maillog = env.MAILSTACK_MAILLOG,
        dovecot_log = env.MAILSTACK_DOVECOT_LOG,
        users = users,
        -- callable as s.maildir("alice") and s:maildir("alice")
        maildir = function(a, b)
            local user = type(a) == "table" and b or a
            assert(users[user], "no such stack user: " .. tostring(user))
            return base .. "/" .. user
        end,
    }
end

local function try_start(dir, instance)
    local out, ok = mailstack("start", dir, instance)
    if ok then return "started", out end
    if out:find("already running", 1, true) then return "running", out end
    if out:find("already in use", 1, true) or out:find("did not open all ports", 1, true)
        or out:find("[Aa]ddress already in use") then
        return "busy", out
    end
    return "failed", out
end

function stack.start()
    if state.info then return state.info end
    local ok, why = stack.available()
    if not ok then error("mail stack unavailable: " .. why, 2) end

    local dir = os.getenv("MISSIVE_STACK_DIR")
    local own_dir = dir == nil or dir == ""
    if own_dir then dir = util.mkdtemp("missive-stack") end
    -- daemons (postfix, dovecot, uid 5000) must traverse it; mktemp makes 0700
    util.execute("mkdir -p " .. util.shquote(dir) .. " && chmod 755 " .. util.shquote(dir))

    local fixed = os.getenv("MISSIVE_STACK_INSTANCE")
    local first, last = 0, 19
    if fixed and fixed ~= "" then first, last = tonumber(fixed), tonumber(fixed) end
    local status, out
    for instance = first, last do
        status, out = try_start(dir, instance)
        if status ~= "busy" then break end
    end
    if status ~= "started" and status ~= "running" then
        if own_dir then util.rmtree(dir) end
        error("mail stack failed to start (" .. status .. "):\n" .. out, 2)
    end

    local env = parse_env(dir .. "/mailstack.env")
    assert(env, "mailstack.sh wrote no " .. dir .. "/mailstack.env")
    assert(util.make_ca(dir .. "/tls-other", "missive other"))
    state.info = build_info(dir, env)
    state.own_dir = own_dir
    -- a stack somebody else started (status "running") is theirs to stop
    state.external = status == "running"
    util.at_exit("stack", stack.stop)
    return state.info
end

function stack.info()
    return state.info
end

function stack.stop()
    local info = state.info
    if not info then return true end
    state.info = nil
    local out, ok = "", true
    if not state.external then
        out, ok = mailstack("stop", info.dir)
    end
    if ok and state.own_dir and os.getenv("MISSIVE_KEEP_STACK") ~= "1" then
        util.rmtree(info.dir)
    end
    if not ok then return nil, out end
    return true
end

local function message_files(user)
    local info = assert(state.info, "stack.start() first")
    local dir = info.maildir(user)
    -- mtime, then name (Maildir names start with the delivery time) for ties
    local list = util.capture("cd " .. util.shquote(dir) .. " && find new cur -maxdepth 1"
        .. " -type f -printf '%T@ %p\\n' | LC_ALL=C sort -k1,1n -k2,2")
    local files = {}
    for line in list:gmatch("[^\n]+") do
        files[#files + 1] = dir .. "/" .. line:match("^%S+ (.+)$")
    end
    return files
end

function stack.messages(user)
    local msgs = {}
    for _, f in ipairs(message_files(user)) do
        local data = util.read_file(f)
        if data then msgs[#msgs + 1] = data end -- a POP3 DELE may race us
    end
    return msgs
end

function stack.wait_messages(user, n, timeout_s)
    local deadline = util.now() + (timeout_s or 10)
    while true do
        local msgs = stack.messages(user)
        if #msgs >= n then return msgs end
        if util.now() >= deadline then
            local log = util.capture("tail -n 5 " .. util.shquote(state.info.maillog))
            return nil, string.format("%d of %d message(s) for %s after %gs; maillog:\n%s",
                #msgs, n, user, timeout_s or 10, log)
        end
        util.sleep(0.02)
    end
end

-- Waits (at most `secs`) until Postfix has nothing in flight: no message in its
-- incoming, active or maildrop queue.  Deliveries still on their way would otherwise
-- land after a clear() and be taken for a later spec's message.
function stack.settle(secs)
    local info = assert(state.info, "stack.start() first")
    local spool = info.dir .. "/postfix/spool/"
    local deadline = util.now() + (secs or 10)
    repeat
        local busy = util.capture("find " .. util.shquote(spool .. "incoming") .. " "
            .. util.shquote(spool .. "active") .. " " .. util.shquote(spool .. "maildrop")
            .. " -type f 2>/dev/null | head -n 1")
        if busy == "" then return true end
        util.sleep(0.05)
    until util.now() > deadline
    return false
end

function stack.clear(user)
    local info = assert(state.info, "stack.start() first")
    stack.settle()
    local users = {}
    if user then users[1] = user else
        for name in pairs(info.users) do users[#users + 1] = name end
    end
    for _, u in ipairs(users) do
        for _, f in ipairs(message_files(u)) do os.remove(f) end
    end
end

return stack
