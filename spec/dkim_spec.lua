-- DKIM signing (RFC 6376): every message shape missive builds, signed with both
-- canonicalizations, must verify with two independent verifiers: Python's dkim package
-- (spec/support/dkim_verify.py, the key record handed over: no DNS) and OpenDKIM's
-- library (spec/support/opendkim_verify.sh: its DNS answered on a loopback of its own);
-- and still verify after the real Postfix delivered it and POP3 read it back.
local email = require "missive.email"
local util = require "support.util"
local dkim = require "support.dkim"
local python = dkim.python

local VERIFY = "spec/support/dkim_verify.py"
-- OpenDKIM's check needs root and unshare(1) (CI has both); elsewhere it is pending.
local with_opendkim = dkim.opendkim_available() and it or pending
-- Ed25519 (RFC 8463) is there when the module was built with libsodium.
local HAVE_ED25519 = false
for _, a in ipairs(email.dkim_algorithms) do
  HAVE_ED25519 = HAVE_ED25519 or a == "ed25519-sha256"
end

describe("DKIM signing", function()
  local dir, py, key2048, key1024, record, record1024
  -- written by setup (the shapes are listed before it runs)
  local attachment_file = os.tmpname()

  local function keypair(bits) return dkim.keypair(dir, bits) end

  setup(function()
    dir = util.mkdtemp("dkim")
    py = python()
    key2048, record = keypair(2048)
    key1024, record1024 = keypair(1024)
    local t = {}
    for i = 1, 20000 do t[i] = string.char(i % 256) .. "0123456789" end
    util.write_file(attachment_file, table.concat(t))
  end)

  teardown(function()
    util.rmtree(dir)
    os.remove(attachment_file)
  end)

  -- "ok", or "fail: <the verifier's reasons>"; idx: which signature (0: the topmost).
  local function verify(text, rec, idx)
    local path = dir .. "/msg.eml"
    util.write_file(path, text)
    local out = util.capture(("%s %s %s %s %d 2>&1"):format(py, VERIFY, util.shquote(path),
                                                util.shquote(rec or record), idx or 0))
    return out
  end

  local function opts(extra)
    local o = {domain = "example.org", selector = "s2048", key = key2048}
    for k, v in pairs(extra or {}) do o[k] = v end
    return o
  end

  local function shapes() return dkim.shapes(attachment_file) end

  for _, c in ipairs{ "relaxed/relaxed", "simple/simple", "relaxed/simple",
                      "simple/relaxed" } do
    for name, t in pairs(shapes()) do
      with_opendkim(("verifies with OpenDKIM: %s, c=%s"):format(name, c), function()
        local m = assert(email.new(t))
        assert.is_true(m:sign_dkim(opts{canonicalization = c}))
        local zone = {["s2048._domainkey.example.org"] = record}
        assert.equal("ok", dkim.opendkim_verify(m:tostring(), zone))
        -- the check can fail: the same message with one body byte changed
        if name == "plain" then
          assert.matches("^fail", dkim.opendkim_verify(m:tostring():gsub("line 2", "line 3"),
                                                       zone))
        end
      end)
    end
  end

  for _, c in ipairs{ "relaxed/relaxed", "simple/simple", "relaxed/simple",
                      "simple/relaxed" } do
    for name, t in pairs(shapes()) do
      it(("verifies: %s, c=%s"):format(name, c), function()
        local m = assert(email.new(t))
        assert.is_true(m:sign_dkim(opts{canonicalization = c}))
        local text = assert(m:tostring())
        assert.truthy(text:find("^DKIM%-Signature: v=1; a=rsa%-sha256; c=" .. c:gsub("%p", "%%%0")))
        assert.equal("ok", verify(text))
        -- the message as the next serialisation writes it is the one signed
        assert.equal(text, m:tostring())
      end)
    end
  end

  it("signs a parsed message: its folded fields and body bytes as received", function()
    local raw = "From: Ann <ann@example.org>\r\nTo: bob@example.net\r\nSubject: a\r\n"
      .. "  folded\tsubject\r\nX-Odd:   spaced   value  \r\nBcc: hidden@example.net\r\n"
      .. "Date: Tue, 05 Mar 2024 10:00:00 +0000\r\n\r\nbody  \r\nFrom x\r\n\r\n\r\n"
    for _, c in ipairs{ "relaxed/relaxed", "simple/simple" } do
      local m = assert(email.parse(raw))
      assert.is_true(m:sign_dkim(opts{canonicalization = c}))
      local text = m:tostring()
      assert.truthy(text:find("\r\n\r\nbody  \r\nFrom x\r\n\r\n\r\n$"))
      assert.equal("ok", verify(text))
    end
  end)

  it("sets t=, x= with expire, h= with From oversigned, never l=", function()
    local m = assert(email.new(shapes().plain))
    assert.is_true(m:sign_dkim(opts{expire = 3600, time = 1700000000}))
    local v = m:header("DKIM-Signature")
    assert.truthy(v:find("t=1700000000;", 1, true))
    assert.truthy(v:find("x=1700003600;", 1, true))
    assert.falsy(v:find("[; ]l="))
    local h = v:match("h=([^;]+)")
    local n = select(2, h:gsub("from", ""))
    assert.equal(2, n)   -- one From field, listed twice: a second From breaks it
    assert.truthy(h:find("subject:subject", 1, true))
  end)

  it("a second From added after signing fails verification (From is oversigned)", function()
    local m = assert(email.new(shapes().plain))
    assert.is_true(m:sign_dkim(opts()))
    local text = m:tostring():gsub("\r\n\r\n", "\r\nFrom: evil@example.com\r\n\r\n", 1)
    assert.matches("^fail", verify(text))
  end)

  it("signs the headers given, From always", function()
    local m = assert(email.new(shapes().plain))
    assert.is_true(m:sign_dkim(opts{headers = {"Subject", "X-Absent"}}))
    local h = m:header("DKIM-Signature"):match("h=([^;]+)")
    assert.equal("subject:subject:x-absent:from:from", h)
    assert.equal("ok", verify(m:tostring()))
  end)

  it("a tampered body fails verification (the check can fail)", function()
    local m = assert(email.new(shapes().plain))
    assert.is_true(m:sign_dkim(opts()))
    local text = m:tostring():gsub("line 2", "line 3")
    assert.matches("body hash", verify(text))
  end)

  it("spool:add signs a message given dkim = {...}, an email or a string", function()
    local spool = require "missive.spool"
    local q = assert(spool.open(dir .. "/spool"))
    local m = assert(email.new(shapes()["attachment from a file"]))
    local id1 = assert(q:add{message = m, dkim = opts()})
    local id2 = assert(q:add{from = "ann@example.org", to = "bob@example.net", dkim = opts(),
      data = "From: ann@example.org\r\nSubject: raw\r\n\r\nbody  \r\n\r\n"})
    for _, id in ipairs{ id1, id2 } do
      local raw = util.read_file(dir .. "/spool/queued/" .. id)
      local text = raw:match("^.-\n\n(.*)$")
      assert.truthy(text:find("^DKIM%-Signature: "))
      assert.equal("ok", verify(text))
    end
    local ok, err, kind = q:add{from = "a@example.org", to = "b@example.net", dkim = opts(),
                                data = function() return nil end}
    assert.is_nil(ok)
    assert.equal("argument", kind)
    assert.matches("source function", err)
  end)

  it("a list of option tables signs once per table, all or none", function()
    local m = assert(email.new(shapes().plain))
    local ok, err, kind = m:sign_dkim{opts(), opts{selector = "s2", key = "nope\n"}}
    assert.is_nil(ok)
    assert.equal("argument", kind)
    assert.matches("private key", err)
    assert.is_nil(m:header("DKIM-Signature"))   -- the first one was taken away again
    assert.is_true(m:sign_dkim{opts(), opts{selector = "s2"}})
    local text = m:tostring()
    assert.equal(2, select(2, text:gsub("DKIM%-Signature: ", "")))
    assert.truthy(text:find("^DKIM%-Signature: [^\r]*s=s2;"))
    assert.equal("ok", verify(text, record, 0))
    assert.equal("ok", verify(text, record, 1))
    ok, err, kind = m:sign_dkim{opts(), "not a table"}
    assert.is_nil(ok)
    assert.equal("argument", kind)
    assert.matches("list of at most", err)
  end)

  it("a key given as a path", function()
    local m = assert(email.new(shapes().alternative))
    assert.is_true(m:sign_dkim(opts{key = dir .. "/k2048.pem"}))
    assert.equal("ok", verify(m:tostring()))
  end)

  -- Keys are read once per Lua state and kept: a kept key must sign as a fresh one, and a
  -- key file replaced on disk must be read again.
  it("a key used again signs as a fresh one; a key file replaced on disk is read again",
     function()
    local path = dir .. "/rotating.pem"
    util.write_file(path, key2048)
    for _ = 1, 3 do
      local m = assert(email.new(shapes().alternative))
      assert.is_true(m:sign_dkim(opts{key = path}))
      assert.equal("ok", verify(m:tostring()))
    end
    local other_dir = util.mkdtemp("dkimkey")
    local other, other_record = dkim.keypair(other_dir, 2048)
    util.rmtree(other_dir)
    os.remove(path)     -- a new file (inode), as a key rotation writes it
    util.write_file(path, other)
    local m = assert(email.new(shapes().alternative))
    assert.is_true(m:sign_dkim(opts{key = path}))
    assert.equal("ok", verify(m:tostring(), other_record))
    assert.matches("^fail", verify(m:tostring(), record))
  end)

  it("an international d= domain is written as A-labels, the name DNS holds the key under",
     function()
    local m = assert(email.new(shapes().plain))
    assert.is_true(m:sign_dkim(opts{domain = "bücher.example"}))
    local text = m:tostring()
    assert.truthy(text:find("; d=xn--bcher-kva.example;", 1, true))
    assert.equal("ok", verify(text))
    local bad = assert(email.new(shapes().plain))
    local ok, err, kind = bad:sign_dkim(opts{domain = "bü_cher.example"})
    assert.is_nil(ok)
    assert.equal("argument", kind)
    assert.matches("d=", err)
  end)

  it("refuses a 1024-bit key unless allow_weak_key", function()
    local m = assert(email.new(shapes().plain))
    local before = m:tostring():gsub("Content%-Type: multipart[^\r]*", "")
    local ok, err, kind = m:sign_dkim(opts{key = key1024})
    assert.is_nil(ok)
    assert.equal("argument", kind)
    assert.matches("1024%-bit RSA is too weak", err)
    assert.is_nil(m:header("DKIM-Signature"))   -- nothing was added
    assert.equal(before, (m:tostring():gsub("Content%-Type: multipart[^\r]*", "")))
    assert.is_true(m:sign_dkim(opts{key = key1024, allow_weak_key = true}))
    assert.equal("ok", verify(m:tostring(), record1024))
  end)

  it("a bad key, option or algorithm is a clear error, not a signature", function()
    local m = assert(email.new(shapes().plain))
    local function refused(o, pattern)
      local ok, err, kind = m:sign_dkim(o)
      assert.is_nil(ok)
      assert.equal("argument", kind)
      assert.matches(pattern, err)
    end
    refused(opts{key = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"},
            "cannot read the private key")
    refused(opts{key = dir .. "/missing.pem"}, "cannot read the private key")
    refused(opts{domain = "bad domain"}, "domain")
    refused(opts{selector = ""}, "selector")
    refused(opts{canonicalization = "loose/loose"}, "canonicalization")
    refused(opts{algorithm = "rsa-sha1"}, "unknown algorithm")
    if HAVE_ED25519 then   -- an RSA key is not an Ed25519 key
      refused(opts{algorithm = "ed25519-sha256"}, "needs an Ed25519 private key")
    else                   -- a build without libsodium says so
      refused(opts{algorithm = "ed25519-sha256"}, "no Ed25519")
    end
    assert.is_nil(m:header("DKIM-Signature"))
  end)

  -- RFC 8463: ed25519-sha256 through libsodium, when the build has it (Makefile: pkg-config
  -- libsodium); dkimpy verifies it with python3-nacl.
  describe("ed25519-sha256", function()
    local edkey, edrecord
    local ed = HAVE_ED25519 and it or pending

    setup(function()
      if not HAVE_ED25519 then return end
      edkey, edrecord = dkim.ed25519_keypair(dir)
    end)

    local function edopts(extra)
      local o = {domain = "example.org", selector = "ed", key = edkey,
                 algorithm = "ed25519-sha256"}
      for k, v in pairs(extra or {}) do o[k] = v end
      return o
    end

    for _, c in ipairs{ "relaxed/relaxed", "simple/simple" } do
      for name, t in pairs(shapes()) do
        ed(("verifies with dkimpy: %s, c=%s"):format(name, c), function()
          local m = assert(email.new(t))
          assert.is_true(m:sign_dkim(edopts{canonicalization = c}))
          local text = assert(m:tostring())
          assert.truthy(text:find("^DKIM%-Signature: v=1; a=ed25519%-sha256; c="))
          assert.equal("ok", verify(text, edrecord))
        end)
      end
    end

    for name, t in pairs(shapes()) do
      local edo = HAVE_ED25519 and with_opendkim or pending
      edo(("verifies with OpenDKIM: %s, ed25519-sha256"):format(name), function()
        local m = assert(email.new(t))
        assert.is_true(m:sign_dkim(edopts()))
        assert.equal("ok", dkim.opendkim_verify(m:tostring(),
                                                {["ed._domainkey.example.org"] = edrecord}))
      end)
    end

    ed("a key given as a path; a tampered body fails", function()
      local m = assert(email.new(shapes().plain))
      assert.is_true(m:sign_dkim(edopts{key = dir .. "/ed.pem"}))
      assert.equal("ok", verify(m:tostring(), edrecord))
      assert.matches("body hash", verify(m:tostring():gsub("line 2", "line 3"), edrecord))
    end)

    ed("RSA and Ed25519 side by side: sign_dkim twice, both signatures verify", function()
      local m = assert(email.new(shapes()["long and folded headers"]))
      assert.is_true(m:sign_dkim(opts()))
      assert.is_true(m:sign_dkim(edopts()))
      local text = m:tostring()
      assert.equal("ok", verify(text, edrecord, 0))   -- the topmost: the second signed
      assert.equal("ok", verify(text, record, 1))
      -- the second h= did not take in the first signature, nor oversign it
      local h = m:header("DKIM-Signature"):match("h=([^;]+)")
      assert.falsy(h:find("dkim", 1, true))
    end)

    ed("dkim = {rsa, ed25519}: a list signs with each (spool:add)", function()
      local spool = require "missive.spool"
      local q = assert(spool.open(dir .. "/spool2"))
      local id = assert(q:add{message = assert(email.new(shapes().alternative)),
                              dkim = {opts(), edopts()}})
      local raw = util.read_file(dir .. "/spool2/queued/" .. id)
      local text = raw:match("^.-\n\n(.*)$")
      assert.equal(2, select(2, text:gsub("DKIM%-Signature: ", "")))
      assert.equal("ok", verify(text, edrecord, 0))
      assert.equal("ok", verify(text, record, 1))
    end)

    ed("refuses a key that is not Ed25519 PKCS#8", function()
      local m = assert(email.new(shapes().plain))
      local bad = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
      for _, k in ipairs{ key2048, bad, dir .. "/missing.pem" } do
        local ok, err, kind = m:sign_dkim(edopts{key = k})
        assert.is_nil(ok)
        assert.equal("argument", kind)
        assert.matches("private key", err)
      end
      assert.is_nil(m:header("DKIM-Signature"))
    end)
  end)
end)

describe("DKIM signing through Postfix #integration", function()
  local stack = require "support.stack"
  local smtp = require "missive.smtp"
  local pop3 = require "missive.pop3"
  local st, key, record

  setup(function()
    assert(stack.available())
    st = assert(stack.start())
    local d = util.mkdtemp("dkim")
    local out, ok = util.capture(("openssl genrsa -out %s/k.pem 2048 2>&1 && openssl rsa -in "
      .. "%s/k.pem -pubout -outform DER 2>/dev/null | base64 | tr -d '\\n'"):format(d, d))
    assert(ok, out)
    key = util.read_file(d .. "/k.pem")
    record = "v=DKIM1; k=rsa; p=" .. out:match("([%w+/=]+)$")
    util.rmtree(d)
  end)

  local function verify(text, rec, idx)
    local path = os.tmpname()
    util.write_file(path, text)
    local out = util.capture(("%s %s %s %s %d 2>&1"):format(python(), VERIFY,
      util.shquote(path), util.shquote(rec or record), idx or 0))
    os.remove(path)
    return out
  end

  -- bob's message carrying marker, read through POP3 (CRLF, as sent).
  local function fetched(marker)
    assert(stack.wait_messages("bob", 1, 30))
    local deadline = util.now() + 20
    repeat
      local p = assert(pop3.session{host = "localhost", port = st.pop3s_port,
                                    cafile = st.cafile, user = "bob",
                                    password = st.users.bob})
      local n = assert(p:stat())
      for i = n, 1, -1 do
        local text = assert(p:retrieve(i))
        if text:find(marker, 1, true) then p:close(); return text end
      end
      p:close()
      util.sleep(0.1)
    until util.now() > deadline
    error("message " .. marker .. " not delivered")
  end

  it("every message sent by a session with dkim = {...} verifies after delivery", function()
    stack.clear("bob")
    local s = assert(smtp.session{host = st.hostname, port = st.submission_port,
      user = "alice", password = st.users.alice, cafile = st.cafile, timeout = 20,
      dkim = {domain = "localhost", selector = "s1", key = key}})
    local m = assert(email.new{from = "alice@localhost", to = "bob@localhost",
      subject = "dkim-one Grüße", text = "Grüße\nFrom here\n.\n\n\n",
      html = "<p>x</p>", attachments = {{data = string.rep("\0\1\2", 5000), name = "b.bin"}}})
    assert(s:send(m))
    local results = s:send_batch{
      {from = "alice@localhost", to = "bob@localhost",
       data = "Subject: dkim-batch\r\nFrom: alice@localhost\r\n\r\nbody  \r\n\r\n"},
      {from = "alice@localhost", to = "bob@localhost", data = function() return nil end},
    }
    assert.truthy(results[1].reply)
    assert.equal("argument", results[2].kind)   -- a source function cannot be signed
    s:close()
    assert.equal("ok", verify(fetched("dkim-one")))
    assert.equal("ok", verify(fetched("dkim-batch")))
  end)

  with_opendkim("a signed message still verifies with OpenDKIM after delivery", function()
    stack.clear("bob")
    local s = assert(smtp.session{host = st.hostname, port = st.submission_port,
      user = "alice", password = st.users.alice, cafile = st.cafile, timeout = 20,
      dkim = {domain = "localhost", selector = "s1", key = key}})
    assert(s:send(assert(email.new{from = "alice@localhost", to = "bob@localhost",
      subject = "dkim-odkim Grüße", text = "Grüße\nFrom here\n.\n\n\n",
      html = "<p>x</p>", attachments = {{data = string.rep("\0\1\2", 5000), name = "b.bin"}}})))
    s:close()
    assert.equal("ok", dkim.opendkim_verify(fetched("dkim-odkim"),
                                            {["s1._domainkey.localhost"] = record}))
  end)

  local both = HAVE_ED25519 and it or pending
  both("RSA and Ed25519 side by side still verify after delivery (dkimpy, verify_dkim)",
       function()
    stack.clear("bob")
    local d = util.mkdtemp("dkimed")
    local edkey, edrecord = dkim.ed25519_keypair(d)
    util.rmtree(d)
    local s = assert(smtp.session{host = st.hostname, port = st.submission_port,
      user = "alice", password = st.users.alice, cafile = st.cafile, timeout = 20,
      dkim = {{domain = "localhost", selector = "s1", key = key},
              {domain = "localhost", selector = "ed", key = edkey,
               algorithm = "ed25519-sha256"}}})
    assert(s:send(assert(email.new{from = "alice@localhost", to = "bob@localhost",
      subject = "dkim-both", text = "two signatures\n", html = "<p>two</p>"})))
    s:close()
    local text = fetched("dkim-both")
    assert.equal("ok", verify(text, edrecord, 0))
    assert.equal("ok", verify(text, record, 1))
    local r = assert(email.verify_dkim(text, {lookup = function(name)
      return name:match("^ed%.") and edrecord or record end}))
    assert.equal(2, #r)
    assert.equal("pass", r[1].result, r[1].reason)
    assert.equal("pass", r[2].result, r[2].reason)
  end)

  it("smtp.async{dkim = ...} signs what it queues, once", function()
    stack.clear("bob")
    local s = assert(smtp.async{host = st.hostname, port = st.submission_port,
      user = "alice", password = st.users.alice, cafile = st.cafile, timeout = 20,
      dkim = {domain = "localhost", selector = "s1", key = key}})
    local id = assert(s:send(assert(email.new{from = "alice@localhost", to = "bob@localhost",
      subject = "dkim-async", text = "queued\n"})))
    assert.equal("sent", (s:wait(id, 30)))
    s:close()
    local text = fetched("dkim-async")
    assert.equal(1, select(2, text:gsub("\nDKIM%-Signature:", "")) +
                    (text:find("^DKIM%-Signature:") and 1 or 0))
    assert.equal("ok", verify(text))
  end)
end)
