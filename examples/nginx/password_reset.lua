-- An nginx handler that mails a password-reset link, with missive over cosockets.
-- Inside a request handler missive picks ngx.socket.tcp by itself: the worker never
-- blocks, and DNS goes through nginx's `resolver`.
--
--   location = /password-reset { content_by_lua_file .../password_reset.lua; }
--
-- luacheck: globals ngx
local email = require "missive.email"
local smtp = require "missive.smtp"

local SMTP = {
  host = os.getenv("SMTP_HOST") or "smtp.example.org",
  port = 587,                              -- STARTTLS, required
  user = os.getenv("SMTP_USER"),
  password = os.getenv("SMTP_PASSWORD"),
  timeout = 10,
}

ngx.req.read_body()
local args = ngx.req.get_post_args()
local to = args.email
if type(to) ~= "string" or not to:match("^[^@%s]+@[^@%s]+$") then
  ngx.status = ngx.HTTP_BAD_REQUEST
  return ngx.say("a valid email address is required")
end

local token = ngx.encode_base64(ngx.sha1_bin(to .. ngx.now() .. math.random()))
  :gsub("[+/=]", "")
local msg, err = email.new{
  from = "Example <no-reply@example.org>",
  to = {to},
  subject = "Reset your password",
  text = "Open this link to choose a new password:\n"
    .. "https://example.org/reset?token=" .. token .. "\n",
}
if not msg then
  ngx.status = ngx.HTTP_BAD_REQUEST
  return ngx.say("cannot build the message: ", err)
end

local res, serr, kind = smtp.send{host = SMTP.host, port = SMTP.port, user = SMTP.user,
  password = SMTP.password, timeout = SMTP.timeout, message = msg}
if not res then
  -- kind "uncertain": the server may have the message; do not blindly send again.
  ngx.log(ngx.ERR, "password reset mail failed (", kind, "): ", serr)
  ngx.status = kind == "uncertain" and ngx.HTTP_ACCEPTED or ngx.HTTP_BAD_GATEWAY
  return ngx.say(kind == "uncertain" and "mail probably sent" or "mail not sent")
end
ngx.say("mail sent")
