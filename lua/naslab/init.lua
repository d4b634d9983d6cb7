-- SPDX-License-Identifier: GPL-3.0-or-later
-- naslab/init.lua - the Lua half of the naslab library. The host runs it once
-- with the `nl` table (built in C) and it adds what is clearer written in Lua.
local nl = ...

-- nl.repr(v [, depth]): a one-line readable form of any value, used by the
-- prompt to print results. Tables show up to 20 entries, 2 levels deep;
-- strings inside tables are quoted, a string on its own prints as itself
-- (as lua.c prints it).
local function repr(v, depth, seen)
  local t = type(v)
  if t == "string" then return string.format("%q", v):gsub("\\\n", "\\n") end
  if t ~= "table" then return tostring(v) end
  local mt = getmetatable(v)
  if mt and mt.__tostring then return tostring(v) end
  seen = seen or {}
  if seen[v] then return "<cycle>" end
  if depth <= 0 then return "{...}" end
  seen[v] = true
  local parts, n = {}, #v
  for i = 1, math.min(n, 20) do parts[#parts + 1] = repr(v[i], depth - 1, seen) end
  if n > 20 then parts[#parts + 1] = string.format("... (%d items)", n) end
  local keys = {}
  for k in pairs(v) do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    if ta == "string" or ta == "number" then return a < b end
    return tostring(a) < tostring(b)
  end)
  for i = 1, math.min(#keys, 20) do
    local k = keys[i]
    local ks = (type(k) == "string" and k:match("^[%a_][%w_]*$")) and k or ("[" .. repr(k, 0, seen) .. "]")
    parts[#parts + 1] = ks .. " = " .. repr(v[k], depth - 1, seen)
  end
  if #keys > 20 then parts[#parts + 1] = string.format("... (%d keys)", #keys) end
  seen[v] = nil
  return "{" .. table.concat(parts, ", ") .. "}"
end

function nl.repr(v, depth)
  if type(v) == "string" then return v end
  return (repr(v, depth or 2))
end

-- nl.eval: the predictor evaluation harness (lua/naslab/eval.lua).
nl.eval = require "naslab.eval"

-- nl.search: the search framework and its recipes (lua/naslab/search/).
nl.search = require "naslab.search"

-- nl.lid: NAS-LID's schedule and mask helpers over the C primitives
-- (lua/naslab/lid.lua).
require "naslab.lid"
-- nl.metad2a: MetaD2A's recipe - tasks, database, meta-training, search -
-- over the C model (lua/naslab/metad2a.lua).
require "naslab.metad2a"

return nl
