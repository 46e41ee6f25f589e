-- Prints the rockspec's source list for missive.core from the files in csrc/*/, so the
-- rockspec never misses a file:  lua5.4 tools/rockspec.lua > /dev/null checks it.
-- `check` also wants every Lua module of lua/missive/ listed.
-- Usage: lua tools/rockspec.lua [check ROCKSPEC | update ROCKSPEC]
local function ls(pattern)
  local out = {}
  local p = io.popen("ls " .. pattern .. " 2>/dev/null")
  for f in p:lines() do out[#out + 1] = f end
  p:close()
  table.sort(out)
  return out
end

-- The core's folders, as the Makefile's CORE_DIRS, then the bindings.
local DIRS = { "base", "net", "mime", "smtp", "pop3", "imap" }
local files = {}
for _, d in ipairs(DIRS) do
  for _, f in ipairs(ls("csrc/" .. d .. "/*.c")) do files[#files + 1] = f end
end
for _, f in ipairs(ls("csrc/lua/*.c")) do files[#files + 1] = f end

if arg[1] == "check" then
  local f = assert(io.open(arg[2]))
  local text = f:read("*a")
  f:close()
  local missing = {}
  local wanted = {}
  for _, name in ipairs(files) do wanted[#wanted + 1] = name end
  for _, name in ipairs(ls("lua/missive/*.lua")) do wanted[#wanted + 1] = name end
  for _, name in ipairs(wanted) do
    if not text:find('"' .. name .. '"', 1, true) then missing[#missing + 1] = name end
  end
  if #missing > 0 then
    io.stderr:write("rockspec misses: ", table.concat(missing, " "), "\n")
    os.exit(1)
  end
  return
end
if arg[1] == "update" then
  local f = assert(io.open(arg[2]))
  local text = f:read("*a")
  f:close()
  local lines = {}
  for _, name in ipairs(files) do lines[#lines + 1] = '                "' .. name .. '",\n' end
  local new, n = text:gsub("(sources = {\n).-(\n            },)", function(a, b)
    return a .. table.concat(lines):sub(1, -2) .. b
  end)
  assert(n == 1, "no sources block found")
  f = assert(io.open(arg[2], "w"))
  f:write(new)
  f:close()
  return
end
for _, name in ipairs(files) do io.write('        "', name, '",\n') end
