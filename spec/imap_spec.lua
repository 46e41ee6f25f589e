-- imap.session against a real Dovecot (and Postfix for the round trip) started by the
-- run, under both drivers: the native C one and LuaSocket objects moving the bytes
-- through lua/missive/driver.lua (the path cosockets take).
local stack = require "support.stack"
local util = require "support.util"

local available, why = stack.available()

describe("imap against Dovecot #integration", function()
  if not available then
    pending("mail stack unavailable: " .. tostring(why))
    return
  end
  local imap = require "missive.imap"
  local st, seq = nil, 0

  -- Writes a message straight into a Maildir folder (LF line ends, as delivery does).
  local function deliver(user, text, folder)
    seq = seq + 1
    local dir = st.maildir(user)
    if folder then dir = dir .. "/." .. folder end
    local name = string.format("%d.M%dP%d.imapspec", os.time(), seq, util.getpid())
    local tmp = dir .. "/tmp/" .. name
    util.write_file(tmp, text)
    assert(util.execute("chown 5000:5000 " .. util.shquote(tmp) .. " && chmod 600 "
      .. util.shquote(tmp) .. " && mv " .. util.shquote(tmp) .. " "
      .. util.shquote(dir .. "/new/" .. name)))
  end

  before_each(function()
    st = stack.start()
    stack.clear("alice")
  end)

  for _, driver_name in ipairs { "native", "luasocket" } do
    local function open(extra)
      local o = { host = "localhost", port = st.imaps_port, cafile = st.cafile,
                  user = "alice", password = "secret", timeout = 10 }
      if driver_name == "luasocket" then o.socket = require("socket").tcp end
      for k, v in pairs(extra or {}) do o[k] = v end
      return imap.session(o)
    end

    describe("(" .. driver_name .. " driver)", function()
      it("implicit TLS, AUTHENTICATE (the strongest offered), ENABLE, select, search, fetch",
         function()
        deliver("alice", "Subject: one\nFrom: Ann <ann@example.org>\n\nfirst body\n")
        deliver("alice", "Subject: two\n\nsecond\n")
        local lines = {}
        local s = assert(open { trace = function(d, l) lines[#lines + 1] = d .. " " .. l end })
        assert.equal("CRAM-MD5", s:auth_mechanism())
        assert.is_table(s:tls_info())
        assert.is_true(s:capabilities().IDLE)
        assert.is_true(s:enabled().CONDSTORE)
        local trace = table.concat(lines, "\n")
        assert.matches("AUTHENTICATE CRAM%-MD5", trace)
        assert.is_nil(trace:find("secret", 1, true))
        local info = assert(s:select("INBOX"))
        assert.equal(2, info.exists)
        assert.is_number(info.uidvalidity)
        assert.is_number(info.uidnext)
        assert.is_number(info.highestmodseq)
        assert.is_false(info.readonly)
        assert.is_table(info.flags)
        local uids = assert(s:search{})
        assert.equal(2, #uids)
        assert.same({ uids[1] }, assert(s:search{ subject = "one" }))
        assert.same({ uids[2] }, assert(s:search{ ["not"] = { subject = "one" } }))
        assert.same(uids, assert(s:search{ ["or"] = { { subject = "one" }, { body = "second" } } }))
        local got = assert(s:fetch(uids, { "flags", "envelope", "size", "internal_date",
                                           "bodystructure", "headers", "body" }))
        assert.equal(2, #got)
        assert.equal(uids[1], got[1].uid)
        assert.equal("one", got[1].envelope.subject)
        assert.equal("ann@example.org", got[1].envelope.from[1].address)
        assert.equal("text", got[1].bodystructure.type:lower())
        assert.equal("Subject: one\r\nFrom: Ann <ann@example.org>\r\n\r\nfirst body\r\n",
                     got[1].body)
        assert.equal(#got[1].body, got[1].size)
        assert.is_string(got[1].internal_date)
        assert.is_true(s:close())
        assert.is_true(s:close())
      end)

      it("STARTTLS on port 143 with LOGIN; a wrong password is kind auth", function()
        local s = assert(open { port = st.imap_port, tls = "starttls", auth = "login" })
        assert.equal("LOGIN", s:auth_mechanism())
        assert.is_table(s:tls_info())
        assert.is_true(s:close())
        local s2, err, kind, reply = open { port = st.imap_port, tls = "starttls",
                                                  auth = "PLAIN", password = "wrong" }
        assert.is_nil(s2)
        assert.equal("auth", kind, err)
        assert.equal("NO", reply.status)
      end)

      it("errors carry {status, code, text}; the session goes on", function()
        deliver("alice", "Subject: x\n\nx\n")
        local s = assert(open())
        local ok, err, kind, reply = s:select("Nope")
        assert.is_nil(ok)
        assert.equal("reply", kind)
        assert.matches("SELECT failed", err)
        assert.equal("NO", reply.status)
        assert.matches("doesn't exist", reply.text)
        assert.is_table(s:select("INBOX"))
        local _, _, k2, r2 = s:copy(assert(s:search{}), "Missing")
        assert.equal("reply", k2)
        assert.equal("TRYCREATE", r2.code)
        s:close()
      end)
    end)
  end
end)
