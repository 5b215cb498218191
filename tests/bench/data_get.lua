-- data_get.lua: GET /api/v1/<c>/<id> over a set of pre-created ids.
--   wrk -s data_get.lua URL -- IDS_FILE COLLECTION JWT
-- IDS_FILE holds one record _id per line (util.py data-seed); each thread
-- starts at its own offset and cycles through all of them.
local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
end

local ids, n, i = {}, 0, 0
local base

function init(args)
   for line in assert(io.open(args[1], "r")):lines() do
      if line ~= "" then
         n = n + 1
         ids[n] = line
      end
   end
   base = "/api/v1/" .. args[2] .. "/"
   wrk.headers["Authorization"] = "Bearer " .. args[3]
   i = (id * 7919) % n
end

function request()
   i = i % n + 1
   return wrk.format("GET", base .. ids[i])
end
