-- Transfer-encoding and charset codecs (csrc/mime/mime_codec.c) and the missive.mime module,
-- with python3 as the oracle: Python's email package is what most mail tools agree with.
local core = require "missive.core"
local email = require "missive.email"

local unpack = table.unpack or unpack -- luacheck: ignore

local function hex(s) return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end)) end
local function unhex(h)
  return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end))
end

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
    local has = os.execute("command -v python3 >/dev/null 2>&1")
    if has == true or has == 0 then error(table.concat(out, "\n")) end
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

  it("a large part decoded in pieces equals the one-shot decoder, damage included", function()
    math.randomseed(5)
    local t = {}
    for i = 1, 300000 do t[i] = string.char(math.random(0, 255)) end
    local b = email.base64_encode(table.concat(t), true)
    -- garbage, a stray '=', then a padded end in the third 64 KB piece and data after it
    b = b:sub(1, 70000) .. "!*" .. b:sub(70001, 100000) .. "=" .. b:sub(100001, 150002) ..
        "QQ==\r\n" .. b:sub(150003)
    local want = email.base64_decode(b)
    assert.is_true(#want > 100000 and #want < 120000)
    assert.are.equal(hex(want), hex(attachment_of(part("base64", b))))
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

describe("missive.mime", function()
  local mime = require "missive.mime"

  -- Inputs with everything a streaming codec must carry across a cut.
  local function samples()
    math.randomseed(12)
    local bin = {}
    for i = 1, 3000 do bin[i] = string.char(math.random(0, 255)) end
    bin = table.concat(bin)
    local text = ("From here.  A line with trailing blanks   \nand tabs\t\r\ncaf\195\169 = " ..
                  "x\rFrom the start\n"):rep(40) .. ("long line without a break "):rep(30) .. " "
    return bin, text
  end

  -- Feeds s to a fresh filter in random chunks (some empty); returns the output joined.
  local function stream(make, s)
    local f, out, i = make(), {}, 1
    while i <= #s do
      local n = math.random(0, math.random() < 0.5 and 7 or 300)
      out[#out + 1] = f(s:sub(i, i + n - 1))
      i = i + n
    end
    out[#out + 1] = f(nil) or ""
    assert.is_nil(f(nil))
    return table.concat(out)
  end

  it("streaming encoders and decoders equal the one-shot codecs for every chunking", function()
    local bin, text = samples()
    local b64, b64w = mime.base64_encode(bin), mime.base64_encode(bin, true)
    local damaged = {
      b64w, b64 .. "=", "QUI=QUJD", "QU=JD\r\nQUJD", "QUJD!QU", "Q", "QQ=\r\n=\r\nQUJD",
      b64w:sub(1, 1000) .. "==" .. b64w:sub(1001), "a \t=\r\nb  \r\n=4", "=\r\n\r\n",
    }
    local qp_in = { mime.qp_encode(text), "a =\r\nb", "x=3D y =\r\n z  \r\n", "=41=4",
                    "soft =\r\n=\r\nbreaks", "tab\t=\r\n\tend\t", "=", "a=\r", "a = b" }
    local function enc(name, opts) return function() return mime.encoder(name, opts) end end
    local function dec(name) return function() return mime.decoder(name) end end
    for _ = 1, 30 do
      for _, s in ipairs{bin, text, ""} do
        assert.are.equal(mime.base64_encode(s), stream(enc("base64"), s))
        assert.are.equal(mime.base64_encode(s, true), stream(enc("base64", {wrap = true}), s))
        assert.are.equal(mime.qp_encode(s), stream(enc("quoted-printable"), s))
        assert.are.equal(mime.qp_encode(s, true),
                         stream(enc("quoted-printable", {binary = true}), s))
      end
      for _, s in ipairs(damaged) do
        assert.are.equal(hex((mime.base64_decode(s))), hex(stream(dec("base64"), s)))
      end
      for _, s in ipairs(qp_in) do
        assert.are.equal(hex((mime.qp_decode(s))), hex(stream(dec("quoted-printable"), s)))
      end
    end
    assert.are.equal(bin, (mime.base64_decode(b64w)))
    local crlf = text:gsub("\r?\n", "\r\n"):gsub("\r([^\n])", "\r\n%1")
    assert.are.equal(crlf, (mime.qp_decode(mime.qp_encode(text))))
  end)

  it("filters follow ltn12: chained with a source, nil at the end", function()
    local ok, ltn12 = pcall(require, "ltn12")
    if not ok then pending("ltn12 (LuaSocket) not installed") return end
    local out = {}
    local src = ltn12.source.chain(ltn12.source.string(("hello world "):rep(100)),
                                   mime.encoder("base64", {wrap = true}))
    ltn12.pump.all(src, (ltn12.sink.table(out)))
    assert.are.equal(mime.base64_encode(("hello world "):rep(100), true), table.concat(out))
    out = {}
    src = ltn12.source.chain(ltn12.source.string("aGVs\r\nbG8=\r\naGFja2Vk"),
                             mime.decoder("base64"))
    ltn12.pump.all(src, (ltn12.sink.table(out)))
    assert.are.equal("hello", table.concat(out))
  end)

  it("misuse raises: unknown codec, a non-string chunk", function()
    assert.has_error(function() mime.encoder("uuencode") end)
    assert.has_error(function() mime.decoder("base64")(42) end)
    assert.has_error(function() mime.encoder("base64", true) end)
  end)

  it("header_encode / header_decode: RFC 2047 through the core's encoder and decoder", function()
    local s = "Gr\195\188\195\159e aus K\195\182ln, \226\130\172 100" .. (" und mehr"):rep(12)
    local w = assert(mime.header_encode(s))
    assert.is_nil(w:find("[\128-\255]"))
    assert.truthy(w:find("=?utf-8?B?", 1, true) or w:find("=?UTF-8?B?", 1, true))
    for line in (w .. "\r\n"):gmatch("(.-)\r\n") do assert.is_true(#line <= 78) end
    assert.are.equal(s, (mime.header_decode(w)))
    assert.are.equal("plain ascii", mime.header_encode("plain ascii"))
    local t, d = mime.header_decode("=?iso-8859-1?q?caf=E9?= =?utf-8?b?4oKs?= \27[31m")
    assert.are.equal("caf\195\169\226\130\172 \239\191\189[31m", t)
    assert.is_true(d > 0)
    local v, err, kind = mime.header_encode("a\r\nBcc: x@example.org")
    assert.is_nil(v); assert.truthy(err); assert.are.equal("argument", kind)
    v, err, kind = mime.header_encode("\255\254")
    assert.is_nil(v); assert.truthy(err); assert.are.equal("argument", kind)
  end)

  it("param_encode / param_decode: RFC 2231 through the core", function()
    assert.are.equal('filename="report.pdf"', mime.param_encode("filename", "report.pdf"))
    local e = mime.param_encode("filename", "\226\130\172 Rechnung.pdf")
    assert.are.equal("filename*=utf-8''%E2%82%AC%20Rechnung.pdf", e)
    local long = ("\195\169t\195\169 "):rep(40) .. ".txt"
    local el = mime.param_encode("filename", long)
    assert.truthy(el:find("filename*0*=utf-8''", 1, true))
    local tok, ps = mime.param_decode("Attachment; " .. el .. "; size=12")
    assert.are.equal("attachment", tok)
    assert.are.equal(long, ps.filename)
    assert.are.equal("12", ps.size)
    ps = select(2, mime.param_decode("attachment; " .. e))
    assert.are.equal("\226\130\172 Rechnung.pdf", ps.filename)
    local d
    tok, ps, d = mime.param_decode("text/plain; name*0*=utf-8''a; name*2*=c")
    assert.are.equal("text/plain", tok)
    assert.are.equal("a", ps.name)
    assert.is_true(d > 0)
    local v, _, kind = mime.param_encode("file name", "x")
    assert.is_nil(v); assert.are.equal("argument", kind)
    v, _, kind = mime.param_encode("name", "a\0b")
    assert.is_nil(v); assert.are.equal("argument", kind)
  end)
end)

describe("charset labels read as their WHATWG superset (CHECKLIST 74)", function()
  -- label in the message, Python codec that writes such text, the text (UTF-8)
  local cases = {
    {"ks_c_5601-1987", "cp949", "한국어 똠방각하"},            -- UHC-only syllable
    {"euc-kr", "cp949", "똠방 뷁"},
    {"gb2312", "gbk", "简体中文 镕 鎔 〇"},                      -- GBK beyond GB2312
    {"GB2312", "gb18030", "中文 €"},                              -- GB18030's euro (A2E3)
    {"big5", "cp950", "€碁銹裏墻恒粧嫺"},                       -- CP950 additions
    {"iso-8859-1", "cp1252", "“quoted” – €"},                      -- 0x80..0x9F as windows-1252
    {"latin1", "cp1252", "na\195\175ve ‘x’"},
    {"tis-620", "cp874", "กขค … €"},
    {"iso-8859-9", "cp1254", "ığş ‰"},
    {"x-sjis", "cp932", "日本語①Ⅲ㈱～"},
    {"shift_jis", "cp932", "①②"},
    {"utf-7", "utf-7", "Hi Mom -☺-!"},
    {"unicode-1-1-utf-7", "utf-7", "café ☺"},
    {"x-mac-roman", "mac_roman", "äö ∂"},
    {"cp-850", "cp850", "Straße ½"},
    {"koi8-r", "koi8_r", "Привет"},
  }
  local function body_of(label, bytes)
    return "From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=" ..
           label .. "\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" .. bytes
  end

  it("decodes real byte sequences of each label as Python's superset codec does", function()
    local inputs = {}
    for i, c in ipairs(cases) do inputs[i] = {c[3], c[2]} end
    local bytes = python("    return x.decode('utf-8').encode(arg)", inputs)
    if not bytes then pending("python3 not available") return end
    for i, c in ipairs(cases) do
      assert.are_not.equal(c[3], bytes[i])
      local m = assert(email.parse(body_of(c[1], bytes[i])))
      assert.are.equal(c[3], m.text, c[1])
      assert.are.equal(0, #m.defects, c[1] .. ": " .. table.concat(m.defects, "; "))
      -- the same label in an RFC 2047 header
      local h = "Subject: =?" .. c[1] .. "?B?" .. email.base64_encode(bytes[i]) .. "?=\r\n\r\n"
      assert.are.equal(c[3], assert(email.parse(h)).subject, c[1] .. " in a header")
    end
  end)

  it("gbk's 0x80 is the euro sign (CP936; WHATWG's gb18030 decoder)", function()
    local m = assert(email.parse("Content-Type: text/plain; charset=gbk\r\n\r\n\128 100"))
    assert.are.equal("\226\130\172 100", m.text)
  end)

  it("8-bit text without a charset or declared us-ascii: UTF-8 if valid, else windows-1252",
     function()
    local cp = python("    return x.decode('utf-8').encode('cp1252')", {"caf\195\169 “x” €"})
    if not cp then pending("python3 not available") return end
    local plain = "From: a@example.org\r\nContent-Type: text/plain\r\n\r\n"
    local ascii = "From: a@example.org\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
    for _, head in ipairs{plain, ascii, "From: a@example.org\r\n\r\n"} do
      local m = assert(email.parse(head .. cp[1]))
      assert.are.equal("caf\195\169 “x” €", m.text)
      assert.truthy(table.concat(m.defects, "\n"):find("8-bit text", 1, true))
      m = assert(email.parse(head .. "caf\195\169 ☺"))
      assert.are.equal("caf\195\169 ☺", m.text)
      assert.is_true(#m.defects > 0)
      m = assert(email.parse(head .. "plain ascii"))
      assert.are.equal("plain ascii", m.text)
      assert.are.equal(0, #m.defects)
    end
  end)

  it("an unknown label keeps the bytes as sanitised UTF-8 and records a defect", function()
    local m = assert(email.parse("Content-Type: text/plain; charset=x-no-such\r\n\r\nab\255"))
    assert.are.equal("ab\239\191\189", m.text)
    assert.is_true(#m.defects > 0)
  end)
end)
