-- Send one message with STARTTLS and AUTH.
--
--   lua5.4 examples/send.lua            -- against the local test stack (make demo)
--
-- Settings come from the environment so the same script works against any server:
-- SMTP_HOST, SMTP_PORT, SMTP_USER, SMTP_PASSWORD, SMTP_CAFILE, MAIL_FROM, MAIL_TO;
-- DKIM_KEY (a private key's path), DKIM_DOMAIN and DKIM_SELECTOR sign what is sent.
local smtp = require "missive.smtp"

local env = os.getenv
local s, err, kind = smtp.session{
  host = env("SMTP_HOST") or "localhost",
  port = tonumber(env("SMTP_PORT") or "587"),
  tls = "starttls",                       -- required: no silent downgrade
  user = env("SMTP_USER") or "alice",
  password = env("SMTP_PASSWORD") or "secret",
  cafile = env("SMTP_CAFILE"),            -- nil: the system CA bundle
  timeout = 30,
  -- every message sent on the session gets a DKIM-Signature (RFC 6376)
  dkim = env("DKIM_KEY") and {domain = env("DKIM_DOMAIN") or "localhost",
                              selector = env("DKIM_SELECTOR") or "demo", key = env("DKIM_KEY")},
}
if not s then
  io.stderr:write("connect failed (", kind, "): ", err, "\n")
  os.exit(1)
end

local caps = s:capabilities()
print(("connected: %s, AUTH %s, TLS %s"):format(env("SMTP_HOST") or "localhost",
  s:auth_mechanism(), s:tls_info().version))
print("server offers: " .. table.concat((function()
  local names = {}
  for k in pairs(caps) do names[#names + 1] = k end
  table.sort(names)
  return names
end)(), " "))

local from, to = env("MAIL_FROM") or "alice@localhost", env("MAIL_TO") or "bob@localhost"
local email = require "missive.email"
local msg = assert(email.new{
  from = "Alice <" .. from .. ">",
  to = {"Bob <" .. to .. ">"},
  subject = "Rapport trimestriel ✓",                   -- RFC 2047-encoded for you
  text = "Hello from missive.\n.a line that starts with a dot survives\n",
  html = "<p>Hello from <b>missive</b>.</p>",
  attachments = {{data = "region,total\nnorth,42\n", name = "chiffres.csv",
                  type = "text/csv"}},
})
local res, serr, skind = s:send(msg)              -- envelope taken from the message
if not res then
  io.stderr:write("send failed (", skind, "): ", serr, "\n")
  os.exit(1)
end
print(("sent: %d accepted, server said %d %s"):format(#res.accepted, res.reply.code,
                                                       res.reply.text))
s:close()
