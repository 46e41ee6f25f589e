-- missive inside a real nginx (Debian's nginx + lua module + lua-resty-core), over
-- cosockets: mail goes through the real Postfix and comes back through the real Dovecot,
-- and a worker is never blocked by a slow SMTP server.
local stack = require "support.stack"
local openresty = require "support.openresty"
local util = require "support.util"

describe("OpenResty cosockets #openresty #integration", function()
  local st, ng

  setup(function()
    assert(stack.available())
    assert(openresty.available())
    st = assert(stack.start())
    ng = openresty.start{stack = st}
  end)

  teardown(function()
    if ng then openresty.stop(ng) end
  end)

  it("picks cosockets by itself inside a request handler", function()
    local status, body = openresty.get(ng, "/where")
    assert.equal(200, status, body)
    assert.equal("cosocket content\n", body)
  end)

  it("sends through Postfix with STARTTLS and AUTH from a handler", function()
    stack.clear("bob")
    local status, body = openresty.get(ng, "/send?subject=nginx-starttls")
    assert.equal(200, status, body .. (openresty.error_log or ""))
    assert.equal("250 TLSv1.2 true\n", body)
    local msgs = assert(stack.wait_messages("bob", 1, 15))
    assert.truthy(msgs[#msgs]:find("Subject: nginx-starttls", 1, true))
    assert.truthy(msgs[#msgs]:find("\n\nsent from an nginx handler\n.dot\n", 1, true))
  end)

  it("reads the mailbox back through Dovecot over implicit TLS from a handler", function()
    stack.clear("bob")
    assert.equal(200, (openresty.get(ng, "/send?subject=round-trip")))
    assert(stack.wait_messages("bob", 1, 15))
    local status, body = openresty.get(ng, "/read")
    assert.equal(200, status, body)
    assert.equal("1 round-trip\n", body)
  end)

  it("runs an IMAP session from a handler: select, search, messages{}, store, move",
     function()
    stack.clear("bob")
    assert.equal(200, (openresty.get(ng, "/send?subject=imap-in-nginx")))
    assert(stack.wait_messages("bob", 1, 15))
    local status, body = openresty.get(ng, "/imap?subject=imap-in-nginx")
    assert.equal(200, status, body .. (openresty.error_log or ""))
    assert.equal("driver cosocket TLSv1.2\nselect 1\nsearch 1\n"
      .. "message true imap-in-nginx INBOX\nflagged true\ninbox 0\narchive 1\n", body)
  end)

  it("reads with WinDev's read_first/read_next over IMAP from a handler", function()
    stack.clear("bob")
    assert.equal(200, (openresty.get(ng, "/send?subject=windev-1")))
    assert(stack.wait_messages("bob", 1, 15))
    assert.equal(200, (openresty.get(ng, "/send?subject=windev-2")))
    assert(stack.wait_messages("bob", 2, 15))
    local status, body = openresty.get(ng, "/imap_windev")
    assert.equal(200, status, body .. (openresty.error_log or ""))
    assert.equal("read windev-1 INBOX false\nread windev-2 INBOX false\nout true\n"
      .. "get_all 2\n", body)
  end)

  it("IDLEs in an ngx.timer without blocking the worker; a delivery is an event",
     function()
    stack.clear("bob")
    local status, body = openresty.get(ng, "/imap_idle?timeout=20")
    assert.equal(200, status, body)
    local deadline, state = util.now() + 10
    repeat
      util.sleep(0.05)
      state = select(2, openresty.get(ng, "/imap_idle_status"))
    until state:find("^idling") or state:find("^failed") or util.now() > deadline
    assert.matches("^idling 0", state)
    -- The timer waits on the server now; /ping must come back at once meanwhile.
    util.sleep(0.2)
    local worst, samples = 0, 0
    local t_end = util.now() + 1.5
    while util.now() < t_end do
      local s, b, took = openresty.get(ng, "/ping")
      assert.equal(200, s)
      assert.equal("pong\n", b)
      if took > worst then worst = took end
      samples = samples + 1
      util.sleep(0.05)
    end
    print(("\n    /ping while a timer IDLEs: %d samples, worst %.1f ms")
      :format(samples, worst * 1000))
    assert.is_true(worst < 0.1, "a worker was blocked: " .. worst .. " s")
    assert.matches("^idling", (select(2, openresty.get(ng, "/imap_idle_status"))))
    -- A message delivered meanwhile ends the IDLE with an "exists" event.
    assert.equal(200, (openresty.get(ng, "/send?subject=during-idle")))
    deadline = util.now() + 15
    repeat
      util.sleep(0.1)
      state = select(2, openresty.get(ng, "/imap_idle_status"))
    until not state:find("^idling") or util.now() > deadline
    assert.matches("^events exists=1", state)
  end)

  it("async sessions send from an ngx.timer, with the same API", function()
    stack.clear("bob")
    local status, body = openresty.get(ng, "/async?n=3")
    assert.equal(200, status, body)
    assert.matches("^%d queued sent sent sent smtp%.async", body)
    assert(stack.wait_messages("bob", 3, 15))
  end)

  it("a token function shared through ngx.shared.DICT renews a refused token inside " ..
     "nginx (its refresh yields)", function()
    local scripted = require "support.scripted"
    local b64 = require("missive.mime").base64_encode
    local function ir(tok) return b64("user=u\1auth=Bearer " .. tok .. "\1\1") end
    local srv = scripted.start({
      { send = "220 scripted ESMTP\r\n" }, { expect = "EHLO" },
      { send = "250-scripted\r\n250 AUTH PLAIN XOAUTH2\r\n" },
      { expect = "AUTH XOAUTH2 " .. ir("tok-stale") .. "\r\n" },
      { send = "535 5.7.8 expired\r\n" },
      { expect = "AUTH XOAUTH2 " .. ir("tok-fresh") .. "\r\n" }, { send = "235 ok\r\n" },
      { expect = "QUIT" }, { send = "221 bye\r\n" } })
    local status, body = openresty.get(ng, "/oauth?stored=tok-stale&fresh=tok-fresh&port="
                                           .. srv.port)
    local _, log = srv:finish()
    assert.equal(200, status, body .. (openresty.error_log or ""))
    assert.equal("connect rejected XOAUTH2 tok-fresh\n", body)
    assert.same({}, scripted.failures(log), scripted.format(log))
  end)

  it("keeps answering other requests while 50 sends wait on a slow server", function()
    local delay = 0.4
    local py = io.popen("exec python3 " .. util.here .. "/slow_smtp.py " .. delay .. " 20")
    local port, pid = (py:read("*l") or ""):match("^(%d+) (%d+)$")
    port = tonumber(port)
    assert.truthy(port, "slow SMTP server did not start")
    local status, body = openresty.get(ng, "/burst?n=50&port=" .. port)
    assert.equal(200, status, body)
    -- Each send waits ~7 replies x delay; meanwhile /ping must come back at once.
    local worst, samples = 0, 0
    local t_end = util.now() + 2
    while util.now() < t_end do
      local s, b, took = openresty.get(ng, "/ping")
      assert.equal(200, s)
      assert.equal("pong\n", b)
      if took > worst then worst = took end
      samples = samples + 1
      util.sleep(0.05)
    end
    print(("\n    /ping while 50 sends are in flight: %d samples, worst %.1f ms "
      .. "(SMTP reply delay %d ms)"):format(samples, worst * 1000, delay * 1000))
    assert.is_true(worst < delay / 4, "a worker was blocked: " .. worst .. " s")
    -- and every send still completes
    local deadline = util.now() + 20
    local ok_count
    repeat
      util.sleep(0.2)
      local _, status_body = openresty.get(ng, "/burst_status")
      ok_count = tonumber(status_body:match("^(%d+)"))
    until ok_count == 50 or util.now() > deadline
    local _, final = openresty.get(ng, "/burst_status")
    assert.equal(50, ok_count, final)
    -- By pid: another run of the suite on this machine may have its own slow server.
    os.execute("kill " .. pid .. " 2>/dev/null")
    py:close()
  end)
end)
