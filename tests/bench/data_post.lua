-- data_post.lua: POST /api/v1/<c> with a small record (the shape of the
-- seeded ones: util.py data_record, with a cat that no filter asks for).
--   wrk -s data_post.lua URL -- COLLECTION JWT
local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
end

local path
local k = 0
local hdrs = { ["Content-Type"] = "application/json" }

function init(args)
   path = "/api/v1/" .. args[1]
   hdrs["Authorization"] = "Bearer " .. args[2]
end

function request()
   k = k + 1
   return wrk.format("POST", path, hdrs, string.format(
      '{"cat":-1,"score":%d,"views":0,"title":"posted %d %d kilo lima"}',
      (k * 7919) % 1000003, id, k))
end
