-- SPDX-License-Identifier: GPL-3.0-or-later
-- data/build.lua - builds naslab's own tabular benchmark, the embedded
-- default: NAS-Bench-201 cells trained from scratch on Fashion-MNIST by
-- naslab's trainer with one fixed recipe (RECIPE below; data/README.md says
-- why). Resumable: each worker rewrites its part file atomically after every
-- cell and skips the cells already there, so a killed build continues where
-- it stopped.
--
--   naslab data/build.lua [--out FILE] [--jobs J] [--cells N] [--set KEY=VALUE]...
--
-- --set changes one entry of the recipe (another benchmark, not the default);
-- runs J worker processes (default 2, one thread each: these networks are so
-- small that two processes use two cores far better than two threads in one)
-- and merges their parts into FILE (default data/nb201-fmnist.csv).
-- --shard K/J runs worker K alone. --merge only merges the parts done so far
-- into FILE (an unfinished benchmark that a later run completes: workers
-- also take the rows already in FILE as done).

local RECIPE = {
  cells = 1000,          -- distinct cells (naslab canonical forms), drawn uniformly
  select_seed = 201,     -- rng seed of that draw
  C = 8, N = 2,          -- channels of the first stage, cells per stage
  train = 5000,          -- training images: the first 5000 of Fashion-MNIST train after a shuffle with seed 0
  valid = 1000,          -- the next 1000 of that order: the validation set (valid_acc)
  test = 2000,           -- the first 2000 images of Fashion-MNIST t10k (test_acc)
  pad = 2, downsample = 2, -- 28x28 padded to 32x32, then 2x2 means: 16x16 inputs
  epochs = 4, batch = 128, lr = 0.1, momentum = 0.9, nesterov = true, weight_decay = 5e-4,
  schedule = "cosine",   -- per step, to 0
  threads = 1,           -- per worker; results are bit-exact for a given thread count
}

local FIELDS = { "idx", "arch", "valid_acc", "test_acc", "train_acc", "train_loss", "params", "flops",
                 "train_seconds", "seed" }

local function usage(msg)
  io.stderr:write("build.lua: ", msg, "\nusage: naslab data/build.lua [--out FILE] [--jobs J] [--cells N] [--set KEY=VALUE] [--shard K/J] [--merge]\n")
  os.exit(2)
end

