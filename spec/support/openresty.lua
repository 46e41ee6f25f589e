-- spec/support/openresty.lua - a real nginx with the lua module, on loopback, running
-- missive over cosockets (handlers in spec/support/nginx/missive_handlers.lua).
--
--   local openresty = require "support.openresty"
--   local ok, why = openresty.available()
--   local ng = openresty.start{stack = stack_info}   -- ng.port, ng.dir
--   local status, body = openresty.get(ng, "/ping")    -- HTTP/1.0 GET, LuaSocket
--   openresty.stop(ng)
--
-- The module under test is build/luajit/missive/core.so, built against LuaJIT's headers
-- (never linked to liblua): make test builds it.
local prefix = (...):match("^(.-)[^.]*$")
local util = require(prefix .. "util")
local socket = require "socket"

local M = {}
local NGINX = "/usr/sbin/nginx"
local MODDIR = "/usr/lib/nginx/modules"

function M.available()
  for _, f in ipairs {NGINX, MODDIR .. "/ngx_http_lua_module.so",
                      MODDIR .. "/ndk_http_module.so"} do
    if not util.read_file(f) and not io.open(f) then
      return false, f .. " missing (packages nginx, libnginx-mod-http-lua)"
    end
  end
  local root = util.capture("pwd")
  if not io.open(root .. "/build/luajit/missive/core.so") then
    return false, "build/luajit/missive/core.so missing (make LUA_VERSION=luajit)"
  end
  return true
end

local function free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

local function conf(ng, root, stack)
  return ([[
load_module %s/ndk_http_module.so;
load_module %s/ngx_http_lua_module.so;
user root root;
worker_processes 1;
pid %s/nginx.pid;
error_log %s/error.log warn;
events { worker_connections 1024; }
env MISSIVE_STACK;
http {
    access_log off;
    client_body_temp_path %s/tmp/body;
    proxy_temp_path       %s/tmp/proxy;
    fastcgi_temp_path     %s/tmp/fastcgi;
    uwsgi_temp_path       %s/tmp/uwsgi;
    scgi_temp_path        %s/tmp/scgi;
    default_type text/plain;
    lua_package_path  "%s/lua/?.lua;%s/lua/?/init.lua;%s/spec/support/nginx/?.lua;;";
    lua_package_cpath "%s/build/luajit/?.so;;";
    lua_shared_dict missive_results 1m;
    lua_shared_dict oauth_tokens 1m;
    init_by_lua_block {
        MISSIVE_STACK = %s
    }
    server {
        listen 127.0.0.1:%d;
        location = /ping { content_by_lua_block { ngx.say("pong") } }
        location = /send { content_by_lua_block { require("missive_handlers").send() } }
        location = /read { content_by_lua_block { require("missive_handlers").read() } }
        location = /burst { content_by_lua_block { require("missive_handlers").burst() } }
        location = /burst_status {
            content_by_lua_block { require("missive_handlers").burst_status() }
        }
        location = /async { content_by_lua_block { require("missive_handlers").async() } }
        location = /oauth { content_by_lua_block { require("missive_handlers").oauth() } }
        location = /where { content_by_lua_block { require("missive_handlers").where() } }
        location = /imap { content_by_lua_block { require("missive_handlers").imap() } }
        location = /imap_windev {
            content_by_lua_block { require("missive_handlers").imap_windev() }
        }
        location = /imap_idle {
            content_by_lua_block { require("missive_handlers").imap_idle() }
        }
        location = /dkim { content_by_lua_block { require("dkim_handlers").verify() } }
        location = /imap_idle_status {
            content_by_lua_block { require("missive_handlers").imap_idle_status() }
        }
    }
}
]]):format(MODDIR, MODDIR, ng.dir, ng.dir, ng.dir, ng.dir, ng.dir, ng.dir, ng.dir,
           root, root, root, root, stack, ng.port)
end

-- A Lua literal of the stack facts the handlers need.
local function stack_literal(st)
  if not st then return "nil" end
  return ("{host = %q, hostname = %q, submission_port = %d, pop3s_port = %d, "
    .. "pop3_port = %d, imaps_port = %s, cafile = %q}"):format(st.host, st.hostname,
    st.submission_port, st.pop3s_port, st.pop3_port, tostring(st.imaps_port), st.cafile)
end

function M.start(opts)
  opts = opts or {}
  local ng = {dir = util.mkdtemp("missive-nginx"), port = free_port()}
  util.execute("mkdir -p " .. util.shquote(ng.dir .. "/tmp"))
  local root = util.capture("pwd")
  util.write_file(ng.dir .. "/nginx.conf", conf(ng, root, stack_literal(opts.stack)))
  local ok = util.execute(("%s -p %s -c %s/nginx.conf -e %s/error.log </dev/null >%s/stderr 2>&1")
    :format(NGINX, util.shquote(ng.dir), util.shquote(ng.dir), util.shquote(ng.dir),
            util.shquote(ng.dir)))
  if not ok then
    error("nginx failed to start: " .. (util.read_file(ng.dir .. "/stderr") or "")
          .. (util.read_file(ng.dir .. "/error.log") or ""))
  end
  local deadline = util.now() + 5
  repeat
    local c = socket.connect("127.0.0.1", ng.port)
    if c then c:close(); break end
    util.sleep(0.02)
  until util.now() > deadline
  util.at_exit("nginx:" .. ng.dir, function() M.stop(ng) end)
  return ng
end

--- GET path; returns status, body, seconds taken.
function M.get(ng, path, timeout)
  local t0 = socket.gettime()
  local c = assert(socket.connect("127.0.0.1", ng.port))
  c:settimeout(timeout or 30)
  c:send("GET " .. path .. " HTTP/1.0\r\nHost: localhost\r\n\r\n")
  local resp = c:receive("*a") or ""
  c:close()
  local status = tonumber(resp:match("^HTTP/%d%.%d (%d+)"))
  return status, resp:match("\r\n\r\n(.*)$") or "", socket.gettime() - t0
end

function M.stop(ng)
  if ng.stopped then return end
  ng.stopped = true
  local pid = tonumber(util.read_file(ng.dir .. "/nginx.pid") or "")
  if pid then
    util.execute("kill -QUIT " .. pid .. " 2>/dev/null")
    local deadline = util.now() + 5
    while util.pid_alive(pid) and util.now() < deadline do util.sleep(0.02) end
    if util.pid_alive(pid) then util.execute("kill -9 " .. pid .. " 2>/dev/null") end
  end
  M.error_log = util.read_file(ng.dir .. "/error.log")
  util.rmtree(ng.dir)
end

M.free_port = free_port
return M
