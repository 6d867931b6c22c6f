-- errors.lua: the headers of lighttpd's own error responses.
--
-- lighttpd ends some requests itself: no route (404), body over
-- server.max-request-size (413), malformed request (400), FastCGI socket down
-- (503) or slow (504), ... Its body then comes from server.errorfile-prefix:
-- lighttpd/errors/<status>.html, which hold the API's problem+json bodies
-- (the suffix is fixed by lighttpd). This script runs at the start of every
-- response (magnet.attract-response-start-to) and, for those responses only,
-- sets the headers the contract wants: Content-Type application/problem+json,
-- Retry-After on 429 (conncap.lua) and 502/503/504, Allow on 405, and X-Request-Id.
--
-- It recognises them by the physical path lighttpd leaves pointing at the
-- error file, so a service's own error response always passes untouched.
-- It only sets headers: replacing the body at this stage (r.resp_body.set)
-- leaves the response unfinished in 1.4.69 and the client hangs.
local r = lighty.r
local status = r.req_item.http_status
if status < 400 then return 0 end

local path = r.req_attr["physical.path"]
local dir = (os.getenv("ESM_ROOT") or "") .. "/lighttpd/errors/"
if path == nil or path:sub(1, #dir) ~= dir then return 0 end

r.resp_header["Content-Type"] = "application/problem+json"
r.resp_header["Cache-Control"] = "no-store"
if status == 429 or status == 502 or status == 503 or status == 504 then
  r.resp_header["Retry-After"] = "5"
elseif status == 405 or status == 501 then
  r.resp_header["Allow"] = "GET, HEAD, POST, PUT, DELETE, OPTIONS"
end

-- The client's X-Request-Id when sane (1 to 64 of [A-Za-z0-9._-]), else a
-- new random one, as the services do; the access log records it.
local rid = r.req_header["X-Request-Id"]
if rid == nil or #rid > 64 or not rid:find("^[%w._-]+$") then
  local c = lighty.c
  rid = string.format("%08x%08x%08x%08x", c.rand() & 0xffffffff,
    c.rand() & 0xffffffff, c.rand() & 0xffffffff, c.rand() & 0xffffffff)
end
r.resp_header["X-Request-Id"] = rid
return 0
