-- SPDX-License-Identifier: GPL-3.0-or-later
-- naslab/metad2a.lua - the MetaD2A recipe (ALGORITHMS.md section 2) over the
-- C model of nl.metad2a (set encoders, graph generator, meta-predictor):
--
--   tasks      class subsets of a data set; a task is a list of class
--              matrices of image features
--   extractor  the fixed feature extractor: an NB201 network trained on the
--              meta-training classes (the paper uses an ImageNet ResNet-18;
--              none ships with Debian, so naslab trains its own)
--   database   (task, cell, accuracy) triples that naslab trains itself,
--              resumably (db_build / db_load)
--   meta_train the generator on (task, good cell) pairs, the predictor on
--              every triple, Adam with ReduceLROnPlateau, the predictor with
--              the best validation Pearson r kept
--   search     encode a new data set, generate candidates, rank them, return
--              the top cell
--
-- Events: "metad2a.epoch" {part, epoch, loss, lr, valid_r}, "metad2a.generated"
-- {cells, tried}, "metad2a.cell" {rank, arch, score} for every candidate,
-- "metad2a.ranked" {cells, best, score, scores (best first), seconds},
-- "metad2a.truth" {arch, acc, pred} (from the bench scripts that train the
-- chosen cell).
local nl = require "naslab"

local M = nl.metad2a

local function emit(name, fields)
  if nl.emit then nl.emit(name, fields) end
end

