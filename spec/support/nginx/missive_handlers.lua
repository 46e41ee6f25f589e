-- nginx handlers for spec/openresty_spec.lua: missive over cosockets inside nginx.
-- luacheck: globals ngx MISSIVE_STACK
local smtp = require "missive.smtp"

local _M = {}

local function fail(status, ...)
  ngx.status = status
  ngx.say(...)
  return ngx.exit(status)
end

-- GET /where: which driver missive picks here.
function _M.where()
  local driver = require "missive.driver"
  ngx.say(driver.pick_socket({}) and "cosocket" or "native", " ", ngx.get_phase())
end

-- GET /send?subject=S: STARTTLS + AUTH to the real Postfix, through cosockets.
function _M.send()
  local st = MISSIVE_STACK
  local subject = ngx.var.arg_subject or "from nginx"
  local s, err, kind = smtp.session{host = st.host, server_name = st.hostname,
    port = st.submission_port, user = "alice", password = "secret", cafile = st.cafile,
    timeout = 10}
  if not s then return fail(502, "session: ", err, " (", kind, ")") end
  local res, serr, skind = s:send{from = "alice@localhost", to = "bob@localhost",
    data = "Subject: " .. subject .. "\r\n\r\nsent from an nginx handler\r\n.dot\r\n"}
  local tls = s:tls_info()
  s:close()
  if not res then return fail(502, "send: ", serr, " (", skind, ")") end
  ngx.say(res.reply.code, " ", tls and tls.version or "plain", " ", s:is_closed())
end

-- GET /read: POP3 over implicit TLS through cosockets; prints each message's subject.
function _M.read()
  local st = MISSIVE_STACK
  local pop3 = require "missive.pop3"
  local p, err, kind = pop3.session{host = st.host, server_name = st.hostname,
    port = st.pop3s_port, user = "bob", password = "secret", cafile = st.cafile,
    timeout = 10}
  if not p then return fail(502, "pop3: ", err, " (", kind, ")") end
  for m in p:messages() do
    ngx.say(m.number, " ", m.subject or "?")
  end
  p:close()
end

-- GET /burst?n=N&port=P: N sends against the slow server, each in its own timer.
function _M.burst()
  local n, port = tonumber(ngx.var.arg_n), tonumber(ngx.var.arg_port)
  local dict = ngx.shared.missive_results
  dict:set("ok", 0)
  dict:set("fail", 0)
  dict:set("last_error", "")
  for i = 1, n do
    local ok, err = ngx.timer.at(0, function(premature)
      if premature then return end
      local res, serr = smtp.send{host = "127.0.0.1", port = port, tls = "none",
        timeout = 30, from = "a@x.test", to = "b@x.test",
        data = "Subject: burst " .. i .. "\r\n\r\nx\r\n"}
      if res then dict:incr("ok", 1) else
        dict:incr("fail", 1)
        dict:set("last_error", tostring(serr))
      end
    end)
    if not ok then return fail(500, "timer: ", err) end
  end
  ngx.say("started ", n)
end

-- GET /async?n=N: an async session in nginx (ngx.timer sender); waits for all.
function _M.async()
  local st = MISSIVE_STACK
  local n = tonumber(ngx.var.arg_n) or 3
  local s, err, kind = smtp.session{host = st.host, server_name = st.hostname,
    port = st.submission_port, user = "alice", password = "secret", cafile = st.cafile,
    timeout = 10, async = true}
  if not s then return fail(502, "async session: ", err, " (", kind, ")") end
  local ids = {}
  for i = 1, n do
    ids[i] = assert(s:send{from = "alice@localhost", to = "bob@localhost",
      data = "Subject: async " .. i .. "\r\n\r\nqueued in nginx\r\n"})
  end
  local queued = s:pending()
  -- The timer runs once this handler yields: until then every message is queued.
  local first = s:status(ids[1])
  assert(s:wait(nil, 20))
  local states = {}
  for i = 1, n do states[i] = (s:status(ids[i])) end
  s:close()
  ngx.say(queued, " ", first, " ", table.concat(states, " "), " ", tostring(s))
end

function _M.burst_status()
  local dict = ngx.shared.missive_results
  ngx.say(dict:get("ok"), " ", dict:get("fail"), " ", dict:get("last_error"))
end

-- An IMAP session to the real Dovecot over implicit TLS, as bob.
local function imap_session()
  local st = MISSIVE_STACK
  return require("missive.imap").session{host = st.host, server_name = st.hostname,
    port = st.imaps_port, user = "bob", password = "secret", cafile = st.cafile,
    timeout = 10}
end

