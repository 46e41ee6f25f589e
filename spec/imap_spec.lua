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
      it("CHECKLIST 85: implicit TLS, AUTHENTICATE (the strongest), ENABLE, select, fetch",
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
        assert.equal("Dovecot", assert(s:id{ name = "missive spec", version = "1" }).name)
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

      it("messages{} yields email objects in batches; the body may call other methods; " ..
         "mark_seen acts after the body returned", function()
        for i = 1, 5 do
          deliver("alice", ("Subject: m%d\nFrom: a@example.org\n\nbody %d\n"):format(i, i))
        end
        local s = assert(open())
        local seen = {}
        for m in s:messages{ folder = "INBOX", mark_seen = true } do
          assert.is_number(m.uid)
          assert.is_number(m.size)
          assert.is_string(m.internal_date)
          assert.equal("INBOX", m.folder)
          assert.is_table(m.flags)
          seen[#seen + 1] = m.subject
          -- another command inside the loop body
          assert.is_table(s:fetch(m.uid, { "flags" }))
          -- not yet marked: the action comes only after the body returned
          for _, u in ipairs(assert(s:search{ seen = true })) do assert.not_equal(m.uid, u) end
        end
        assert.same({ "m1", "m2", "m3", "m4", "m5" }, seen)
        assert.equal(5, #assert(s:search{ seen = true }))
        -- a break leaves the message in hand as it was
        local n = 0
        for m in s:messages{ headers_only = true, search = { seen = true }, delete = true } do
          n = n + 1
          assert.equal("", m.text or "")
          if n == 2 then break end
        end
        assert.equal(4, #assert(s:search{}))
        s:close()
      end)

      it("store, copy, move (UID MOVE), append with APPENDUID, expunge of exact UIDs",
         function()
        deliver("alice", "Subject: keep\n\nk\n")
        deliver("alice", "Subject: go\n\ng\n")
        local s = assert(open())
        assert(s:select("INBOX"))
        local keep = assert(s:search{ subject = "keep" })[1]
        local go = assert(s:search{ subject = "go" })[1]
        assert.is_true(s:store(go, "+", { "\\Flagged", "$Spec" }))
        local function flags(uid)
          local out = {}
          for _, x in ipairs(assert(s:fetch(uid, { "flags" }))[1].flags) do
            if x ~= "\\Recent" then out[#out + 1] = x end
          end
          table.sort(out)
          return out
        end
        assert.same({ "$Spec", "\\Flagged" }, flags(go))
        assert.is_true(s:store(go, "-", "$Spec"))
        assert.same({ "\\Flagged" }, flags(go))
        local map = assert(s:copy(go, "Archive"))
        assert.is_number(map[go])
        assert.is_number(map.uidvalidity)
        map = assert(s:move({ go }, "Archive"))
        assert.is_number(map[go])
        assert.same({ keep }, assert(s:search{}))
        -- a file is streamed as the literal
        local path = os.tmpname()
        local fh = assert(io.open(path, "wb"))
        fh:write("Subject: file\r\n\r\n" .. ("0123456789\r\n"):rep(100000))
        fh:close()
        fh = assert(io.open(path, "rb"))
        local fapp = assert(s:append("Sent", fh))
        fh:close()
        os.remove(path)
        assert(s:select("Sent"))
        assert.equal(17 + 1200000, assert(s:fetch(fapp.uid, "size"))[1].size)
        local app = assert(s:append("Sent", "Subject: copy\n\nsent copy\n",
                                    { flags = { "\\Seen" }, date = 1700000000 }))
        assert.is_number(app.uid)
        assert(s:select("Sent"))
        local got = assert(s:fetch(app.uid, { "body", "flags", "internal_date" }))[1]
        assert.equal("Subject: copy\r\n\r\nsent copy\r\n", got.body)
        assert.equal("\\Seen", got.flags[1])
        assert.matches("14%-Nov%-2023", got.internal_date)
        -- expunge removes exactly the UIDs given, not another \Deleted message
        assert(s:select("INBOX"))
        deliver("alice", "Subject: other\n\no\n")
        assert(s:noop())
        local other = assert(s:search{ subject = "other" })[1]
        assert.is_true(s:store({ keep, other }, "+", "\\Deleted"))
        assert.is_true(s:expunge({ keep }))
        assert.same({ other }, assert(s:search{}))
        local evs = s:take_events()
        assert.is_table(evs)
        s:close()
      end)

      it("folders with special use, special(), status, create/rename/subscribe/delete " ..
         "with a non-ASCII name", function()
        local s = assert(open())
        local list = assert(s:folders())
        local by = {}
        for _, f in ipairs(list) do by[f.name] = f end
        assert.equal("sent", by.Sent.special)
        assert.equal("archive", by.Archive.special)
        assert.equal("/", by.INBOX.delimiter)
        assert.equal("Sent", s:special("sent"))
        assert.equal("Trash", s:special("trash"))
        local name = "Réunions " .. driver_name
        s:delete_folder(name .. " 2")
        assert.is_true(s:create(name))
        assert.is_true(s:subscribe(name))
        local found
        for _, f in ipairs(assert(s:folders("R*"))) do if f.name == name then found = f end end
        assert.is_table(found)
        assert.matches("&", found.raw)
        local stt = assert(s:status(name))
        assert.equal(0, stt.messages)
        assert.is_number(stt.uidnext)
        assert.is_true(s:rename(name, name .. " 2"))
        assert.is_true(s:delete(name .. " 2"))
        local _, _, kind = s:status(name)
        assert.equal("reply", kind)
        _, _, kind = s:status(name .. " 2")
        assert.equal("reply", kind)
        s:close()
      end)

      it("CHECKLIST 85: search quotes every string; non-ASCII goes as CHARSET UTF-8", function()
        deliver("alice", 'Subject: =?UTF-8?Q?caf=C3=A9?= "quoted" \\ back\n\nx\n')
        local lines = {}
        local s = assert(open { trace = function(_, l) lines[#lines + 1] = l end })
        assert(s:select("INBOX"))
        assert.equal(1, #assert(s:search{ subject = "café" }))
        assert.equal(1, #assert(s:search{ subject = '"quoted" \\' }))
        assert.equal(0, #assert(s:search{ subject = "x\r\nA9 LOGOUT" }))
        assert.equal(1, #assert(s:search{ since = "2000-01-01", larger = 1 }))
        assert.equal(0, #assert(s:search{ before = os.time() - 86400 * 365 * 30 }))
        local t = table.concat(lines, "\n")
        assert.matches("CHARSET UTF%-8", t)
        assert.is_nil(t:find("A9 LOGOUT", 1, true) and t:find("\nA9 LOGOUT", 1, true))
        s:close()
      end)

      it("fetch_part streams a part to a sink; idle returns the events that arrived",
         function()
        local big = ("0123456789abcdef"):rep(64 * 1024) -- 1 MiB
        deliver("alice", "Subject: big\nMIME-Version: 1.0\n" ..
          "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n" ..
          "hello\n--b\nContent-Type: application/octet-stream\n\n" .. big .. "\n--b--\n")
        local s = assert(open())
        assert(s:select("INBOX"))
        local uid = assert(s:search{})[1]
        local chunks, total = 0, 0
        assert.is_true(s:fetch_part(uid, "2", function(c)
          chunks, total = chunks + 1, total + #c
          return true
        end))
        assert.equal(#big, total)
        assert.equal("hello", (assert(s:fetch_part(uid, "1"))))
        -- IDLE: a delivery shows up as an "exists" event
        local t0 = os.time()
        local evs = assert(s:idle{ timeout = 1 })
        assert.same({}, evs)
        assert.is_true(os.time() - t0 <= 3)
        deliver("alice", "Subject: new\n\nn\n")
        evs = assert(s:idle{ timeout = 10 })
        local exists
        for _, e in ipairs(evs) do if e.kind == "exists" then exists = e end end
        assert.is_table(exists)
        assert.equal(2, exists.count)
        assert.equal("INBOX", exists.folder)
        -- and the session works after IDLE
        assert.equal(2, #assert(s:search{}))
        deliver("alice", "Subject: newer\n\nn\n")
        for ev in s:events{ timeout = 10 } do
          if ev.kind == "exists" then
            assert.equal(3, ev.count)
            break
          end
        end
        s:close()
      end)

      it("idle and events end early when the caller's stop() says so", function()
        local s = assert(open())
        assert(s:select("INBOX"))
        local t0, asked = util.now(), 0
        local evs = assert(s:idle{ timeout = 60, stop = function()
          asked = asked + 1
          return util.now() - t0 > 1.5
        end })
        assert.same({}, evs)
        assert.is_true(asked >= 1)
        assert.is_true(util.now() - t0 < 10, "idle ignored stop()")
        t0 = util.now()
        for _ in s:events{ stop = function() return util.now() - t0 > 1 end } do
          -- events another test's delivery may cause do not matter here
        end
        assert.is_true(util.now() - t0 < 10, "events ignored stop()")
        -- the session left IDLE cleanly and still answers
        assert.is_table(assert(s:search{}))
        s:close()
      end)

      it("round trip: send through Postfix, find by search, fetch, flag, move to Archive, " ..
         "append a copy to Sent, expunge", function()
        local smtp = require "missive.smtp"
        local email = require "missive.email"
        local subject = ("round trip %s %d %d"):format(driver_name, os.time(), math.random(1e6))
        local msg = email.new{ from = "bob@localhost", to = { "alice@localhost" },
                               subject = subject, text = "over IMAP\n" }
        local res = assert(smtp.send { host = "localhost", port = st.smtp_port,
          cafile = st.cafile, from = "bob@localhost", to = "alice@localhost",
          data = assert(msg:tostring()) })
        assert.equal(1, #res.accepted)
        assert(stack.wait_messages("alice", 1, 20))
        local s = assert(open())
        assert(s:select("INBOX"))
        local uids = assert(s:search{ subject = subject, unseen = true })
        assert.equal(1, #uids)
        local got = assert(s:fetch(uids, { "envelope", "body" }))[1]
        assert.equal(subject, got.envelope.subject)
        local m = assert(email.parse(got.body))
        assert.equal(subject, m.subject)
        assert.is_true(s:store(uids, "+", "\\Flagged"))
        assert.equal(1, #assert(s:search{ flagged = true, subject = subject }))
        local map = assert(s:move(uids, "Archive"))
        assert.is_number(map[uids[1]])
        local app = assert(s:append("Sent", m, { flags = { "\\Seen" } }))
        assert(s:select("Archive"))
        local archived = assert(s:search{ subject = subject })
        assert.same({ map[uids[1]] }, archived)
        assert.is_true(s:store(archived, "+", "\\Deleted"))
        assert.is_true(s:expunge(archived))
        assert.same({}, assert(s:search{ subject = subject }))
        assert(s:select("Sent"))
        assert.same({ app.uid }, assert(s:search{ subject = subject }))
        assert.is_true(s:close())
      end)

      it("WinDev shapes: get_all{unseen}, read_first/read_next, missive.session{imap}",
         function()
        deliver("alice", "Subject: a\n\na\n")
        deliver("alice", "Subject: b\n\nb\n")
        local s = assert(open())
        assert(s:select("INBOX"))
        assert.is_true(s:store(assert(s:search{ subject = "a" }), "+", "\\Seen"))
        local unseen = assert(s:get_all{ unseen = true })
        assert.equal(1, #unseen)
        assert.equal("b", unseen[1].subject)
        assert.equal(2, #assert(s:get_all()))
        local m = assert(s:read_first())
        assert.is_false(m.out)
        assert.is_false(assert(s:read_next()).out)
        assert.is_true(assert(s:read_next()).out)
        assert.is_true(s:out())
        s:close()
        local missive = require "missive"
        local o = { host = "localhost", user = "alice", password = "secret",
                    cafile = st.cafile, smtp = { port = st.smtp_port },
                    imap = { port = st.imaps_port } }
        if driver_name == "luasocket" then o.socket = require("socket").tcp end
        local both = assert(missive.session(o))
        assert.is_nil(both.pop3)
        assert.equal(2, #assert(both:get_all()))
        assert.is_true(both:close())
      end)
    end)
  end
end)
