-- missive.spool: durable queue, claims, outcomes, retries; real Postfix and scripted
-- servers.
local core = require "missive.core"
local spool = require "missive.spool"
local email = require "missive.email"
local stack = require "support.stack"
local scripted = require "support.scripted"
local util = require "support.util"

local GREET = {send = "220 scripted ESMTP\r\n"}
local EHLO = {expect = "EHLO"}
local EHLO_OK = {send = "250 scripted\r\n"}

local function tmpdir()
  return util.mkdtemp("missive-spool")
end

local function msg(tag, to)
  return {from = "alice@localhost", to = to or "bob@localhost",
          data = "Subject: " .. tag .. "\r\nMessage-ID: <" .. tag .. "@spool.test>\r\n\r\n"
            .. "body of " .. tag .. "\r\n"}
end

local function dead_pid()
  return tonumber((util.capture("sh -c 'echo $$'")))
end

describe("missive.spool (on disk)", function()
  local dir, q
  before_each(function()
    dir = tmpdir()
    q = assert(spool.open(dir))
  end)
  after_each(function() util.rmtree(dir) end)

  it("adds to queued/ durably: one file, a header and the bytes, nothing left in tmp/", function()
    local id = assert(q:add(msg("one")))
    assert.equal("queued", (q:status(id)))
    assert.same({id}, q:list("queued"))
    assert.same({}, core.listdir(dir .. "/tmp"))
    local raw = util.read_file(dir .. "/queued/" .. id)
    assert.matches("^missive%-spool 1\n", raw)
    assert.matches("\nto: bob@localhost\n", raw)
    assert.matches("\n\nSubject: one\r\n", raw)
    local _, info = q:status(id)
    assert.same({"bob@localhost"}, info.to)
    assert.equal(0, info.attempts)
  end)

  it("takes email objects and source functions; ids sort in order of adding", function()
    local m = email.new{from = "alice@localhost", to = {"bob@localhost", "carol@localhost"},
                        subject = "obj", text = "hello"}
    local id1 = assert(q:add(m))
    local parts = {"Subject: src\r\n", "\r\n", "chunked\r\n"}
    local i = 0
    local id2 = assert(q:add{from = "a@localhost", to = {"b@localhost"},
                             data = function() i = i + 1; return parts[i] end})
    assert.same({id1, id2}, q:list("queued"))
    local _, info = q:status(id1)
    assert.same({"bob@localhost", "carol@localhost"}, info.to)
    assert.matches("\n\nSubject: src\r\n\r\nchunked\r\n$", util.read_file(dir .. "/queued/" .. id2))
  end)

  it("refuses CR or LF in an address", function()
    local id, err, kind = q:add{from = "a@x\r\nRCPT TO:<evil@x>", to = "b@x", data = "x"}
    assert.is_nil(id)
    assert.equal("argument", kind)
    assert.matches("control character", err)
    assert.same({}, q:list("queued"))
  end)

  it("q:remove deletes; q:status of an unknown id is nil", function()
    local id = assert(q:add(msg("gone")))
    assert.is_true(q:remove(id))
    assert.is_nil(q:status(id))
    assert.is_nil(q:remove(id))
  end)

  -- CHECKLIST 69: an id is a file name inside the spool; anything but the spool's own
  -- format could name a file elsewhere ("../../x").
  it("remove, retry and status refuse ids that are not the spool's own (CHECKLIST 69)", function()
    local id = assert(q:add(msg("kept")))
    local victim = dir .. "/victim"
    local planted = "missive-spool 1\nid: ../victim\nfrom: a@x\nto: b@x\n\nSubject: x\r\n"
    util.write_file(victim, planted)
    local bad = {"../victim", "../../victim", "/etc/passwd", "", id .. "/", id .. "\0",
                 id .. ".1", id:sub(2), "x" .. id, id:gsub("%-", "_"), ".", ".."}
    for _, b in ipairs(bad) do
      for _, method in ipairs {"remove", "retry", "status"} do
        local ok, err, kind = q[method](q, b)
        assert.is_nil(ok, method .. " " .. b)
        assert.equal("invalid spool id", err, method .. " " .. b)
        assert.equal("argument", kind, method .. " " .. b)
      end
    end
    assert.equal(planted, util.read_file(victim))
    assert.equal("queued", (q:status(id)))
    assert.same({id}, q:list("queued"))
    -- The library's own ids still work, and an unknown but well-formed id is just absent.
    assert.is_nil((q:status("0000000001-000000-1-1")))
    assert.is_true(q:retry(id))
    assert.is_true(q:remove(id))
  end)

  it("a stale claim without the dot marker is queued again", function()
    local id = assert(q:add(msg("stale")))
    local pid = dead_pid()
    assert(os.rename(dir .. "/queued/" .. id, ("%s/sending/%s.%d"):format(dir, id, pid)))
    assert.equal("sending", (q:status(id)))
    assert.same({id}, q:list("sending"))
    q:recover()
    assert.equal("queued", (q:status(id)))
    assert.same({}, core.listdir(dir .. "/sending"))
  end)

  it("a stale claim with the dot marker goes to uncertain/, never back to the queue", function()
    local id = assert(q:add(msg("maybe")))
    local pid = dead_pid()
    local claim = ("%s/sending/%s.%d"):format(dir, id, pid)
    assert(os.rename(dir .. "/queued/" .. id, claim))
    assert(core.write_new(claim .. ".dot", ""))
    q:recover()
    local state, info = q:status(id)
    assert.equal("uncertain", state)
    assert.equal("uncertain", info.kind)
    assert.matches("died after the end of data", info.error)
    assert.same({}, core.listdir(dir .. "/sending"))
    assert.is_true(q:retry(id))
    assert.equal("queued", (q:status(id)))
  end)

  -- CHECKLIST 69: a claim is live while its lock is held, whatever pid its name carries:
  -- across PID namespaces, or after PID reuse, a pid that exists here says nothing.
  it("a claim under a live foreign pid but no lock is taken back (CHECKLIST 69)", function()
    local id = assert(q:add(msg("foreign")))
    local claim = ("%s/sending/%s.%d"):format(dir, id, 1)   -- pid 1 exists: not the holder
    assert(os.rename(dir .. "/queued/" .. id, claim))
    assert(core.write_new(claim .. ".dot", ""))
    q:recover()
    assert.equal("uncertain", (q:status(id)))
    assert.same({}, core.listdir(dir .. "/sending"))
  end)

  it("a locked claim is left alone whether its pid is dead, foreign or this process's", function()
    for _, pid in ipairs {dead_pid(), 1, core.getpid()} do
      local id = assert(q:add(msg("locked-" .. pid)))
      local claim = ("%s/sending/%s.%d"):format(dir, id, pid)
      local lock = assert(core.lock(dir .. "/queued/" .. id))
      assert(os.rename(dir .. "/queued/" .. id, claim))
      q:recover()
      assert.equal("sending", (q:status(id)))
      assert.is_false(core.lock(claim))
      lock:release()
      q:recover()
      assert.equal("queued", (q:status(id)))
    end
  end)

  it("temporary files: a dead writer's are removed, a locked or fresh one is kept", function()
    local tmp = dir .. "/tmp/"
    local names = {dead = "1.1.x", live = "2.1.x", fresh = "3.1.x"}   -- pid 1 exists
    for _, n in pairs(names) do util.write_file(tmp .. n, "partial") end
    for _, k in ipairs {"dead", "live"} do
      assert(util.execute("touch -d '-2 hours' " .. util.shquote(tmp .. names[k])))
    end
    local lock = assert(core.lock(tmp .. names.live))
    q:recover()
    local left = core.listdir(dir .. "/tmp")
    table.sort(left)
    assert.same({names.live, names.fresh}, left)
    lock:release()
  end)

  -- CHECKLIST 69: another Lua state in this process (same pid, its own module state)
  -- must not take the claim of the state that is sending.  A second copy of the module
  -- stands for the second state: it shares nothing with the first but the process.
  it("a second Lua state in this process does not steal a live claim (CHECKLIST 69)", function()
    local id = assert(q:add(msg("two-states", "b@x.test")))
    local saved = package.loaded["missive.spool"]
    package.loaded["missive.spool"] = nil
    local other = require "missive.spool"
    package.loaded["missive.spool"] = saved
    assert.are_not.equal(spool, other)
    local q2 = assert(other.open(dir))
    local seen = {}
    local function look(when)
      q2:recover()
      seen[#seen + 1] = when .. "=" .. tostring((q2:status(id)))
    end
    local srv = scripted.start({GREET, EHLO, EHLO_OK,
      {expect = "MAIL FROM"}, {send = "250 ok\r\n"}, {expect = "RCPT TO"}, {send = "250 ok\r\n"},
      {expect = "DATA"}, {send = "354 go\r\n"}, {read_until = "\r\n.\r\n"},
      {send = "250 2.0.0 queued as X1\r\n"}, {expect = "QUIT"}, {send = "221 bye\r\n"}})
    local counts = assert(q:run{host = "127.0.0.1", port = srv.port, tls = "none", timeout = 3,
      trace = function(way, line)
        if way == "out" and line:find("^RCPT") then look("rcpt") end
        if way == "in" and line:find("^250 2%.0%.0 queued") then look("dot") end
      end})
    srv:finish()
    assert.same({"rcpt=sending", "dot=sending"}, seen)
    assert.equal(1, counts.sent)
    assert.equal("sent", (q:status(id)))
    assert.same({}, q:list("queued"))
    assert.same({}, q:list("uncertain"))
    assert.same({id}, q:list("sent"))
    assert.same({}, core.listdir(dir .. "/sending"))
  end)

  -- CHECKLIST 69: the lock of another process (here another interpreter) keeps its
  -- claim, even when the pid in the name is not a live process here (as in another PID
  -- namespace); its death releases the claim at once.
  it("a claim locked by another process is kept until that process dies (CHECKLIST 69)", function()
    local id = assert(q:add(msg("other-process")))
    local claim = ("%s/sending/%s.%d"):format(dir, id, dead_pid())
    assert(os.rename(dir .. "/queued/" .. id, claim))
    local pre = ("package.path=%q package.cpath=%q"):format(package.path, package.cpath)
    local script = pre .. ([[
      local core = require "missive.core"
      local lock = assert(core.lock(%q))
      io.write(core.getpid(), "\n"); io.flush()
      -- Wait without forking: a child forked while the lock is open would hold it
      -- between its fork and its exec, past this process's death.
      local stop = os.time() + 10
      while os.time() < stop do end
      lock:release()]]):format(claim)
    local child = io.popen(("%s -e %s"):format(util.interpreter(), util.shquote(script)), "r")
    local pid = tonumber(child:read("*l"))
    assert.is_number(pid)
    q:recover()
    assert.equal("sending", (q:status(id)))
    util.execute("kill -9 " .. pid)
    child:close()
    q:recover()
    assert.equal("queued", (q:status(id)))
  end)
end)

-- CHECKLIST 69: whoever can write into the spool sends mail with the application's
-- credentials, so a spool (and each state directory) must be the caller's own and
-- writable by nobody else, as Postfix demands of its queue.
describe("missive.spool.open trusts only its own directories (CHECKLIST 69)", function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() util.rmtree(dir) end)

  local function mode(path)
    return ("%o"):format(assert(core.stat(path)).mode)
  end

  it("creates the spool and its state directories 0700", function()
    local top = dir .. "/new"
    assert(spool.open(top))
    assert.equal("700", mode(top))
    for _, s in ipairs {"tmp", "queued", "sending", "sent", "failed", "uncertain"} do
      assert.equal("700", mode(top .. "/" .. s))
    end
  end)

  it("refuses a spool or a state directory writable by group or others", function()
    assert(spool.open(dir))
    for _, sub in ipairs {"", "/queued", "/sending", "/tmp"} do
      for _, m in ipairs {"777", "770", "1777", "702"} do
        assert(util.execute(("chmod %s %s"):format(m, util.shquote(dir .. sub))))
        local q, err, kind = spool.open(dir)
        assert.is_nil(q, sub .. " " .. m)
        assert.equal("argument", kind)
        assert.matches("writable by group or others", err)
        assert(util.execute("chmod 700 " .. util.shquote(dir .. sub)))
      end
    end
    assert(util.execute("chmod 755 " .. util.shquote(dir)))   -- readable is fine
    assert(spool.open(dir))
  end)

  it("refuses a spool or a state directory owned by another user", function()
    if core.geteuid() ~= 0 then
      pending("needs root to give a directory away")
      return
    end
    assert(spool.open(dir))
    for _, sub in ipairs {"", "/queued", "/sent"} do
      assert(util.execute("chown nobody " .. util.shquote(dir .. sub)))
      local q, err, kind = spool.open(dir)
      assert.is_nil(q, sub)
      assert.equal("argument", kind)
      assert.matches("owned by uid %d+, not by this process %(uid 0%)", err)
      assert(util.execute("chown 0 " .. util.shquote(dir .. sub)))
    end
    assert(spool.open(dir))
  end)

  it("refuses a file where a directory belongs", function()
    local f = dir .. "/afile"
    util.write_file(f, "x")
    local q, err, kind = spool.open(f)
    assert.is_nil(q)
    assert.is_string(err)
    assert.is_string(kind)
  end)
end)

