-- conncap.lua: at most ESM_CONN_PER_ADDR connections of one client address
-- are served at a time (0: no cap).
--
-- lighttpd 1.4.69 has no per-address connection limit of its own (mod_evasive
-- was removed in 1.4.68), and no module runs before a request's headers are
-- complete. So this runs when a request's headers are in
-- (magnet.attract-raw-url-to), counts every open connection of the same
-- address, those still sending their headers included, and refuses the
-- request with 429 when there are more than the cap. It bounds what one
-- address gets served while it holds connections open; it cannot close the
-- connections that hold: the header idle limit (server.max-read-idle, global)
-- and server.max-connections do that. The count walks every connection:
-- cost linear in the open connections, nothing kept between requests.
local cap = tonumber(os.getenv("ESM_CONN_PER_ADDR") or "") or 0
if cap <= 0 then return 0 end

local r = lighty.r
local me = r.req_attr["request.remote-addr"]
local n = 0
for other in lighty.server.irequests() do
  if other.req_attr["request.remote-addr"] == me then
    n = n + 1
    if n > cap then return 429 end
  end
end
return 0
