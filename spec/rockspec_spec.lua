-- The LuaRocks build stays complete and works offline.
describe("rockspec", function()
  it("lists every C source of missive.core", function()
    local ok = os.execute("lua5.4 tools/rockspec.lua check missive-scm-1.rockspec")
    assert.truthy(ok == true or ok == 0)
  end)

  it("`luarocks make --tree <tmp>` builds a module that loads #slow", function()
    local tree = os.tmpname()
    os.remove(tree)
    local work = tree .. "-src"
    -- Build from a copy so the work tree gets no objects.
    assert.truthy(os.execute(("mkdir -p %s && git ls-files -z --cached --others "
      .. "--exclude-standard | xargs -0 cp --parents -t %s"):format(work, work)))
    local cmd = ("cd %s && luarocks --lua-version=5.4 make --tree %s missive-scm-1.rockspec"
      .. " >%s/build.log 2>&1"):format(work, tree, work)
    local built = os.execute(cmd)
    assert.truthy(built == true or built == 0, "luarocks make failed, see " .. work)
    local probe = io.popen(("LUA_PATH='%s/share/lua/5.4/?.lua;%s/share/lua/5.4/?/init.lua' "
      .. "LUA_CPATH='%s/lib/lua/5.4/?.so' lua5.4 -e 'local m = require \"missive\" "
      .. "io.write(m.version, type(m.smtp.session))' 2>&1"):format(tree, tree, tree))
    local out = probe:read("*a")
    probe:close()
    os.execute("rm -rf " .. tree .. " " .. work)
    assert.equal("0.1.0function", out)
  end)
end)