describe("missive.spool against scripted servers", function()
  local dir, q
  before_each(function()
    dir = tmpdir()
    q = assert(spool.open(dir))
  end)
  after_each(function() util.rmtree(dir) end)

  local function run(srv, extra)
    local o = {host = "127.0.0.1", port = srv.port, tls = "none", timeout = 3, backoff = 0.3}
    for k, v in pairs(extra or {}) do o[k] = v end
    return q:run(o)
  end

  it("4xx: deferred with exponential backoff, not due before it, sent once due", function()
    local id = assert(q:add(msg("later", "b@x.test")))
    local srv = scripted.start({GREET, EHLO, EHLO_OK,
      {expect = "MAIL FROM:<alice@localhost>"}, {send = "250 ok\r\n"},
      {expect = "RCPT TO:<b@x.test>"}, {send = "451 4.3.0 try again later\r\n"},
      {expect = "RSET"}, {send = "250 ok\r\n"}, {expect = "QUIT"}, {send = "221 bye\r\n"}})
    local counts = assert(run(srv))
    srv:finish()
    assert.same({sent = 0, failed = 0, deferred = 1, uncertain = 0}, counts)
    local state, info = q:status(id)
    assert.equal("queued", state)
    assert.equal(1, info.attempts)
    assert.equal(451, info.reply.code)
    assert.near(core.time() + 0.3, info.next_try, 0.3)
    -- Not due: run returns at once without connecting.
    assert.same({sent = 0, failed = 0, deferred = 0, uncertain = 0},
                assert(q:run{host = "127.0.0.1", port = 1, tls = "none", backoff = 0.3}))
    util.sleep(0.4)
    local srv2 = scripted.start({GREET, EHLO, EHLO_OK,
      {expect = "MAIL FROM:<alice@localhost>"}, {send = "250 ok\r\n"},
      {expect = "RCPT TO:<b@x.test>"}, {send = "451 4.3.0 still busy\r\n"},
      {expect = "RSET"}, {send = "250 ok\r\n"}, {expect = "QUIT"}, {send = "221 bye\r\n"}})
    assert.equal(1, assert(run(srv2)).deferred)
    srv2:finish()
    local _, info2 = q:status(id)
    assert.equal(2, info2.attempts)
    -- The second delay is twice the first.
    assert.near(core.time() + 0.6, info2.next_try, 0.3)
  end)

  it("a message past max_age fails for good on its next temporary failure", function()
    local id = assert(q:add(msg("old", "b@x.test")))
    local srv = scripted.start({GREET, EHLO, EHLO_OK,
      {expect = "MAIL FROM"}, {sleep = 1.2}, {send = "421 4.3.2 shutting down\r\n"},
      {close = true}})
    local counts = assert(run(srv, {max_age = 1}))
    srv:finish()
    assert.equal(1, counts.failed)
    local state, info = q:status(id)
    assert.equal("failed", state)
    assert.matches("gave up after 1 attempt", info.error)
    assert.equal(421, info.reply.code)
    -- Already too old when its turn comes: failed without a connection.
    local id2 = assert(q:add(msg("older", "b@x.test")))
    util.sleep(0.05)
    assert.equal(1, assert(q:run{host = "127.0.0.1", port = 1, tls = "none",
                                 max_age = 0.01}).failed)
    local _, info2 = q:status(id2)
    assert.matches("too old", info2.error)
  end)

  it("5xx: failed/ with the reply, never retried; q:retry queues it again", function()
    local id = assert(q:add(msg("nope", "b@x.test")))
    local srv = scripted.start({GREET, EHLO, EHLO_OK,
      {expect = "MAIL FROM"}, {send = "250 ok\r\n"},
      {expect = "RCPT TO"}, {send = "550 5.1.1 no such user\r\n"},
      {expect = "RSET"}, {send = "250 ok\r\n"}, {expect = "QUIT"}, {send = "221 bye\r\n"}})
    assert.equal(1, assert(run(srv)).failed)
    srv:finish()
    local state, info = q:status(id)
    assert.equal("failed", state)
    assert.equal(550, info.reply.code)
    assert.equal("5.1.1", info.reply.enhanced)
    assert.matches("no such user", info.reply.text)
    -- Nothing due: no connection attempted.
    assert.equal(0, assert(q:run{host = "127.0.0.1", port = 1, tls = "none"}).failed)
    assert.is_true(q:retry(id))
    assert.equal("queued", (q:status(id)))
  end)

  it("connection dies after the final dot: uncertain/, not resent by later runs", function()
    local id = assert(q:add(msg("lost", "b@x.test")))
    local srv = scripted.start({GREET, EHLO, EHLO_OK,
      {expect = "MAIL FROM"}, {send = "250 ok\r\n"}, {expect = "RCPT TO"}, {send = "250 ok\r\n"},
      {expect = "DATA"}, {send = "354 go\r\n"}, {read_until = "\r\n.\r\n"}, {close = true}})
    local counts = assert(run(srv))
    srv:finish()
    assert.equal(1, counts.uncertain)
    local state, info = q:status(id)
    assert.equal("uncertain", state)
    assert.equal("uncertain", info.kind)
    assert.same({}, core.listdir(dir .. "/sending"))
    assert.same({sent = 0, failed = 0, deferred = 0, uncertain = 0},
                assert(q:run{host = "127.0.0.1", port = 1, tls = "none"}))
  end)

  -- CHECKLIST 69: the server has the message once it answered 2xx to the end of data;
  -- that fact must win over a failure to write it down (disk full, sent/ unwritable).
  -- The failures are injected by wrapping os.rename and core.write_locked.
  -- luacheck: push ignore 122
  describe("when the outcome cannot be recorded (CHECKLIST 69)", function()
    local real_rename, real_write
    before_each(function() real_rename, real_write = os.rename, core.write_locked end)
    after_each(function() os.rename, core.write_locked = real_rename, real_write end)

    local function accepting()
      return scripted.start({GREET, EHLO, EHLO_OK,
        {expect = "MAIL FROM"}, {send = "250 ok\r\n"}, {expect = "RCPT TO"}, {send = "250 ok\r\n"},
        {expect = "DATA"}, {send = "354 go\r\n"}, {read_until = "\r\n.\r\n"},
        {send = "250 2.0.0 queued as R1\r\n"}, {expect = "QUIT"}, {send = "221 bye\r\n"}})
    end

    -- Renames from or to a path under `blocked` fail `times` times (nil = always), as
    -- ENOSPC would; `way` says which end is matched ("to" unless given).
    local function block_renames(blocked, times, way)
      os.rename = function(from, to)
        local p = way == "from" and from or to
        if p:find(blocked, 1, true) and (times == nil or times > 0) then
          times = times and times - 1
          return nil, to .. ": No space left on device"
        end
        return real_rename(from, to)
      end
    end

    it("reports the failure, says sent, and never parks the message as uncertain", function()
      local id = assert(q:add(msg("unrecorded", "b@x.test")))
      core.write_locked = function(path, data)
        if path:find("/tmp/", 1, true) then return nil, path .. ": No space left", "io" end
        return real_write(path, data)
      end
      block_renames(dir .. "/sent/")
      local info
      local srv = accepting()
      local counts = assert(run(srv, {on_result = function(_, _, i) info = i end}))
      srv:finish()
      assert.equal(1, counts.sent)
      assert.same({id}, counts.record_failed)
      assert.matches("cannot record message " .. id:gsub("%-", "%%-") .. " as sent",
                     info.record_error)
      assert.equal("sent", (q:status(id)))
      assert.same({id}, q:list("sent"))
      assert.same({}, q:list("sending"))
      os.rename, core.write_locked = real_rename, real_write
      -- The next run records it where it belongs, without a connection.
      assert.same({sent = 0, failed = 0, deferred = 0, uncertain = 0},
                  assert(q:run{host = "127.0.0.1", port = 1, tls = "none"}))
      assert.equal("sent", (q:status(id)))
      assert.same({id}, core.listdir(dir .. "/sent"))
      assert.same({}, core.listdir(dir .. "/sending"))
      assert.same({}, q:list("uncertain"))
    end)

    it("a rename that fails once is retried: recorded in sent/, nothing reported", function()
      local id = assert(q:add(msg("retried", "b@x.test")))
      block_renames(dir .. "/sent/", 1)
      local srv = accepting()
      local counts = assert(run(srv))
      srv:finish()
      assert.is_nil(counts.record_failed)
      assert.equal(1, counts.sent)
      assert.same({id}, core.listdir(dir .. "/sent"))
      assert.same({}, core.listdir(dir .. "/sending"))
    end)

    it("when nothing in the spool can be renamed, the failure is still reported", function()
      local id = assert(q:add(msg("stuck", "b@x.test")))
      block_renames(dir .. "/sending/", nil, "from")   -- no claim can leave sending/
      local srv = accepting()
      local counts = assert(run(srv))
      srv:finish()
      assert.equal(1, counts.sent)
      assert.same({id}, counts.record_failed)
    end)
  end)
  -- luacheck: pop

  it("no server: run returns nil, message, kind and the message waits for its backoff", function()
    local id = assert(q:add(msg("nobody", "b@x.test")))
    local srv = scripted.start({{close = true}})
    srv:finish()  -- the port is free again: nothing listens
    local ok, err, kind = q:run{host = "127.0.0.1", port = srv.port, tls = "none", backoff = 30}
    assert.is_nil(ok)
    assert.equal("io", kind)
    assert.matches("connect", err)
    local state, info = q:status(id)
    assert.equal("queued", state)
    assert.equal(1, info.attempts)
    assert.is_true(info.next_try > core.time() + 20)
  end)
end)

