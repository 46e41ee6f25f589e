-- bench/report.lua RAW.tsv OUT.md - the table: absolute figures, ratios against the
-- peers, and a met/MISSED mark per performance target the project sets itself.
-- Higher is better for rates (msg/s, MB/s); for times (s) the ratio is peer time / missive time.
local raw, outpath = arg[1], arg[2]
local v, meta = {}, {}
for line in io.lines(raw) do
  local k, x = line:match("^([^\t]+)\t(.*)$")
  if k then
    if k:match("^meta%.") then meta[k:sub(6)] = x else v[k] = tonumber(x) end
  end
end
local out = {}
local function p(s) out[#out + 1] = s or "" end
local function fmt(x)
  if not x then return "n/a" end
  if x >= 100 then return ("%.0f"):format(x) elseif x >= 1 then return ("%.2f"):format(x) end
  return ("%.3f"):format(x)
end
local function ratio(a, b) if a and b and b > 0 then return a / b end end
local targets = {}
local function target(name, r, want)
  local mark = r == nil and "not measured" or (r >= want and "met" or "MISSED")
  targets[#targets + 1] = ("| %s | %s | >= %.1fx | %s |"):format(name,
    r and ("%.2fx"):format(r) or "n/a", want, mark)
end

p("# missive benchmarks")
p()
p(("%s; %s; %s; load average at start %s. Medians of several runs; loopback."):format(
  meta.date or "?", meta.machine or "?", meta.lua or "?", meta.load or "?"))
p()
p("## SMTP to Postfix smtp-sink, one session (messages/s; ratio = missive send_batch / peer)")
p()
p("Plain TCP, then implicit TLS through stunnel4 in front of the same sinks (smtp-sink has no TLS;")
p("every TLS client, the raw replay included, goes through the same terminator).")
p()
p("The raw replay writes every message without waiting for any reply: the sink's own limit,")
p("but not a correct client (RFC 2920: the body only after the 354 to DATA). The correct")
p("minimal client (bench/smtp_floor.c, C, blocking reads) waits for exactly what the protocol")
p("requires: with PIPELINING, one round trip per message.")
p()
p("| case | missive send_batch | missive send | missive send (source fn) | " ..
  "raw pipelined replay | correct minimal client (C) | smtp-source | Python smtplib | " ..
  "LuaSocket | curl |")
p("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for _, tr in ipairs{"", "tls."} do
  for _, tag in ipairs{"pipe", "nopipe"} do
    for _, sz in ipairs{"10k", "1m"} do
      local k = "smtp." .. tr .. tag .. "." .. sz .. "."
      local m = v[k .. "missive-batch"]
      if m then
        local cells = {}
        for _, peer in ipairs{"raw", "floor", "smtp-source", "smtplib", "luasocket", "curl"} do
          local x = v[k .. peer]
          cells[#cells + 1] = x and ("%s (%.2fx)"):format(fmt(x), ratio(m, x)) or "n/a"
        end
        p(("| %s%s %s | %s | %s | %s | %s |"):format(tr == "" and "" or "TLS ",
          sz == "10k" and "10 KB" or "1 MB", tag == "pipe" and "PIPELINING" or "no PIPELINING",
          fmt(m), fmt(v[k .. "missive"]), fmt(v[k .. "missive-src"]), table.concat(cells, " | ")))
      end
    end
  end
end
p()
p("## POP3 from Dovecot, 1000 x 10 KB + 10 x 5 MB, connect + login + list + retrieve all " ..
  "(s; ratio = peer / missive)")
p()
p("| transport | missive | raw pipelined RETRs | Python poplib | curl |")
p("| --- | --- | --- | --- | --- |")
for _, tag in ipairs{"plain", "tls"} do
  local m = v["pop3." .. tag .. ".missive"]
  if m then
    local cells = {}
    for _, peer in ipairs{"raw", "poplib", "curl"} do
      local x = v["pop3." .. tag .. "." .. peer]
      cells[#cells + 1] = x and ("%s (%.2fx)"):format(fmt(x), ratio(x, m)) or "n/a"
    end
    p(("| %s | %s | %s |"):format(tag, fmt(m), table.concat(cells, " | ")))
  end
end
p()
p("CPU seconds per run (medians): the client's own, and the whole machine's (client, Dovecot")
p("and the kernel, from /proc/stat). On a machine of C cores no run can take less than")
p("machine / C seconds, however the work overlaps.")
p()
p("| transport | client | CPU s: client | CPU s: machine | rest (server, kernel) | " ..
  "floor = machine / cores |")
p("| --- | --- | --- | --- | --- | --- |")
local cores = tonumber((meta.machine or ""):match("^(%d+) cores")) or 2
for _, tag in ipairs{"plain", "tls"} do
  for _, who in ipairs{"missive", "raw", "poplib"} do
    local k = "pop3." .. tag .. "." .. who
    local c, m = v[k .. ".cpu"], v[k .. ".machine"]
    if c and m then
      p(("| %s | %s | %s | %s | %s | %s |"):format(tag, who, fmt(c), fmt(m), fmt(m - c),
        fmt(m / cores)))
    end
  end
end
-- IMAP: every peer of the same run, even before missive's own column exists.
local imap_peers = {"imaplib-single", "imaplib-each", "imaplib-raw", "imapflow",
                    "imapflow-nocompress", "mbsync"}
local imap_all = {"missive"}
for _, who in ipairs(imap_peers) do imap_all[#imap_all + 1] = who end
local function imap_seen()
  for _, tag in ipairs{"plain", "tls"} do
    for _, who in ipairs(imap_all) do
      if v["imap." .. tag .. "." .. who] then return true end
    end
  end
end
if imap_seen() then
  local n = v["imap.tls.imaplib-single.count"] or v["imap.plain.imaplib-single.count"]
  p()
  p(("## IMAP from Dovecot, %s messages (10 KB each, 10 of 5 MB), connect + login + " ..
     "list + fetch all (s; ratio = peer / missive)"):format(n and ("%d"):format(n) or "?"))
  p()
  p("missive: s:messages{folder = \"INBOX\"}, each message parsed into an email object; " ..
    "imaplib: Python, each message parsed by the email module, either one " ..
    "`UID FETCH 1:* BODY.PEEK[]` or `UID SEARCH ALL` and one FETCH per message (and the " ..
    "single FETCH unparsed: what imaplib's transport alone costs); imapflow: " ..
    "fetch('1:*', {source}), with its defaults (COMPRESS=DEFLATE, since Dovecot offers it) " ..
    "and without compression; mbsync: the whole process pulling INBOX into an empty maildir " ..
    "(FSync no: the disk's flush latency is no part of an IMAP client).")
  p()
  p("| transport | missive | imaplib, one FETCH | imaplib, FETCH per message | " ..
    "imaplib, one FETCH, unparsed | imapflow | imapflow, no COMPRESS | mbsync |")
  p("| --- | --- | --- | --- | --- | --- | --- | --- |")
  for _, tag in ipairs{"plain", "tls"} do
    local m = v["imap." .. tag .. ".missive"]
    local cells = {}
    for _, peer in ipairs(imap_peers) do
      local x = v["imap." .. tag .. "." .. peer]
      cells[#cells + 1] = x and (m and ("%s (%.2fx)"):format(fmt(x), ratio(x, m)) or fmt(x))
        or "n/a"
    end
    p(("| %s | %s | %s |"):format(tag, fmt(m), table.concat(cells, " | ")))
  end
  for _, tag in ipairs{"plain", "tls"} do
    for _, who in ipairs(imap_all) do
      local c = v["imap." .. tag .. "." .. who .. ".count"]
      if c and n and c ~= n then
        p(("- %s %s fetched %d messages, not %d: its time is not comparable"):format(tag,
          who, c, n))
      end
    end
  end
  p()
  p("CPU seconds per run (medians): the client's own, and the whole machine's (client, " ..
    "Dovecot and the kernel).")
  p()
  p("| transport | client | CPU s: client | CPU s: machine | rest (server, kernel) |")
  p("| --- | --- | --- | --- | --- |")
  for _, tag in ipairs{"plain", "tls"} do
    for _, who in ipairs(imap_all) do
      local k = "imap." .. tag .. "." .. who
      local c, mc = v[k .. ".cpu"], v[k .. ".machine"]
      if c and mc then
        p(("| %s | %s | %s | %s | %s |"):format(tag, who, fmt(c), fmt(mc), fmt(mc - c)))
      end
    end
  end
  p()
  p(("| peak RSS growth fetching a %s MB message into a file (MB) | missive fetch_part | " ..
     "imaplib FETCH (holds the literal) | imaplib, 1 MB partial FETCHes | " ..
     "imapflow download | mbsync |"):format(meta.imapmb or "200"))
  p("| --- | --- | --- | --- | --- | --- |")
  local function mbk(k) local x = v[k]; return x and ("%.1f"):format(x / 1024) or "n/a" end
  p(("| plain TCP | %s | %s | %s | %s | %s |"):format(mbk("mem.imap.missive"),
    mbk("mem.imap.imaplib"), mbk("mem.imap.imaplib-partial"), mbk("mem.imap.imapflow"),
    mbk("mem.imap.mbsync")))
  p()
  p("imaplib reads every literal whole (no streaming); partial FETCHes " ..
    "(`BODY.PEEK[]<offset.length>`) are how a Python program bounds its memory. mbsync: its " ..
    "peak RSS minus its peak pulling an empty mailbox. Versions: imapflow " ..
    (meta.imapflow or "n/a") .. "; " .. (meta.mbsync or "mbsync n/a") .. "; Python " ..
    (meta.python or "?") .. ".")
end
p()
p("## MIME (MB/s of raw input; ratio = missive / peer)")
p()
p("| codec | missive | LuaSocket mime | Python |")
p("| --- | --- | --- | --- |")
for _, c in ipairs{"b64_encode", "b64_encode_wrapped", "b64_decode", "b64_decode_wrapped",
                   "qp_encode", "qp_decode"} do
  local m = v["missive." .. c]
  if m then
    local ls, py = v["luasocket." .. c], v["python." .. c]
    p(("| %s | %s | %s | %s |"):format(c, fmt(m),
      ls and ("%s (%.1fx)"):format(fmt(ls), m / ls) or "n/a",
      py and ("%s (%.1fx)"):format(fmt(py), m / py) or "n/a"))
  end
end
p()
p("| 50 MB attachment (s) | missive | Python email |")
p("| --- | --- | --- |")
for _, c in ipairs{"build50", "parse50"} do
  local m, py = v["mime." .. c .. ".missive"], v["mime." .. c .. ".python"]
  if m then
    p(("| %s | %s | %s |"):format(c == "build50" and "build + serialise" or "parse",
      fmt(m), py and ("%s (%.1fx)"):format(fmt(py), py / m) or "n/a"))
  end
end
p()
p("## Memory")
p()
p(("| peak RSS growth while streaming a %s MB message (MB) | missive | Python |"):format(
  meta.memmb or "200"))
p("| --- | --- | --- |")
local function mb(x) return x and ("%.1f"):format(x / 1024) or "n/a" end
p(("| send from a file (attachment {path=...}) to smtp-sink | %s | %s |"):format(
  mb(v["mem.send.missive"]), mb(v["mem.send.python"])))
p(("| retrieve from Dovecot into a file | %s | %s |"):format(
  mb(v["mem.retrieve.missive"]), mb(v["mem.retrieve.python"])))
p()
p(("| RSS per idle TLS session, %s sessions (KB) | missive | " ..
   "Python smtplib (shared SSLContext) |"):format(meta.nsess or "1000"))
p("| --- | --- | --- |")
p(("| cafile = the test CA | %s | %s |"):format(fmt(v["sess.missive"]), fmt(v["sess.python"])))
p(("| cafile = system bundle + test CA | %s | %s |"):format(fmt(v["sess.missive-bundle"]),
  fmt(v["sess.python-bundle"])))
p(("| plain TCP, no TLS (what missive itself holds) | %s | n/a |"):format(
  fmt(v["sess.missive-plain"])))
p()
p("## Targets")
p()
p("| target | ratio | wanted | |")
p("| --- | --- | --- | --- |")
local s, b = "smtp.pipe.10k.", "missive-batch"
target("SMTP PIPELINING 10 KB vs raw replay", ratio(v[s .. b], v[s .. "raw"]), 0.8)
target("SMTP PIPELINING 10 KB vs smtp-source", ratio(v[s .. b], v[s .. "smtp-source"]), 2.5)
target("SMTP PIPELINING 10 KB vs smtplib", ratio(v[s .. b], v[s .. "smtplib"]), 3)
target("SMTP no PIPELINING 10 KB vs smtp-source",
  ratio(v["smtp.nopipe.10k." .. b], v["smtp.nopipe.10k.smtp-source"]), 1)
s = "smtp.tls.pipe.10k."
target("SMTP TLS PIPELINING 10 KB vs raw replay", ratio(v[s .. b], v[s .. "raw"]), 0.8)
target("SMTP TLS PIPELINING 10 KB vs smtplib", ratio(v[s .. b], v[s .. "smtplib"]), 3)
for _, tag in ipairs{"plain", "tls"} do
  local m = v["pop3." .. tag .. ".missive"]
  target("POP3 " .. tag .. " vs raw pipelined (time ratio)",
    ratio(v["pop3." .. tag .. ".raw"], m), 0.8)
  target("POP3 " .. tag .. " vs poplib", ratio(v["pop3." .. tag .. ".poplib"], m), 3)
  target("POP3 " .. tag .. " vs curl", ratio(v["pop3." .. tag .. ".curl"], m), 1)
end
target("base64 encode, GB/s", v["missive.b64_encode"] and v["missive.b64_encode"] / 1000, 1.5)
target("base64 decode, GB/s", v["missive.b64_decode"] and v["missive.b64_decode"] / 1000, 1.5)
target("QP encode, GB/s", v["missive.qp_encode"] and v["missive.qp_encode"] / 1000, 0.5)
target("MIME parse 50 MB vs Python email",
  ratio(v["mime.parse50.python"], v["mime.parse50.missive"]), 20)
local function grow(k) local x = v[k]; return x and 8 / (x / 1024) end
target("200 MB send from file: RSS growth <= 8 MB (8 MB / growth)", grow("mem.send.missive"), 1)
target("200 MB retrieve to file: RSS growth <= 8 MB (8 MB / growth)",
  grow("mem.retrieve.missive"), 1)
for _, tag in ipairs{"plain", "tls"} do
  local k = "imap." .. tag .. "."
  local m = v[k .. "missive"]
  target("IMAP " .. tag .. " vs imaplib one FETCH (time ratio)",
    ratio(v[k .. "imaplib-single"], m), 1)
  target("IMAP " .. tag .. " vs imaplib FETCH per message", ratio(v[k .. "imaplib-each"], m), 1.5)
  target("IMAP " .. tag .. " vs imapflow", ratio(v[k .. "imapflow"], m), 1.5)
  target("IMAP " .. tag .. " vs imapflow without COMPRESS",
    ratio(v[k .. "imapflow-nocompress"], m), 1.5)
  target("IMAP " .. tag .. " vs mbsync", ratio(v[k .. "mbsync"], m), 2)
end
target("IMAP " .. (meta.imapmb or "200") .. " MB fetch_part to file: RSS growth <= 8 MB " ..
  "(8 MB / growth)", grow("mem.imap.missive"), 1)
for _, t in ipairs(targets) do p(t) end
p()
-- What the peers leave reachable: the raw client is the ceiling of any client.
local function ceil(name, x, y)
  local r = ratio(x, y)
  if r then p(("- ceiling for %s: raw client / peer = %.2fx"):format(name, r)) end
end
ceil("SMTP PIPELINING 10 KB vs smtp-source", v["smtp.pipe.10k.raw"], v["smtp.pipe.10k.smtp-source"])
ceil("SMTP PIPELINING 10 KB vs smtplib", v["smtp.pipe.10k.raw"], v["smtp.pipe.10k.smtplib"])
ceil("SMTP TLS PIPELINING 10 KB vs smtplib", v["smtp.tls.pipe.10k.raw"],
  v["smtp.tls.pipe.10k.smtplib"])
ceil("POP3 tls vs poplib (time)", v["pop3.tls.poplib"], v["pop3.tls.raw"])
local function floor_note(name, x, y)
  local r = ratio(x, y)
  if r then p(("- %s: missive / correct minimal client = %.2fx"):format(name, r)) end
end
floor_note("SMTP PIPELINING 10 KB", v["smtp.pipe.10k.missive-batch"], v["smtp.pipe.10k.floor"])
floor_note("SMTP no PIPELINING 10 KB", v["smtp.nopipe.10k.missive-batch"],
  v["smtp.nopipe.10k.floor"])
p()
p("missive send_batch: one s:send_batch(list) call for all messages (with PIPELINING, each " ..
  "end of data travels with the next envelope); send: one s:send per message; source fn: " ..
  "s:send with the body given as a source function of 64 KB chunks.")
-- Header parsing growth (bench/mime_headers.lua): linear is about 2 per doubling.
do
  local shapes, seen = {}, {}
  for k in pairs(v) do
    local sh = k:match("^hdr%.(.+)%.growth$")
    if sh and not seen[sh] then seen[sh] = true; shapes[#shapes + 1] = sh end
  end
  table.sort(shapes)
  if #shapes > 0 then
    p()
    p("## Header parsing: pathological shapes, time per size and growth per doubling")
    p()
    p("| shape | 256 KB (s) | 1 MB (s) | 4 MB (s) | growth per doubling | last doubling |")
    p("| --- | --- | --- | --- | --- | --- |")
    for _, sh in ipairs(shapes) do
      local g = v["hdr." .. sh .. ".growth"]
      p(("| %s | %s | %s | %s | %.2f%s | %s |"):format(sh, fmt(v["hdr." .. sh .. ".256"]),
        fmt(v["hdr." .. sh .. ".1024"]), fmt(v["hdr." .. sh .. ".4096"]), g,
        g > 2.6 and " (SUPER-LINEAR)" or "", fmt(v["hdr." .. sh .. ".last"])))
    end
  end
end
-- DKIM signing (bench/dkim_missive.lua, bench/dkim_py.py, bench/dkim_node.js)
if v["dkim.sign10k.missive"] then
  p()
  p("## DKIM signing: RSA-2048, relaxed/relaxed, parse + sign a message given as bytes")
  p()
  p(("Peers: dkimpy (Debian python3-dkim); nodemailer %s (its `lib/dkim` signer, RSA " ..
    "through Node's OpenSSL)."):format(meta.nodemailer or "n/a"))
  p()
  p("| message | missive (signatures/s) | dkimpy | ratio | nodemailer | ratio |")
  p("| --- | --- | --- | --- | --- | --- |")
  for _, c in ipairs{ {"10k", "10 KB"}, {"1m", "1 MB"} } do
    local k = "dkim.sign" .. c[1]
    local m, py, nm = v[k .. ".missive"], v[k .. ".python"], v[k .. ".nodemailer"]
    p(("| %s | %s | %s | %s | %s | %s |"):format(c[2], fmt(m), fmt(py),
      (m and py) and ("%.2fx"):format(m / py) or "-", fmt(nm),
      (m and nm) and ("%.2fx"):format(m / nm) or "-"))
  end
  -- If signing cost send_batch only the signature itself, a signed message would take
  -- 1/plain + 1/sign seconds; "overhead beyond signing" is how much slower than that it is.
  local plain, signed, sign = v["dkim.batch.plain"], v["dkim.batch.signed"],
    v["dkim.sign10k.missive"]
  if plain and signed and sign then
    local expect = 1 / (1 / plain + 1 / sign)
    p()
    p("send_batch of 10 KB messages to the pipelining smtp-sink, with and without the " ..
      "session's `dkim` option (messages/s):")
    p()
    p("| unsigned | signed | expected (unsigned + one parse and sign each) | " ..
      "signed / expected (target >= 0.9) |")
    p("| --- | --- | --- | --- |")
    p(("| %s | %s | %s | %.2f (%s) |"):format(fmt(plain), fmt(signed), fmt(expect),
      signed / expect, signed / expect >= 0.9 and "met" or "MISSED"))
  end
  if v["dkim.verify10k.missive"] then
    p()
    p("## DKIM verification: the same messages signed, verified (key record given)")
    p()
    p("| message | missive (verifications/s) | dkimpy (verifications/s) | ratio |")
    p("| --- | --- | --- | --- |")
    for _, c in ipairs{ {"10k", "10 KB"}, {"1m", "1 MB"} } do
      local m = v["dkim.verify" .. c[1] .. ".missive"]
      local py = v["dkim.verify" .. c[1] .. ".python"]
      p(("| %s | %s | %s | %s |"):format(c[2], fmt(m), fmt(py),
        (m and py) and ("%.1fx"):format(m / py) or "-"))
    end
  end
end
local text = table.concat(out, "\n") .. "\n"
io.write(text)
local f = assert(io.open(outpath, "w"))
f:write(text)
f:close()
