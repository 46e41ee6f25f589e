-- The parser on real-world shapes: body selection, header blocks, addresses compared with
-- Python's email (the oracle, run as a subprocess), uuencoded content, and linear time.
local email = require "missive.email"

local function crlf(s) return (s:gsub("\r?\n", "\r\n")) end

-- Python's email as an oracle: runs `code` with the message bytes on stdin; returns its
-- stdout lines.  nil when python3 is missing.
local function python(code, input)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(input)
  f:close()
  local p = io.popen("python3 -c '" .. code:gsub("'", "'\\''") .. "' < " .. path .. " 2>&1")
  if not p then os.remove(path); return nil end
  local out = p:read("*a")
  p:close()
  os.remove(path)
  local lines = {}
  for l in out:gmatch("([^\n]*)\n") do lines[#lines + 1] = l end
  return lines
end

describe("body selection", function()
  it("an empty text/plain part gives m.text == '', not nil", function()
    local m = assert(email.parse(crlf("From: a@b.org\nContent-Type: text/plain\n\n")))
    assert.equal("", m.text)
    m = assert(email.parse(crlf([[
From: a@b.org
Content-Type: multipart/alternative; boundary=b

--b
Content-Type: text/plain

--b
Content-Type: text/html

--b--
]])))
    assert.equal("", m.text)
    assert.equal("", m.html)
    -- one with no body at all (no blank line either)
    m = assert(email.parse("Subject: s\r\n"))
    assert.equal("", m.text)
  end)

  it("a text body has LF line ends: each CRLF loses its CR, a lone CR stays", function()
    local body = "a\r\n\r\nb\rc\r\r\nd\r"
    local m = assert(email.parse("Subject: s\r\n\r\n" .. body))
    assert.equal("a\n\nb\rc\r\nd\r", m.text)
    m = assert(email.parse("Subject: s\r\n\r\n\r\r\n" .. ("x"):rep(70000) .. "\r\n"))
    assert.equal("\r\n" .. ("x"):rep(70000) .. "\n", m.text)
    m = assert(email.parse("Subject: s\r\n\r\nno line end"))
    assert.equal("no line end", m.text)
  end)

  it("the first text part with a file name is the body when inline " ..
     "(RFC 2183 2.1)", function()
    local m = assert(email.parse(crlf([[
From: a@b.org
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain; charset=utf-8; name="note.txt"
Content-Disposition: inline; filename="note.txt"

hello
--b
Content-Type: text/plain; name="log.txt"

log
--b
Content-Type: text/plain
Content-Disposition: attachment; filename="a.txt"

att
--b--
]])))
    assert.equal("hello", m.text)
    assert.equal(2, #m.attachments)
    assert.equal("log.txt", m.attachments[1].name)
    assert.equal("a.txt", m.attachments[2].name)
    -- a single-part message whose only part names a file, without a disposition
    m = assert(email.parse(crlf("Content-Type: text/plain; name=x.txt\n\nbody\n")))
    assert.equal("body\n", m.text)
    assert.equal(0, #m.attachments)
    -- an explicit attachment stays one
    m = assert(email.parse(crlf("Content-Type: text/plain\nContent-Disposition: attachment;" ..
                                " filename=x.txt\n\nbody\n")))
    assert.is_nil(m.text)
    assert.equal(1, #m.attachments)
  end)
end)

describe("header blocks", function()
  it("CHECKLIST 50: one line without a colon between fields is skipped with a defect", function()
    local m = assert(email.parse(crlf("Subject: s\nthis line has no colon\nFrom: a@b.org\n" ..
                                      "\nbody\n")))
    assert.equal("s", m.subject)
    assert.equal("a@b.org", m.from)
    assert.equal("body\n", m.text)
    local found = false
    for _, d in ipairs(m.defects) do if d:find("colon") then found = true end end
    assert.is_true(found)
    -- a fold that lost its blanks over a few lines: skipped, the fields after them read
    m = assert(email.parse(crlf("Subject: a long subject\nthat lost its fold\nover lines\n" ..
                                "From: a@b.org\n\nbody\n")))
    assert.equal("a@b.org", m.from)
    assert.equal("body\n", m.text)
    -- more stray lines than that: the body started there (no text is lost)
    m = assert(email.parse(crlf("Subject: s\nl1\nl2\nl3\nl4\nl5\nNote: x\n\nbody\n")))
    assert.equal("l1\nl2\nl3\nl4\nl5\nNote: x\n\nbody\n", m.text)
    -- the same inside a part
    m = assert(email.parse(crlf([[
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: application/pdf
>From a mangled line
Content-Disposition: attachment; filename=r.pdf

PDF
--b--
]])))
    assert.equal(1, #m.attachments)
    assert.equal("r.pdf", m.attachments[1].name)
    assert.equal("application/pdf", m.attachments[1].type)
  end)

  it("CHECKLIST 50: a missing blank line: the body starts at the first line that no " ..
     "field follows (as Python's email)", function()
    local m = assert(email.parse(crlf("Subject: s\nFrom: a@b.org\nHello world, the body\n" ..
                                      "more body\n")))
    assert.equal("a@b.org", m.from)
    assert.equal("Hello world, the body\nmore body\n", m.text)
    m = assert(email.parse(crlf("Subject: s\nnocolon\n\nbody\n")))
    assert.equal("nocolon\n\nbody\n", m.text)
    assert.is_true(#m.defects > 0)
  end)
end)

-- Each received address header: what missive keeps ({name, address} pairs, name "" when
-- absent) and whether Python's email.headerregistry agrees.  Where it does not, the
-- reason is said: Python takes the first address-looking word where the angle-addr is
-- the address (the CVE-2023-27043 shape), keeps "user at host" as one quoted local part,
-- and drops the old "addr (Name)" comment name.
local ADDR_CASES = {
  {"alice@example.com <bob@example.com>", {{"alice@example.com", "bob@example.com"}},
   py = "takes alice@ (GMime: name alice@example.com, address bob@)"},
  {"a@b.org <c@d.org>", {{"a@b.org", "c@d.org"}}, py = "takes a@b.org"},
  {"bob", {{"", "bob"}}},
  {"MAILER-DAEMON", {{"", "MAILER-DAEMON"}}},
  {"Bob <bob>", {{"Bob", "bob"}}},
  {"user at host.example", {{"", "user@host.example"}}, py = '"user at host.example"'},
  {"john at example.org (John)", {{"John", "john@example.org"}}, py = "quoted, no name"},
  {"Joe Q. Public <john.q.public@example.com>", {{"Joe Q. Public", "john.q.public@example.com"}}},
  {"<@a.example,@b.example:user@d.example>", {{"", "user@d.example"}}},
  {"Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
   {{"Pete", "pete@silly.test"}}},
  {"undisclosed-recipients:;", {}},
  {"a@b.org, , c@d.org,", {{"", "a@b.org"}, {"", "c@d.org"}}},
  {'"Joe\r\n Q" <j@example.com>', {{"Joe Q", "j@example.com"}}},
  {"John . Smith <john . smith @ example . com>", {{"John . Smith", "john.smith@example.com"}}},
  {"Group: a@b.org, c@d.org;, e@f.org", {{"", "a@b.org"}, {"", "c@d.org"}, {"", "e@f.org"}}},
  {"a@[1.2.3.4]", {{"", "a@[1.2.3.4]"}}},
  {"s..palmer@example.com", {{"", "s..palmer@example.com"}}},
  {'"quoted local"@example.com', {{"", '"quoted local"@example.com'}}},
  {"<a@b.org", {{"", "a@b.org"}}},
  {"a@b.org>", {{"", "a@b.org"}}},
  {"Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
   {{"Mary Smith", "mary@x.test"}, {"", "jdoe@example.org"}, {"Who?", "one@y.test"}}},
  {"=?utf-8?q?J=C3=B6rg?= <j@example.com>", {{"J\195\182rg", "j@example.com"}}},
  {"fred@ (comment) example.com", {{"", "fred@example.com"}}},
  {"a@b.org (A B)", {{"A B", "a@b.org"}}, py = "drops the comment name"},
  -- two candidate addresses: never guessed between (the raw text stays in m:header)
  {"John Doe john@example.org", {}, py = 'one local part "John Doe john"'},
  {"a@b@c", {}, py = "<>"},
  {"<a@b.org> <c@d.org>", {}, py = "takes a@b.org"},
  {"alice@example.org)<bob@example.org>", {}, py = "takes alice@ (CVE-2023-27043)"},
}

local function hex(s) return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end)) end
local function unhex(s)
  return (s:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
end

local PY_ADDR = [[
import sys
from email import policy
from email.parser import BytesParser
for line in sys.stdin.read().split():
    raw = b"From: " + bytes.fromhex(line) + b"\r\n\r\nbody"
    try:
        h = BytesParser(policy=policy.default).parsebytes(raw)["From"]
        out = "\2".join(a.display_name + "\1" + a.addr_spec for a in h.addresses)
    except Exception as e:
        out = "error " + type(e).__name__
    print(out.encode().hex() or "-")
]]

describe("received addresses", function()
  it("CHECKLIST 75: hostile and obsolete address lists, compared with Python's email", function()
    local input = {}
    for i, c in ipairs(ADDR_CASES) do input[i] = hex(c[1]) end
    local py = python(PY_ADDR, table.concat(input, "\n") .. "\n")
    local have_py = py and #py == #ADDR_CASES
    for i, c in ipairs(ADDR_CASES) do
      local m = assert(email.parse("From: " .. c[1] .. "\r\nTo: x@example.org\r\n\r\nbody"))
      local got = {}
      for _, a in ipairs(m:addresses("from")) do got[#got + 1] = {a.name or "", a.address} end
      assert.same(c[2], got, c[1])
      -- the raw text is never lost
      assert.equal((c[1]:gsub("\r\n", "")), m:header("From"), c[1])
      if have_py and not c.py then
        local theirs = {}
        local line = py[i] == "-" and "" or unhex(py[i])
        for pair in (line .. "\2"):gmatch("(.-)\2") do
          if pair ~= "" then
            local n, a = pair:match("^(.-)\1(.*)$")
            theirs[#theirs + 1] = {n, a}
          end
        end
        assert.same(theirs, got, "Python differs on " .. c[1])
      end
    end
    if not have_py then print("python3 email not available: oracle comparison skipped") end
    assert.is_true(have_py)
  end)

  it("CHECKLIST 75: a repaired mailbox is kept with a defect; m:header is the raw text",
     function()
    local m = assert(email.parse("From: alice@example.com <bob@example.com>\r\n" ..
                                 "To: undisclosed-recipients:;\r\n" ..
                                 "Cc: bob, x@example.org\r\n\r\nbody"))
    assert.equal('"alice@example.com" <bob@example.com>', m.from)
    assert.equal("alice@example.com <bob@example.com>", m:header("From"))
    assert.same({}, m.to)
    assert.equal("undisclosed-recipients:;", m:header("To"))
    assert.same({"bob", "x@example.org"}, m.cc)
    assert.is_true(#m.defects > 0)
    for _, h in ipairs(m:headers()) do
      if h.name == "To" then assert.equal("undisclosed-recipients:;", h.value) end
    end
    -- nothing readable: m.from is the text as written, not ""
    m = assert(email.parse("From: John Doe john@example.org\r\n\r\nb"))
    assert.equal("John Doe john@example.org", m.from)
    assert.same({}, m:addresses("from"))
    -- a changed field shows its new value
    m = assert(email.parse("To: undisclosed-recipients:;\r\n\r\nb"))
    m.to = "c@example.org"
    assert.equal("c@example.org", m:header("To"))
    -- CHECKLIST 49: a mailbox of more words than any real one is skipped (memory stays
    -- bounded), the next one is still read; a caller's value is refused
    m = assert(email.parse("To: " .. ("w "):rep(5000) .. "<a@example.org>, b@example.org" ..
                           "\r\n\r\nb"))
    assert.same({"b@example.org"}, m.to)
    local bad, _, kind = email.new{from = "a@example.org",
                                   to = ("w "):rep(5000) .. "<a@example.org>"}
    assert.is_nil(bad)
    assert.equal("argument", kind)
    -- controls and NUL in the raw text are replaced, never passed on
    m = assert(email.parse("To: a\0b <a@example.org>, \27[31m\r\n\r\nb"))
    assert.falsy(m:header("To"):find("[%z\27\r\n]"))
  end)
end)

-- uuencode as POSIX uuencode writes it ('`' for zero), for the specs below.
local function uuencode(data, name)
  local out = {("begin 644 %s"):format(name)}
  for i = 1, #data, 45 do
    local chunk = data:sub(i, i + 44)
    local line = {string.char(32 + #chunk)}
    local padded = chunk .. ("\0"):rep((3 - #chunk % 3) % 3)
    for j = 1, #padded, 3 do
      local a, b, c = padded:byte(j, j + 2)
      local n = a * 65536 + b * 256 + c
      for k = 3, 0, -1 do
        local x = math.floor(n / 64 ^ k) % 64
        line[#line + 1] = string.char(x == 0 and 96 or 32 + x)
      end
    end
    out[#out + 1] = table.concat(line)
  end
  out[#out + 1] = "`"
  out[#out + 1] = "end"
  return table.concat(out, "\r\n") .. "\r\n"
end

local BIN = (function()
  local t = {}
  for i = 0, 255 do t[#t + 1] = string.char(i) end
  return table.concat(t) .. "Hello, uuencode world!\n" .. ("x"):rep(100)
end)()

local PY_PAYLOADS = [[
import sys
from email import policy
from email.parser import BytesParser
m = BytesParser(policy=policy.default).parsebytes(sys.stdin.buffer.read())
for p in m.walk():
    if p.is_multipart(): continue
    print((p.get_filename() or "-").encode().hex() or "-", p.get_payload(decode=True).hex() or "-")
]]

describe("uuencode", function()
  it("CHECKLIST 73: Content-Transfer-Encoding x-uuencode, uuencode and x-uue are decoded " ..
     "(as Python's email)", function()
    for _, cte in ipairs{"x-uuencode", "uuencode", "x-uue", "X-UUENCODE"} do
      local raw = "From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" ..
        "--b\r\nContent-Type: text/plain\r\n\r\nsee the file\r\n" ..
        "--b\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\n" ..
        "Content-Transfer-Encoding: " .. cte .. "\r\n\r\n" .. uuencode(BIN, "data.bin") ..
        "--b\r\nContent-Type: application/octet-stream\r\n" ..
        "Content-Transfer-Encoding: " .. cte .. "\r\n\r\n" .. uuencode("tiny", "t.txt") ..
        "--b--\r\n"
      local m = assert(email.parse(raw))
      assert.equal("see the file", m.text)
      assert.equal(2, #m.attachments)
      assert.equal("data.bin", m.attachments[1].name)
      assert.equal(#BIN, m.attachments[1].size)
      assert.equal(BIN, m.attachments[1].content)
      -- no name in the headers: the begin line's
      assert.equal("t.txt", m.attachments[2].name)
      assert.equal("tiny", m.attachments[2].content)
      local parts = {}
      for part in m:parts() do parts[#parts + 1] = part end
      assert.equal(BIN, parts[2].content)
      local py = python(PY_PAYLOADS, raw)
      assert.truthy(py and #py == 3, "python3 oracle")
      local pyname, pydata = py[2]:match("^(%S+) (%S+)$")
      assert.equal(hex("data.bin"), pyname)
      assert.equal(hex(BIN), pydata)
    end
  end)

  it("CHECKLIST 73: a uuencoded block inside text becomes an attachment; the text keeps " ..
     "the rest", function()
    local raw = "From: a@example.org\r\nSubject: old style\r\n\r\nHere is the file:\r\n\r\n" ..
      uuencode(BIN, "photo.jpg") .. "\r\nand a second one\r\n" .. uuencode("abc", "a.txt") ..
      "bye\r\n"
    local m = assert(email.parse(raw))
    assert.equal("Here is the file:\n\n\nand a second one\nbye\n", m.text)
    assert.equal(2, #m.attachments)
    assert.equal("photo.jpg", m.attachments[1].name)
    assert.equal("image/jpeg", m.attachments[1].type)
    assert.equal(BIN, m.attachments[1].content)
    assert.equal("a.txt", m.attachments[2].name)
    assert.equal("abc", m.attachments[2].content)
    -- text that only looks like it stays text
    for _, t in ipairs{"begin 644 x.txt\r\nthis is not uuencode at all\r\nend\r\n",
                       "begin 644 x.txt\r\nM```\r\n",            -- no end line
                       "begin here we go\r\n`\r\nend\r\n"} do
      m = assert(email.parse("Subject: s\r\n\r\n" .. t))
      assert.equal(t:gsub("\r\n", "\n"), m.text)
      assert.equal(0, #m.attachments)
    end
    -- a hostile name gives a safe basename; damaged lines are repaired with a defect
    m = assert(email.parse("Subject: s\r\n\r\nbegin 600 ../../etc/\27passwd\r\n#86)C\r\nM\r\n" ..
                           "`\r\nend\r\n"))
    assert.equal(1, #m.attachments)
    assert.equal("passwd", m.attachments[1].name:gsub("[^%w]", ""))
    assert.falsy(m.attachments[1].raw_name:find("\27"))
    assert.equal("abc", m.attachments[1].content:sub(1, 3))
  end)
end)