describe("missive.spool against Postfix #integration", function()
  local st, dir, q
  setup(function()
    assert(stack.available())
    st = stack.start()
  end)
  before_each(function()
    dir = tmpdir()
    q = assert(spool.open(dir))
    stack.clear("bob")
  end)
  after_each(function() util.rmtree(dir) end)

  local function subjects(user)
    local seen = {}
    for _, m in ipairs(stack.messages(user)) do
      local s = m:match("\nSubject: ([^\n]+)") or m:match("^Subject: ([^\n]+)")
      if s then seen[s] = (seen[s] or 0) + 1 end
    end
    return seen
  end

  it("drains over one reused session (STARTTLS + AUTH): sent/ with the reply", function()
    local ids = {}
    for i = 1, 5 do ids[i] = assert(q:add(msg("drain-" .. i))) end
    local ehlos, results = 0, {}
    local counts = assert(q:run{host = st.hostname, port = st.submission_port, user = "alice",
      password = "secret", cafile = st.cafile, timeout = 20,
      trace = function(way, line)
        if way == "out" and line:find("^EHLO") then ehlos = ehlos + 1 end
      end,
      on_result = function(id, state) results[#results + 1] = id .. "=" .. state end})
    assert.same({sent = 5, failed = 0, deferred = 0, uncertain = 0}, counts)
    assert.equal(2, ehlos)   -- one session: EHLO before and after STARTTLS
    assert.equal(5, #results)
    for _, id in ipairs(ids) do
      local state, info = q:status(id)
      assert.equal("sent", state)
      assert.equal(250, info.reply.code)
    end
    assert.same(ids, q:list("sent"))
    assert(stack.wait_messages("bob", 5, 15))
    local seen = subjects("bob")
    for i = 1, 5 do assert.equal(1, seen["drain-" .. i]) end
  end)

  it("the relay path: the spool hands mail to Postfix on port 25, Postfix delivers", function()
    local id = assert(q:add(msg("relay-1")))
    local id2 = assert(q:add(msg("relay-bad", "nosuchuser@localhost")))
    local counts = assert(q:run{host = st.hostname, port = st.smtp_port, cafile = st.cafile,
                                tls = "starttls", timeout = 20})
    assert.equal(1, counts.sent)
    assert.equal(1, counts.failed)
    assert.equal("sent", (q:status(id)))
    local state, info = q:status(id2)
    assert.equal("failed", state)
    assert.equal(5, math.floor(info.reply.code / 100))
    assert(stack.wait_messages("bob", 1, 15))
    assert.equal(1, subjects("bob")["relay-1"])
  end)

  it("several processes drain one spool at once: every message delivered exactly once", function()
    local n = 24
    for i = 1, n do assert(q:add(msg("multi-" .. i))) end
    local lua = util.interpreter()
    local child = util.here .. "/spool_child.lua"
    local pre = ("package.path=%q package.cpath=%q"):format(package.path, package.cpath)
    local pids = {}
    for i = 1, 3 do
      local cmd = ("%s -e %s %s %s %d %s alice secret >/dev/null 2>&1 & echo $!"):format(
        lua, util.shquote(pre), util.shquote(child), util.shquote(dir), st.submission_port,
        util.shquote(st.cafile))
      pids[i] = tonumber((util.capture("sh -c " .. util.shquote(cmd))))
    end
    local deadline = util.now() + 60
    while util.now() < deadline do
      local alive = false
      for _, p in ipairs(pids) do if core.pid_alive(p) then alive = true end end
      if not alive then break end
      util.sleep(0.05)
    end
    assert.equal(n, #q:list("sent"))
    assert.same({}, q:list("queued"))
    assert(stack.wait_messages("bob", n, 20))
    util.sleep(1)
    local seen = subjects("bob")
    for i = 1, n do assert.equal(1, seen["multi-" .. i]) end
  end)
end)
