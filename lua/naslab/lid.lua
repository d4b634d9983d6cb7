-- SPDX-License-Identifier: GPL-3.0-or-later
-- naslab/lid.lua - the NAS-LID schedule (ALGORITHMS.md section 5) over the C
-- primitives of nl.lid: train a weight-sharing NB201 supernet, split it on the
-- edge the criterion picks (LID similarity, gradient matching as the GM-NAS
-- baseline, or a random split as the control), train each child from its parent's weights inside its op
-- mask, repeat for `levels` levels, fine-tune the leaves, and rank cells with
-- the sub-supernet that owns each one. Written in Lua so the tree is easy to
-- read and change; the heavy parts (training, LID, gradients) are C.
--
--   local res = nl.lid.run{ data = train, valid = valid, criterion = "lid",
--                           levels = 2, epochs = { 8, 2, 1 }, cells = archs, truth = accs }
--
-- Events: "lid.split" {level, edge, groups, score, criterion} for each split,
-- "rank" {true, pred} and "lid.tau" {level, tau, criterion} after each level
-- when cells are given.
local nl = require "naslab"

local M = {}

M.OPS = { "none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3" }
M.ALL = { 31, 31, 31, 31, 31, 31 }

local ARGERR = {}
local function bad(fmt, ...) error(setmetatable({ msg = string.format(fmt, ...) }, ARGERR), 0) end

