-- SPDX-License-Identifier: GPL-3.0-or-later
-- data/metad2a-build.lua - builds MetaD2A's meta-training database,
-- data/metad2a-fmnist.tsv: NAS-Bench-201 cells trained by naslab on class
-- subsets of Fashion-MNIST (nl.metad2a.DB_RECIPE says which, data/README.md
-- says why). Resumable: each worker rewrites its part file atomically after
-- every cell and skips the pairs already done.
--
--   naslab data/metad2a-build.lua [--out FILE] [--jobs J] [--tasks N] [--shard K/J]
local nl = require "naslab"
local md = nl.metad2a

local opts = { out = "data/metad2a-fmnist.tsv", jobs = 2 }
local i = 1
while i <= #arg do
  local a, v = arg[i], arg[i + 1]
  if a == "--out" and v then opts.out = v
  elseif a == "--jobs" and tonumber(v) then opts.jobs = math.tointeger(tonumber(v))
  elseif a == "--tasks" and tonumber(v) then opts.tasks = math.tointeger(tonumber(v))
  elseif a == "--shard" and v and v:match("^%d+/%d+$") then
    local k, j = v:match("^(%d+)/(%d+)$")
    opts.shard, opts.jobs = { tonumber(k), tonumber(j) }, tonumber(j)
  else
    io.stderr:write("metad2a-build.lua: bad argument '", tostring(a), "'\n",
                    "usage: naslab data/metad2a-build.lua [--out FILE] [--jobs J] [--tasks N] [--shard K/J]\n")
    os.exit(2)
  end
  i = i + 2
end
local R = {}
for k, v in pairs(md.DB_RECIPE) do R[k] = v end
R.tasks = opts.tasks or R.tasks
local function log(s) io.stderr:write(s, "\n") end

if opts.shard then
  local k, j = opts.shard[1], opts.shard[2]
  md.db_build{ out = string.format("%s.part%d", opts.out, k), also = { opts.out }, recipe = R, shard = { k, j },
               log = log }
  return
end

local exe = arg[-1] or "naslab"
local cmd = {}
for k = 1, opts.jobs do
  cmd[#cmd + 1] = string.format("'%s' '%s' --out '%s' --tasks %d --shard %d/%d &", exe, arg[0], opts.out, R.tasks, k,
                                opts.jobs)
end
local t0 = nl.clock()
local ok = os.execute(table.concat(cmd, " ") .. " wait")
if not ok then error("a worker failed", 0) end
local parts = { opts.out }
for k = 1, opts.jobs do parts[#parts + 1] = string.format("%s.part%d", opts.out, k) end
local n = md.db_merge(opts.out, parts)
local want = R.tasks * (R.anchors + R.cells)
if n < want then error(string.format("only %d of %d cells are done; run again to resume", n, want), 0) end
for k = 1, opts.jobs do os.remove(string.format("%s.part%d", opts.out, k)) end
log(string.format("wrote %s: %d (task, cell) pairs in %.0f s", opts.out, n, nl.clock() - t0))
