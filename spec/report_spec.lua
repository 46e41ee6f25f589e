-- m.report: delivery status notifications (RFC 3464, RFC 6533) and feedback reports
-- (RFC 5965) read into fields.  The corpus reports (spec/corpus: Postfix's own, captured
-- from the spec stack; Exim, sendmail, Gmail, Exchange and ARF ones written in their
-- formats) are judged against Python's email package (spec/support/report_oracle.py),
-- which reads each field group of a status part as a message of its own.
local email = require "missive.email"
local util = require "support.util"

local ORACLE = util.here .. "/report_oracle.py"
local PYTHON = "/usr/bin/python3"

local function oracle(path)
  local out = util.capture(PYTHON .. " " .. util.shquote(ORACLE) .. " " .. util.shquote(path)
                           .. " 2>&1")
  local t = {}
  for k, v in out:gmatch("([^\t\n]+)\t([^\n]*)") do
    t[k] = v:gsub("\\(%d%d%d)", function(d) return string.char(tonumber(d)) end)
  end
  assert(t.kind, "oracle failed on " .. path .. ":\n" .. out)
  return t
end

-- What m.report makes of a field the oracle read, by the rules of mime_report.h.
local TYPED = {["reporting-mta"] = true, ["dsn-gateway"] = true, ["received-from-mta"] = true,
               ["original-recipient"] = true, ["final-recipient"] = true,
               ["remote-mta"] = true, ["diagnostic-code"] = true}
local SHORT = {["original-envelope-id"] = "envid", ["final-recipient"] = "address",
               ["original-recipient"] = "original", ["diagnostic-code"] = "diagnostic"}
local MULTI = {["original-rcpt-to"] = true, ["reported-domain"] = true,
               ["reported-uri"] = true, ["authentication-results"] = true}

local function trim(s) return (s:gsub("^[ \t]+", ""):gsub("[ \t]+$", "")) end

local function expected_group(o, i)
  local want = {}
  for j = 1, tonumber(o["group." .. i .. ".field.n"]) do
    local name = o[("group.%d.field.%d.name"):format(i, j)]:lower()
    local value = trim(o[("group.%d.field.%d.value"):format(i, j)]:gsub("\t", " "))
    local key = (SHORT[name] or name):gsub("%-", "_")
    local typ
    if TYPED[name] and value:find(";", 1, true) then
      typ, value = value:match("^([^;]*);(.*)$")
      typ, value = trim(typ):lower(), trim(value)
    end
    if name == "action" then value = value:lower() end
    if name == "action" or name == "status" then value = value:match("^[^%s(;]*") end
    if MULTI[name] then
      want[key] = want[key] or {}
      table.insert(want[key], value)
    elseif want[key] == nil then
      want[key] = value
      if typ then want[key .. "_type"] = typ end
    end
  end
  return want
end

-- The fields of a group as m.report has them (those it adds itself left out).
local function got_fields(t)
  local g = {}
  for k, v in pairs(t) do
    if k ~= "type" and k ~= "recipients" and k ~= "message" and k ~= "headers_only"
       and k ~= "truncated" then g[k] = v end
  end
  return g
end

