-- IMAP faults against a scripted server, byte for byte, under both drivers.
local scripted = require "support.scripted"
local imap = require "missive.imap"

local GREET = { send = "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN IDLE UIDPLUS LITERAL+] hi\r\n" }
local LOGIN = {
  GREET,
  { expect = "A1 LOGIN alice secret" },
  { send = "A1 OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS LITERAL+] in\r\n" },
}
local SELECT = {
  { expect = "A2 SELECT INBOX" },
  { send = "* 2 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n* OK [UIDNEXT 9] n\r\n" ..
           "A2 OK [READ-WRITE] selected\r\n" },
}

local function steps(...)
  local t = {}
  for _, list in ipairs { ... } do
    for _, s in ipairs(list) do t[#t + 1] = s end
  end
  return t
end

local DRIVER

local function open(srv, extra)
  local o = { host = "127.0.0.1", port = srv.port, tls = "none", user = "alice",
              password = "secret", auth = "login", timeout = 3 }
  if DRIVER == "luasocket" then o.socket = require("socket").tcp end
  for k, v in pairs(extra or {}) do o[k] = v end
  return imap.session(o)
end

local FETCH = '* 1 FETCH (UID 5 FLAGS (\\Seen) RFC822.SIZE 14 BODY[] {14}\r\n' ..
              'Subject: x\r\n\r\n)\r\n'

for _, driver_name in ipairs { "native", "luasocket" } do
describe("imap faults (scripted server, " .. driver_name .. " driver)", function()
  setup(function() DRIVER = driver_name end)

  it("CHECKLIST 83: a FETCH response split at every byte, untagged data around the OK",
     function()
    local srv = scripted.start(steps(LOGIN, SELECT, {
      { expect = "A3 UID FETCH 5 (UID BODY.PEEK[])" },
      { drip = "* 3 EXISTS\r\n" .. FETCH .. "* 1 EXPUNGE\r\nA3 OK done\r\n", interval = 0 },
      { hold = 0.5 },
    }))
    local s = assert(open(srv))
    assert(s:select("INBOX"))
    local got = assert(s:fetch(5, { "body" }))
    assert.equal(1, #got)
    assert.equal("Subject: x\r\n\r\n", got[1].body)
    assert.same({ "\\Seen" }, got[1].flags)
    local evs = s:take_events()
    assert.equal("exists", evs[1].kind)
    assert.equal(3, evs[1].count)
    assert.equal("expunge", evs[2].kind)
    s:_abort()
    s:close()
    srv:finish()
  end)

  it("CHECKLIST 83: literal mailbox names, an extra untagged line after the tagged OK",
     function()
    local srv = scripted.start(steps(LOGIN, {
      { expect = 'A2 LIST "" "*"' },
      { send = '* LIST (\\HasNoChildren) "/" {6}\r\nIn"b x\r\n* LIST () "/" "&AOk-t&AOk-"\r\n' ..
               "A2 OK listed\r\n* 4 EXISTS\r\n" },
      { expect = "A3 NOOP" }, { send = "A3 OK [ALERT] maintenance at 5\r\n" },
      { hold = 0.5 },
    }))
    local s = assert(open(srv))
    local list = assert(s:folders())
    assert.equal('In"b x', list[1].name)
    assert.equal("été", list[2].name)
    assert.is_true(s:noop())
    local evs = s:take_events()
    assert.equal(4, evs[1].count)
    assert.same({ kind = "alert", text = "maintenance at 5" }, evs[2])
    s:_abort()
    s:close()
    srv:finish()
  end)

  it("CHECKLIST 84: BAD (over-long command), NO [TRYCREATE]: kind reply; the session goes on",
     function()
    local srv = scripted.start(steps(LOGIN, SELECT, {
      { expect = "A3 UID COPY 1 Nope" }, { send = "A3 NO [TRYCREATE] no such folder\r\n" },
      -- the two commands of a long UID set go pipelined; the first failure is returned
      { expect = "A4 UID STORE" }, { expect = "A5 UID STORE" },
      { send = "A4 BAD [TOOBIG] command line too long\r\nA5 OK\r\n" },
      { expect = "A6 NOOP" }, { send = "A6 OK\r\n" },
      { hold = 0.5 },
    }))
    local s = assert(open(srv))
    assert(s:select("INBOX"))
    local ok, err, kind, reply = s:copy(1, "Nope")
    assert.is_nil(ok)
    assert.equal("reply", kind)
    assert.matches("COPY failed", err)
    assert.same({ status = "NO", code = "TRYCREATE", text = "[TRYCREATE] no such folder" },
                reply)
    local many = {}
    for i = 1, 3000 do many[i] = i * 2 end
    ok, _, kind, reply = s:store(many, "+", "\\Seen")
    assert.is_nil(ok)
    assert.equal("reply", kind)
    assert.equal("BAD", reply.status)
    assert.is_true(s:noop())
    s:_abort()
    s:close()
    srv:finish()
  end)

  it("CHECKLIST 84: BYE during IDLE ends the session with kind closed", function()
    local srv = scripted.start(steps(LOGIN, SELECT, {
      { expect = "A3 IDLE" }, { send = "+ idling\r\n* 3 EXISTS\r\n" },
      { expect = "DONE" }, { send = "* BYE shutting down\r\n" },
      { close = true },
    }))
    local s = assert(open(srv))
    assert(s:select("INBOX"))
    local evs, err, kind = s:idle{ timeout = 2 }
    assert.is_nil(evs)
    assert.equal("closed", kind)
    assert.matches("shutting down", err)
    assert.is_true(s:close())
    srv:finish()
  end)

  it("CHECKLIST 83: untagged data inside IDLE is returned as events; the tagged OK follows DONE",
     function()
    local srv = scripted.start(steps(LOGIN, SELECT, {
      { expect = "A3 IDLE" }, { send = "+ idling\r\n" }, { sleep = 0.2 },
      { send = "* 3 EXISTS\r\n* 2 FETCH (FLAGS (\\Seen) UID 8)\r\n" },
      { expect = "DONE" }, { send = "* 1 EXPUNGE\r\nA3 OK idle done\r\n" },
      { expect = "A4 NOOP" }, { send = "A4 OK\r\n" },
      { hold = 0.5 },
    }))
    local s = assert(open(srv))
    assert(s:select("INBOX"))
    local evs = assert(s:idle{ timeout = 2 })
    local kinds = {}
    for _, e in ipairs(evs) do kinds[#kinds + 1] = e.kind end
    assert.same({ "exists", "flags", "expunge" }, kinds)
    assert.equal(8, evs[2].uid)
    assert.is_true(s:noop())
    s:_abort()
    s:close()
    srv:finish()
  end)

  it("CHECKLIST 87: search criteria are compiled by the core; nesting past the cap is " ..
     "kind limit and nothing is sent", function()
    local srv = scripted.start(steps(LOGIN, SELECT, {
      { expect = 'A3 UID SEARCH FROM "x" NOT (SEEN) SINCE 1-Feb-2026 UID 1:3,5\r' },
      { send = "* SEARCH 3 1\r\nA3 OK\r\n" },
      { expect = "A4 NOOP" }, { send = "A4 OK\r\n" },
      { hold = 0.5 },
    }))
    local s = assert(open(srv))
    assert(s:select("INBOX"))
    assert.same({ 1, 3 }, assert(s:search{ from = "x", ["not"] = { seen = true },
                                           since = "2026-02-01", uid = { 5, 1, 2, 3 } }))
    local deep = {}
    for _ = 1, 40 do deep = { ["not"] = deep } end
    local ok, err, kind = s:search(deep)
    assert.is_nil(ok)
    assert.equal("limit", kind)
    assert.matches("nested too deep", err)
    assert.has_error(function() s:search{ subjekt = "x" } end, "unknown search key 'subjekt'")
    assert.has_error(function() s:search{ since = "2026-13-01" } end)
    assert.is_true(s:noop())
    s:_abort()
    s:close()
    srv:finish()
  end)

  it("CHECKLIST 88: the event queue is bounded: past 10000 the oldest events are dropped " ..
     "and counted", function()
    local lines = {}
    for i = 1, 10005 do lines[i] = ("* %d EXPUNGE\r\n"):format(i) end
    local srv = scripted.start(steps(LOGIN, SELECT, {
      { expect = "A3 NOOP" }, { send = table.concat(lines) .. "A3 OK\r\n" },
      { hold = 0.5 },
    }))
    local s = assert(open(srv))
    assert(s:select("INBOX"))
    assert.is_true(s:noop())
    assert.equal(5, s:dropped_events())
    local evs = s:take_events()
    assert.equal(10000, #evs)
    assert.same({ kind = "expunge", seq = 6, folder = "INBOX" }, evs[1])
    assert.same({}, s:take_events())
    s:_abort()
    s:close()
    srv:finish()
  end)

  it("CHECKLIST 89: a long UID set's commands are pipelined: both on the wire before " ..
     "the first tagged reply, each completed by its tag", function()
    local many = {}
    for i = 1, 3000 do many[i] = i * 2 end
    local srv = scripted.start(steps(LOGIN, SELECT, {
      { expect = "A3 UID STORE 2,4," }, { expect = "A4 UID STORE " },
      -- answered out of order, untagged data between: each reply finds its command
      { send = "A4 OK second\r\n* 9 EXISTS\r\nA3 OK first\r\n" },
      { expect = "A5 UID FETCH 2,4," }, { expect = "A6 UID FETCH " },
      { send = "* 1 FETCH (UID 2 FLAGS (\\Seen))\r\nA5 OK\r\n" ..
               "* 3000 FETCH (UID 6000 FLAGS ())\r\nA6 OK\r\n" },
      { expect = "A7 NOOP" }, { send = "A7 OK\r\n" },
      { hold = 0.5 },
    }))
    local s = assert(open(srv))
    assert(s:select("INBOX"))
    assert.is_true(s:store(many, "+", "\\Seen"))
    local got = assert(s:fetch(many, { "flags" }))
    assert.equal(2, #got)
    assert.same({ 2, 6000 }, { got[1].uid, got[2].uid })
    assert.equal(9, s:take_events()[1].count)
    assert.is_true(s:noop())
    s:_abort()
    s:close()
    srv:finish()
  end)

  it("CHECKLIST 89: messages{} pipelines its batches; the loop body's own command " ..
     "waits for the batch in flight and gets only its own responses", function()
    local uids, sizes, batch1 = {}, {}, {}
    for i = 1, 65 do
      uids[i] = tostring(i)
      sizes[i] = ("* %d FETCH (UID %d RFC822.SIZE 14)\r\n"):format(i, i)
    end
    for i = 1, 64 do
      batch1[i] = ("* %d FETCH (UID %d FLAGS () RFC822.SIZE 14 INTERNALDATE " ..
                   "\"01-Feb-2026 10:00:00 +0000\" BODY[] {14}\r\nSubject: x\r\n\r\n)\r\n")
                  :format(i, i)
    end
    local srv = scripted.start(steps(LOGIN, SELECT, {
      { expect = "A3 UID SEARCH ALL" },
      { send = "* SEARCH " .. table.concat(uids, " ") .. "\r\nA3 OK\r\n" },
      { expect = "A4 UID FETCH 1:65 (UID RFC822.SIZE)" },
      { send = table.concat(sizes) .. "A4 OK\r\n" },
      -- the second batch is asked for before the first one's replies
      { expect = "A5 UID FETCH 1:64 " }, { expect = "A6 UID FETCH 65 " },
      { send = table.concat(batch1) .. "A5 OK\r\n" },
      -- the loop body's STORE goes once the batch in flight is read
      { send = "* 65 FETCH (UID 65 FLAGS (\\Seen) RFC822.SIZE 14 INTERNALDATE " ..
               "\"01-Feb-2026 10:00:00 +0000\" BODY[] {14}\r\nSubject: y\r\n\r\n)\r\n" ..
               "A6 OK\r\n" },
      { expect = "A7 UID STORE 1 +FLAGS.SILENT (\\Flagged)" },
      { send = "* 1 FETCH (UID 1 FLAGS (\\Flagged))\r\nA7 OK\r\n" },
      { hold = 0.5 },
    }))
    local s = assert(open(srv))
    assert(s:select("INBOX"))
    local seen = {}
    for m in s:messages{} do
      seen[#seen + 1] = m.uid
      if m.uid == 1 then assert.is_true(s:store(1, "+", "\\Flagged")) end
    end
    assert.equal(65, #seen)
    assert.equal(65, seen[65])
    local evs = s:take_events()
    assert.equal(1, #evs)
    assert.same({ "\\Flagged" }, evs[1].flags)
    s:_abort()
    s:close()
    srv:finish()
  end)

  it("ENABLE IMAP4rev2 when offered; its forms (ESEARCH for SEARCH, no RECENT) are read",
     function()
    local srv = scripted.start({
      { send = "* OK [CAPABILITY IMAP4rev1 IMAP4rev2 ENABLE AUTH=PLAIN] hi\r\n" },
      { expect = "A1 LOGIN alice secret" },
      { send = "A1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 ENABLE IDLE] in\r\n" },
      { expect = "A2 ENABLE IMAP4rev2\r" }, { send = "* ENABLED IMAP4rev2\r\nA2 OK\r\n" },
      { expect = "A3 SELECT INBOX" },
      { send = "* 2 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n* OK [UIDNEXT 9] n\r\n" ..
               "A3 OK [READ-WRITE] selected\r\n" },
      { expect = "A4 UID SEARCH RETURN (ALL) UNSEEN" },
      { send = '* ESEARCH (TAG "A4") UID ALL 3:4,8\r\nA4 OK\r\n' },
      { hold = 0.5 },
    })
    local s = assert(open(srv))
    assert.is_true(s:enabled().IMAP4REV2)
    local info = assert(s:select("INBOX"))
    assert.equal(2, info.exists)
    assert.is_nil(info.recent)
    assert.same({ 3, 4, 8 }, assert(s:search{ unseen = true }))
    s:_abort()
    s:close()
    srv:finish()
  end)

  it("OAUTHBEARER (RFC 7628) for a token, with SASL-IR; the JSON error challenge is " ..
     "answered with ^A and reported; the trace masks the token", function()
    local blob = "bixhPWFsaWNlLAFhdXRoPUJlYXJlciB0b2stMTIzAQE="
    local json = "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xl" ..
                 "LmNvbS8iLCJzY2hlbWVzIjoiQmVhcmVyIn0="
    local srv = scripted.start({
      { send = "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2 AUTH=OAUTHBEARER] hi\r\n" },
      { expect = "A1 AUTHENTICATE OAUTHBEARER " .. blob }, { send = "+ " .. json .. "\r\n" },
      { expect = "AQ==\r\n" }, { send = "A1 NO [AUTHENTICATIONFAILED] bad token\r\n" },
      { hold = 0.5 },
    })
    local traced = {}
    local o = { host = "127.0.0.1", port = srv.port, tls = "none", user = "alice",
                token = "tok-123", timeout = 3, insecure_auth = true,
                trace = function(_, line) traced[#traced + 1] = line end }
    if DRIVER == "luasocket" then o.socket = require("socket").tcp end
    local s, err, kind = imap.session(o)
    assert.is_nil(s)
    assert.equal("auth", kind)
    assert.matches("OAuth status invalid_token, scope https://mail.google.com/", err, 1, true)
    local trace = table.concat(traced, "\n")
    assert.is_nil(trace:find(blob, 1, true))
    assert.is_nil(trace:find("tok-123", 1, true))
    srv:finish()
  end)

  it("CHECKLIST 86: a literal larger than the cap fails with kind limit", function()
    local srv = scripted.start(steps(LOGIN, SELECT, {
      { expect = "A3 UID FETCH" },
      { send = "* 1 FETCH (UID 5 BODY[] {100000}\r\n" .. ("x"):rep(1000) },
      { hold = 1 },
    }))
    local s = assert(open(srv, { max_size = 1000 }))
    assert(s:select("INBOX"))
    local ok, _, kind = s:fetch(5, { "body" })
    assert.is_nil(ok)
    assert.equal("limit", kind)
    s:close()
    srv:finish()
  end)

  it("CHECKLIST 84: unbalanced parentheses and a tag mismatch are protocol errors", function()
    for _, bad in ipairs { "* 1 FETCH (UID 5 FLAGS (\\Seen)\r\nA3 OK\r\n",
                           "* 1 FETCH (UID 5))\r\nA3 OK\r\n", "A7 OK done\r\n" } do
      local srv = scripted.start(steps(LOGIN, SELECT, {
        { expect = "A3 UID FETCH" }, { send = bad }, { hold = 0.5 },
      }))
      local s = assert(open(srv))
      assert(s:select("INBOX"))
      local ok, err, kind = s:fetch(5, { "flags" })
      assert.is_nil(ok)
      assert.equal("protocol", kind, err)
      s:close()
      srv:finish()
    end
  end)

  it("CHECKLIST 86: a server that never sends the tagged reply: timeout", function()
    local srv = scripted.start(steps(LOGIN, SELECT, {
      { expect = "A3 NOOP" }, { send = "* 3 EXISTS\r\n" }, { hold = 2 },
    }))
    local s = assert(open(srv, { timeout = 0.5 }))
    assert(s:select("INBOX"))
    local ok, _, kind = s:noop()
    assert.is_nil(ok)
    assert.equal("timeout", kind)
    s:close()
    srv:finish()
  end)

  it("CHECKLIST 85 86: synchronising literals wait for '+'; LOGINDISABLED is honoured",
     function()
    local srv = scripted.start({
      { send = "* OK [CAPABILITY IMAP4rev1] hi\r\n" },
      { expect = "A1 LOGIN alice {7}" }, { send = "+ go on\r\n" },
      { expect = "p\195\164sswd" },
      { send = "A1 OK in\r\n" },
      { expect = "A2 CAPABILITY" }, { send = "* CAPABILITY IMAP4rev1\r\nA2 OK\r\n" },
      { expect = "A3 LOGOUT" }, { send = "* BYE bye\r\nA3 OK\r\n" },
      { hold = 0.5 },
    })
    local s = assert(open(srv, { password = "p\195\164sswd" }))
    assert.is_true(s:close())
    local received = srv:finish()
    assert.equal("A1 LOGIN alice {7}\r\np\195\164sswd\r\nA2 CAPABILITY\r\nA3 LOGOUT\r\n",
                 received)
    srv = scripted.start({
      { send = "* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] hi\r\n" }, { hold = 0.5 },
    })
    local s2, err, kind = open(srv)
    assert.is_nil(s2)
    assert.equal("auth", kind)
    assert.matches("LOGINDISABLED", err)
    assert.equal("", (srv:finish()))
  end)

  it("move without MOVE: COPY, STORE \\Deleted, UID EXPUNGE of exactly those UIDs; " ..
     "without UIDPLUS no EXPUNGE at all", function()
    local move_steps = {
      { expect = "A3 UID COPY 5,7 Archive" },
      { send = "A3 OK [COPYUID 9 5,7 100:101] copied\r\n" },
      { expect = "A4 UID STORE 5,7 +FLAGS.SILENT (\\Deleted)" }, { send = "A4 OK\r\n" },
    }
    local srv = scripted.start(steps(LOGIN, SELECT, move_steps, {
      { expect = "A5 UID EXPUNGE 5,7" },
      { send = "* 2 EXPUNGE\r\n* 1 EXPUNGE\r\nA5 OK expunged\r\n" },
      { hold = 0.5 },
    }))
    local s = assert(open(srv))
    assert(s:select("INBOX"))
    local map = assert(s:move({ 7, 5 }, "Archive"))
    assert.equal(100, map[5])
    assert.equal(101, map[7])
    assert.equal(9, map.uidvalidity)
    s:_abort()
    s:close()
    srv:finish()
    -- no UIDPLUS: the originals stay \Deleted, and no bare EXPUNGE goes out
    local greet = { send = "* OK [CAPABILITY IMAP4rev1] hi\r\n" }
    srv = scripted.start(steps({ greet, { expect = "A1 LOGIN alice secret" },
                                 { send = "A1 OK [CAPABILITY IMAP4rev1] in\r\n" } },
                               SELECT, move_steps, { { hold = 0.5 } }))
    s = assert(open(srv))
    assert(s:select("INBOX"))
    assert.is_table(s:move({ 5, 7 }, "Archive"))
    s:_abort()
    s:close()
    local received = srv:finish()
    assert.is_nil(received:find("EXPUNGE", 1, true))
  end)

  it("CHECKLIST 82: a long UID set is cut into commands of bounded length", function()
    local uids = {}
    for i = 1, 6000 do uids[i] = i * 3 end
    local want = #require("missive.core").imap_uid_sets(uids, 8000)
    local script = {}
    for i = 1, want do
      script[#script + 1] = { expect = ("A%d UID STORE"):format(i + 2) }
      script[#script + 1] = { send = ("A%d OK\r\n"):format(i + 2) }
    end
    script[#script + 1] = { hold = 0.5 }
    local srv = scripted.start(steps(LOGIN, SELECT, script))
    local s = assert(open(srv))
    assert(s:select("INBOX"))
    assert.is_true(s:store(uids, "+", "\\Seen"))
    s:_abort()
    s:close()
    local received = srv:finish()
    local seen, n = {}, 0
    for line in received:gmatch("[^\r\n]+") do
      local set = line:match("^A%d+ UID STORE (%S+) ")
      if set then
        n = n + 1
        assert.is_true(#line <= 8100, #line)
        for u in set:gmatch("%d+") do seen[#seen + 1] = tonumber(u) end
      end
    end
    assert.is_true(want >= 4)
    assert.equal(want, n)
    assert.same(uids, seen)
  end)

  it("CHECKLIST 85: LOGIN arguments never reach the trace", function()
    local srv = scripted.start(steps(LOGIN, {
      { expect = "A2 LOGOUT" }, { send = "* BYE\r\nA2 OK\r\n" }, { hold = 0.3 },
    }))
    local lines = {}
    local s = assert(open(srv, { trace = function(d, l) lines[#lines + 1] = d .. " " .. l end }))
    assert.is_true(s:close())
    srv:finish()
    local trace = table.concat(lines, "\n")
    assert.matches("out A1 LOGIN %*%*%*", trace)
    assert.is_nil(trace:find("secret", 1, true))
    assert.is_nil(trace:find("alice", 1, true))
  end)

  it("without IDLE, idle{} polls with NOOP and returns what the server reported", function()
    local srv = scripted.start(steps({
      { send = "* OK [CAPABILITY IMAP4rev1] hi\r\n" },
      { expect = "A1 LOGIN alice secret" }, { send = "A1 OK [CAPABILITY IMAP4rev1] in\r\n" },
    }, SELECT, {
      { expect = "A3 NOOP" }, { send = "A3 OK\r\n" },
      { expect = "A4 NOOP" }, { send = "* 3 EXISTS\r\nA4 OK\r\n" },
      { hold = 0.5 },
    }))
    local s = assert(open(srv))
    assert(s:select("INBOX"))
    local evs = assert(s:idle{ timeout = 5, poll = 0.2 })
    assert.equal(1, #evs)
    assert.equal("exists", evs[1].kind)
    assert.equal(3, evs[1].count)
    s:_abort()
    s:close()
    srv:finish()
  end)

  it("STARTTLS: bytes sent after the server's OK are never read as the server's",
     function()
    local srv = scripted.start({
      { send = "* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n" },
      { expect = "A1 STARTTLS" }, { send = "A1 OK go\r\n* OK [CAPABILITY IMAP4rev1] x\r\n" },
      { hold = 0.5 },
    })
    local s, err, kind = open(srv, { tls = "starttls" })
    assert.is_nil(s)
    assert.equal("protocol", kind)
    assert.matches("before the TLS handshake", err)
    assert.equal("A1 STARTTLS\r\n", (srv:finish()))
    -- and STARTTLS required but not offered: nothing else is sent
    srv = scripted.start({ { send = "* OK [CAPABILITY IMAP4rev1] hi\r\n" }, { hold = 0.3 } })
    s, err, kind = open(srv, { tls = "starttls" })
    assert.is_nil(s)
    assert.equal("tls", kind)
    assert.matches("STARTTLS", err)
    assert.equal("", (srv:finish()))
  end)

  it("AUTHENTICATE without SASL-IR answers the server's '+'; with it, one line", function()
    local b64 = require("missive.email").base64_encode
    local plain = b64("\0alice\0secret")
    local srv = scripted.start({
      { send = "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n" },
      { expect = "A1 AUTHENTICATE PLAIN" }, { send = "+ \r\n" },
      { expect = plain }, { send = "A1 OK [CAPABILITY IMAP4rev1] in\r\n" },
      { hold = 0.3 },
    })
    local lines = {}
    local s = assert(open(srv, { auth = "PLAIN",
                                 trace = function(d, l) lines[#lines + 1] = d .. " " .. l end }))
    assert.equal("PLAIN", s:auth_mechanism())
    s:_abort()
    s:close()
    assert.equal("A1 AUTHENTICATE PLAIN\r\n" .. plain .. "\r\n", (srv:finish()))
    assert.is_nil(table.concat(lines, "\n"):find(plain, 1, true))
    srv = scripted.start({
      { send = "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] hi\r\n" },
      { expect = "A1 AUTHENTICATE PLAIN " .. plain },
      { send = "A1 NO [AUTHENTICATIONFAILED] no\r\n" }, { hold = 0.3 },
    })
    local s2, err, kind, reply = open(srv, { auth = "PLAIN" })
    assert.is_nil(s2)
    assert.equal("auth", kind)
    assert.matches("authentication failed", err)
    assert.equal("AUTHENTICATIONFAILED", reply.code)
    srv:finish()
  end)
end)
end
