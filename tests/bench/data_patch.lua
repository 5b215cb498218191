-- data_patch.lua: PATCH /api/v1/<c>/<id> {"views":<k>} over a set of
-- pre-created ids owned by the JWT's user (rule update:owner).
--   wrk -s data_patch.lua URL -- IDS_FILE COLLECTION JWT
local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
end

local ids, n, i, k = {}, 0, 0, 0
local base
local hdrs = { ["Content-Type"] = "application/json" }

function init(args)
   for line in assert(io.open(args[1], "r")):lines() do
      if line ~= "" then
         n = n + 1
         ids[n] = line
      end
   end
   base = "/api/v1/" .. args[2] .. "/"
   hdrs["Authorization"] = "Bearer " .. args[3]
   i = (id * 7919) % n
end

function request()
   i = i % n + 1
   k = k + 1
   return wrk.format("PATCH", base .. ids[i], hdrs, '{"views":' .. k .. '}')
end
