-- spec/support/busted_output.lua - busted output handler used by tools/run-specs.sh.
--
--   busted -o spec/support/busted_output.lua
--
-- Prints one progress character per test (+ passed, - failed, * error,
-- . pending), then every failure and error with its place and message, then the
-- pending (skipped) tests with their reason.  With MISSIVE_SPEC_COUNTS=FILE it
-- also writes "passed failed errors pending" to FILE, which run-specs.sh adds up;
-- counting from busted's own events is exact, unlike scraping terminal output.
local pretty = require "pl.pretty"

return function(options)
    local busted = require "busted"
    local handler = require("busted.outputHandlers.base")()
    local column = 0

    local function progress(ch)
        io.write(ch)
        column = column + 1
        if column >= 72 then
            io.write("\n")
            column = 0
        end
        io.flush()
    end

    local function text(msg)
        if type(msg) == "string" then return msg end
        if msg == nil then return "(no message)" end
        return pretty.write(msg)
    end

    local function place(item)
        local t = item.element and item.element.trace or item.trace
        if t and t.short_src then return t.short_src .. ":" .. tostring(t.currentline) end
        return "?"
    end

    local function report(kind, item)
        io.write("\n", kind, ": ", item.name or "?", "\n  at ", place(item), "\n")
        io.write("  ", (text(item.message):gsub("\n", "\n  ")), "\n")
        if options.verbose and item.trace and item.trace.traceback then
            io.write("  ", (item.trace.traceback:gsub("\n", "\n  ")), "\n")
        end
    end

    handler.testEnd = function(_, _, status)
        local ch = ({ success = "+", failure = "-", error = "*", pending = "." })[status]
        progress(ch or "?")
        return nil, true
    end

    handler.fileError = function()
        progress("*")
        return nil, true
    end

    handler.suiteEnd = function()
        if column > 0 then io.write("\n") end
        for _, f in ipairs(handler.failures) do report("FAILED", f) end
        for _, e in ipairs(handler.errors) do report("ERROR", e) end
        if #handler.pendings > 0 then io.write("\n") end
        for _, p in ipairs(handler.pendings) do
            local why = type(p.message) == "string" and p.message ~= "" and
                (" (" .. p.message .. ")") or ""
            io.write("skipped: ", p.name or "?", why, "\n")
        end
        io.write(string.format("\nbusted: %d passed, %d failed, %d errors, %d pending (%.2f s)\n",
            handler.successesCount, handler.failuresCount, handler.errorsCount,
            handler.pendingsCount, handler.getDuration()))
        io.flush()
        local path = os.getenv("MISSIVE_SPEC_COUNTS")
        if path and path ~= "" then
            local f = assert(io.open(path, "w"))
            f:write(string.format("%d %d %d %d\n", handler.successesCount,
                handler.failuresCount, handler.errorsCount, handler.pendingsCount))
            f:close()
        end
        return nil, true
    end

    busted.subscribe({ "test", "end" }, handler.testEnd, { predicate = handler.cancelOnPending })
    busted.subscribe({ "suite", "end" }, handler.suiteEnd)
    busted.subscribe({ "error", "file" }, handler.fileError)
    busted.subscribe({ "failure", "file" }, handler.fileError)
    busted.subscribe({ "error", "describe" }, handler.fileError)
    busted.subscribe({ "failure", "describe" }, handler.fileError)

    return handler
end
