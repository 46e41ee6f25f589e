-- bench/dkim_missive.lua DIR RUNS: DKIM signing (rsa-sha256, RSA-2048, relaxed/relaxed)
-- of a 10 KB and a 1 MB message given as bytes: parse, then sign (the body hash in one
-- streaming pass, then one RSA signature); and verifying the signed message
-- (email.verify_dkim, the key record from a lookup function: no DNS).  Writes
-- DIR/key.pem, DIR/record.txt, DIR/msg10k.eml, DIR/msg1m.eml and the signed
-- DIR/msg10k.signed.eml, DIR/msg1m.signed.eml for the Python peer (bench/dkim_py.py).
-- Signatures per second.
local C = require "bench.common"
local email = require "missive.email"
local dir, runs = arg[1], tonumber(arg[2])
local key = dir .. "/key.pem"
assert(os.execute("openssl genrsa -out " .. key .. " 2048 2>/dev/null"))
local pem = assert(io.open(key, "rb")):read("*a")
local opts = {domain = "example.org", selector = "bench", key = pem}
local der = assert(io.popen("openssl rsa -in " .. key .. " -pubout -outform DER 2>/dev/null"
  .. " | base64 | tr -d '\\n'")):read("*a")
local record = "v=DKIM1; k=rsa; p=" .. der
assert(io.open(dir .. "/record.txt", "wb")):write(record):close()
local lookup = {lookup = function() return record end}
for _, c in ipairs{ {"10k", 10 * 1024, 200}, {"1m", 1024 * 1024, 20} } do
  local name, size, n = c[1], c[2], c[3]
  local raw = C.message(size)
  assert(io.open(dir .. "/msg" .. name .. ".eml", "wb")):write(raw):close()
  local rates = {}
  for _ = 1, runs do
    local t0 = C.now()
    for _ = 1, n do
      local m = assert(email.parse(raw))
      assert(m:sign_dkim(opts))
    end
    rates[#rates + 1] = n / (C.now() - t0)
  end
  C.out("dkim.sign" .. name .. ".missive", C.median(rates))
  local m = assert(email.parse(raw))
  assert(m:sign_dkim(opts))
  local signed = assert(m:tostring())
  assert(io.open(dir .. "/msg" .. name .. ".signed.eml", "wb")):write(signed):close()
  rates = {}
  for _ = 1, runs do
    local t0 = C.now()
    for _ = 1, n do
      local r = assert(email.verify_dkim(signed, lookup))
      assert(r[1].result == "pass", r[1].reason)
    end
    rates[#rates + 1] = n / (C.now() - t0)
  end
  C.out("dkim.verify" .. name .. ".missive", C.median(rates))
end
