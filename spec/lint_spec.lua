-- The Lua code stays luacheck-clean (.luacheckrc at the top of the tree).
describe("lint", function()
  it("luacheck finds nothing in lua/, spec/, examples/, bench/ and tools/", function()
    local p = io.popen("luacheck lua spec examples bench tools/*.lua --formatter plain"
                       .. " --no-color 2>&1; echo \"@rc=$?\"")
    local out = p:read("*a")
    p:close()
    local rc = out:match("@rc=(%d+)")
    assert.equal("0", rc, out)
  end)
end)
