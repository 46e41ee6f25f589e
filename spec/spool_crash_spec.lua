-- A crash at any point loses nothing: a draining process is SIGKILLed at random points
-- while it sends to the real Postfix; then every message must be delivered exactly once,
-- or still be queued, or (uncertain/) be delivered at most once.
local core = require "missive.core"
local spool = require "missive.spool"
local stack = require "support.stack"
local util = require "support.util"

describe("missive.spool under SIGKILL #integration", function()
  local st, dir

  setup(function()
    assert(stack.available())
    st = stack.start()
    dir = util.mkdtemp("missive-spool-crash")
    stack.clear("bob")
  end)
  teardown(function() util.rmtree(dir) end)

  it("every message ends sent exactly once, none lost, none sent twice unless uncertain", function()
    local q = assert(spool.open(dir))
    local tags, n = {}, 0
    local run_tag = ("%x"):format(math.floor(core.time() * 1000) % 0x7fffffff)
    local function add(k)
      for _ = 1, k do
        n = n + 1
        local tag = ("crash-%s-%03d"):format(run_tag, n)
        local id = assert(q:add{from = "alice@localhost", to = "bob@localhost",
          data = "Subject: " .. tag .. "\r\nMessage-ID: <" .. tag .. "@spool.test>\r\n\r\n"
            .. ("line of body text\r\n"):rep(50)})
        tags[id] = tag
      end
    end
    math.randomseed(os.time())
    add(30)
    local lua = util.interpreter()
    local child = util.here .. "/spool_child.lua"
    local pre = ("package.path=%q package.cpath=%q"):format(package.path, package.cpath)
    local cmd = ("%s -e %s %s %s %d %s alice secret >/dev/null 2>&1 & echo $!"):format(
      lua, util.shquote(pre), util.shquote(child), util.shquote(dir), st.submission_port,
      util.shquote(st.cafile))
    local kills, finished, started = 0, 0, util.now()
    while kills < 20 and util.now() - started < 30 do
      local pid = assert(tonumber((util.capture("sh -c " .. util.shquote(cmd)))))
      util.sleep(0.02 + math.random() * 0.35)
      if core.pid_alive(pid) then
        util.execute("kill -9 " .. pid)
        kills = kills + 1
      else
        finished = finished + 1
      end
      while core.pid_alive(pid) do util.sleep(0.01) end
      -- Keep the spool busy, so each kill lands mid-drain: a drain of a few messages
      -- can finish in under 20 ms on a quiet machine.
      add(finished > kills and 40 or 20)
    end
    -- The final clean drain: takes back every dead claim, sends the rest.
    local final = assert(q:run{host = st.hostname, port = st.submission_port, user = "alice",
      password = "secret", cafile = st.cafile, timeout = 20, backoff = 0})

    local sent, uncertain = q:list("sent"), q:list("uncertain")
    assert.same({}, q:list("queued"))
    assert.same({}, q:list("sending"))
    assert.same({}, q:list("failed"))
    assert.equal(n, #sent + #uncertain)
    assert(stack.wait_messages("bob", #sent, 30))
    -- Let late deliveries (of uncertain ones, say) land before counting.
    local last, stable_since = -1, util.now()
    while util.now() - stable_since < 1.5 do
      local c = #stack.messages("bob")
      if c ~= last then last, stable_since = c, util.now() end
      util.sleep(0.1)
    end
    local seen = {}
    for _, m in ipairs(stack.messages("bob")) do
      local tag = m:match("Subject: (crash%-" .. run_tag .. "%-%d+)")
      if tag then seen[tag] = (seen[tag] or 0) + 1 end
    end
    local twice, lost, uncertain_delivered = {}, {}, 0
    for _, id in ipairs(sent) do
      local c = seen[tags[id]] or 0
      if c == 0 then lost[#lost + 1] = tags[id] end
      if c > 1 then twice[#twice + 1] = tags[id] end
    end
    for _, id in ipairs(uncertain) do
      local c = seen[tags[id]] or 0
      if c > 1 then twice[#twice + 1] = tags[id] end
      uncertain_delivered = uncertain_delivered + c
    end
    print(("\nspool crash: %d messages, %d kills (%d drains finished first), sent %d, "
      .. "uncertain %d (of which delivered %d), final drain %s"):format(
      n, kills, finished, #sent, #uncertain, uncertain_delivered,
      util.serialize(final)))
    assert.same({}, lost)
    assert.same({}, twice)
    assert.is_true(kills >= 10)
  end)
end)
