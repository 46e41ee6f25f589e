-- Certificate checks (CHECKLIST 1-5): a scripted server presents each kind of bad
-- certificate; missive must refuse it with a distinct error before sending a byte.
local scripted = require "support.scripted"
local util = require "support.util"
local smtp = require "missive.smtp"
local pop3 = require "missive.pop3"

local certs
local function certs_dir()
  if not certs then
    certs = util.mkdtemp("missive-certs")
    local out, ok = util.capture("sh " .. util.here .. "/make_certs.sh " .. certs .. " 2>&1")
    assert(ok, out)
    util.at_exit("certs", function() util.rmtree(certs) end)
  end
  return certs
end

-- An implicit-TLS server presenting `leaf`; it greets only if the handshake succeeds.
local function tls_server(leaf)
  local d = certs_dir()
  return scripted.start({{tls = true}, {send = "220 tls\r\n"}, {expect = "EHLO"},
                         {send = "250 ok\r\n"}, {expect = "QUIT"}, {send = "221 bye\r\n"}},
                        {cert = d .. "/" .. leaf .. ".crt", key = d .. "/" .. leaf .. ".key",
                         timeout = 5})
end

local function connect(srv, extra)
  local o = {host = "127.0.0.1", server_name = "localhost", port = srv.port,
             tls = "implicit", cafile = certs_dir() .. "/root.crt", timeout = 3}
  for k, v in pairs(extra or {}) do o[k] = v end
  if o.server_name == false then o.server_name = nil end  -- verify the address itself
  return smtp.session(o)
end

-- Asserts a refused handshake: kind cert, the expected words, and no byte of SMTP sent.
local function refused(leaf, extra, words)
  local srv = tls_server(leaf)
  local s, err, kind = connect(srv, extra)
  if s then s:close() end
  local got = srv:finish()
  assert.is_nil(s)
  assert.equal("cert", kind)
  assert.matches(words, err, 1, true)
  assert.equal("", got)
  return err
end

describe("TLS certificate checks (scripted TLS server)", function()
  it("accepts a good chain for the right name (control)", function()
    local srv = tls_server("ok")
    local s = assert(connect(srv))
    assert.is_true(s:close())
    local _, log = srv:finish()
    assert.same({}, scripted.failures(log), scripted.format(log))
  end)

  it("CHECKLIST 1: a certificate for another host -> hostname mismatch, zero bytes sent",
     function()
    refused("ok", {server_name = "mail.example.org"}, "hostname mismatch")
  end)

  for _, name in ipairs {"localhos", "localhoss", "localhostt", "localhost.", "xlocalhost"} do
    it("CHECKLIST 2: the near-miss name '" .. name .. "' is rejected", function()
      refused("ok", {server_name = name}, "hostname mismatch")
    end)
  end

  it("CHECKLIST 2: a wildcard never spans two labels", function()
    refused("wildcard", {server_name = "a.b.test"}, "hostname mismatch")
    local srv = tls_server("wildcard")
    local s = assert(connect(srv, {server_name = "mail.test"}))   -- one label: fine
    s:close()
    srv:finish()
  end)

  it("CHECKLIST 2 3: an empty name is refused before any handshake", function()
    local srv = tls_server("ok")
    local s, err, kind = connect(srv, {server_name = ""})
    assert.is_nil(s)
    assert.equal("cert", kind)
    assert.matches("no server name", err)
    srv:finish()
  end)

  it("CHECKLIST 4: an expired certificate -> 'certificate expired'", function()
    refused("expired", nil, "certificate expired")
  end)

  it("CHECKLIST 4: a not-yet-valid certificate -> 'not yet valid'", function()
    refused("future", nil, "not yet valid")
  end)

  it("CHECKLIST 4: a self-signed certificate -> 'self-signed'", function()
    refused("selfsigned", nil, "self-signed certificate")
  end)

  it("CHECKLIST 4: an unknown CA -> 'unknown or untrusted issuer' naming it", function()
    local err = refused("ok", {cafile = certs_dir() .. "/selfsigned.crt"},
                        "unknown or untrusted issuer")
    assert.matches("missive root", err, 1, true)
  end)

  it("CHECKLIST 4: a missing intermediate -> the issuer named is the intermediate", function()
    local err = refused("nochain", nil, "unknown or untrusted issuer")
    assert.matches("CN=inter", err, 1, true)
  end)

  it("CHECKLIST 4: a certificate for clients only (EKU) -> 'not for server use'", function()
    refused("clientonly", nil, "not for server use")
  end)

  it("CHECKLIST 5: verify = \"name\" skips the CA but still checks the name", function()
    local srv = tls_server("selfsigned")
    local s = assert(connect(srv, {verify = "name"}))
    s:close()
    srv:finish()
    refused("selfsigned", {verify = "name", server_name = "other.example"},
            "hostname mismatch")
  end)

  it("CHECKLIST 30: credentials are not sent over name-only TLS to a remote host", function()
    local srv = tls_server("selfsigned")
    local s, err, kind = connect(srv, {verify = "name", user = "u", password = "p",
                                       insecure_auth = false})
    assert.is_nil(s)
    assert.equal("auth", kind)
    assert.matches("unverified", err)
    srv:finish()
  end)

  it("CHECKLIST 1: POP3 over implicit TLS refuses a wrong name before USER", function()
    local d = certs_dir()
    local srv = scripted.start({{tls = true}, {send = "+OK hi\r\n"}, {hold = 1}},
      {cert = d .. "/ok.crt", key = d .. "/ok.key", timeout = 5})
    local p, err, kind = pop3.session{host = "127.0.0.1", server_name = "pop.example.org",
      port = srv.port, tls = "implicit", user = "u", password = "p",
      cafile = d .. "/root.crt", timeout = 3}
    assert.is_nil(p)
    assert.equal("cert", kind)
    assert.matches("hostname mismatch", err)
    assert.equal("", (srv:finish()))
  end)
end)

