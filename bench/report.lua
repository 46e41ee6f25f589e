-- bench/report.lua RAW.tsv OUT.md - the table: absolute figures, ratios against the
-- peers, and a met/MISSED mark per target of issue 7.  Higher is better for rates
-- (msg/s, MB/s); for times (s) the ratio is peer time / missive time.
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
  targets[#targets + 1] = ("| %s | %s | >= %.1fx | %s |"):format(name, r and ("%.2fx"):format(r) or "n/a", want, mark)
end

p("# missive benchmarks")
p()
p(("%s; %s; %s; load average at start %s. Medians of several runs; loopback."):format(
  meta.date or "?", meta.machine or "?", meta.lua or "?", meta.load or "?"))
p()
p("## SMTP to Postfix smtp-sink, one session (messages/s; ratio = missive / peer)")
p()
p("| case | missive | missive (source fn) | raw pipelined replay | smtp-source | Python smtplib | LuaSocket | curl |")
p("| --- | --- | --- | --- | --- | --- | --- | --- |")
for _, tag in ipairs{"pipe", "nopipe"} do
  for _, sz in ipairs{"10k", "1m"} do
    local k = "smtp." .. tag .. "." .. sz .. "."
    local m = v[k .. "missive"]
    if m then
      local cells = {}
      for _, peer in ipairs{"raw", "smtp-source", "smtplib", "luasocket", "curl"} do
        local x = v[k .. peer]
        cells[#cells + 1] = x and ("%s (%.2fx)"):format(fmt(x), ratio(m, x)) or "n/a"
      end
      p(("| %s %s | %s | %s | %s |"):format(sz == "10k" and "10 KB" or "1 MB",
        tag == "pipe" and "PIPELINING" or "no PIPELINING", fmt(m), fmt(v[k .. "missive-src"]),
        table.concat(cells, " | ")))
    end
  end
end
p()
p("TLS to smtp-sink: not measured (smtp-sink has no TLS).")
p()
p("## POP3 from Dovecot, 1000 x 10 KB + 10 x 5 MB, connect + login + list + retrieve all (s; ratio = peer / missive)")
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
p("Memory (200 MB streaming, RSS growth) and 1000 idle TLS sessions: not measured yet.")
p()
p("## Targets (issue 7)")
p()
p("| target | ratio | wanted | |")
p("| --- | --- | --- | --- |")
local s = "smtp.pipe.10k."
target("SMTP PIPELINING 10 KB vs raw replay", ratio(v[s .. "missive"], v[s .. "raw"]), 0.8)
target("SMTP PIPELINING 10 KB vs smtp-source", ratio(v[s .. "missive"], v[s .. "smtp-source"]), 2.5)
target("SMTP PIPELINING 10 KB vs smtplib", ratio(v[s .. "missive"], v[s .. "smtplib"]), 3)
target("SMTP no PIPELINING 10 KB vs smtp-source",
  ratio(v["smtp.nopipe.10k.missive"], v["smtp.nopipe.10k.smtp-source"]), 1)
for _, tag in ipairs{"plain", "tls"} do
  local m = v["pop3." .. tag .. ".missive"]
  target("POP3 " .. tag .. " vs raw pipelined (time ratio)", ratio(v["pop3." .. tag .. ".raw"], m), 0.8)
  target("POP3 " .. tag .. " vs poplib", ratio(v["pop3." .. tag .. ".poplib"], m), 3)
  target("POP3 " .. tag .. " vs curl", ratio(v["pop3." .. tag .. ".curl"], m), 1)
end
target("base64 encode, GB/s", v["missive.b64_encode"] and v["missive.b64_encode"] / 1000, 1.5)
target("base64 decode, GB/s", v["missive.b64_decode"] and v["missive.b64_decode"] / 1000, 1.5)
target("QP encode, GB/s", v["missive.qp_encode"] and v["missive.qp_encode"] / 1000, 0.5)
target("MIME parse 50 MB vs Python email",
  ratio(v["mime.parse50.python"], v["mime.parse50.missive"]), 20)
for _, t in ipairs(targets) do p(t) end
p()
p("missive (source fn): the same message given as a source function, which skips " ..
  "smtp.lua's Lua-pattern scan for 8-bit bytes.")
local text = table.concat(out, "\n") .. "\n"
io.write(text)
local f = assert(io.open(outpath, "w"))
f:write(text)
f:close()