local function check_known(fname, t, known)
  for k in pairs(t) do
    if not known[k] then
      local names = {}
      for n in pairs(known) do names[#names + 1] = n end
      table.sort(names)
      error(string.format("bad argument #1 to '%s' (unknown option '%s' (known: %s))", fname, tostring(k),
                          table.concat(names, ", ")), 3)
    end
  end
end

-- ------------------------------------------------------------ features

-- The feature extractor: an NB201 network of cell `arch` trained on `data`
-- (the meta-training classes only), whose global-average-pooled features
-- (4C values per image) describe an image. Returns {sn, arch, feat, seconds}
-- with :features(dataset) -> nl.tensor (n, feat).
local Extractor = {}
Extractor.__index = Extractor

local EXT_KNOWN = { data = 1, arch = 1, C = 1, N = 1, epochs = 1, seed = 1, threads = 1, lr = 1, batch = 1 }
M.EXTRACTOR_ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"

function M.extractor(o)
  if type(o) ~= "table" or not o.data then error("bad argument #1 to 'extractor' (a table with data expected)", 2) end
  check_known("extractor", o, EXT_KNOWN)
  local arch = o.arch or M.EXTRACTOR_ARCH
  local t0 = nl.clock()
  local sn = nl.supernet{ data = o.data, C = o.C or 16, N = o.N or 1, seed = o.seed or 0, threads = o.threads }
  sn:train{ data = o.data, arch = arch, epochs = o.epochs or 3, lr = o.lr, batch = o.batch }
  return setmetatable({ sn = sn, arch = arch, feat = 4 * (o.C or 16), seconds = nl.clock() - t0 }, Extractor)
end

function Extractor:features(d) return self.sn:features(self.arch, d) end

-- A task from data set d: one feature matrix per class (labels 0..k-1), at
-- most `per_class` images each (all when nil).
function M.task(ext, d, per_class)
  local t = {}
  for c = 0, #d:classes() - 1 do
    local dc = d:subset{ c }
    if per_class and #dc > per_class then dc = dc:split(#dc - per_class) end
    t[#t + 1] = ext:features(dc)
  end
  return t
end

-- The tasks of a database as features: {classes_key -> task}, each class
-- of `pool` (a data set with the database's labels) described by at most
-- `per_class` images, shared by every task that holds it.
function M.task_map(ext, pool, db, per_class)
  local perclass, tasks = {}, {}
  for _, r in ipairs(db) do
    local key = M.classes_key(r.classes)
    if not tasks[key] then
      local t = {}
      for _, c in ipairs(r.classes) do
        perclass[c] = perclass[c] or M.task(ext, pool:subset{ c }, per_class)[1]
        t[#t + 1] = perclass[c]
      end
      tasks[key] = t
    end
  end
  return tasks
end

-- ------------------------------------------------------------ the database

-- How naslab's meta-training database is made (db_build). Tasks are class
-- subsets of Fashion-MNIST's training split; each task trains `anchors`
-- cells shared by every task plus `cells` of its own, all with the embedded
-- benchmark's network and optimiser (C 8, N 2, 16x16 inputs), on
-- `train_per_class` images per class, and is scored on `test_per_class`
-- other images of its classes.
M.DB_RECIPE = {
  tasks = 48, min_classes = 2, max_classes = 5, anchors = 8, cells = 12, select_seed = 2021,
  train_per_class = 200, test_per_class = 100, C = 8, N = 2, epochs = 4, batch = 64, lr = 0.1,
  -- the class subsets kept out of meta-training: meta-test (a) uses them
  held_out = "0+2+4+6,1+3+5+7,5+7+8+9",
}
M.DB_FIELDS = { "task", "classes", "arch", "acc", "train_acc", "seconds", "seed" }

local function split_list(s, sep)
  local t = {}
  for x in tostring(s):gmatch("[^" .. sep .. "]+") do t[#t + 1] = x end
  return t
end

-- "2+5+7" <-> {2, 5, 7}
function M.classes_key(cls)
  local s = {}
  for i, c in ipairs(cls) do s[i] = c end
  table.sort(s)
  return table.concat(s, "+")
end

-- The task list of a recipe: {id, classes} with classes a sorted list of
-- Fashion-MNIST labels, none equal to a held-out subset, all distinct.
function M.db_tasks(R)
  R = R or M.DB_RECIPE
  local held, seen, out = {}, {}, {}
  for _, k in ipairs(split_list(R.held_out, ",")) do held[k] = true end
  local rng = nl.rng(R.select_seed)
  local tries = 0
  while #out < R.tasks do
    tries = tries + 1
    if tries > 100000 then error("db_tasks: cannot draw " .. R.tasks .. " distinct class subsets", 2) end
    local k = rng:int(R.min_classes, R.max_classes)
    local perm = rng:permutation(10)
    local cls = {}
    for i = 1, k do cls[i] = perm[i] - 1 end
    table.sort(cls)
    local key = M.classes_key(cls)
    if not held[key] and not seen[key] then
      seen[key] = true
      out[#out + 1] = { id = #out + 1, classes = cls }
    end
  end
  return out
end

-- The cells of task `id`: the anchors (the same for every task) then its own.
function M.db_cells(R, id)
  local sp = nl.space("nb201")
  local cells, have = {}, {}
  local function draw(rng, n)
    while n > 0 do
      local a = sp:sample(rng):canonical()
      local s = tostring(a)
      if not have[s] then
        have[s] = true
        cells[#cells + 1] = a
        n = n - 1
      end
    end
  end
  draw(nl.rng(R.select_seed + 1), R.anchors)
  draw(nl.rng(R.select_seed + 1000 + id), R.cells)
  return cells
end

-- Rows of a database file: {task, classes = {..}, arch, acc, ...}; without a
-- path, the database naslab ships (data/metad2a-fmnist.tsv). Errors name the
-- file, line and field.
function M.db_load(path)
  path = path or nl.bench.datafile("metad2a-fmnist.tsv")
  local f, err = io.open(path, "r")
  if not f then return nil, err end
  local header = f:read("l")
  if header ~= table.concat(M.DB_FIELDS, "\t") then
    f:close()
    return nil, path .. ":1: not a MetaD2A database (header must be " .. table.concat(M.DB_FIELDS, " ") .. ")"
  end
  local rows, ln = {}, 1
  for line in f:lines() do
    ln = ln + 1
    local v = split_list(line, "\t")
    if #v ~= #M.DB_FIELDS then
      f:close()
      return nil, string.format("%s:%d: %d fields, expected %d", path, ln, #v, #M.DB_FIELDS)
    end
    local r = { task = math.tointeger(tonumber(v[1])), arch = v[3], acc = tonumber(v[4]), train_acc = tonumber(v[5]),
                seconds = tonumber(v[6]), seed = math.tointeger(tonumber(v[7])), classes = {} }
    for _, c in ipairs(split_list(v[2], "+")) do r.classes[#r.classes + 1] = math.tointeger(tonumber(c)) end
    local bad = not r.task and "task" or #r.classes < 2 and "classes" or not r.acc and "acc" or
                  not r.seconds and "seconds" or nil
    if not bad and not pcall(function() nl.space("nb201"):parse(r.arch) end) then bad = "arch" end
    if bad then
      f:close()
      return nil, string.format("%s:%d: field '%s' is malformed", path, ln, bad)
    end
    rows[#rows + 1] = r
  end
  f:close()
  return rows
end

local function write_db(path, rows)
  table.sort(rows, function(a, b)
    if a.task ~= b.task then return a.task < b.task end
    return a.arch < b.arch
  end)
  local tmp = path .. ".tmp"
  local f = assert(io.open(tmp, "w"))
  f:write(table.concat(M.DB_FIELDS, "\t"), "\n")
  for _, r in ipairs(rows) do
    f:write(string.format("%d\t%s\t%s\t%.2f\t%.2f\t%.3f\t%d\n", r.task, M.classes_key(r.classes), r.arch, r.acc,
                          r.train_acc, r.seconds, r.seed))
  end
  assert(f:close())
  assert(os.rename(tmp, path))
end

-- The rows of those files that exist, each (task, cell) pair once (the first
-- file holding it wins; row.file says which), and the set of pairs.
local function union(files)
  local rows, seen = {}, {}
  for _, p in ipairs(files) do
    local f = io.open(p, "r")
    if f then
      f:close()
      local got, err = M.db_load(p)
      if not got then error(err, 0) end
      for _, r in ipairs(got) do
        local key = r.task .. " " .. r.arch
        if not seen[key] then
          seen[key] = true
          r.file = p
          rows[#rows + 1] = r
        end
      end
    end
  end
  return rows, seen
end

-- Train the missing (task, cell) pairs of shard k of j (every pair when
-- shard is nil) and rewrite `out` atomically after each one; pairs already
-- in `out` (or in `also`, a list of files) are skipped, so a killed build
-- continues where it stopped. Returns the number of cells trained.
function M.db_build(o)
  local R = o.recipe or M.DB_RECIPE
  local k, j = 1, 1
  if o.shard then k, j = o.shard[1], o.shard[2] end
  local all, done = union({ o.out, table.unpack(o.also or {}) })
  local rows = {}
  for _, r in ipairs(all) do
    if r.file == o.out then rows[#rows + 1] = r end
  end
  local todo, n = {}, 0
  for _, t in ipairs(M.db_tasks(R)) do
    for _, a in ipairs(M.db_cells(R, t.id)) do
      n = n + 1
      if (n - 1) % j == k - 1 and not done[t.id .. " " .. tostring(a)] then todo[#todo + 1] = { t = t, a = a } end
    end
  end
  local log = o.log or function() end
  log(string.format("shard %d/%d: %d cells to train", k, j, #todo))
  local cache = {}
  for i, w in ipairs(todo) do
    local t = w.t
    if not cache[t.id] then
      cache = {} -- one task's data at a time
      local nc = #t.classes
      local tr, te = nl.data.fashion_mnist{ split = "train", classes = t.classes, balanced = true,
                                            limit = (R.train_per_class + R.test_per_class) * nc,
                                            valid = R.test_per_class * nc, seed = R.select_seed + t.id, pad = 2,
                                            normalize = true, dir = o.dir }
      if not tr then error(te, 0) end
      cache[t.id] = { tr:downsample(2), te:downsample(2) }
    end
    local seed = t.id * 100000 + w.a:index()
    local r = nl.train{ arch = w.a, data = cache[t.id][1], test = cache[t.id][2], epochs = R.epochs, batch = R.batch,
                        lr = R.lr, C = R.C, N = R.N, threads = o.threads or 1, seed = seed }
    rows[#rows + 1] = { task = t.id, classes = t.classes, arch = tostring(w.a), acc = r.test_acc,
                        train_acc = r.train_acc, seconds = r.seconds, seed = seed }
    write_db(o.out, rows)
    log(string.format("shard %d/%d: %d/%d task %d %s: %.2f%% (%.1f s)", k, j, i, #todo, t.id, tostring(w.a),
                      r.test_acc, r.seconds))
  end
  return #todo
end

-- Merge database files into `out` (atomically); duplicates keep the first.
function M.db_merge(out, parts)
  local rows = union(parts)
  write_db(out, rows)
  return #rows
end

-- ------------------------------------------------------------ meta-training

local function pearson(x, y)
  local ok, r = pcall(nl.stats.pearson, x, y)
  return ok and r or 0
end

-- Meta-train a model on a database.
--   db      rows (db_load)
--   tasks   {key -> task}: the features of each class subset, key = classes_key
--   model   an nl.metad2a model (or options for a new one: feat is required)
--   epochs  {generator, predictor} epochs (400 each in the paper)
--   top     cells per task that train the generator: its `top` best (3)
--   valid   fraction of the triples kept to pick the predictor (0.1)
-- Returns the model, and a report {gen_loss, pred_loss, valid_r, valid_tau
-- (the mean Kendall tau inside a task, at the kept epoch), seconds}.
local MT_KNOWN = { db = 1, tasks = 1, model = 1, epochs = 1, batch = 1, top = 1, valid = 1, seed = 1, patience = 1,
                   progress = 1 }

local function need(fname, cond, what)
  if not cond then error(string.format("bad argument #1 to '%s' (%s)", fname, what), 3) end
end

function M.meta_train(o)
  need("meta_train", type(o) == "table", "a table of options expected")
  check_known("meta_train", o, MT_KNOWN)
  need("meta_train", type(o.db) == "table" and #o.db > 0, "db (rows of db_load) is required")
  need("meta_train", type(o.tasks) == "table", "tasks (class subset -> task) is required")
  need("meta_train", o.model ~= nil, "model (a model or options for a new one) is required")
  local m = o.model
  if type(m) == "table" then m = M.new(m) end
  local epochs = o.epochs or { 400, 400 }
  local batch, top, seed = o.batch or 32, o.top or 3, o.seed or 333
  local rng = nl.rng(seed)
  m:seed(seed)
  -- task list and index
  local tlist, tindex = {}, {}
  for _, r in ipairs(o.db) do
    local key = M.classes_key(r.classes)
    if not tindex[key] then
      if not o.tasks[key] then error("meta_train: no features for task " .. key, 2) end
      tlist[#tlist + 1] = o.tasks[key]
      tindex[key] = #tlist
    end
  end
  -- generator pairs: the top cells of each task
  local by = {}
  for _, r in ipairs(o.db) do
    local i = tindex[M.classes_key(r.classes)]
    by[i] = by[i] or {}
    table.insert(by[i], r)
  end
  local pairs_ = {}
  for i = 1, #tlist do -- in task order; the sort sees the rows in file order, so
    local rs = by[i]   -- equal accuracies fall the same way on every run
    table.sort(rs, function(a, b) return a.acc > b.acc end)
    for n = 1, math.min(top, #rs) do pairs_[#pairs_ + 1] = { task = i, arch = rs[n].arch } end
  end
  local t0 = nl.clock()
  local function plateau(part)
    local best, bad = math.huge, 0
    return function(loss)
      if loss < best * (1 - 1e-4) then
        best, bad = loss, 0
      else
        bad = bad + 1
        if bad > (o.patience or 10) then
          m:set_lr(part, m:lr(part) * 0.1)
          bad = 0
        end
      end
    end
  end
  -- one epoch: the list shuffled, in batches, the summed loss of `step`
  local function epoch(list, step)
    local p, total = rng:permutation(#list), 0
    for s = 1, #p, batch do
      local items = {}
      for i = s, math.min(s + batch - 1, #p) do items[#items + 1] = list[p[i]] end
      total = total + step(m, tlist, items)
    end
    return total
  end
  local report = {}
  local step = plateau("generator")
  for e = 1, epochs[1] do
    local total = epoch(pairs_, m.gen_step)
    step(total)
    report.gen_loss = total / #pairs_
    emit("metad2a.epoch", { part = "generator", epoch = e, loss = report.gen_loss, lr = m:lr("generator") })
    if o.progress and o.progress{ part = "generator", epoch = e, loss = report.gen_loss, lr = m:lr("generator") } ==
      "stop" then
      break
    end
  end
  -- predictor: triples, a validation split, the best validation r kept
  local triples = {}
  for _, r in ipairs(o.db) do
    triples[#triples + 1] = { task = tindex[M.classes_key(r.classes)], arch = r.arch, acc = r.acc }
  end
  local perm = rng:permutation(#triples)
  local nval = math.floor((o.valid or 0.1) * #triples + 0.5)
  local train, val = {}, {}
  for i, k in ipairs(perm) do
    if i <= nval then val[#val + 1] = triples[k] else train[#train + 1] = triples[k] end
  end
  local ys = {}
  for i, t in ipairs(train) do ys[i] = t.acc end
  local mean = 0
  for _, y in ipairs(ys) do mean = mean + y / #ys end
  local var = 0
  for _, y in ipairs(ys) do var = var + (y - mean) ^ 2 / #ys end
  m:set_target(mean, math.sqrt(var) > 0 and math.sqrt(var) or 1)
  local bestr, best_path = -math.huge, nil
  local tmpdir = os.tmpname()
  os.remove(tmpdir)
  best_path = tmpdir .. ".metad2a"
  step = plateau("predictor")
  for e = 1, epochs[2] do
    local total = epoch(train, m.pred_step)
    step(total)
    local r = nil
    if #val >= 3 then
      local pred, truth, bytask = {}, {}, {}
      for i, t in ipairs(val) do
        bytask[t.task] = bytask[t.task] or {}
        table.insert(bytask[t.task], i)
        truth[i] = t.acc
      end
      local tis = {}
      for ti in pairs(bytask) do tis[#tis + 1] = ti end
      table.sort(tis) -- a fixed order: each call draws from the model's generator
      for _, ti in ipairs(tis) do -- one call per task: its cells share its code
        local idx = bytask[ti]
        local cells = {}
        for k, i in ipairs(idx) do cells[k] = val[i].arch end
        local p = m:predict(tlist[ti], cells, 1)
        for k, i in ipairs(idx) do pred[i] = p[k] end
      end
      r = pearson(pred, truth)
      if r > bestr then
        bestr = r
        assert(m:save(best_path))
        -- how well it ranks cells inside a task, which is what the search
        -- needs (r across tasks mostly measures task difficulty)
        local sum, n = 0, 0
        for _, ti in ipairs(tis) do
          local idx = bytask[ti]
          if #idx >= 3 then
            local p, y = {}, {}
            for k, i in ipairs(idx) do p[k], y[k] = pred[i], truth[i] end
            local ok, tau = pcall(nl.stats.kendall, p, y)
            if ok and tau == tau then sum, n = sum + tau, n + 1 end
          end
        end
        report.valid_tau = n > 0 and sum / n or nil
      end
    end
    report.pred_loss = total / #train
    emit("metad2a.epoch", { part = "predictor", epoch = e, loss = report.pred_loss, lr = m:lr("predictor"),
                            valid_r = r })
    if o.progress and o.progress{ part = "predictor", epoch = e, loss = report.pred_loss, valid_r = r,
                                  lr = m:lr("predictor") } == "stop" then
      break
    end
  end
  if bestr > -math.huge then
    local best = assert(M.load(best_path))
    os.remove(best_path)
    m:close()
    m = best
    report.valid_r = bestr
  end
  report.seconds = nl.clock() - t0
  report.tasks, report.pairs, report.triples = #tlist, #pairs_, #triples
  return m, report
end

-- ------------------------------------------------------------ search

-- The cell MetaD2A picks for a task: generate n unique valid cells (from at
-- most `max` graphs, 1000 n), score
-- each with the meta-predictor (mean over `samples` samples of the task),
-- return {best, score, cells, scores (sorted best first), tried, seconds}.
local S_KNOWN = { model = 1, task = 1, n = 1, samples = 1, seed = 1, batch = 1, max = 1 }

function M.search(o)
  need("search", type(o) == "table", "a table of options expected")
  check_known("search", o, S_KNOWN)
  need("search", o.model ~= nil, "model is required")
  need("search", type(o.task) == "table", "task (a list of class feature matrices) is required")
  local m, task = o.model, o.task
  if o.seed then m:seed(o.seed) end
  local t0 = nl.clock()
  local n = o.n or 50
  local cells, tried = m:generate(task, { n = n, batch = o.batch or 100, max = o.max or 1000 * n })
  emit("metad2a.generated", { cells = #cells, tried = tried })
  local scores = m:predict(task, cells, o.samples or 10)
  local order = {}
  for i = 1, #cells do order[i] = i end
  table.sort(order, function(a, b) return scores[a] > scores[b] end)
  local sc, ss = {}, {}
  for i, k in ipairs(order) do sc[i], ss[i] = cells[k], scores[k] end
  local secs = nl.clock() - t0
  for i, c in ipairs(sc) do emit("metad2a.cell", { rank = i, arch = tostring(c), score = ss[i] }) end
  emit("metad2a.ranked", { cells = #sc, best = tostring(sc[1]), score = ss[1], scores = ss, seconds = secs })
  return { best = sc[1], score = ss[1], cells = sc, scores = ss, tried = tried, seconds = secs }
end

return M
