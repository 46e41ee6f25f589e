-- Transfer-encoding and charset codecs (csrc/mime_codec.c) and the missive.mime module,
-- with python3 as the oracle: Python's email package is what most mail tools agree with.
local core = require "missive.core"
local email = require "missive.email"

local unpack = table.unpack or unpack -- luacheck: ignore

local function hex(s) return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end)) end
local function unhex(h) return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end)) end

-- Runs a python3 function body on every input: `body` maps the bytes `x` (and the
-- string `arg`) to bytes.  Returns the list of results, or nil when python3 is missing.
local function python(body, inputs)
  local src, data = os.tmpname(), os.tmpname()
  local f = assert(io.open(src, "w"))
  f:write("import sys, base64, binascii, codecs, email, quopri, re\n",
          "def f(x, arg):\n", body, "\n",
          "for line in open(sys.argv[1]):\n",
          "    a, h = line.split()\n",
          "    print(f(bytes.fromhex(h), bytes.fromhex(a).decode()).hex() or '-')\n")
  f:close()
  f = assert(io.open(data, "w"))
  for _, x in ipairs(inputs) do
    local a = type(x) == "table" and x[2] or ""
    x = type(x) == "table" and x[1] or x
    f:write(#a > 0 and hex(a) or "2d", " ", #x > 0 and hex(x) or "-", "\n")
  end
  f:close()
  local p = io.popen("python3 " .. src .. " " .. data .. " 2>&1")
  local out = {}
  for l in p:lines() do out[#out + 1] = l end
  p:close()
  os.remove(src); os.remove(data)
  if #out ~= #inputs then
    if #out > 0 and not out[1]:match("^[%x%-]+$") then error(table.concat(out, "\n")) end
    return nil
  end
  for i, l in ipairs(out) do out[i] = l == "-" and "" or unhex(l) end
  return out
end

local function part(cte, body, ctype)
  return "From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: " ..
         (ctype or "application/octet-stream") .. "\r\nContent-Transfer-Encoding: " .. cte ..
         "\r\n\r\n" .. body
end

-- The content of the one attachment of a parsed message.
local function attachment_of(raw)
  local m = assert(email.parse(raw))
  for p in m:parts() do
    if p.content ~= nil and p.type == "application/octet-stream" then return p.content end
  end
end

describe("base64 and quoted-printable decoders (CHECKLIST 73)", function()
  -- Damaged base64: Python's email (binascii) stops at the padding that ends a group.
  local b64_cases = {
    "QUJD", "QUI=QUJD", "QUI=\r\nQUJD", "QQ==QUJD", "QUI==QUJD", "QUJD=QUJD", "QU=JD",
    "QUJD==", "=QUJD", "QUJDQQ", "QUJDQUI", "QU JD\r\nQU=I", "QUJD\0QUJD", "QUJD!QU",
    "QU=", "QUI", "QQ=", "QUJD QQ==  QUJD", "QUJD\r\nQUJD\r\nQQ==\r\n", "QQ=\r\n=\r\nQUJD",
    "aGVsbG8=IHdvcmxk", "aGVsbG8gd29ybGQ=\r\n\r\nLS0gc2lnbmF0dXJl", "QUJDRA==RUZH",
  }
  it("damaged base64 stops at the first padding, as Python's email does", function()
    local want = python([[
    m = email.message_from_bytes(b"Content-Transfer-Encoding: base64\r\n\r\n" + x)
    return m.get_payload(decode=True)]], b64_cases)
    if not want then pending("python3 not available") return end
    for i, x in ipairs(b64_cases) do
      assert.are.equal(hex(want[i]), hex(email.base64_decode(x)), "input " .. ("%q"):format(x))
      -- the same through a parsed part, which decodes in pieces
      assert.are.equal(hex(want[i]), hex(attachment_of(part("base64", x))))
    end
  end)

  it("reports data after the padding as a defect, and trailing line breaks as none", function()
    local _, d = core.b64_decode("QUI=QUJD")
    assert.is_true(d > 0)
    _, d = core.b64_decode("QUJD\r\nQQ==\r\n\r\n")
    assert.are.equal(0, d)
    -- a lone character cannot make a byte: dropped (Python's email gives the raw text)
    local s
    s, d = core.b64_decode("QUJDQ")
    assert.are.equal("ABC", s)
    assert.is_true(d > 0)
  end)

  it("a part with a second base64 text after the padding decodes to the first", function()
    local m = assert(email.parse(part("base64", "aGVsbG8gd29ybGQ=\r\naGFja2Vk\r\n",
                                      "text/plain; charset=utf-8")))
    assert.are.equal("hello world", m.text)
  end)

  -- Quoted-printable: RFC 2045 6.7 rule 3 removes the blanks before a hard line break
  -- (transport added them) and keeps those before a soft break "=" (they are data).
  -- Python's binascii keeps both, so the oracle is Python's email decoding the input
  -- with the rule-3 blanks removed first.
  local qp_cases = {
    "a =\r\nb", "a \t=\r\nb", "a  \r\nb", "a=  \r\nb", "a =  \r\nb", "a =\r\n\r\nb",
    "a \r\n", "=41=4", "=4", "a=ZZb", "a=\nb", "a =\nb", "abc=", "abc =", "=\r\n \r\n",
    "a = b", "a=\r\n ", "a \t \r\n=20\r\n", "caf=E9 =\r\n  au lait", "x=3D y=\r\n z",
    "one two  =\r\nthree\r\n", "soft =\r\n=\r\nbreaks", "tab\t=\r\n\tend",
  }
  it("a space before a soft line break is data (RFC 2045 6.7 rule 3)", function()
    local want = python([[
    x = re.sub(rb'[ \t]+(?=\r?\n)', b'', x)
    m = email.message_from_bytes(b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + x)
    return m.get_payload(decode=True)]], qp_cases)
    if not want then pending("python3 not available") return end
    for i, x in ipairs(qp_cases) do
      assert.are.equal(hex(want[i]), hex(email.qp_decode(x)), "input " .. ("%q"):format(x))
      assert.are.equal(hex(want[i]), hex(attachment_of(part("quoted-printable", x))))
    end
  end)

  it("a soft break keeps the blank before it in a text body", function()
    local m = assert(email.parse(part("quoted-printable", "Hello =\r\nworld\r\n",
                                      "text/plain; charset=utf-8")))
    assert.are.equal("Hello world\n", m.text)
  end)
end)