-- GET /imap?subject=S: login, select, search, messages{}, store and move from a
-- handler; one line per step.
function _M.imap()
  local driver = require "missive.driver"
  local subject = ngx.var.arg_subject
  local s, err, kind = imap_session()
  if not s then return fail(502, "imap: ", err, " (", kind, ")") end
  local function check(ok, e, k)
    if ok then return ok end
    s:close()
    return fail(502, e, " (", k, ")")
  end
  ngx.say("driver ", driver.is_external(s) and "cosocket" or "native",
          " ", s:tls_info().version)
  local info = check(s:select("INBOX"))
  ngx.say("select ", info.exists)
  local uids = check(s:search{subject = subject})
  ngx.say("search ", #uids)
  for m in s:messages{uids = uids} do
    ngx.say("message ", m.uid == uids[1], " ", m.subject, " ", m.folder)
    check(s:store(m.uid, "+", "\\Flagged"))
    local got = check(s:fetch(m.uid, "flags"))
    local flagged = false
    for _, f in ipairs(got[1].flags) do flagged = flagged or f == "\\Flagged" end
    ngx.say("flagged ", flagged)
  end
  check(s:move(uids, "Archive"))
  ngx.say("inbox ", #check(s:search{subject = subject}))
  check(s:select("Archive", {readonly = true}))
  ngx.say("archive ", #check(s:search{subject = subject, flagged = true}))
  s:close()
end

-- GET /imap_windev: WinDev's cursor over IMAP: read_first{unseen = true}, read_next
-- until out; then get_all{unseen = true} (the read ones are still unread: BODY.PEEK).
function _M.imap_windev()
  local s, err, kind = imap_session()
  if not s then return fail(502, "imap: ", err, " (", kind, ")") end
  local m, rerr, rkind = s:read_first{unseen = true}
  while m and not m.out do
    ngx.say("read ", m.subject, " ", m.folder, " ", s:out())
    m, rerr, rkind = s:read_next()
  end
  if not m then
    s:close()
    return fail(502, "read: ", rerr, " (", rkind, ")")
  end
  ngx.say("out ", s:out())
  local all = s:get_all{unseen = true}
  ngx.say("get_all ", all and #all)
  s:close()
end

-- GET /imap_idle?timeout=T: IDLE on bob's INBOX inside an ngx.timer; its progress goes
-- to the shared dict (see /imap_idle_status).
function _M.imap_idle()
  local timeout = tonumber(ngx.var.arg_timeout) or 10
  local dict = ngx.shared.missive_results
  dict:set("idle", "starting")
  local ok, terr = ngx.timer.at(0, function(premature)
    if premature then return end
    local s, err, kind = imap_session()
    if not s then return dict:set("idle", "failed " .. err .. " (" .. kind .. ")") end
    local info = s:select("INBOX")
    dict:set("idle", "idling " .. (info and info.exists or "?"))
    local evs, ierr, ikind = s:idle{timeout = timeout}
    if not evs then
      dict:set("idle", "failed " .. ierr .. " (" .. ikind .. ")")
    else
      local kinds = {}
      for i, ev in ipairs(evs) do kinds[i] = ev.kind .. "=" .. (ev.count or ev.seq or "") end
      dict:set("idle", "events " .. table.concat(kinds, ","))
    end
    s:close()
  end)
  if not ok then return fail(500, "timer: ", terr) end
  ngx.say("started")
end

function _M.imap_idle_status()
  ngx.say(ngx.shared.missive_results:get("idle"))
end

-- GET /oauth?port=P: SMTP with a token function that shares its token through a
-- shared dict (as the README shows), against a scripted server on port P that refuses
-- the stored token and takes the renewed one.  The "refresh" yields (ngx.sleep), as a
-- real one would on its HTTP cosocket.  Prints the reasons it was called with.
function _M.oauth()
  local dict = ngx.shared.oauth_tokens
  dict:set("u", ngx.var.arg_stored, 3600)
  local reasons = {}
  local function token(user, reason)
    reasons[#reasons + 1] = reason
    local tok = dict:get(user)
    if tok and reason ~= "rejected" then return tok end
    ngx.sleep(0.01)
    tok = ngx.var.arg_fresh
    dict:set(user, tok, 3600)
    return tok, 3600
  end
  local s, err, kind = smtp.session{host = "127.0.0.1", port = tonumber(ngx.var.arg_port),
    tls = "none", user = "u", token = token, insecure_auth = true, timeout = 5}
  if not s then return fail(502, table.concat(reasons, " "), " session: ", err, " (", kind, ")") end
  local mech = s:auth_mechanism()
  s:close()
  ngx.say(table.concat(reasons, " "), " ", mech, " ", dict:get("u"))
end

return _M
