-- Received mail changed and written out again: parse -> modify -> serialise -> parse over
-- a corpus of real-world shapes (spec/corpus/roundtrip), byte-exact re-serialisation,
-- headers the builder would refuse, control bytes from the caller and in parsed
-- parameters, and the mode of saved files.
local email = require "missive.email"

local CORPUS = "spec/corpus/roundtrip/"
local SHAPES = { "inline-image-nameless", "forwarded-rfc822", "pgp-signed", "calendar-invite",
                 "delivery-report", "odd-encodings", "refused-addresses", "bare-lf-nameless" }

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function load(shape) return read(CORPUS .. shape .. ".eml") end

-- The header block (with its blank line) and the body, split at the first empty line.
local function split(s)
  local i, j = s:find("\r?\n\r?\n")
  assert(i, "no blank line after the header block")
  return s:sub(1, j), s:sub(j + 1)
end

-- The header fields of a header block, unfolded lines kept raw ("Name: value\r\n").
local function fields(head)
  local t, cur = {}, nil
  for line in head:gmatch("[^\n]*\n") do
    if line:match("^[ \t]") and cur then
      t[#t] = t[#t] .. line
    elseif line:match("^[^ \t:]+:") then
      t[#t + 1] = line
      cur = true
    end
  end
  return t
end

local function no_controls(s)
  return s == nil or not s:find("[%z\1-\8\10-\31\127]")
end

local MODIFY = {
  header = function(m) assert(m:set_header("X-Tracking", "42")) end,
  subject = function(m) m.subject = "Changed subject" end,
  to = function(m) m.to = {"new@example.net", "Zoé <z@example.net>"} end,
}

describe("email round trip over real-world shapes (CHECKLIST 63)", function()
  for _, shape in ipairs(SHAPES) do
    for what, modify in pairs(MODIFY) do
      it(shape .. ": parse, change the " .. what .. ", serialise, parse again", function()
        local raw = load(shape)
        local m = assert(email.parse(raw))
        local before = #m.attachments
        modify(m)
        local out = assert(m:tostring())
        local p = assert(email.parse(out))
        assert.equal(before, #p.attachments)
        if what == "subject" then assert.equal("Changed subject", p.subject) end
        if what == "header" then assert.equal("42", p:header("X-Tracking")) end
        if what == "to" then
          assert.same({"new@example.net", "Zoé <z@example.net>"}, p.to)
        end
        -- every way out of the message works, not only tostring
        local chunks = {}
        for c in assert(m:source()) do chunks[#chunks + 1] = c end
        assert.equal(out, table.concat(chunks))
        for part in m:parts() do assert.is_string(part.type) end
        for i, a in ipairs(m.attachments) do
          assert.equal(p.attachments[i].content, a.content)
        end
        local tmp = os.tmpname()
        assert(m:save(tmp))
        assert.equal(out, read(tmp))
        os.remove(tmp)
      end)
    end
  end

  it("sends a changed parsed message over SMTP, the signed part as it was", function()
    local scripted = require "support.scripted"
    local smtp = require "missive.smtp"
    local raw = load("pgp-signed")
    local m = assert(email.parse(raw))
    m.to = "other@example.net"
    local srv = scripted.start({
      {send = "220 scripted ESMTP\r\n"}, {expect = "EHLO"}, {send = "250 scripted\r\n"},
      {expect = "MAIL FROM:<frank@example.org>"}, {send = "250 ok\r\n"},
      {expect = "RCPT TO:<other@example.net>"}, {send = "250 ok\r\n"},
      {expect = "DATA"}, {send = "354 go\r\n"},
      {read_until = "\r\n.\r\n"}, {send = "250 2.0.0 queued\r\n"},
      {expect = "QUIT"}, {send = "221 bye\r\n"},
    }, {timeout = 10})
    local s = assert(smtp.session{host = "127.0.0.1", port = srv.port, tls = "none",
                                  timeout = 5})
    assert(s:send(m))
    s:close()
    local received = srv:finish()
    local _, body = split(raw)
    assert.truthy(received:find("\r\n\r\n" .. body .. ".\r\n", 1, true))
  end)
end)

describe("byte-exact re-serialisation (CHECKLIST 63)", function()
  for _, shape in ipairs(SHAPES) do
    it(shape .. ": a header change leaves the body and every other header as they were",
       function()
      local raw = load(shape)
      local m = assert(email.parse(raw))
      m.subject = "Re-sent"
      assert(m:set_header("X-Added", "yes"))
      local out = assert(m:tostring())
      local rh, rb = split(raw)
      local oh, ob = split(out)
      assert.equal(rb, ob)   -- the body section, byte for byte
      -- every original header line but Subject is there, unchanged, in order
      local kept = {}
      for _, f in ipairs(fields(rh)) do
        if not f:lower():match("^subject:") then kept[#kept + 1] = f end
      end
      local got = {}
      for _, f in ipairs(fields(oh)) do
        local l = f:lower()
        if not l:match("^subject:") and not l:match("^x%-added:") then got[#got + 1] = f end
      end
      assert.same(kept, got)
    end)
  end

  it("a multipart/signed message stays verifiable: the signed part is untouched", function()
    local raw = load("pgp-signed")
    local m = assert(email.parse(raw))
    m.to = "someone-else@example.net"
    local out = assert(m:tostring())
    local signed = raw:match("\r\n%-%-sig%-boundary%-4\r\n(.-)\r\n%-%-sig%-boundary%-4\r\n")
    assert.truthy(signed)
    assert.truthy(out:find("\r\n--sig-boundary-4\r\n" .. signed .. "\r\n--sig-boundary-4\r\n",
                           1, true))
  end)

  it("changing the attachments keeps the untouched parsed parts byte for byte", function()
    local raw = load("odd-encodings")
    local m = assert(email.parse(raw))
    assert(m:attach{data = "new", name = "new.txt"})
    local out = assert(m:tostring())
    -- the non-canonical base64 (172-column line, upper-case BASE64, 40-column lines)
    -- and the quoted-printable part are copied, not decoded and encoded again
    for _, name in ipairs{"long-lines.bin", "short-lines.bin", "data.csv"} do
      local part = raw:match("\r\n%-%-odd7\r\n(Content%-Type: [^\r]*" .. name:gsub("%p", "%%%0")
                             .. ".-)\r\n%-%-odd7")
      assert.truthy(part, name)
      assert.truthy(out:find(part, 1, true), name)
    end
    local p = assert(email.parse(out))
    assert.equal(5, #p.attachments)
    assert.equal("new", p.attachments[5].content)
    for i = 1, 4 do assert.equal(m.attachments[i].content, p.attachments[i].content) end
  end)

  it("keeps bare LF line ends of the original in the new header block", function()
    local raw = load("bare-lf-nameless")
    local m = assert(email.parse(raw))
    m.subject = "lf"
    local out = assert(m:tostring())
    assert.falsy(out:find("\r", 1, true))
    assert.equal(select(2, split(raw)), select(2, split(out)))
  end)
end)

describe("headers the builder refuses survive when unchanged (CHECKLIST 63)", function()
  it("a UTF-8 local part, s..palmer, routes and groups serialise after a change", function()
    local raw = load("refused-addresses")
    local m = assert(email.parse(raw))
    m.subject = "still sendable"
    local out = assert(m:tostring())
    for _, name in ipairs{"From", "To", "Cc", "Reply-To"} do
      local line = ("\r\n" .. raw):match("\r\n(" .. name:gsub("%-", "%%-") .. ": [^\r]*\r\n)")
      assert.truthy(out:find(line, 1, true), name)
    end
    -- a changed address header is written strictly; the others stay raw
    m.to = "fixed@example.net"
    out = assert(m:tostring())
    assert.truthy(out:find("\r\nTo: fixed@example.net\r\n", 1, true))
    assert.truthy(out:find(("\r\n" .. raw):match("\r\n(From: [^\r]*\r\n)"), 1, true))
    assert.truthy(email.parse(out))
  end)

  it("a field holding a NUL or a bare CR is written from its repaired value", function()
    local m = assert(email.parse("From: a@example.org\r\nSubject: s\rBcc: v@example.com\r\n" ..
                                 "X-A: v\0w\r\n\r\nbody\r\n"))
    assert(m:set_header("X-B", "1"))
    local out = assert(m:tostring())
    assert.falsy(out:find("\r[^\n]"))
    assert.falsy(out:find("%z"))
    assert.equal("body\r\n", select(2, split(out)))
  end)

  it("an address field the writer refuses, holding a NUL too, still serialises", function()
    local m = assert(email.parse("From: a@example.org\r\n" ..
                                 "To: s..palmer@example.com, \"Un\0d\" : ;\r\n" ..
                                 "Subject: s\r\n\r\nbody\r\n"))
    m.subject = "changed"
    local out = assert(m:tostring())
    assert.falsy(out:find("%z"))
    -- as far as the parser read it: up to the NUL
    assert.truthy(out:find("\r\nTo: s..palmer@example.com, \"Un\r\n", 1, true))
    assert.truthy(email.parse(out))
  end)

  it("still serialises when the body changes too", function()
    local m = assert(email.parse(load("refused-addresses")))
    m.text = "new text"
    local p = assert(email.parse(assert(m:tostring())))
    assert.equal("new text", p.text)
    assert.equal(m:header("From"), p:header("From"))
  end)
end)

local CONTROLS = {}
for c = 1, 31 do if c ~= 9 and c ~= 10 and c ~= 13 then CONTROLS[#CONTROLS + 1] = c end end
CONTROLS[#CONTROLS + 1] = 127

describe("caller values with control bytes never reach a header (CHECKLIST 65)", function()
  local base = {from = "a@example.org", to = "b@example.org", subject = "s", text = "t"}
  local function with(k, v)
    local t = {}
    for key, val in pairs(base) do t[key] = val end
    t[k] = v
    return t
  end
  local cases = {
    {"display name in a string", function(c)
      return email.new(with("from", '"Alice' .. c .. 'Bcc: v@example.com" <a@example.org>')) end},
    {"display name in a table", function(c)
      return email.new(with("to", {{name = "Bob" .. c .. "Bcc: v@example.com",
                                    address = "b@example.org"}})) end},
    {"unquoted display name", function(c)
      return email.new(with("cc", "Carol" .. c .. " <c@example.org>")) end},
    {"subject", function(c)
      return email.new(with("subject", "Hi" .. c .. "Bcc: v@example.com")) end},
    {"custom header", function(c)
      return email.new(with("headers", {["X-Note"] = "n" .. c .. "Bcc: v@example.com"})) end},
    {"date", function(c) return email.new(with("date", "Tue, 05 Mar 2024" .. c .. "Bcc: v@x")) end},
    {"message_id", function(c)
      return email.new(with("message_id", "<a" .. c .. "b@example.org>")) end},
    {"attachment type", function(c)
      return email.new(with("attachments", {{data = "x", name = "a.txt",
                                             type = "text/plain" .. c .. "x"}})) end},
    {"attachment cid", function(c)
      return email.new(with("attachments", {{data = "x", name = "a.png", cid = "c" .. c .. "d"}}))
    end},
    {"attachment name", function(c)
      return email.new(with("attachments", {{data = "x", name = "a" .. c .. "[31m.txt"}})) end},
    {"set_header on a message", function(c)
      local m = assert(email.new(base))
      return m:set_header("X-Note", "v" .. c .. "w")
    end},
    {"m.subject =", function(c)
      local m = assert(email.new(base))
      local ok, err = pcall(function() m.subject = "x" .. c .. "y" end)
      if ok then return m end
      return nil, err, "argument"
    end},
  }
  for _, case in ipairs(cases) do
    it("refuses every C0 byte but TAB, and DEL, in the " .. case[1], function()
      for _, c in ipairs(CONTROLS) do
        local ch = string.char(c)
        local r, err, kind = case[2](ch)
        assert.falsy(r, ("byte %d accepted"):format(c))
        assert.truthy(err)
        if case[1] ~= "m.subject =" then assert.equal("argument", kind) end
      end
      -- a TAB is still fine where text is free
      if case[1] == "subject" or case[1] == "custom header" then
        assert.truthy(case[2]("\t"))
      end
    end)
  end

  it("Python's email, re-serialising our output, finds no header we did not write",
     function()
    if not os.execute("python3 -c 'import email.policy' >/dev/null 2>&1") then
      pending("python3 not available")
      return
    end
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write([[
import sys, email, email.policy
raw = open(sys.argv[1], 'rb').read()
m = email.message_from_bytes(raw, policy=email.policy.default)
again = email.message_from_bytes(m.as_bytes(), policy=email.policy.default)
print(",".join(sorted(k.lower() for k in again.keys())))
]])
    f:close()
    local expect = "content-transfer-encoding,content-type,date,from,message-id," ..
                   "mime-version,subject,to"
    local runs, bytes = 0, {9}   -- TAB is accepted: the oracle sees real output
    for _, c in ipairs(CONTROLS) do bytes[#bytes + 1] = c end
    for _, c in ipairs(bytes) do
      local ch = string.char(c)
      for _, t in ipairs{
        {from = "Alice" .. ch .. "Bcc: victim@example.com <a@example.org>"},
        {from = {name = "Alice" .. ch .. "Bcc: victim@example.com", address = "a@example.org"}},
        {subject = "Hi" .. ch .. "Bcc: victim@example.com"},
        {date = "Tue, 05 Mar 2024 10:00:00 +0000" .. ch .. "Bcc: victim@example.com"},
      } do
        local spec = {from = "a@example.org", to = "b@example.org", subject = "s", text = "t"}
        for k, v in pairs(t) do spec[k] = v end
        local m = email.new(spec)
        if m then
          local path = os.tmpname()
          assert(m:save(path))
          local pipe = assert(io.popen("python3 " .. script .. " " .. path))
          local keys = pipe:read("*l")
          pipe:close()
          os.remove(path)
          assert.equal(expect, keys, ("byte %d"):format(c))
          runs = runs + 1
        end
      end
    end
    os.remove(script)
    assert.is_true(runs >= 2)
  end)
end)

describe("parsed MIME parameters reach Lua without control bytes (CHECKLIST 60)", function()
  it("type, disposition, cid and file name are sanitised", function()
    local raw = table.concat({
      "From: a@example.org", "To: b@example.org", "Subject: ansi", "MIME-Version: 1.0",
      'Content-Type: multipart/mixed; boundary="b"', "", "--b", "Content-Type: text/plain", "",
      "body", "--b",
      'Content-Type: image/png\27[31m; name="a\27]0;owned\7.png"',
      "Content-Disposition: attachment\27[2J; filename=\"x\27[1mb.png\"",
      "Content-ID: <id\27[5m\127@example.org>",
      "Content-Transfer-Encoding: base64", "", "AAEC", "--b--", ""}, "\r\n")
    local m = assert(email.parse(raw))
    local a = m.attachments[1]
    assert.truthy(a)
    assert.is_true(no_controls(a.type), a.type)
    assert.is_true(no_controls(a.cid), a.cid)
    assert.is_true(no_controls(a.name), a.name)
    assert.is_true(no_controls(a.raw_name), a.raw_name)
    local n = 0
    for part in m:parts() do
      n = n + 1
      for _, k in ipairs{"type", "disposition", "cid", "filename", "charset"} do
        assert.is_true(no_controls(part[k]), k .. ": " .. tostring(part[k]))
      end
    end
    assert.equal(2, n)
  end)
end)

describe("saved files are private (CHECKLIST 72)", function()
  local function mode_of(path)
    local p = assert(io.popen("stat -c %a " .. path))
    local s = p:read("*l")
    p:close()
    return s
  end

  it("m:save and attachment:save create 0600 files; mode = asks for another", function()
    local m = assert(email.new{from = "a@example.org", to = "b@example.org", text = "t",
                               attachments = {{data = "secret", name = "s.txt"}}})
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir " .. dir))
    local pipe = io.popen("umask")
    local umask = tonumber(pipe:read("*l"), 8)
    pipe:close()
    -- what open(2) gives for a requested mode under this umask
    local function expect(mode)
      local r, bit, u = 0, 1, umask
      for _ = 1, 9 do
        if mode % 2 == 1 and u % 2 == 0 then r = r + bit end
        mode, u, bit = (mode - mode % 2) / 2, (u - u % 2) / 2, bit * 2
      end
      return ("%o"):format(r)
    end
    assert(m:save(dir .. "/m.eml"))
    assert.equal("600", mode_of(dir .. "/m.eml"))
    assert(m.attachments[1]:save(dir .. "/s.txt"))
    assert.equal("600", mode_of(dir .. "/s.txt"))
    assert.equal("secret", read(dir .. "/s.txt"))
    assert(m:save(dir .. "/shared.eml", {mode = tonumber("640", 8)}))
    assert.equal(expect(tonumber("640", 8)), mode_of(dir .. "/shared.eml"))
    assert(m.attachments[1]:save(dir .. "/shared.txt", {mode = tonumber("644", 8)}))
    assert.equal(expect(tonumber("644", 8)), mode_of(dir .. "/shared.txt"))
    local p = assert(email.parse(read(dir .. "/m.eml")))
    assert(p.attachments[1]:save(dir .. "/p.txt"))
    assert.equal("600", mode_of(dir .. "/p.txt"))
    os.execute("rm -rf " .. dir)
  end)
end)
