-- luacheck configuration (make lint).  Code must run on Lua 5.1 .. 5.4 and LuaJIT.
std = "max"
max_line_length = 100

files["spec"] = { std = "+busted" }
-- loaded by nginx (mailstack.sh MAILSTACK_NGINX=1), not by busted
files["spec/support/nginx"] = { std = "max+ngx_lua" }
