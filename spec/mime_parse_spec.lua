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
  it("CHECKLIST 75: an empty text/plain part gives m.text == '', not nil", function()
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

  it("CHECKLIST 75: the first text part with a file name is the body when inline " ..
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