-- "none,skip_connect": the ops of a 5-bit set.
function M.set_names(set)
  local t = {}
  for k = 0, 4 do
    if (set >> k) & 1 == 1 then t[#t + 1] = M.OPS[k + 1] end
  end
  return table.concat(t, ",")
end

-- A readable mask: the restricted edges only ("e2={none,skip_connect}"), or "all".
function M.mask_string(mask)
  local t = {}
  for e = 1, 6 do
    if mask[e] ~= 31 then t[#t + 1] = string.format("e%d={%s}", e, M.set_names(mask[e])) end
  end
  return #t > 0 and table.concat(t, " ") or "all"
end

-- The two children of mask when edge e is split into op sets groups[1], groups[2].
function M.split_mask(mask, e, groups)
  local a, b = {}, {}
  for i = 1, 6 do a[i], b[i] = mask[i], mask[i] end
  a[e], b[e] = mask[e] & groups[1], mask[e] & groups[2]
  return a, b
end

-- The index of the leaf (a list of {mask = ...}) whose mask holds arch, or nil.
function M.owner(leaves, arch)
  for i, l in ipairs(leaves) do
    if nl.lid.owns(l.mask, arch) then return i end
  end
end

local KNOWN = { data = 1, valid = 1, C = 1, N = 1, seed = 1, threads = 1, criterion = 1, similarity = 1, partition = 1,
                levels = 1, epochs = 1, lr = 1, batch = 1, repeats = 1, lid_batch = 1, k = 1, cells = 1, truth = 1,
                calib_batches = 1, rank_levels = 1, progress = 1 }

local function posint(o, key, def, lo)
  local v = o[key]
  if v == nil then return def end
  if math.type(v) ~= "integer" or v < (lo or 1) then bad("%s must be an integer >= %d, got %s", key, lo or 1, tostring(v)) end
  return v
end

local function check(o)
  if type(o) ~= "table" then bad("table expected, got %s", type(o)) end
  for k in pairs(o) do
    if not KNOWN[k] then
      local names = {}
      for n in pairs(KNOWN) do names[#names + 1] = n end
      table.sort(names)
      bad("unknown option '%s' (known: %s)", tostring(k), table.concat(names, ", "))
    end
  end
  if o.data == nil then bad("data (a data set from nl.data) is required") end
  local c = o.criterion or "lid"
  if c ~= "lid" and c ~= "grad" and c ~= "random" and c ~= "none" then
    bad("criterion must be lid, grad, random or none, got '%s'", tostring(c))
  end
  local levels = posint(o, "levels", c == "none" and 0 or 2, 0)
  if c == "none" and levels > 0 then bad("criterion none splits nothing: levels must be 0, got %d", levels) end
  if levels > 6 then bad("levels must be at most 6 (each level splits one more of the 6 edges), got %d", levels) end
  local epochs = o.epochs or (levels == 2 and { 8, 2, 1 } or nil)
  if type(epochs) ~= "table" or #epochs ~= levels + 1 then
    bad("epochs must be a list of %d epoch counts (the root, then each level's children), got %s", levels + 1,
        type(epochs) == "table" and (#epochs .. " entries") or tostring(epochs))
  end
  for i, e in ipairs(epochs) do
    if math.type(e) ~= "integer" or e < 0 then bad("epochs[%d] must be an integer >= 0, got %s", i, tostring(e)) end
  end
  if o.cells ~= nil then
    if type(o.cells) ~= "table" or type(o.truth) ~= "table" or #o.truth ~= #o.cells then
      bad("cells and truth must be lists of the same length (archs and their true accuracies)")
    end
    if o.valid == nil then bad("valid (the data set cells are evaluated on) is required with cells") end
  end
  return c, levels, epochs
end

local function emit(o, name, fields)
  if nl.emit then nl.emit(name, fields) end
  if o.progress then
    local ev = { name = name }
    for k, v in pairs(fields) do ev[k] = v end
    o.progress(ev)
  end
end

-- Evaluate every cell with the leaf that owns it; returns the predictions.
local function rank(o, leaves, seed)
  local pred = {}
  for i, a in ipairs(o.cells) do
    local l = leaves[M.owner(leaves, a)]
    pred[i] = l.sn:eval(a, { data = o.valid, calib = o.data, calib_batches = o.calib_batches or 10,
                             batch = o.batch or 128, seed = seed })
  end
  return pred
end

-- The control that tells a criterion from splitting as such: a random unsplit
-- edge and a random 2-vs-3 partition of its ops (few-shot NAS style).
local function random_split(mask, seed)
  local r = nl.rng(seed)
  local edges = {}
  for e = 1, 6 do
    if mask[e] == 31 then edges[#edges + 1] = e end
  end
  if #edges == 0 then return { scratch_bytes = 0 } end
  local p = r:permutation(5)
  local pair = (1 << (p[1] - 1)) | (1 << (p[2] - 1))
  return { edge = edges[r:int(#edges)], groups = { pair, 31 & ~pair }, score = 0, scratch_bytes = 0 }
end

local function run(o)
  local crit, levels, epochs = check(o)
  local seed = posint(o, "seed", 0, 0)
  local res = { criterion = crit, splits = {}, taus = {}, seconds = { train = 0, criterion = 0, eval = 0 },
                epochs_total = 0, criterion_peak_scratch = 0 }
  local function train(node, e, tseed)
    if e == 0 then return end
    local t0 = nl.clock()
    node.sn:train{ data = o.data, epochs = e, mask = node.mask, lr = o.lr, batch = o.batch, seed = tseed }
    res.seconds.train = res.seconds.train + nl.clock() - t0
    res.epochs_total = res.epochs_total + e
  end
  local function ranked(level, leaves)
    if not o.cells or (o.rank_levels == false and level < levels) then return end
    local t0 = nl.clock()
    local pred = rank(o, leaves, seed)
    res.seconds.eval = res.seconds.eval + nl.clock() - t0
    local tau = nl.stats.kendall(pred, o.truth)
    res.taus[level] = tau
    res.pred, res.tau = pred, tau
    emit(o, "rank", { ["true"] = o.truth, pred = pred })
    emit(o, "lid.tau", { level = level, tau = tau, criterion = crit, leaves = #leaves })
  end

  local root = { mask = M.ALL, sn = nl.supernet{ data = o.data, C = o.C, N = o.N, seed = seed, threads = o.threads } }
  train(root, epochs[1], seed)
  local leaves = { root }
  ranked(0, leaves)
  for level = 1, levels do
    local kids = {}
    for i, node in ipairs(leaves) do
      local t0 = nl.clock()
      local cseed = seed * 1000 + level * 100 + i
      local c
      if crit == "random" then
        c = random_split(node.mask, cseed)
      else
        c = nl.lid.criterion(node.sn, { data = o.data, mask = node.mask, criterion = crit, similarity = o.similarity,
                                        partition = o.partition, repeats = o.repeats or 10, batch = o.lid_batch or 128,
                                        k = o.k or 20, seed = cseed })
      end
      res.seconds.criterion = res.seconds.criterion + nl.clock() - t0
      if c.scratch_bytes > res.criterion_peak_scratch then res.criterion_peak_scratch = c.scratch_bytes end
      if not c.edge then error(string.format("lid: sub-supernet %s has no unsplit edge left", M.mask_string(node.mask))) end
      local ma, mb = M.split_mask(node.mask, c.edge, c.groups)
      local split = { level = level, parent = M.mask_string(node.mask), edge = c.edge, score = c.score,
                      groups = M.set_names(c.groups[1]) .. "|" .. M.set_names(c.groups[2]) }
      res.splits[#res.splits + 1] = split
      emit(o, "lid.split", { level = level, edge = c.edge, groups = split.groups, score = c.score, criterion = crit })
      local a = { mask = ma, sn = node.sn:clone() }
      local b = { mask = mb, sn = node.sn }
      kids[#kids + 1] = a
      kids[#kids + 1] = b
      train(a, epochs[level + 1], seed * 1000 + level * 100 + 2 * i - 1)
      train(b, epochs[level + 1], seed * 1000 + level * 100 + 2 * i)
    end
    leaves = kids
    ranked(level, leaves)
  end
  res.leaves = leaves
  return res
end

-- nl.lid.run(opts): the whole schedule; see the top of this file. Returns
-- {leaves = {{mask, sn}}, splits = {...}, taus = {[level] = tau}, tau, pred,
--  seconds = {train, criterion, eval}, epochs_total}. The caller closes the
-- leaves' supernets (res.leaves[i].sn:close()) or lets them be collected.
function M.run(o)
  local ok, res = pcall(run, o)
  if ok then return res end
  if getmetatable(res) == ARGERR then error("bad argument #1 to 'run' (" .. res.msg .. ")", 2) end
  error(res, 0)
end

-- Install into nl.lid (the C primitives) when loaded.
if nl.lid then
  for k, v in pairs(M) do nl.lid[k] = v end
end

return M
