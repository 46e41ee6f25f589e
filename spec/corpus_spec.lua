-- The corpus spec: real-world-shaped messages (spec/corpus/*.eml, written byte for byte
-- the way Outlook, Apple Mail, Thunderbird, Gmail, list managers, MTAs and old mailers
-- write them) plus messages missive's own builder makes at run time, read by missive and
-- by Python's email package (spec/support/oracle.py) as the oracle.
--
-- For every message:
--   * each field missive exposes (subject, date, message_id, from, to, cc, text, html,
--     the attachments) must equal what the oracle reads (CHECKLIST 73 74 75);
--   * parse -> change subject, To and one header -> tostring -> parse again must keep
--     every other field, Python must read the output the same way with no defect it
--     did not already find in the input, and every part must keep its MIME place and
--     its encoded bytes (CHECKLIST 63).
-- missive runs in a child process per message, so a crash is one failing test that
-- names the message, not a dead suite.
local util = require "support.util"

local corpus_dir = "spec/corpus"
local oracle = util.here .. "/oracle.py"

-- The values a round trip sets, and how missive and the oracle must then read them.
local NEW_SUBJECT = "Corpus round trip \226\128\147 \226\156\147"
local NEW_TO = "Round Trip <round.trip@example.net>"
local NEW_TO_FIELDS = { ["to.n"] = "1", ["to.1.name"] = "Round Trip",
                        ["to.1.addr"] = "round.trip@example.net" }

-- The child: probe FILE OUT PREFIX SUBJECT TO prints the fields of FILE as missive reads
-- them ("@section orig"), changes it, writes tostring() to OUT, and prints the fields of
-- OUT ("@section rt"); attachment contents go to PREFIX.<section>.<i> for one sha256sum
-- run.  The line format is the oracle's.  build DIR writes the builder's messages.
local CHILD = [==[
local email = require "missive.email"
local mode = arg[1]

local function esc(s)
  return (s:gsub("[%c\\]", function(c)
    local b = c:byte()
    if b < 32 or b == 92 or b == 127 then return ("\\%03d"):format(b) end
  end))
end

local function blanks(s)
  return (s:gsub("[ \t\r\n]+", " "):gsub("^ ", ""):gsub(" $", ""))
end

local function put(k, v)
  if v ~= nil then io.write(k, "\t", esc(tostring(v)), "\n") end
end

-- The field of a report part that carries its outcome (the oracle's att.I.status).
local REPORTS = { ["message/delivery-status"] = "status",
                  ["message/disposition-notification"] = "disposition",
                  ["message/feedback-report"] = "feedback-type" }

local function write(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

local function fields(m, prefix, tag)
  put("subject", m.subject and blanks(m.subject))
  put("date", m.date and blanks(m.date))
  put("message_id", m.message_id and blanks(m.message_id))
  local hdr = { from = "From", to = "To", cc = "Cc" }
  for _, f in ipairs({ "from", "to", "cc" }) do
    if m:header(hdr[f]) ~= nil then
      local l = m:addresses(f)
      put(f .. ".n", #l)
      for i, a in ipairs(l) do
        if a.name and blanks(a.name) ~= "" then put(f .. "." .. i .. ".name", blanks(a.name)) end
        put(f .. "." .. i .. ".addr", a.address)
      end
    end
  end
  put("text", m.text)
  put("html", m.html)
  local atts = m.attachments
  put("att.n", #atts)
  for i, a in ipairs(atts) do
    local k = "att." .. i .. "."
    put(k .. "filename", a.raw_name)
    put(k .. "type", a.type)
    local content = a.content
    if a.type == "message/rfc822" then
      local inner = content and email.parse(content)
      put(k .. "subject", inner and inner.subject and blanks(inner.subject))
    elseif REPORTS[a.type] then
      local st = {}
      for line in ((content or "") .. "\n"):gmatch("([^\r\n]*)\r?\n") do
        local n, v = line:match("^([%w%-]+):[ \t]*(.*)$")
        if n and n:lower() == REPORTS[a.type] then st[#st + 1] = blanks(v) end
      end
      put(k .. "status", table.concat(st, ","))
    elseif content then
      put(k .. "size", #content)
      write(prefix .. "." .. tag .. "." .. i, content)
    end
  end
  put("x_corpus_check", m:header("X-Corpus-Check"))
end

if mode == "probe" then
  local file, out, prefix = arg[2], arg[3], arg[4]
  local f = assert(io.open(file, "rb"))
  local data = f:read("*a")
  f:close()
  local m, err = email.parse(data)
  if not m then print("@fail\tparse: " .. esc(tostring(err))) os.exit(0) end
  print("@section\torig")
  fields(m, prefix, "orig")
  io.flush()
  local ok, e = m:set("subject", arg[5])
  if ok then ok, e = m:set_header("X-Corpus-Check", "round trip") end
  if ok then ok, e = m:set("to", { arg[6] }) end
  if not ok then print("@fail\tmodify: " .. esc(tostring(e))) os.exit(0) end
  local s, serr = m:tostring()
  if not s then print("@fail\ttostring: " .. esc(tostring(serr))) os.exit(0) end
  write(out, s)
  local r, rerr = email.parse(s)
  if not r then print("@fail\treparse: " .. esc(tostring(rerr))) os.exit(0) end
  print("@section\trt")
  fields(r, prefix, "rt")
  print("@done")
elseif mode == "build" then
  local dir = arg[2]
  local made = 0
  local function gen(name, t)
    local m, err = email.new(t)
    if not m then print("@fail\t" .. name .. ": " .. esc(tostring(err))) return end
    local s, serr = m:tostring()
    if not s then print("@fail\t" .. name .. ": " .. esc(tostring(serr))) return end
    write(dir .. "/" .. name .. ".eml", s)
    made = made + 1
  end
  local function bytes(n, seed)
    local t, x = {}, seed
    for i = 1, n do
      x = (x * 1103515245 + 12345) % 2147483648
      t[i] = string.char(math.floor(x / 65536) % 256)
    end
    return table.concat(t)
  end
  local from, to = "Builder <builder@example.org>", "reader@example.net"
  local ja = "\230\151\165\230\156\172\232\170\158\227\129\174\230\156\172\230\150\135"
  gen("builder-01-text", { from = from, to = to, subject = "Plain", text = "Hello.\n" })
  gen("builder-02-alternative", { from = from, to = to, subject = "Alt", text = "plain part\n",
    html = "<p>html part</p>\n" })
  gen("builder-03-related-cid", { from = from, to = to, subject = "Related",
    html = '<p><img src="cid:logo@example.org"></p>\n',
    attachments = { { data = bytes(700, 1), name = "logo.png", type = "image/png",
                      cid = "logo@example.org" } } })
  gen("builder-04-mixed-two-attachments", { from = from, to = to, subject = "Files",
    text = "Two files.\n", attachments = {
      { data = "%PDF-1.4\n" .. bytes(3000, 2), name = "report.pdf" },
      { data = "a,b\r\n1,2\r\n", name = "data.csv", type = "text/csv" } } })
  gen("builder-05-unicode-long-subject", { from = "J\195\188rgen M\195\188ller <jm@example.de>",
    to = { "\208\152\208\178\208\176\208\189 <ivan@example.ru>", "Zo\195\171 <zoe@example.fr>" },
    cc = "\231\148\176\228\184\173 <tanaka@example.jp>",
    subject = ("\195\132nderungsw\195\188nsche zur Schnittstellenspezifikation " ..
               "\226\128\147 Kapitel 7 bis 9 \226\128\147 "):rep(3) .. ja,
    text = "Gr\195\188\195\159e\n" })
  gen("builder-06-filename-specials", { from = from, to = to, subject = "Names",
    text = "see files\n", attachments = {
      { data = "x", name = "r\195\169sum\195\169 (final).pdf" },
      { data = "y", name = 'quote" semi; colon.txt' },
      { data = "z", name = ja .. ".txt" },
      { data = "w", name = ("very long file name with many words "):rep(4) .. ".bin" } } })
  gen("builder-07-cc-bcc-reply-to", { from = from, to = { "a@example.net", "B <b@example.net>" },
    cc = { "c@example.net" }, bcc = { "hidden@example.net" },
    reply_to = "Replies <replies@example.org>", subject = "Copies", text = "cc and bcc\n" })
  gen("builder-08-custom-headers", { from = from, to = to, subject = "Headers", text = "h\n",
    headers = { { "X-Tracking-Id", "abc-123" }, { "List-Unsubscribe", "<mailto:u@example.org>" },
                { "X-Long", ("word "):rep(60) } } })
  gen("builder-09-priority", { from = from, to = to, subject = "Urgent", priority = "high",
    text = "now\n" })
  gen("builder-10-empty-text", { from = from, to = to, subject = "Empty", text = "" })
  gen("builder-11-qp-long-lines", { from = from, to = to, subject = "Long lines",
    text = ("caf\195\169 "):rep(80) .. "\nFrom the start\n.\n..dots\ntrailing spaces   \n" ..
           "tab\t\n=equals= sign\n" })
  gen("builder-12-allow-8bit", { from = from, to = to, subject = "8bit", allow_8bit = true,
    text = "Gr\195\188\195\159e aus K\195\182ln\n" .. ja .. "\n" })
  gen("builder-13-large-attachment", { from = from, to = to, subject = "Large",
    text = "big file\n", attachments = { { data = bytes(300000, 3), name = "big.bin",
                                          type = "application/octet-stream" } } })
  gen("builder-14-line-endings", { from = from, to = to, subject = "Line ends",
    text = "crlf\r\nlf\nlone cr\rend\n" })
  gen("builder-15-attachment-types", { from = from, to = to, subject = "Types",
    text = "types\n", attachments = {
      { data = "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", name = "invite.ics",
        type = "text/calendar" },
      { data = '{"a": 1}', name = "a.json", type = "application/json" },
      { data = bytes(400, 4), name = "photo.jpg", type = "image/jpeg" },
      { data = bytes(10, 5), name = "noext" } } })
  gen("builder-16-names-with-specials", { from = { name = 'Doe, John "JD"',
    address = "jd@example.org" }, to = { { name = "O'Brien; Pat", address = "pat@example.net" },
    { name = "M\195\188ller, Hans", address = "hans@example.de" } },
    subject = "Specials", text = "x\n" })
  gen("builder-17-japanese", { from = from, to = to, subject = ja,
    text = ja .. "\n" .. ja .. "\n", html = "<p>" .. ja .. "</p>\n" })
  gen("builder-18-html-only", { from = from, to = to, subject = "Html only",
    html = "<html><body><p>only html</p></body></html>\n" })
  gen("builder-19-attachment-only", { from = from, to = to, subject = "Only a file",
    attachments = { { data = bytes(1200, 6), name = "only.bin" } } })
  gen("builder-20-literal-encoded-word", { from = from, to = to,
    subject = "=?utf-8?q?not_encoded?= literal", date = 1700000000,
    message_id = "fixed-id-20@example.org", text = "   \n" })
  gen("builder-21-inline-and-attached", { from = from, to = to, subject = "Both",
    text = "t\n", html = '<img src="cid:i1@example.org">\n', attachments = {
      { data = bytes(300, 7), name = "i1.gif", type = "image/gif", cid = "i1@example.org" },
      { data = bytes(300, 8), name = "doc.pdf", type = "application/pdf" } } })
  print("@made\t" .. made)
end
]==]

local function unesc(s)
  return (s:gsub("\\(%d%d%d)", function(d) return string.char(tonumber(d)) end))
end

-- Reads "@message"/"@section" records: returns { [name] = { [section] = fields } }.
local function read_records(text, by_message)
  local out, cur = {}, nil
  for line in text:gmatch("[^\n]+") do
    local k, v = line:match("^([^\t]*)\t?(.*)$")
    if k == "@message" then
      local name = unesc(v):match("([^/]+)$")
      if by_message then name = name:gsub("%.out%.eml$", ".eml") end
      cur = {}
      out[name] = cur
    elseif cur and k ~= "@end" then
      cur[k] = unesc(v)
    end
  end
  return out
end

local function probe_output(text)
  local secs, cur, status = {}, nil, { fail = nil, done = false }
  for line in text:gmatch("[^\n]+") do
    local k, v = line:match("^([^\t]*)\t?(.*)$")
    if k == "@section" then
      cur = {}
      secs[v] = cur
    elseif k == "@fail" then
      status.fail = unesc(v)
    elseif k == "@done" then
      status.done = true
    elseif cur then
      cur[k] = unesc(v)
    end
  end
  return secs, status
end

local function list_dir(dir)
  local names = {}
  local f = assert(io.popen("ls " .. util.shquote(dir)))
  for n in f:lines() do
    if n:match("%.eml$") and not n:match("%.out%.eml$") then names[#names + 1] = n end
  end
  f:close()
  table.sort(names)
  return names
end

-- Attachment hashes: one sha256sum over every content file the children wrote.
local function hash_attachments(attdir, results)
  local out = util.capture("cd " .. util.shquote(attdir) .. " && find . -type f | " ..
                           "sed 's|^\\./||' | xargs -r sha256sum")
  for line in (out .. "\n"):gmatch("([^\n]*)\n") do
    local sum, file = line:match("^(%x+)  (.+)$")
    if sum then
      local name, tag, i = file:match("^(.+)%.(%a+)%.(%d+)$")
      local r = results[name]
      if r and r.secs[tag] then r.secs[tag]["att." .. i .. ".sha256"] = sum end
    end
  end
end

-- ---- running everything once, at load time ----------------------------------------------

local tmp = util.mkdtemp("missive-corpus")
util.at_exit("corpus-tmp-" .. tmp, function() util.rmtree(tmp) end)
local gen_dir, out_dir, att_dir = tmp .. "/gen", tmp .. "/out", tmp .. "/att"
util.execute("mkdir -p " .. util.shquote(gen_dir) .. " " .. util.shquote(out_dir) .. " " ..
             util.shquote(att_dir))
util.write_file(tmp .. "/child.lua", CHILD)
local lua = util.interpreter()
local pre = ("package.path=%q package.cpath=%q"):format(package.path, package.cpath)
-- Returns the child's output and its exit status; a crash is status 128 + the signal
-- (the shell's own "Segmentation fault" line is kept out of the suite's output).
local function child(args)
  local f = assert(io.popen(("{ %s -e %s %s %s 2>&1; echo \"@rc=$?\"; } 2>/dev/null")
    :format(lua, util.shquote(pre), util.shquote(tmp .. "/child.lua"), args), "r"))
  local out = f:read("*a")
  f:close()
  local body, rc = out:match("^(.-)@rc=(%d+)%s*$")
  return body or out, tonumber(rc) or -1
end

local build_out, build_rc = child("build " .. util.shquote(gen_dir))

local messages = {}
for _, dir in ipairs({ corpus_dir, gen_dir }) do
  for _, n in ipairs(list_dir(dir)) do
    messages[#messages + 1] = { name = n, path = dir .. "/" .. n }
  end
end

local results = {}
local outs = {}
for _, msg in ipairs(messages) do
  local out = out_dir .. "/" .. (msg.name:gsub("%.eml$", ".out.eml"))
  local text, rc = child(("probe %s %s %s %s %s"):format(util.shquote(msg.path),
    util.shquote(out), util.shquote(att_dir .. "/" .. msg.name), util.shquote(NEW_SUBJECT),
    util.shquote(NEW_TO)))
  local secs, status = probe_output(text)
  results[msg.name] = { secs = secs, status = status, rc = rc, raw = text, out = out }
  if util.read_file(out) then outs[#outs + 1] = out end
end
hash_attachments(att_dir, results)

local function run_oracle(paths)
  if #paths == 0 then return {} end
  local args = {}
  for i, p in ipairs(paths) do args[i] = util.shquote(p) end
  local text = util.capture("python3 " .. util.shquote(oracle) .. " " .. table.concat(args, " "))
  return read_records(text, true)
end
local py_paths = {}
for i, msg in ipairs(messages) do py_paths[i] = msg.path end
local py = run_oracle(py_paths)
local py_rt = run_oracle(outs)

-- ---- comparing --------------------------------------------------------------------------

-- One line per value: controls shown as \n, \r, \t or \ddd.
local CTRL = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t", ['"'] = '\\"', ["\\"] = "\\\\" }
local function quote(v)
  return '"' .. v:gsub('[%c"\\]', function(c) return CTRL[c] or ("\\%03d"):format(c:byte()) end)
         .. '"'
end

local function show(v)
  if v == nil then return "nil" end
  if #v > 160 then return quote(v:sub(1, 160)) .. "...(" .. #v .. " bytes)" end
  return quote(v)
end

-- Where two long strings part, so a failure shows the place, not two screens of html.
local function first_difference(a, b)
  if a == nil or b == nil then return "" end
  local i = 1
  while i <= #a and a:byte(i) == b:byte(i) do i = i + 1 end
  local from = i > 30 and i - 30 or 1
  return ("\n    first difference at byte %d: missive %s, python %s"):format(i,
    quote(a:sub(from, i + 30)), quote(b:sub(from, i + 30)))
end

local function keys_of(prefix, a, b)
  local seen, list = {}, {}
  for _, t in ipairs({ a, b }) do
    for k in pairs(t) do
      if (k == prefix or k:sub(1, #prefix + 1) == prefix .. ".") and not seen[k] then
        seen[k] = true
        list[#list + 1] = k
      end
    end
  end
  table.sort(list)
  return list
end

-- Fails with every differing key of one field (from, att, ...) and both values.
local function compare(field, mine, theirs, label, mine_label)
  local diffs = {}
  for _, k in ipairs(keys_of(field, mine, theirs)) do
    if mine[k] ~= theirs[k] then
      local extra = (#(mine[k] or "") > 60 or #(theirs[k] or "") > 60)
                    and first_difference(mine[k], theirs[k]) or ""
      diffs[#diffs + 1] = ("  %s: %s %s, %s %s%s"):format(k, mine_label or "missive",
        show(mine[k]), label, show(theirs[k]), extra)
    end
  end
  assert(#diffs == 0, "\n" .. table.concat(diffs, "\n"))
end

-- The fields after the round trip: the oracle's view of the input with the changes made.
local function expected_after(orig)
  local e = {}
  for k, v in pairs(orig) do
    if not k:match("^to%.") then e[k] = v end
  end
  for k, v in pairs(NEW_TO_FIELDS) do e[k] = v end
  e.subject = NEW_SUBJECT
  e.x_corpus_check = "round trip"
  return e
end

local FIELDS = { "subject", "date", "message_id", "from", "to", "cc", "text", "html", "att" }
local FIELDS_RT = { "subject", "date", "message_id", "from", "to", "cc", "text", "html", "att",
                    "x_corpus_check" }

local function split_set(s)
  local t = {}
  for w in (s or ""):gmatch("[^,]+") do t[w] = true end
  return t
end

describe("corpus", function()
  it("CHECKLIST 63: the builder makes every generated corpus message", function()
    assert.equal(0, build_rc, build_out)
    assert.is_nil(build_out:match("@fail[^\n]*"), build_out)
    assert.truthy(build_out:match("@made\t(%d+)"))
  end)

  it("has the corpus and the oracle", function()
    assert.is_true(#messages >= 80, "only " .. #messages .. " messages")
    for _, msg in ipairs(messages) do
      assert.is_table(py[msg.name], "no oracle record for " .. msg.name)
      assert.is_nil(py[msg.name].error, msg.name .. ": " .. tostring(py[msg.name].error))
    end
  end)

  for _, msg in ipairs(messages) do
    local name = msg.name
    local r = results[name]
    local orig_py = py[name] or {}

    it(("CHECKLIST 63 %s: parse, modify, tostring and parse again without a crash")
       :format(name), function()
      local why = r.status.fail and ("failed: " .. r.status.fail)
                  or r.rc > 128 and ("was killed by signal " .. (r.rc - 128))
                  or ("exited with status " .. r.rc)
      assert(r.rc == 0 and r.status.done,
             ("%s: the child %s; its last output:\n%s"):format(name, why, r.raw:sub(-300)))
    end)

    for _, f in ipairs(FIELDS) do
      it(("CHECKLIST 73 74 75 %s: %s as Python's email reads it"):format(name, f), function()
        local mine = r.secs.orig
        assert(mine, name .. ": missive did not parse it\n" .. r.raw:sub(-600))
        compare(f, mine, orig_py, "python")
      end)
    end

    for _, f in ipairs(FIELDS_RT) do
      it(("CHECKLIST 63 %s round trip: %s kept"):format(name, f), function()
        local mine = r.secs.rt
        assert(mine, name .. ": no round trip (" .. tostring(r.status.fail) .. ")")
        compare(f, mine, expected_after(orig_py), "python (input, changed)")
      end)
    end

    it(("CHECKLIST 63 %s round trip: Python reads the output alike"):format(name), function()
      local theirs = py_rt[name]
      assert(theirs, name .. ": no output to read (" .. tostring(r.status.fail) .. ")")
      local want = expected_after(orig_py)
      for _, f in ipairs(FIELDS_RT) do
        compare(f, theirs, want, "python (input, changed)", "python (output)")
      end
    end)

    -- Only the top-level header changed: every part must leave as it came (the same
    -- tree, the same encoded bytes up to line ends), so signatures still verify.
    it(("CHECKLIST 63 %s round trip: MIME tree and part bytes kept"):format(name), function()
      local theirs = py_rt[name]
      assert(theirs, name .. ": no output to read (" .. tostring(r.status.fail) .. ")")
      compare("structure", theirs, orig_py, "python (input)", "python (output)")
      compare("part", theirs, orig_py, "python (input)", "python (output)")
    end)

    it(("CHECKLIST 63 %s round trip: no new Python defects"):format(name), function()
      local theirs = py_rt[name]
      assert(theirs, name .. ": no output to read (" .. tostring(r.status.fail) .. ")")
      local before, new = split_set(orig_py.defects), {}
      for d in pairs(split_set(theirs.defects)) do
        if not before[d] then new[#new + 1] = d end
      end
      table.sort(new)
      assert(#new == 0, name .. ": new defects " .. table.concat(new, ", "))
    end)
  end
end)
