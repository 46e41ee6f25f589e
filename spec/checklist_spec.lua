-- Every item of doc/CHECKLIST.md must be named by a spec or a C test ("CHECKLIST <n>");
-- tools/checklist-audit.sh lists the ones that are not, and this spec fails on any.
-- doc/CHECKLIST-coverage.md is the table "item -> specs" the same script prints with -t;
-- it must match what the specs say today.
local function audit()
    local f = assert(io.popen("sh tools/checklist-audit.sh -q; echo \"@rc=$?\"", "r"))
    local out = f:read("*a")
    f:close()
    local list, rc = out:match("^(.-)\n?@rc=(%d+)")
    return list, rc, out
end

describe("CHECKLIST audit", function()
    local list, rc, out = audit()

    it("tools/checklist-audit.sh runs and prints item numbers", function()
        assert.is_not_nil(rc, "no exit status from checklist-audit.sh: " .. out)
        assert.is_true(rc == "0" or rc == "1", "checklist-audit.sh failed: " .. out)
        if rc == "1" then
            assert.is_truthy(list:match("^%d+[%d ]*$"), "unexpected output: " .. list)
        else
            assert.equals("", list)
        end
    end)

    it("every item of doc/CHECKLIST.md has a spec", function()
        assert.equals("0", rc, "CHECKLIST items without a spec: " .. tostring(list))
    end)

    it("doc/CHECKLIST-coverage.md is the table the specs give today", function()
        local f = assert(io.popen("sh tools/checklist-audit.sh -t", "r"))
        local table_now = f:read("*a")
        f:close()
        local committed = assert(io.open("doc/CHECKLIST-coverage.md", "rb"))
        local was = committed:read("*a")
        committed:close()
        assert.is_truthy(table_now:match("\n| 1 | "), "no table from checklist-audit.sh -t")
        assert.is_true(was == table_now, "doc/CHECKLIST-coverage.md is stale: run "
            .. "sh tools/checklist-audit.sh -t > doc/CHECKLIST-coverage.md")
    end)
end)