local opts = { out = "data/nb201-fmnist.csv", jobs = 2, sets = {} }
do
  local i = 1
  while i <= #arg do
    local a, v = arg[i], arg[i + 1]
    if a == "--out" and v then opts.out = v
    elseif a == "--jobs" and tonumber(v) then opts.jobs = math.tointeger(tonumber(v))
    elseif a == "--cells" and tonumber(v) then opts.cells = math.tointeger(tonumber(v))
    elseif a == "--set" and v and v:match("^[%w_]+=.+$") then
      local key, val = v:match("^([%w_]+)=(.+)$")
      if RECIPE[key] == nil then usage("--set: no recipe entry '" .. key .. "'") end
      if type(RECIPE[key]) == "number" then val = tonumber(val) or usage("--set " .. key .. ": not a number")
      elseif type(RECIPE[key]) == "boolean" then val = val == "true" end
      RECIPE[key] = val
      opts.sets[#opts.sets + 1] = v
    elseif a == "--merge" then opts.merge = true; i = i - 1
    elseif a == "--shard" and v and v:match("^%d+/%d+$") then
      local k, j = v:match("^(%d+)/(%d+)$")
      opts.shard, opts.jobs = tonumber(k), tonumber(j)
    else usage("bad argument '" .. tostring(a) .. "'") end
    i = i + 2
  end
  if not opts.jobs or opts.jobs < 1 then usage("--jobs must be >= 1") end
  if opts.shard and (opts.shard < 1 or opts.shard > opts.jobs) then usage("--shard K/J needs 1 <= K <= J") end
end

-- The recipe as text: written beside the output, and checked on resume so a
-- changed recipe never mixes with cells trained under the old one.
local function recipe_text()
  local keys = {}
  for k in pairs(RECIPE) do keys[#keys + 1] = k end
  table.sort(keys)
  local lines = { "# recipe of " .. opts.out .. " (data/build.lua, naslab " .. nl.version .. ")" }
  for _, k in ipairs(keys) do lines[#lines + 1] = k .. " = " .. tostring(RECIPE[k]) end
  return table.concat(lines, "\n") .. "\n"
end

local function check_recipe()
  local path = opts.out .. ".recipe"
  local f = io.open(path, "r")
  if f then
    local old = f:read("a")
    f:close()
    if old:gsub("^[^\n]*\n", "") ~= recipe_text():gsub("^[^\n]*\n", "") then
      error(path .. ": the recipe differs from this run's; remove the old build or use another --out", 0)
    end
    return
  end
  local tmp = path .. ".tmp"
  f = assert(io.open(tmp, "w"))
  f:write(recipe_text())
  assert(f:close())
  assert(os.rename(tmp, path))
end
local ncells = opts.cells or RECIPE.cells

-- The cells: canonical representatives drawn without replacement, in index order.
local function cells()
  local sp = nl.space("nb201")
  local canon = {}
  for a in sp:iter() do
    if tostring(a:canonical()) == tostring(a) then canon[#canon + 1] = a end
  end
  local perm = nl.rng(RECIPE.select_seed):permutation(#canon)
  local pick = {}
  for i = 1, math.min(ncells, #canon) do pick[i] = canon[perm[i]] end
  table.sort(pick, function(x, y) return x:index() < y:index() end)
  return pick
end

local function read_rows(path)
  local rows, f = {}, io.open(path, "r")
  if not f then return rows end
  local header = f:read("l")
  if header ~= table.concat(FIELDS, ",") then
    f:close()
    error(path .. ":1: not a part file of this build (header differs)", 0)
  end
  local ln = 1
  for line in f:lines() do
    ln = ln + 1
    local idx = line:match("^(%d+),")
    if not idx then f:close() error(path .. ":" .. ln .. ": malformed row", 0) end
    rows[tonumber(idx)] = line
  end
  f:close()
  return rows
end

-- Write every row, in index order, to path through a temporary file.
local function write_rows(path, rows)
  local keys = {}
  for k in pairs(rows) do keys[#keys + 1] = k end
  table.sort(keys)
  local tmp = path .. ".tmp"
  local f = assert(io.open(tmp, "w"))
  f:write(table.concat(FIELDS, ","), "\n")
  for _, k in ipairs(keys) do f:write(rows[k], "\n") end
  assert(f:close())
  assert(os.rename(tmp, path))
end

local function load_data()
  local R = RECIPE
  local tr, va = nl.data.fashion_mnist{ split = "train", limit = R.train + R.valid, valid = R.valid, seed = 0,
                                        pad = R.pad, normalize = true }
  local te = nl.data.fashion_mnist{ split = "test", limit = R.test, pad = R.pad, normalize = true }
  if not tr then error(va, 0) end
  if not te then error("Fashion-MNIST test split: cannot load", 0) end
  return tr:downsample(R.downsample), va:downsample(R.downsample), te:downsample(R.downsample)
end

local function worker(k, j)
  local part = string.format("%s.part%d", opts.out, k)
  local rows = read_rows(part)
  for idx, line in pairs(read_rows(opts.out)) do rows[idx] = rows[idx] or line end
  local list, todo = cells(), {}
  for i, a in ipairs(list) do
    if (i - 1) % j == k - 1 and not rows[a:index()] then todo[#todo + 1] = a end
  end
  io.stderr:write(string.format("worker %d/%d: %d cells to train\n", k, j, #todo))
  if #todo == 0 then return end
  local tr, va, te = load_data()
  local R = RECIPE
  for n, a in ipairs(todo) do
    local seed = a:index()
    local r = nl.train{ arch = a, data = tr, valid = va, test = te, epochs = R.epochs, batch = R.batch, lr = R.lr,
                        momentum = R.momentum, nesterov = R.nesterov, weight_decay = R.weight_decay,
                        schedule = R.schedule, C = R.C, N = R.N, threads = R.threads, seed = seed }
    rows[a:index()] = string.format("%d,%s,%.2f,%.2f,%.2f,%.5f,%d,%d,%.3f,%d", a:index(), tostring(a), r.valid_acc,
                                    r.test_acc, r.train_acc, r.loss, r.params, r.macs, r.seconds, seed)
    write_rows(part, rows)
    io.stderr:write(string.format("worker %d/%d: %d/%d %s test %.2f (%.1f s)\n", k, j, n, #todo, tostring(a),
                                  r.test_acc, r.seconds))
  end
end

check_recipe()
if opts.shard then
  worker(opts.shard, opts.jobs)
  return
end

local function merge()
  local all = read_rows(opts.out)
  for k = 1, opts.jobs do
    for idx, line in pairs(read_rows(string.format("%s.part%d", opts.out, k))) do all[idx] = line end
  end
  local n = 0
  for _ in pairs(all) do n = n + 1 end
  return all, n
end

if opts.merge then
  local all, n = merge()
  write_rows(opts.out, all)
  io.stderr:write(string.format("wrote %s: %d of %d cells (run without --merge to complete it)\n", opts.out, n, ncells))
  return
end

-- Start the workers, wait for all, merge.
local exe = arg[-1] or "naslab"
local cmd = {}
for k = 1, opts.jobs do
  local extra = opts.cells and (" --cells " .. opts.cells) or ""
  for _, v in ipairs(opts.sets) do extra = extra .. " --set '" .. v .. "'" end
  cmd[#cmd + 1] = string.format("'%s' '%s' --out '%s' --shard %d/%d%s &", exe, arg[0], opts.out, k, opts.jobs, extra)
end
local ok = os.execute(table.concat(cmd, " ") .. " wait")
if not ok then error("a worker failed", 0) end
local all, n = merge()
if n < math.min(ncells, #cells()) then error(string.format("only %d of %d cells are done; run again to resume", n, ncells), 0) end
write_rows(opts.out, all)
for k = 1, opts.jobs do os.remove(string.format("%s.part%d", opts.out, k)) end
io.stderr:write(string.format("wrote %s: %d cells\n", opts.out, n))
