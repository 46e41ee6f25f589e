-- bench/mime_headers.lua - header parsing must be linear in every header shape: each
-- pathological shape (encoded-words that never end, comments, quotes, parameters,
-- folding, many fields, part headers) is parsed at 64 KB .. 4 MB, and the growth per
-- doubling of the size is reported (about 2 when linear, 4 when quadratic).
-- Output: "hdr.<shape>.<KB><TAB>seconds" per size, "hdr.<shape>.growth<TAB>ratio" (the
-- geometric mean per doubling from 256 KB up) and "hdr.<shape>.last<TAB>ratio" (the
-- last doubling).  Asserts nothing: bench/report.lua prints the table.
-- Usage: lua bench/mime_headers.lua [max KB (4096)] [runs (3)]; BENCH_HDR_ONLY=pattern
-- keeps the shapes whose name matches (a Lua pattern).
local email = require "missive.email"

local MAXKB = tonumber(arg[1]) or 4096
local RUNS = tonumber(arg[2]) or 3
local ONLY = os.getenv("BENCH_HDR_ONLY")
local BUDGET = 20     -- seconds: a shape that takes longer at one size stops growing
local opts = {max_header_bytes = 16 * 1024 * 1024, max_headers = 10000000}

local function rep(unit, size) return unit:rep(math.floor(size / #unit) + 1):sub(1, size) end

local function multipart(part_headers)
  return "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" .. part_headers ..
         "\r\n\r\ndata\r\n--b--\r\n"
end

-- Each shape: a message whose pathological header is about `size` bytes.
local shapes = {
  {"subject-open-ew", function(n) return "Subject: " .. rep("=?x?B?A", n) .. "\r\n\r\nb" end},
  {"subject-eq-q", function(n) return "Subject: " .. rep("=?", n) .. "\r\n\r\nb" end},
  {"subject-ew-nows", function(n)
    return "Subject: " .. rep("=?utf-8?B?w6k=?==?iso-8859-1?Q?=E9?=", n) .. "\r\n\r\nb" end},
  {"subject-folded", function(n) return "Subject: " .. rep("x\r\n ", n) .. "\r\n\r\nb" end},
  {"from-name-open-ew", function(n)
    return "From: " .. rep("=?x?B?A", n) .. " <a@example.org>\r\n\r\nb" end},
  {"from-quoted", function(n) return 'From: "' .. rep('\\"=?', n) .. '" <a@b.org>\r\n\r\nb' end},
  {"from-comments", function(n) return "From: a@b.org " .. rep("(x (y) ", n) .. "\r\n\r\nb" end},
  {"to-angles", function(n) return "To: " .. rep("<", n) .. "a@b.org>\r\n\r\nb" end},
  {"to-many", function(n) return "To: " .. rep("a@example.org, ", n) .. "\r\n\r\nb" end},
  {"to-at-signs", function(n) return "To: " .. rep("a@", n) .. "\r\n\r\nb" end},
  {"to-route", function(n) return "To: <" .. rep("@a.org,", n) .. ":u@b.org>\r\n\r\nb" end},
  {"to-dots", function(n) return "To: " .. rep("a . ", n) .. "@b.org\r\n\r\nb" end},
  {"ct-name-open-ew", function(n)
    return 'Content-Type: application/x; name="' .. rep("=?x?B?A", n) .. '"\r\n\r\nb' end},
  {"cd-many-params", function(n)
    return "Content-Type: application/x\r\nContent-Disposition: attachment" ..
           rep("; a=b", n) .. "\r\n\r\nb" end},
  {"cd-long-names", function(n)
    local name = ("n"):rep(math.max(1, math.floor(n / 300)))
    return "Content-Type: application/x\r\nContent-Disposition: attachment" ..
           rep("; " .. name .. "*1=v", n) .. "\r\n\r\nb" end},
  {"cd-distinct-names", function(n)
    local t, len = {}, math.max(4, math.floor(n / 256) - 8)
    for i = 1, 256 do t[i] = ("; %s%03d*1=v"):format(("n"):rep(len - 3), i) end
    return "Content-Type: application/x\r\nContent-Disposition: attachment" ..
           table.concat(t) .. "\r\n\r\nb" end},
  {"cd-sections", function(n)
    local t, len, i = {}, 0, 0
    while len < n do
      t[#t + 1] = ("; filename*%d*=%%41"):format(i); len = len + #t[#t]; i = i + 1
    end
    return "Content-Type: application/x\r\nContent-Disposition: attachment" ..
           table.concat(t) .. "\r\n\r\nb" end},
  {"many-fields", function(n) return rep("X-H: v\r\n", n) .. "\r\nb" end},
  {"no-colon-lines", function(n) return "Subject: s\r\n" .. rep("x\r\n", n) .. "\r\nb" end},
  {"stray-lines-between-fields", function(n)
    return rep("x\r\n y\r\nz\r\nX-H: v\r\n", n) .. "\r\nb" end},
  {"part-filename-open-ew", function(n)
    return multipart('Content-Type: text/plain\r\nContent-Disposition: attachment; ' ..
                     'filename="' .. rep("=?x?B?A", n) .. '"') end},
  {"part-many-fields", function(n)
    return multipart(rep("Content-Disposition: attachment; filename=a\r\n", n)) end},
}

local function touch(m)
  local seen = {m.subject, m.from, m.to, m:addresses("to"), m:addresses("from"),
                m.attachments, m.text}
  for p in m:parts() do seen[#seen + 1] = p.headers end
  return seen
end

local function time_one(msg)
  local ts = {}
  for r = 1, RUNS do
    local t0 = os.clock()
    local m = assert(email.parse(msg, opts))
    touch(m)
    ts[r] = os.clock() - t0
    if ts[r] > BUDGET then break end
  end
  table.sort(ts)
  return ts[math.floor((#ts + 1) / 2)]
end

local function out(k, v) io.write(("%s\t%.6g\n"):format(k, v)); io.flush() end

local function measure(name, make)
  local t, kb = {}, 64
  while kb <= MAXKB do
    t[kb] = time_one(make(kb * 1024))
    out(("hdr.%s.%d"):format(name, kb), t[kb])
    if t[kb] > BUDGET then break end
    kb = kb * 2
  end
  -- From 256 KB up (smaller sizes are mostly fixed costs), the mean growth per doubling.
  local lo, hi = 256, 256
  while t[hi * 2] do hi = hi * 2 end
  if t[lo] and hi > lo and t[lo] > 0 then
    local steps = math.log(hi / lo) / math.log(2)
    out(("hdr.%s.growth"):format(name), (t[hi] / t[lo]) ^ (1 / steps))
    if t[hi / 2] > 0 then out(("hdr.%s.last"):format(name), t[hi] / t[hi / 2]) end
  end
end

for _, s in ipairs(shapes) do
  if not ONLY or s[1]:match(ONLY) then measure(s[1], s[2]) end
end
