-- refresh.lua: POST /api/v1/auth/refresh with rotating refresh tokens.
--   wrk -s refresh.lua URL -- TOKENS_FILE NTHREADS
-- TOKENS_FILE holds one refresh token per line, each the current token of
-- its own session (util.py auth-seed). Thread i takes lines i, i+n, ...
-- into a FIFO pool; each request takes a token from the pool, and each 200
-- puts the new refresh_token of its answer back. Every token is presented
-- exactly once, so no request is a reuse (which would revoke the session).
-- A thread needs at least as many tokens as it has connections; when its
-- pool runs dry the request carries "exhausted" and counts as non-2xx.
local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
end

local pool = {}
local first, last = 1, 0

local function push(t)
   last = last + 1
   pool[last] = t
end

local function pop()
   if first > last then
      return nil
   end
   local t = pool[first]
   pool[first] = nil
   first = first + 1
   return t
end

function init(args)
   local n = tonumber(args[2]) or 1
   local f = assert(io.open(args[1], "r"))
   local i = 0
   for line in f:lines() do
      if line ~= "" then
         if i % n == id then
            push(line)
         end
         i = i + 1
      end
   end
   f:close()
end

local hdrs = { ["Content-Type"] = "application/json" }

function request()
   local t = pop() or "exhausted"
   return wrk.format("POST", "/api/v1/auth/refresh", hdrs,
      '{"refresh_token":"' .. t .. '"}')
end

function response(status, headers, body)
   if status == 200 then
      local t = string.match(body, '"refresh_token"%s*:%s*"([^"]+)"')
      if t then
         push(t)
      end
   end
end
