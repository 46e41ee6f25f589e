-- All defaults in one place: csrc/base/mv_defaults.h, exported as core.defaults, read by the
-- Lua modules through missive.config, and listed in README's "Defaults" table.
local core = require "missive.core"
local config = require "missive.config"

local function flatten(t, prefix, out)
  for k, v in pairs(t) do
    if type(v) == "table" then flatten(v, prefix .. k .. ".", out)
    else out[prefix .. k] = v end
  end
  return out
end

-- The README table's rows: | `key` | `value` | what |
local function documented()
  local text = assert(io.open("README.md")):read("*a")
  local section = assert(text:match("\n## Defaults\n(.-)\n## "), "README has no Defaults")
  local rows = {}
  for key, value in section:gmatch("\n| `([%w_.]+)` | `([^`]+)` |") do
    rows[key] = assert((loadstring or load)("return " .. value))()
  end
  return rows
end

describe("defaults", function()
  it("README's Defaults table is core.defaults, entry for entry", function()
    assert.same(flatten(core.defaults, "", {}), documented())
  end)

  it("missive.config hands the core's defaults to the Lua modules", function()
    assert.equal(core.defaults.timeout, config.timeout)
    for _, part in ipairs{ "smtp", "pop3", "email", "spool" } do
      assert.equal(core.defaults[part], config[part])
    end
  end)

  it("no Lua module spells a default the core already names", function()
    -- The literals of core.defaults that would only be defaults where they appear.
    local watched = { "587", "465", "995", "110", "3600", "86400", "998" }
    local p = io.popen("ls lua/missive/*.lua")
    local found = {}
    for path in p:lines() do
      local n = 0
      for line in io.lines(path) do
        n = n + 1
        local code = line:gsub("%-%-.*$", "")
        for _, lit in ipairs(watched) do
          if code:find("%f[%w]" .. lit .. "%f[^%w]") then
            found[#found + 1] = ("%s:%d: %s"):format(path, n, lit)
          end
        end
      end
    end
    p:close()
    assert.same({}, found)
  end)
end)
