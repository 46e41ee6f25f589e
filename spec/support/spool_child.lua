-- spec/support/spool_child.lua - drains a spool in a child process for the spool specs
-- (which SIGKILL it at random points).  Arguments: spool dir, port, cafile, user,
-- password.  Exit status 0 when q:run returned counts.
local spool = require "missive.spool"
local dir, port, cafile, user, password = arg[1], tonumber(arg[2]), arg[3], arg[4], arg[5]
local q = assert(spool.open(dir))
local counts, err = q:run{host = "localhost", port = port, tls = "starttls", cafile = cafile,
                          user = user, password = password, timeout = 20, backoff = 0}
if not counts then
  io.stderr:write("spool_child: ", tostring(err), "\n")
  os.exit(1)
end
os.exit(0)
