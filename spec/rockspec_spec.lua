-- The LuaRocks build stays complete, works offline and exports only the module's entry.
describe("rockspec", function()
  it("lists every C source of missive.core and every Lua module", function()
    local ok = os.execute("lua5.4 tools/rockspec.lua check missive-scm-1.rockspec")
    assert.truthy(ok == true or ok == 0)
  end)

  describe("`luarocks make --tree <tmp>` #slow", function()
    local tree, work, built

    local function sh(cmd)
      local p = io.popen(cmd .. " 2>&1")
      local out = p:read("*a")
      p:close()
      return out
    end

    setup(function()
      tree = os.tmpname()
      os.remove(tree)
      work = tree .. "-src"
      -- Build from a copy so the work tree gets no objects.
      assert.truthy(os.execute(("mkdir -p %s && git ls-files -z --cached --others "
        .. "--exclude-standard | xargs -0 cp --parents -t %s"):format(work, work)))
      local cmd = ("cd %s && luarocks --lua-version=5.4 make --tree %s missive-scm-1.rockspec"
        .. " >%s/build.log 2>&1"):format(work, tree, work)
      local ok = os.execute(cmd)
      built = ok == true or ok == 0
    end)

    teardown(function()
      if built then os.execute("rm -rf " .. tree .. " " .. work) end
    end)

    it("builds a module that loads", function()
      assert.truthy(built, "luarocks make failed, see " .. work .. "/build.log")
      local out = sh(("LUA_PATH='%s/share/lua/5.4/?.lua;%s/share/lua/5.4/?/init.lua' "
        .. "LUA_CPATH='%s/lib/lua/5.4/?.so' lua5.4 -e 'local m = require \"missive\" "
        .. "io.write(m.version, type(m.smtp.session))'"):format(tree, tree, tree))
      assert.equal("0.1.0function", out)
    end)

    -- LuaRocks' builtin backend compiles without -fvisibility=hidden: the headers
    -- themselves must keep the core's names (smtp_new, mv_buf_*) out of the
    -- dynamic symbol table, where they could clash with another module's.
    it("exports luaopen_missive_core and nothing else", function()
      assert.truthy(built, "luarocks make failed, see " .. work .. "/build.log")
      local log = assert(io.open(work .. "/build.log")):read("*a")
      assert.falsy(log:find("-fvisibility", 1, true), "the premise: no -fvisibility flag")
      local names = sh(("nm -D --defined-only %s/lib/lua/5.4/missive/core.so"
        .. " | awk '{print $3}'"):format(tree))
      assert.equal("luaopen_missive_core\n", names)
    end)
  end)
end)