-- A peer that OpenSSL (Python's ssl) runs, for what the scripted LuaSec server cannot
-- tell: whether a close_notify arrived, a TLS 1.3-only server, an IPv6 listener.
local function tls_peer(leaf, args)
  local d = certs_dir()
  local cmd = "python3 " .. util.here .. "/tls_peer.py --cert " .. d .. "/" .. leaf
    .. ".crt --key " .. d .. "/" .. leaf .. ".key --timeout 5 " .. (args or "") .. " 2>&1"
  local f = assert(io.popen(cmd, "r"))
  local first = f:read("*l") or ""
  local port = tonumber(first:match("^port (%d+)"))
  assert(port, "tls_peer.py did not start: " .. first)
  return {port = port, finish = function()
    local out = f:read("*a")
    f:close()
    return out
  end}
end

local core = require "missive.core"

describe("TLS to an IP address (CHECKLIST 67)", function()
  local function ip_session(srv, host, extra)
    local o = {host = host or "127.0.0.1", port = srv.port, tls = "implicit",
               cafile = certs_dir() .. "/root.crt", timeout = 3}
    for k, v in pairs(extra or {}) do o[k] = v end
    return smtp.session(o)
  end

  it("CHECKLIST 67: host = \"127.0.0.1\" verifies against an iPAddress subjectAltName",
     function()
    local srv = tls_server("ipsan")
    local s, err = ip_session(srv)
    assert.is_nil(err)
    assert.is_true(s:close())
    srv:finish()
  end)

  it("CHECKLIST 67: the same through a LuaSocket object (external driver)", function()
    local srv = tls_server("ipsan")
    local s, err = ip_session(srv, nil, {socket = require("socket").tcp})
    assert.is_nil(err)
    assert.is_true(s:close())
    srv:finish()
  end)

  it("CHECKLIST 67: another address is a hostname mismatch", function()
    local srv = tls_server("ipsan")
    local s, err, kind = ip_session(srv, nil, {server_name = "127.0.0.2"})
    assert.is_nil(s)
    assert.equal("cert", kind)
    assert.matches("hostname mismatch", err)
    assert.equal("", (srv:finish()))
  end)

  it("CHECKLIST 67: a DNS name that spells the address never matches it", function()
    refused("dnsip", {server_name = false}, "hostname mismatch")
  end)

  it("CHECKLIST 67: a CN that spells the address never matches it", function()
    refused("cnip", {server_name = false}, "hostname mismatch")
  end)

  it("CHECKLIST 67: verify = \"name\" checks the address too", function()
    refused("dnsip", {server_name = false, verify = "name"}, "hostname mismatch")
    local srv = tls_server("ipsan")
    local s = assert(ip_session(srv, nil, {verify = "name"}))
    s:close()
    srv:finish()
  end)

  it("CHECKLIST 67: an IP literal is no DNS name: the address SAN does not match 'localhost'",
     function()
    refused("ipsan", nil, "hostname mismatch")
  end)

  it("CHECKLIST 67: IPv6 ::1 verifies against IP:::1 and not against DNS:::1", function()
    local peer = tls_peer("ipsan", "--bind ::1")
    local s, err = ip_session(peer, "::1")
    assert.is_nil(err)
    assert.is_true(s:close())
    assert.matches("handshake TLSv1", peer.finish())
    peer = tls_peer("dnsip", "--bind ::1")
    local s2, err2, kind2 = ip_session(peer, "::1")
    assert.is_nil(s2)
    assert.equal("cert", kind2)
    assert.matches("hostname mismatch", err2)
    peer.finish()
  end)
end)

describe("TLS to an IP address against Postfix #integration", function()
  local stack = require "support.stack"
  local st
  setup(function()
    assert(stack.available())
    st = assert(stack.start())
    assert(st.smtps_ip_port, "the stack has no IP-address listener")
  end)

  it("CHECKLIST 67: host = \"127.0.0.1\" verifies Postfix's IP:127.0.0.1 certificate",
     function()
    local s = assert(smtp.session{host = "127.0.0.1", port = st.smtps_ip_port,
                                  tls = "implicit", cafile = st.cafile, timeout = 10})
    assert.truthy(s:tls_info().version)
    assert.is_true(s:close())
  end)

  it("CHECKLIST 67: Postfix's DNS:127.0.0.1 certificate does not verify 127.0.0.1",
     function()
    local s, err, kind = smtp.session{host = "127.0.0.1", port = st.smtps_dnsip_port,
                                      tls = "implicit", cafile = st.cafile, timeout = 10}
    assert.is_nil(s)
    assert.equal("cert", kind)
    assert.matches("hostname mismatch", err)
  end)
end)

-- TLS 1.3 when the build has it: "TLSv1.3" with mbedTLS 3.6, "TLSv1.2" with 2.28.
local BEST = core._tls_best == "1.3" and "TLSv1.3" or "TLSv1.2"

describe("TLS close_notify (CHECKLIST 68)", function()
  local function session(peer, extra)
    local o = {host = "127.0.0.1", server_name = "localhost", port = peer.port,
               tls = "implicit", cafile = certs_dir() .. "/root.crt", timeout = 3}
    for k, v in pairs(extra or {}) do o[k] = v end
    return smtp.session(o)
  end

  it("CHECKLIST 68: close() sends QUIT and then a close_notify (native driver)", function()
    local peer = tls_peer("ok")
    local s = assert(session(peer))
    assert.is_true(s:close())
    local out = peer.finish()
    assert.matches("close_notify", out)
  end)

  it("CHECKLIST 68: close() sends a close_notify through a LuaSocket object", function()
    local peer = tls_peer("ok")
    local s = assert(session(peer, {socket = require("socket").tcp}))
    assert.is_true(s:close())
    assert.matches("close_notify", peer.finish())
  end)

  for _, socket in ipairs {false, true} do
    it("CHECKLIST 68: POP3 close() sends QUIT and then a close_notify"
       .. (socket and " (LuaSocket object)" or ""), function()
      local peer = tls_peer("ok", "--pop3")
      local p = assert(pop3.session{host = "127.0.0.1", server_name = "localhost",
        port = peer.port, user = "u", password = "p", auth = "user", insecure_auth = true,
        cafile = certs_dir() .. "/root.crt", timeout = 3,
        socket = socket and require("socket").tcp or nil})
      assert.is_true(p:close())
      assert.matches("close_notify", peer.finish())
    end)
  end
end)

describe("TLS versions and alerts", function()
  local function session(peer, extra)
    local o = {host = "127.0.0.1", server_name = "localhost", port = peer.port,
               tls = "implicit", cafile = certs_dir() .. "/root.crt", timeout = 3}
    for k, v in pairs(extra or {}) do o[k] = v end
    return smtp.session(o)
  end

  it("exposes the TLS library's version and best protocol", function()
    assert.matches("^%d+%.%d+%.%d+$", core._mbedtls_version)
    assert.truthy(core._tls_best == "1.2" or core._tls_best == "1.3")
  end)

  it("negotiates " .. BEST .. " with a server that offers TLS 1.2 and 1.3", function()
    local peer = tls_peer("ok")
    local s = assert(session(peer))
    assert.equal(BEST, s:tls_info().version)
    s:close()
    assert.matches("handshake " .. BEST, peer.finish(), 1, true)
  end)

  it("tls_max = \"1.2\" holds a TLS 1.3 server to TLS 1.2", function()
    local peer = tls_peer("ok")
    local s = assert(session(peer, {tls_max = "1.2"}))
    assert.equal("TLSv1.2", s:tls_info().version)
    s:close()
    peer.finish()
  end)

  it("names the alert of a server that accepts TLS 1.3 only, and traces it", function()
    local peer = tls_peer("ok", "--min 1.3")
    local lines = {}
    local s, err, kind = session(peer, {tls_max = "1.2",
      trace = function(dir, line) lines[#lines + 1] = dir .. " " .. line end})
    assert.is_nil(s)
    assert.equal("tls", kind)
    assert.matches('server sent alert protocol_version (70)', err, 1, true)
    if core._tls_best == "1.3" then
      assert.matches('tls_max is "1.2"', err, 1, true)
    else
      assert.matches("this build supports TLS 1.2 at most", err, 1, true)
    end
    assert.matches("info TLS handshake failed: server sent alert protocol_version (70)",
                   table.concat(lines, "\n"), 1, true)
    peer.finish()
  end)

  it("a TLS 1.3-only server: " .. (core._tls_best == "1.3" and "TLSv1.3"
     or "'this build supports TLS 1.2 at most'"), function()
    local peer = tls_peer("ok", "--min 1.3")
    local s, err, kind = session(peer)
    if core._tls_best == "1.3" then
      assert.is_nil(err)
      assert.equal("TLSv1.3", s:tls_info().version)
      s:close()
    else
      assert.is_nil(s)
      assert.equal("tls", kind)
      assert.equal("TLS handshake failed: server sent alert protocol_version (70): "
                   .. "this build supports TLS 1.2 at most", err)
    end
    peer.finish()
  end)

  it("tls_min = \"1.3\": TLS 1.3 or, without it in the build, a clear error", function()
    local peer = tls_peer("ok")
    local s, err, kind = session(peer, {tls_min = "1.3"})
    if core._tls_best == "1.3" then
      assert.is_nil(err)
      assert.equal("TLSv1.3", s:tls_info().version)
      s:close()
    else
      assert.is_nil(s)
      assert.equal("tls", kind)
      assert.matches('tls_min = "1.3", but this build (mbedTLS ', err, 1, true)
      assert.matches("supports TLS 1.2 at most", err, 1, true)
    end
    peer.finish()
  end)

  it("tls_min = \"1.3\" without TLS 1.3 in the build fails before connecting", function()
    if core._tls_best == "1.3" then return end
    -- nothing listens on port 1: a check after connecting would say "io"
    local s, err, kind = smtp.session{host = "127.0.0.1", port = 1, tls = "implicit",
                                      tls_min = "1.3"}
    assert.is_nil(s)
    assert.equal("tls", kind)
    assert.matches("supports TLS 1.2 at most", err, 1, true)
    local p
    p, err, kind = pop3.session{host = "127.0.0.1", port = 1, tls_min = "1.3"}
    assert.is_nil(p)
    assert.equal("tls", kind)
    assert.matches("supports TLS 1.2 at most", err, 1, true)
  end)

  it("tls_min/tls_max: a wrong value or order is a programming error", function()
    assert.has_error(function() smtp.session{host = "x", tls_min = "1.1"} end,
                     'option \'tls_min\' must be "1.2" or "1.3"')
    assert.has_error(function() pop3.session{host = "x", tls_max = 1.3} end,
                     "option 'tls_max' must be a string")
    assert.has_error(function() smtp.session{host = "x", tls_min = "1.3", tls_max = "1.2"} end,
                     "option 'tls_min' is above 'tls_max'")
  end)
end)

describe("TLS versions against Postfix and Dovecot #integration", function()
  local stack = require "support.stack"
  local st
  setup(function()
    assert(stack.available())
    st = assert(stack.start())
  end)

  it("SMTP and POP3 negotiate " .. BEST .. "; tls_max = \"1.2\" applies to both", function()
    local s = assert(smtp.session{host = "127.0.0.1", server_name = "localhost",
                                  port = st.smtps_port, tls = "implicit", cafile = st.cafile,
                                  timeout = 10})
    assert.equal(BEST, s:tls_info().version)
    s:close()
    local p = assert(pop3.session{host = "127.0.0.1", port = st.pop3s_port, user = "alice",
      password = st.users.alice, server_name = "localhost", cafile = st.cafile, timeout = 10})
    assert.equal(BEST, p:tls_info().version)
    p:close()
    s = assert(smtp.session{host = "127.0.0.1", server_name = "localhost", tls_max = "1.2",
                            port = st.submission_port, cafile = st.cafile, timeout = 10})
    assert.equal("TLSv1.2", s:tls_info().version)
    s:close()
    p = assert(pop3.session{host = "127.0.0.1", port = st.pop3_port, tls = "starttls",
      user = "alice", password = st.users.alice, server_name = "localhost", tls_max = "1.2",
      cafile = st.cafile, timeout = 10})
    assert.equal("TLSv1.2", p:tls_info().version)
    p:close()
  end)
end)
