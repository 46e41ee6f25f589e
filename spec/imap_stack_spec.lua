-- Dovecot IMAP in the test stack (spec/support/mailstack.sh): both listeners answer,
-- the special-use folders exist, and mail delivered through Postfix is there to read.
-- Plain LuaSocket and LuaSec on purpose: this proves the stack, not missive's client.
local stack = require "support.stack"

local available, why = stack.available()

describe("IMAP in the mail stack #integration", function()
  if not available then
    pending("mail stack unavailable: " .. tostring(why))
    return
  end
  local socket = require "socket"
  local st

  setup(function()
    st = stack.start()
  end)

  local function connect(port)
    local c = assert(socket.tcp())
    c:settimeout(10)
    assert(c:connect(st.host, port))
    return c
  end

  local function tls(c)
    local ssl = require "ssl"
    c = assert(ssl.wrap(c, { mode = "client", protocol = "any", verify = "peer",
                             cafile = st.cafile }))
    c:sni(st.hostname)
    assert(c:dohandshake())
    return c
  end

  -- Sends a tagged command and reads up to its tagged reply: the untagged lines (with
  -- any literal inline) and the tagged line.
  local function command(c, tag, cmd)
    assert(c:send(tag .. " " .. cmd .. "\r\n"))
    local lines = {}
    while true do
      local line = assert(c:receive("*l"))
      local n = line:match("{(%d+)}$")
      if n then line = line .. "\n" .. assert(c:receive(tonumber(n))) end
      if line:sub(1, #tag + 1) == tag .. " " then return line, lines end
      lines[#lines + 1] = line
    end
  end

  local function caps(line)
    local set = {}
    for w in line:gmatch("%S+") do set[w:upper()] = true end
    return set
  end

  it("answers on the STARTTLS port, and after STARTTLS offers the IMAP extensions",
     function()
    assert.is_number(st.imap_port, "dovecot-imapd missing (sh tools/deps.sh test)")
    local c = connect(st.imap_port)
    local greeting = assert(c:receive("*l"))
    assert.matches("^%* OK %[CAPABILITY IMAP4rev1 .*%] mailstack IMAP ready$", greeting)
    local done, lines = command(c, "a1", "CAPABILITY")
    assert.matches("^a1 OK", done)
    local pre = caps(lines[1])
    assert.is_true(pre.STARTTLS and pre["LITERAL+"] and pre.IDLE and pre["AUTH=PLAIN"])
    assert.matches("^a2 OK", (command(c, "a2", "STARTTLS")))
    c = tls(c)
    done, lines = command(c, "a3", "CAPABILITY")
    assert.matches("^a3 OK", done)
    assert.is_nil(caps(lines[1]).STARTTLS)
    done, lines = command(c, "a4", "LOGIN alice secret")
    assert.matches("^a4 OK", done)
    -- the post-login capabilities come in the tagged OK's code or an untagged line
    local post = caps(done .. " " .. table.concat(lines, " "))
    for _, want in ipairs { "SPECIAL-USE", "MOVE", "UIDPLUS", "ESEARCH", "CONDSTORE",
                            "QRESYNC", "BINARY", "ENABLE", "IDLE", "LITERAL+" } do
      assert.is_true(post[want], want)
    end
    assert.matches("^a5 OK", (command(c, "a5", "LOGOUT")))
    c:close()
  end)

  it("answers with implicit TLS on the IMAPS port", function()
    assert.is_number(st.imaps_port)
    local c = tls(connect(st.imaps_port))
    assert.matches("^%* OK %[CAPABILITY IMAP4rev1 .*%] mailstack IMAP ready$",
                   assert(c:receive("*l")))
    assert.matches("^a1 OK", (command(c, "a1", "LOGIN alice secret")))
    assert.matches("^a2 OK", (command(c, "a2", "LOGOUT")))
    c:close()
  end)

  it("has the special-use folders from the first login on", function()
    local c = connect(st.imap_port)
    assert(c:receive("*l"))
    assert.matches("^a1 OK", (command(c, "a1", "LOGIN bob secret")))
    local done, lines = command(c, "a2", 'LIST "" "*"')
    assert.matches("^a2 OK", done)
    local special = {}
    for _, l in ipairs(lines) do
      local attrs, name = l:match('^%* LIST %(([^)]*)%) "/" (.+)$')
      local use = attrs and attrs:match("\\(%u%l+)$")
      if use and use ~= "HasNoChildren" then special[use] = name end
    end
    assert.same({ Sent = "Sent", Drafts = "Drafts", Trash = "Trash", Junk = "Junk",
                  Archive = "Archive" }, special)
    command(c, "a3", "LOGOUT")
    c:close()
  end)

  it("shows a message delivered through Postfix", function()
    stack.clear("bob")
    local subject = "imap stack " .. os.time() .. " " .. math.random(1e6)
    local c = connect(st.smtp_port)
    local function smtp(line, code)
      if line then assert(c:send(line .. "\r\n")) end
      repeat
        local l = assert(c:receive("*l"))
        assert.equal(code, l:sub(1, 3), l)
      until l:sub(4, 4) == " "
    end
    smtp(nil, "220")
    smtp("EHLO spec.test", "250")
    smtp("MAIL FROM:<alice@localhost>", "250")
    smtp("RCPT TO:<bob@localhost>", "250")
    smtp("DATA", "354")
    smtp("From: alice@localhost\r\nTo: bob@localhost\r\nSubject: " .. subject
      .. "\r\n\r\nhello over IMAP\r\n.", "250")
    smtp("QUIT", "221")
    c:close()
    assert(stack.wait_messages("bob", 1))

    c = connect(st.imap_port)
    assert(c:receive("*l"))
    assert.matches("^a1 OK", (command(c, "a1", "LOGIN bob secret")))
    local done, lines = command(c, "a2", "SELECT INBOX")
    assert.matches("^a2 OK %[READ%-WRITE%]", done)
    assert.truthy(table.concat(lines, "\n"):find("* 1 EXISTS", 1, true))
    done, lines = command(c, "a3", "UID FETCH 1:* (UID ENVELOPE BODY.PEEK[TEXT])")
    assert.matches("^a3 OK", done)
    local all = table.concat(lines, "\n")
    assert.truthy(all:find('"' .. subject .. '"', 1, true), all)
    assert.truthy(all:find("hello over IMAP", 1, true), all)
    command(c, "a4", "LOGOUT")
    c:close()
  end)
end)
