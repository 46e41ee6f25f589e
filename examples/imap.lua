-- Read and file mail over IMAP with implicit TLS: list the folders, show the messages
-- of INBOX (IMAP_UNSEEN=1: the unread ones), flag them, and move them into Archive.
--
--   lua5.4 examples/imap.lua            -- against the local test stack (make demo)
--
-- Settings from the environment: IMAP_HOST, IMAP_PORT, IMAP_USER, IMAP_PASSWORD,
-- IMAP_CAFILE, IMAP_UNSEEN.
local imap = require "missive.imap"
local mime = require "missive.mime"

local env = os.getenv
local s, err, kind = imap.session{
  host = env("IMAP_HOST") or "localhost",
  port = tonumber(env("IMAP_PORT") or "993"),
  user = env("IMAP_USER") or "bob",
  password = env("IMAP_PASSWORD") or "secret",
  cafile = env("IMAP_CAFILE"),
  timeout = 30,
}
if not s then
  io.stderr:write("connect failed (", kind, "): ", err, "\n")
  os.exit(1)
end
local function check(ok, e, k)
  if not ok then
    io.stderr:write("failed (", tostring(k), "): ", tostring(e), "\n")
    os.exit(1)
  end
  return ok
end

local names = {}
for _, f in ipairs(check(s:folders())) do
  names[#names + 1] = f.special and (f.name .. " (" .. f.special .. ")") or f.name
end
print(("folders over %s: %s"):format(s:tls_info().version, table.concat(names, ", ")))
local archive = s:special("archive") or "Archive"

local info = check(s:select("INBOX"))
print(("INBOX: %d message(s), uidvalidity %d"):format(info.exists, info.uidvalidity))
-- The loop body runs first; the flag and the move happen only after it returned.
local search = env("IMAP_UNSEEN") == "1" and {unseen = true} or {}
for m in s:messages{search = search, move_to = archive} do
  print(("-- uid %d, %d bytes, flags {%s}"):format(m.uid, m.size, table.concat(m.flags, " ")))
  print("From:    " .. tostring(m.from))
  print("Subject: " .. tostring(m.subject))
  io.write(m.text or "", "\n")
  check(s:store(m.uid, "+", "\\Flagged"))
end
print(("INBOX now holds %d message(s)"):format(#check(s:search{})))

check(s:select(archive, {readonly = true}))
for _, r in ipairs(check(s:fetch(check(s:search{}), {"flags", "envelope"}))) do
  -- ENVELOPE fields are as on the wire: RFC 2047 words still encoded
  local subject = r.envelope and r.envelope.subject
  print(("%s: uid %d {%s} %s"):format(archive, r.uid, table.concat(r.flags, " "),
                                     subject and mime.header_decode(subject) or "?"))
end
assert(s:close())
