-- International domains (RFC 5890 IDNA2008, RFC 6531 SMTPUTF8): the envelope carries
-- A-labels to a server without SMTPUTF8 and U-labels under it; the builder writes
-- A-labels in address headers whatever the server; a non-ASCII local part still needs
-- SMTPUTF8; a domain IDNA refuses is an argument error, before anything is sent.
local scripted = require "support.scripted"
local email = require "missive.email"
local ss = require "support.scripted_smtp"

local GREET, ehlo, script = ss.GREET, ss.ehlo, ss.script
local QUIT = ss.QUIT
local U = "b\195\188cher.example"          -- bücher.example
local A = "xn--bcher-kva.example"

-- One accepted transaction of nrcpt recipients, then QUIT.
local function accept(nrcpt)
  local steps = {{expect = "MAIL"}, {send = "250 ok\r\n"}}
  for _ = 1, nrcpt do
    steps[#steps + 1] = {expect = "RCPT"}
    steps[#steps + 1] = {send = "250 ok\r\n"}
  end
  steps[#steps + 1] = {expect = "DATA"}
  steps[#steps + 1] = {send = "354 go\r\n"}
  steps[#steps + 1] = {read_until = "\r\n.\r\n"}
  steps[#steps + 1] = {send = "250 queued\r\n"}
  return script(steps, QUIT)
end

local function built()
  return assert(email.new{from = "J\195\182rg <alice@" .. U .. ">",
                          to = {"bob@" .. U}, cc = {"Carol <carol@B\195\156CHER.Example>"},
                          subject = "idn", text = "hi"})
end

-- The header block of what the server received.
local function headers(got)
  return got:match("\r\nDATA\r\n(.-)\r\n\r\n")
end

describe("international domains in the builder", function()
  it("a non-ASCII domain is accepted and written as A-labels; the name stays RFC 2047",
     function()
    local m = built()
    assert.equal("alice@" .. U, m:envelope())
    local out = assert(m:tostring())
    assert.truthy(out:find("\r\nFrom: =?UTF-8?B?SsO2cmc=?= <alice@" .. A .. ">\r\n", 1, true))
    assert.truthy(out:find("\r\nTo: bob@" .. A .. "\r\n", 1, true))
    assert.truthy(out:find("\r\nCc: Carol <carol@" .. A .. ">\r\n", 1, true))
    -- the header is plain 7-bit RFC 5322: the message needs no SMTPUTF8
    assert.falsy(out:find("[\128-\255]"))
    local p = assert(email.parse(out))
    assert.equal("J\195\182rg <alice@" .. A .. ">", p.from)
    -- the Message-ID is made from the sender's domain, by its A-labels
    assert.truthy(out:find("\r\nMessage%-ID: <%x+@" .. A:gsub("%-", "%%-") .. ">\r\n"))
  end)

  it("email.to_ascii_domain and email.to_unicode_domain", function()
    assert.equal(A, email.to_ascii_domain(U))
    assert.equal(A, email.to_ascii_domain("B\195\156CHER.Example"))
    assert.equal("example.org", email.to_ascii_domain("example.org"))
    assert.equal(U, email.to_unicode_domain(A))
    local d, err, kind = email.to_ascii_domain("a\226\152\131.example")
    assert.is_nil(d)
    assert.equal("argument", kind)
    assert.matches("not a valid international domain name", err, 1, true)
    assert.is_nil(email.to_unicode_domain("xn--zz.example"))
  end)

  it("CHECKLIST 91: a domain IDNA2008 refuses is an argument error naming it", function()
    for _, bad in ipairs{"a\226\152\131.example", "b\195\188cher..example",
                         "exa_mple.b\195\188", "\195\188.-x-.de"} do
      local m, err, kind = email.new{from = "a@example.org", to = "bob@" .. bad, text = "x"}
      assert.is_nil(m, bad)
      assert.equal("argument", kind, bad)
      assert.matches("not a valid international domain name", err, 1, true)
      assert.truthy(err:find(bad, 1, true), bad)
    end
  end)

  it("a non-ASCII local part is still refused by the builder", function()
    local m, err, kind = email.new{from = "j\195\182rg@example.org", to = "b@example.org",
                                   text = "x"}
    assert.is_nil(m)
    assert.equal("argument", kind)
    assert.matches("invalid characters", err)
  end)

  it("an unchanged parsed header keeps its U-labels (nothing rewritten)", function()
    local raw = "From: a@" .. U .. "\r\nTo: b@" .. U .. "\r\nSubject: s\r\n\r\nbody\r\n"
    local m = assert(email.parse(raw))
    m.subject = "changed"
    local out = assert(m:tostring())
    assert.truthy(out:find("From: a@" .. U .. "\r\n", 1, true))
    m.to = "c@" .. U
    out = assert(m:tostring())
    assert.truthy(out:find("\r\nTo: c@" .. A .. "\r\n", 1, true))
  end)
end)

for _, driver in ipairs(ss.DRIVERS) do
describe("international domains on the wire (scripted server, " .. driver .. " driver)",
         function()
  local function session(srv)
    return ss.session(srv, driver)
  end

  it("CHECKLIST 91: without SMTPUTF8 bob@bücher.example goes out as xn--bcher-kva.example, " ..
     "envelope and headers", function()
    local srv = scripted.start(script(GREET, {ehlo{"8BITMIME"}}, accept(2)))
    local s = assert(session(srv))
    local res = assert(s:send(built()))
    -- results are keyed by the addresses as given
    assert.same({"bob@" .. U, "carol@B\195\156CHER.Example"}, res.accepted)
    s:close()
    local got = srv:finish()
    assert.truthy(got:find("\r\nMAIL FROM:<alice@" .. A .. ">", 1, true), got)
    assert.truthy(got:find("RCPT TO:<bob@" .. A .. ">\r\n", 1, true))
    -- the UTS #46 mapping folds the case of a U-label's domain; the local part is kept
    assert.truthy(got:find("RCPT TO:<carol@" .. A .. ">\r\n", 1, true))
    local h = headers(got)
    assert.truthy(h:find("From: =?UTF-8?B?SsO2cmc=?= <alice@" .. A .. ">", 1, true))
    assert.truthy(h:find("To: bob@" .. A, 1, true))
    assert.falsy(got:find("SMTPUTF8", 1, true))
    assert.falsy(got:find("[\128-\255]"))
  end)

  it("with SMTPUTF8: U-labels as they are and the SMTPUTF8 parameter; headers A-labels",
     function()
    local srv = scripted.start(script(GREET, {ehlo{"8BITMIME", "SMTPUTF8"}}, accept(2)))
    local s = assert(session(srv))
    assert(s:send(built()))
    s:close()
    local got = srv:finish()
    assert.truthy(got:find("MAIL FROM:<alice@" .. U .. ">[^\r]* SMTPUTF8\r\n"), got)
    assert.truthy(got:find("RCPT TO:<bob@" .. U .. ">\r\n", 1, true))
    assert.truthy(headers(got):find("To: bob@" .. A, 1, true))
  end)

  it("a message given as data: only the envelope converts", function()
    local srv = scripted.start(script(GREET, {ehlo{"8BITMIME"}}, accept(1)))
    local s = assert(session(srv))
    assert(s:send{from = "", to = "Bob@" .. U, data = "Subject: d\r\n\r\nx\r\n"})
    s:close()
    local got = srv:finish()
    assert.truthy(got:find("MAIL FROM:<>\r\n", 1, true))
    assert.truthy(got:find("RCPT TO:<Bob@" .. A .. ">\r\n", 1, true))
  end)

  it("CHECKLIST 91: a non-ASCII local part without SMTPUTF8: an error naming it, nothing sent",
     function()
    local srv = scripted.start(script(GREET, {ehlo{"8BITMIME"}}, QUIT))
    local s = assert(session(srv))
    local r, err, kind = s:send{from = "a@x.test", to = {"b@x.test", "j\195\182rg@" .. U},
                                data = "Subject: d\r\n\r\nx\r\n"}
    assert.is_nil(r)
    assert.equal("argument", kind)
    assert.equal("recipient j\195\182rg@" .. U .. ": a non-ASCII local part needs SMTPUTF8, "
                 .. "which the server does not offer", err)
    s:close()
    assert.falsy(srv:finish():find("MAIL", 1, true))
  end)

  for _, caps in ipairs{{"8BITMIME"}, {"8BITMIME", "SMTPUTF8"}} do
    it("CHECKLIST 91: a domain IDNA2008 refuses is an argument error, nothing sent (" ..
       table.concat(caps, " ") .. ")", function()
      local srv = scripted.start(script(GREET, {ehlo(caps)}, QUIT))
      local s = assert(session(srv))
      local bad = "a\226\152\131.example"
      local r, err, kind = s:send{from = "a@x.test", to = {"b@x.test", "bob@" .. bad},
                                  data = "Subject: d\r\n\r\nx\r\n"}
      assert.is_nil(r)
      assert.equal("argument", kind)
      assert.truthy(err:find("recipient domain " .. bad .. " is not a valid international "
                             .. "domain name", 1, true), err)
      r, err, kind = s:send{from = "a@\195\188..de", to = {"b@x.test"}, data = "x"}
      assert.is_nil(r)
      assert.equal("argument", kind)
      assert.matches("from domain", err, 1, true)
      s:close()
      assert.falsy(srv:finish():find("MAIL", 1, true))
    end)
  end

  it("an address too long once its domain is A-labels is refused before MAIL", function()
    -- labels of scripts far apart in Unicode: 34 bytes of UTF-8, 42 of A-label each
    local label = table.concat{"a", "\228\184\173", "b", "\208\182", "c", "\237\149\156",
      "d", "\224\164\149", "e", "\228\184\174", "f", "\206\177", "g", "\224\184\129", "h",
      "\228\184\175", "i", "\208\183", "j"}
    assert.equal(34, #label)
    local to = ("t"):rep(150) .. "@" .. table.concat({label, label, label, label}, ".")
    assert.equal(290, #to)      -- fits as UTF-8 (320 bytes at most), not as A-labels (322)
    local srv = scripted.start(script(GREET, {ehlo{"8BITMIME"}}, QUIT))
    local s = assert(session(srv))
    local r, err, kind = s:send{from = "a@x.test", to = {to}, data = "x"}
    assert.is_nil(r)
    assert.equal("argument", kind)
    assert.matches("too long", err)
    s:close()
    assert.falsy(srv:finish():find("MAIL", 1, true))
  end)
end)
end

describe("international domains through Postfix #integration", function()
  local stack = require "support.stack"
  local smtp = require "missive.smtp"
  local st

  setup(function()
    assert(stack.available())
    st = assert(stack.start())
  end)

  it("Postfix offers SMTPUTF8: the envelope keeps U-labels, the headers carry A-labels",
     function()
    stack.clear("bob")
    local s = assert(smtp.session{host = st.hostname, port = st.submission_port,
                                  user = "alice", password = st.users.alice,
                                  cafile = st.cafile, timeout = 20})
    assert.is_true(s:capabilities().SMTPUTF8)
    local m = assert(email.new{from = "alice@" .. U, to = {"bob@localhost"},
                               cc = {"carol@" .. U}, subject = "idn-postfix", text = "hi"})
    local res = assert(s:send(m))
    -- carol@bücher.example is off this box: accepted, then discarded by the stack
    assert.same({"bob@localhost", "carol@" .. U}, res.accepted)
    s:close()
    local util = require "support.util"
    local deadline, got = util.now() + 20, nil
    repeat
      for _, raw in ipairs(stack.messages("bob")) do
        if raw:find("idn-postfix", 1, true) then got = raw end
      end
      if not got then util.sleep(0.05) end
    until got or util.now() > deadline
    assert.truthy(got, "not delivered")
    assert.truthy(got:find("Return-Path: <alice@" .. U .. ">", 1, true), got)
    assert.truthy(got:find("\nFrom: alice@" .. A .. "\n", 1, true), got)
    assert.truthy(got:find("\nCc: carol@" .. A .. "\n", 1, true), got)
  end)
end)