local function corpus()
  local files = {}
  for _, name in ipairs{"report-postfix-bounce-hdrs.eml", "report-postfix-delivered.eml",
                        "report-exim-bounce.eml", "report-sendmail-bounce.eml",
                        "report-gmail-bounce.eml", "report-arf-abuse.eml",
                        "bounce-exchange-ndr.eml", "bounce-postfix-rfc822-headers.eml",
                        "bounce-qmail-plain.eml", "empty-body-headers-only.eml",
                        "forward-inline-rfc822-nested-twice.eml"} do
    files[#files + 1] = "spec/corpus/" .. name
  end
  return files
end

describe("m.report against Python's email package", function()
  for _, path in ipairs(corpus()) do
    it("reads " .. path:match("[^/]+$") .. " as the oracle does", function()
      local o = oracle(path)
      local m = assert(email.load(path))
      local r = m.report
      if o.kind == "none" then
        assert.is_nil(r)
        return
      end
      assert.equal(o.kind, r.type)
      assert.is_false(r.truncated)
      local ngroups = tonumber(o["group.n"])
      assert.same(expected_group(o, 1), got_fields(r))
      if r.type == "delivery-status" then
        assert.equal(ngroups - 1, #r.recipients)
        for i = 2, ngroups do
          assert.same(expected_group(o, i), r.recipients[i - 1], "recipient " .. (i - 1))
        end
      else
        assert.equal(1, ngroups)
      end
      if o["returned.headers_only"] then
        assert.equal(o["returned.headers_only"] == "1", r.headers_only)
        assert.equal(o["returned.subject"], r.message.subject)
      else
        assert.is_nil(r.message)
      end
    end)
  end
end)

-- A report built around a status part body.
local function report(status, opts)
  opts = opts or {}
  return table.concat{
    "From: MAILER-DAEMON@x.test\r\nSubject: r\r\nMIME-Version: 1.0\r\n",
    "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n",
    "--b\r\nContent-Type: text/plain\r\n\r\nbounced\r\n",
    "--b\r\nContent-Type: ", opts.type or "message/delivery-status", "\r\n\r\n",
    status, "\r\n", opts.tail or "", "--b--\r\n"}
end

describe("m.report", function()
  it("is nil for a message that is no report", function()
    assert.is_nil(assert(email.parse("Subject: hi\r\n\r\nbody\r\n")).report)
    local built = assert(email.new{from = "a@x.test", to = "b@x.test", text = "x"})
    assert.is_nil(built.report)
    -- a report forwarded inside another message is that message's attachment, not it
    local fwd = "Subject: fwd\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
      .. "boundary=o\r\n\r\n--o\r\nContent-Type: message/rfc822\r\n\r\n"
      .. report("Reporting-MTA: dns; a\r\n\r\nFinal-Recipient: rfc822; b@x.test\r\n"
      .. "Action: failed\r\nStatus: 5.1.1\r\n") .. "\r\n--o--\r\n"
    assert.is_nil(assert(email.parse(fwd)).report)
  end)

  it("reads LF line ends, blank lines with spaces, comments after Status and Action",
     function()
    local m = assert(email.parse((report("Reporting-MTA: dns;mx.x.test\n   \n\n"
      .. "Final-Recipient: rfc822;b@x.test\nAction: Failed (permanent)\n"
      .. "Status: 5.1.1 (bad mailbox)\n\n \nFinal-Recipient: rfc822;c@x.test\n"
      .. "Action: delayed\nStatus: 4.4.1\nWill-Retry-Until: Tue, 5 Mar 2024 10:00:00 +0000")
      :gsub("\r\n", "\n"))))
    local r = assert(m.report)
    assert.equal("mx.x.test", r.reporting_mta)
    assert.equal(2, #r.recipients)
    assert.same({"failed", "5.1.1"}, {r.recipients[1].action, r.recipients[1].status})
    assert.equal("delayed", r.recipients[2].action)
    assert.equal("Tue, 5 Mar 2024 10:00:00 +0000", r.recipients[2].will_retry_until)
    assert.is_nil(r.message)
  end)

  it("reads message/global-delivery-status (RFC 6533) with UTF-8 values", function()
    local m = assert(email.parse(report("Reporting-MTA: dns; mx.x.test\r\n\r\n"
      .. "Final-Recipient: utf-8; j\195\182rg@b\195\188cher.example\r\n"
      .. "Action: failed\r\nStatus: 5.1.1",
      {type = "message/global-delivery-status",
       tail = "--b\r\nContent-Type: message/global-headers\r\n\r\n"
         .. "Subject: Gr\195\188\195\159e\r\n\r\n"})))
    local rc = assert(m.report).recipients[1]
    assert.equal("utf-8", rc.address_type)
    assert.equal("j\195\182rg@b\195\188cher.example", rc.address)
    assert.is_true(m.report.headers_only)
    assert.equal("Gr\195\188\195\159e", m.report.message.subject)
  end)

  it("CHECKLIST 60 91: control bytes and invalid UTF-8 in a field never reach Lua",
     function()
    local m = assert(email.parse(report("Reporting-MTA: dns; a\27[31mred\r\n\r\n"
      .. "Final-Recipient: rfc822; b@x.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
      .. "Diagnostic-Code: smtp; 550 \255\254 bad\7")))
    local r = assert(m.report)
    assert.is_nil(r.reporting_mta:find("\27", 1, true))
    assert.is_nil(r.recipients[1].diagnostic:find("[%c\255\254]"))
  end)

  it("CHECKLIST 95: is bounded: 1000 recipients, 64 fields a group, values of 1000 " ..
     "bytes; the rest cut and `truncated` set", function()
    local groups = {"Reporting-MTA: dns; a"}
    for i = 1, 1005 do
      groups[#groups + 1] = ("Final-Recipient: rfc822; r%d@x.test\r\nAction: failed\r\n"
        .. "Status: 5.1.1"):format(i)
    end
    local r = assert(assert(email.parse(report(table.concat(groups, "\r\n\r\n")))).report)
    assert.equal(1000, #r.recipients)
    assert.equal("r1000@x.test", r.recipients[1000].address)
    assert.is_true(r.truncated)

    local fields = {"Reporting-MTA: dns; a"}
    for i = 1, 70 do fields[#fields + 1] = ("X-F%d: v"):format(i) end
    r = assert(email.parse(report(table.concat(fields, "\r\n")))).report
    assert.equal("v", r.x_f63)
    assert.is_nil(r.x_f64)
    assert.is_true(r.truncated)

    r = assert(email.parse(report("Reporting-MTA: dns; a\r\n\r\nFinal-Recipient: rfc822; "
      .. "b@x.test\r\nDiagnostic-Code: smtp; 550 " .. ("x"):rep(3000)))).report
    assert.equal(1000, #r.recipients[1].diagnostic)
    assert.is_true(r.truncated)
  end)

  it("survives a change of the message (read again from its new form)", function()
    local m = assert(email.load("spec/corpus/report-exim-bounce.eml"))
    m.subject = "changed"
    assert.equal("nobody@example.net", m.report.recipients[1].address)
  end)
end)
