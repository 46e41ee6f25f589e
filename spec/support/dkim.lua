-- DKIM spec helpers: the message shapes every signer and verifier spec goes through,
-- RSA and Ed25519 key pairs with their key records, the Python that has dkimpy.
local util = require "support.util"

local M = {}

-- The Python that has the dkim package (Debian's python3-dkim): python3 on PATH may be
-- another installation.
function M.python()
  for _, p in ipairs{ "python3", "/usr/bin/python3" } do
    if util.execute(p .. " -c 'import dkim' 2>/dev/null") then return p end
  end
  error("no python3 with the dkim package (Debian python3-dkim, tools/deps.sh test)")
end

-- An RSA key of `bits` written to dir: its PEM text, its key record, its path.
function M.keypair(dir, bits)
  local k = dir .. "/k" .. bits .. ".pem"
  local out, ok = util.capture(("openssl genrsa -out %s %d 2>&1 && openssl rsa -in %s "
    .. "-pubout -outform DER 2>/dev/null | base64 | tr -d '\\n'"):format(k, bits, k))
  assert(ok, out)
  return util.read_file(k), "v=DKIM1; k=rsa; p=" .. out:match("([%w+/=]+)$"), k
end

-- An Ed25519 key (PKCS#8 PEM) written to dir: its PEM text, its key record (RFC 8463 §4:
-- the raw public key), its path.
function M.ed25519_keypair(dir)
  local k = dir .. "/ed.pem"
  local out, ok = util.capture(("openssl genpkey -algorithm ed25519 -out %s 2>&1 && "
    .. "openssl pkey -in %s -pubout -outform DER | tail -c 32 | base64"):format(k, k))
  assert(ok, out)
  return util.read_file(k), "v=DKIM1; k=ed25519; p=" .. out:match("([%w+/=]+)%s*$"), k
end

-- Starts spec/support/dns_server.py on 127.0.0.1 with the zone given ("name TXT" lines):
-- its port (UDP and TCP), and a function that stops it.
function M.dns_server(dir, zone)
  util.write_file(dir .. "/zone", table.concat(zone, "\n") .. "\n")
  local h = assert(io.popen(("exec python3 spec/support/dns_server.py %s & echo $!; wait")
    :format(util.shquote(dir .. "/zone"))))
  local pid = h:read("*l")
  local port = tonumber(h:read("*l"))
  local function stop()
    if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
    pid = nil
    if h then h:close() end
    h = nil
  end
  if not port then stop() error("the scripted DNS server did not start") end
  return port, stop
end

-- Every message shape the email spec builds (an attachment read from attachment_file).
function M.shapes(attachment_file)
  local base = {from = "Ann <ann@example.org>", to = "bob@example.net", subject = "Hi"}
  local function with(t)
    local m = {}
    for k, v in pairs(base) do m[k] = v end
    for k, v in pairs(t) do m[k] = v end
    return m
  end
  return {
    plain = with{text = "line 1\nline 2\n"},
    alternative = with{text = "plain", html = "<b>rich</b>"},
    related = with{html = '<img src="cid:logo@x">',
                   attachments = {{data = "\0\1\2PNG", name = "l.png", cid = "logo@x"}}},
    ["mixed, alternative and related nested"] = with{text = "t",
      html = '<img src="cid:c1">', attachments = {{data = "img", name = "i.gif", cid = "c1"},
                                                  {data = "pdf", name = "r.pdf"}}},
    ["attachment from a file"] = with{text = "see attached",
      attachments = {{path = attachment_file, name = "data.bin"}}},
    ["8-bit UTF-8 body and headers"] = with{from = "Jürgen Groß <jg@example.org>",
      subject = "Grüße aus Köln — ✓", text = "Grüße\nÄÖÜ äöü ß\n", allow_8bit = true},
    ["UTF-8 body as quoted-printable"] = with{text = "Grüße  \t\nzweite Zeile\n"},
    ["long and folded headers"] = with{subject = string.rep("word ", 80),
      to = {"a@example.net", "B <b@example.net>", "\"Doe, J.\" <j@example.net>",
            "c@example.net", "d@example.net", "e@example.net"},
      headers = {{"X-Long", string.rep("x", 200) .. " " .. string.rep("y", 200)},
                 {"X-Tabs", "a \t  b\t\tc   "}}, text = "x\n"},
    ["trailing blank lines and whitespace"] = with{text = "a  \n\n  b \t\n\n\n\n"},
    ["lines starting with From and a dot"] = with{text = "From me\n.\n..\n. x\nFrom\n"},
    ["empty body"] = with{text = ""},
  }
end

-- OpenDKIM (opendkim-testmsg, Debian opendkim-tools), a second verifier independent of
-- missive's and of dkimpy's, in namespaces of its own with a DNS server on its loopback
-- (spec/support/opendkim_verify.sh).  Whether it can run here (root, unshare):
local opendkim_ok
function M.opendkim_available()
  if opendkim_ok == nil then
    opendkim_ok = select(2, util.capture("sh spec/support/opendkim_verify.sh --probe")) == true
  end
  return opendkim_ok
end

-- "ok", or "fail: <OpenDKIM's words>": text verified against the key records in zone
-- ({["selector._domainkey.domain"] = record, ...}).
function M.opendkim_verify(text, zone)
  local d = util.mkdtemp("odkim")
  local lines = {}
  for name, rec in pairs(zone) do lines[#lines + 1] = name .. " " .. rec end
  util.write_file(d .. "/zone", table.concat(lines, "\n") .. "\n")
  util.write_file(d .. "/msg.eml", text)
  local out = util.capture(("sh spec/support/opendkim_verify.sh %s %s 2>&1"):format(
    util.shquote(d .. "/msg.eml"), util.shquote(d .. "/zone")))
  util.rmtree(d)
  return (out:gsub("%s+$", ""))
end

return M
