-- login.lua: POST /api/v1/auth/login with one account's credentials.
--   wrk -s login.lua URL -- EMAIL PASSWORD
local req

function init(args)
   local body = '{"email":"' .. args[1] .. '","password":"' .. args[2] .. '"}'
   req = wrk.format("POST", "/api/v1/auth/login",
      { ["Content-Type"] = "application/json" }, body)
end

function request()
   return req
end
