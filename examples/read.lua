-- Read a mailbox over POP3 with implicit TLS and print each message.
--
--   lua5.4 examples/read.lua            -- against the local test stack (make demo)
--
-- Settings from the environment: POP3_HOST, POP3_PORT, POP3_USER, POP3_PASSWORD,
-- POP3_CAFILE; POP3_DELETE=1 deletes what was read.  DKIM signatures are checked
-- against DNS, or against DKIM_RECORD (a key record's text) when it is set.
local pop3 = require "missive.pop3"
local email = require "missive.email"

local env = os.getenv
local p, err, kind = pop3.session{
  host = env("POP3_HOST") or "localhost",
  port = tonumber(env("POP3_PORT") or "995"),
  tls = "implicit",
  user = env("POP3_USER") or "bob",
  password = env("POP3_PASSWORD") or "secret",
  cafile = env("POP3_CAFILE"),
  timeout = 30,
}
if not p then
  io.stderr:write("connect failed (", kind, "): ", err, "\n")
  os.exit(1)
end
local count, size = p:stat()
print(("mailbox: %d message(s), %d bytes, login by %s over %s"):format(count, size,
  p:auth_mechanism() or "USER/PASS", p:tls_info().version))
for m in p:messages{delete = env("POP3_DELETE") == "1"} do
  print(("-- message %d (uid %s, %d bytes)"):format(m.number, m.uid, m.size))
  if type(m) == "userdata" then                     -- a parsed missive.email
    print("From:    " .. tostring(m.from))
    print("Subject: " .. tostring(m.subject))       -- decoded to UTF-8
    local record = env("DKIM_RECORD")
    for _, r in ipairs(email.verify_dkim(m, record and {lookup = function() return record end}
                                            or nil)) do
      print(("DKIM:    %s (d=%s s=%s %s)%s"):format(r.result, r.domain, r.selector,
        r.algorithm, r.reason and (": " .. r.reason) or ""))
    end
    io.write(m.text or "", "\n")
    for _, a in ipairs(m.attachments) do
      print(("attachment %s (%s, %d bytes): %q"):format(a.name, a.type, a.size, a.content))
    end
  else
    io.write(m.raw)
  end
end
assert(p:close())
