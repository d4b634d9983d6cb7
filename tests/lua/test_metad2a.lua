-- SPDX-License-Identifier: GPL-3.0-or-later
-- nl.metad2a from Lua: argument errors with their messages, bad tasks (one
-- class, an empty class, the wrong width), the set encoder's invariance to
-- the order of examples and classes, decoded cells that parse, the recipe's
-- meta-training overfitting a tiny synthetic database (generator reconstructs
-- each task's cell, predictor ranks the cells), save/load, the database file
-- (round trip, errors naming file:line:field, task lists), and - when
-- Debian's dataset-fashion-mnist is installed - a real tiny database built,
-- killed and resumed, the feature extractor and a search on real features.
local t = require "tap"
local md = nl.metad2a

local FEAT = 6
-- a synthetic task: k classes of n rows around centres set by `id`
local function task(id, k, n, seed)
  local r = nl.rng(seed)
  local cls = {}
  for c = 1, k do
    local rows = {}
    for i = 1, n do
      local row = {}
      for j = 1, FEAT do row[j] = (id == 1 and 1.5 or -1.5) * (j % 2 == 1 and 1 or -1) + 0.3 * c * (j == c and 1 or 0) + 0.2 * r:normal() end
      rows[i] = row
    end
    cls[c] = nl.tensor(rows)
  end
  return cls
end

local OPTS = { feat = FEAT, nz = 8, hs_gen = 16, hs_pred = 16, heads = 2, nsample = 5, lr = 3e-3, seed = 3 }
local m = md.new(OPTS)
t.ok(tostring(m):match("^naslab.MetaD2A %(feat 6, nz 8"), "tostring: " .. tostring(m))
t.is(m:options().heads, 2, "options are kept")
t.ok(m:options().position and not md.new{ feat = 6, nz = 8, heads = 2, position = false }:options().position,
  "the position input is on by default, off on request")
t.error_is(function() md.new{ feat = 6, nz = 10, heads = 4 } end, "bad argument #1 to 'new' (heads 4 does not divide nz 10)",
  "heads must divide nz")
t.error_like(function() md.new{ fest = 6 } end, "unknown option 'fest'", "unknown option")

-- bad tasks
local a = task(1, 3, 5, 1)
t.error_is(function() m:encode({ a[1] }, "generator") end,
  "bad argument #1 to 'encode' (task: 1 class (a task needs at least 2))", "a task with one class")
t.error_is(function() m:encode({ a[1], nl.tensor.zeros{ 0, FEAT } }, "generator") end,
  "bad argument #1 to 'encode' (task: class 2 is empty)", "an empty class")
t.error_is(function() m:encode({ a[1], nl.tensor.zeros{ 3, 4 } }, "predictor") end,
  "bad argument #1 to 'encode' (task: class 2 must be a contiguous (n, 6) tensor)", "the wrong feature width")
t.error_like(function() m:encode(a, "decoder") end, "invalid option 'decoder'", "unknown part")
t.error_is(function() m:gen_step({ a }, { { task = 2, arch = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|" } }) end,
  "bad argument #2 to 'gen_step' (item 1: task must be an index in 1..1, got 2)", "item naming a missing task")
t.error_like(function() m:gen_step({ a }, { { task = 1, arch = "|conv~0|" } }) end, "item 1: arch: ", "a bad cell")
t.error_is(function() m:pred_step({ a }, { { task = 1, arch = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|" } }) end,
  "bad argument #2 to 'pred_step' (item 1: acc must be a number, got nil)", "a triple without accuracy")

-- order invariance: classes reordered, rows reversed (all rows are used: nsample = 5 = rows)
local b = {}
for c, k in ipairs{ 3, 1, 2 } do
  local rows = a[k]:totable()
  local rev = {}
  for i = #rows, 1, -1 do rev[#rev + 1] = rows[i] end
  b[c] = nl.tensor(rev)
end
for _, part in ipairs{ "generator", "predictor" } do
  local ca, cb = m:encode(a, part), m:encode(b, part)
  local d = 0
  for i = 1, #ca do d = math.max(d, math.abs(ca[i] - cb[i])) end
  t.ok(#ca == 8 and d < 1e-5, string.format("%s code: invariant to the order of examples and classes (max diff %.2g)", part, d))
end

-- decoded cells parse as nb201 cells
local cells, tried = m:generate(a, { n = 10 })
t.ok(#cells == 10 and tried >= 10, string.format("an untrained generator: 10 unique valid cells from %d graphs", tried))
local sp = nl.space("nb201")
local okp = true
for _, c in ipairs(cells) do okp = okp and tostring(sp:parse(tostring(c))) == tostring(c) end
t.ok(okp, "generated cells are nb201 cells")
t.error_like(function() m:generate(a, { n = 0 }) end, "n must be an integer in 1..100000, got 0", "generate n = 0")

-- the recipe on a tiny database: two tasks, a good cell each, four weaker cells
local A, B = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|nor_conv_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|",
             "|skip_connect~0|+|avg_pool_3x3~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"
local weak = { "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|",
               "|avg_pool_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|",
               "|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|" }
local db, tasks = {}, { ["0+1+2"] = task(1, 3, 5, 1), ["3+4"] = task(2, 2, 5, 2) }
for i, w in ipairs(weak) do
  db[#db + 1] = { task = 1, classes = { 0, 1, 2 }, arch = w, acc = 60 + i }
  db[#db + 1] = { task = 2, classes = { 3, 4 }, arch = w, acc = 70 - i }
end
db[#db + 1] = { task = 1, classes = { 0, 1, 2 }, arch = A, acc = 90 }
db[#db + 1] = { task = 2, classes = { 3, 4 }, arch = B, acc = 85 }
local events = {}
local saved_emit = nl.emit
nl.emit = function(name, f) events[name] = (events[name] or 0) + 1 end
local model, rep = md.meta_train{ db = db, tasks = tasks, model = OPTS, epochs = { 300, 300 }, top = 1, valid = 0, batch = 8 }
nl.emit = saved_emit
t.is(events["metad2a.epoch"], 600, "an event per epoch of each part")
t.ok(rep.gen_loss < 0.5, string.format("generator overfits the tiny database (loss per pair %.3f)", rep.gen_loss))
for key, want in pairs{ ["0+1+2"] = A, ["3+4"] = B } do
  local got = model:generate(tasks[key], { n = 1, stochastic = false })
  t.is(tostring(got[1]), want, "task " .. key .. ": the generator reconstructs its best cell")
end
local seen = {}
nl.emit = function(name, f) seen[#seen + 1] = { name = name, f = f } end
local res = md.search{ model = model, task = tasks["0+1+2"], n = 5, samples = 2, seed = 1 }
nl.emit = saved_emit
t.ok(#res.cells >= 1 and res.scores[1] >= res.scores[#res.scores], "search ranks its candidates best first")
local cellev = 0
for _, e in ipairs(seen) do
  if e.name == "metad2a.cell" then
    cellev = cellev + 1
    if e.f.rank == 1 then t.is(e.f.arch, tostring(res.best), "the first metad2a.cell event is the chosen cell") end
  end
end
t.ok(seen[1].name == "metad2a.generated" and seen[1].f.cells == #res.cells and cellev == #res.cells and
  seen[#seen].name == "metad2a.ranked" and #seen[#seen].f.scores == #res.cells,
  "search publishes the generated cells, one event per candidate with its score, and the ranking")
local pa = model:predict(tasks["0+1+2"], { A, weak[1] }, 2)
local pb = model:predict(tasks["3+4"], { B, weak[1] }, 2)
t.ok(pa[1] > pa[2] + 10 and pb[1] > pb[2] + 5,
  string.format("predictor ranks each task's cells (%.1f > %.1f, %.1f > %.1f)", pa[1], pa[2], pb[1], pb[2]))

t.error_is(function() md.meta_train{ tasks = tasks, model = OPTS } end,
  "bad argument #1 to 'meta_train' (db (rows of db_load) is required)", "meta_train without a database")
t.error_is(function() md.search{ model = model } end,
  "bad argument #1 to 'search' (task (a list of class feature matrices) is required)", "search without a task")
t.error_like(function() md.search{ model = model, task = tasks["3+4"], samples = 0 } end,
  "samples must be in 1..1000", "search with no samples")

-- save / load
local dir = os.tmpname()
os.remove(dir)
local path = dir .. ".ckpt"
t.ok(model:save(path), "save")
local m2 = assert(md.load(path))
model:seed(5)
m2:seed(5)
local p1, p2 = model:predict(tasks["3+4"], { A, B }, 3), m2:predict(tasks["3+4"], { A, B }, 3)
t.ok(p1[1] == p2[1] and p1[2] == p2[2], "a loaded model predicts exactly as the saved one")
t.is(select(1, m2:target()), select(1, model:target()), "the target scale is saved")
local f = io.open(path, "r+b")
f:seek("set", 40)
f:write("garbage")
f:close()
local none, err = md.load(path)
t.ok(none == nil and err:find(path, 1, true), "a corrupt model file: " .. tostring(err))
os.remove(path)
none, err = md.load(dir .. ".missing")
t.ok(none == nil and err:find("missing"), "a missing model file: " .. tostring(err))

-- the database file
local R = {}
for k, v in pairs(md.DB_RECIPE) do R[k] = v end
local tl = md.db_tasks(R)
local held, distinct, allok = {}, {}, true
for k in R.held_out:gmatch("[^,]+") do held[k] = true end
for _, x in ipairs(tl) do
  local key = md.classes_key(x.classes)
  allok = allok and not held[key] and not distinct[key] and #x.classes >= R.min_classes and #x.classes <= R.max_classes
  distinct[key] = true
end
t.ok(#tl == R.tasks and allok, "db_tasks: distinct class subsets of the allowed sizes, none held out")
t.is(md.classes_key(md.db_tasks(R)[7].classes), md.classes_key(tl[7].classes), "db_tasks is deterministic")
local c1, c2 = md.db_cells(R, 1), md.db_cells(R, 2)
t.ok(#c1 == R.anchors + R.cells and tostring(c1[1]) == tostring(c2[1]) and tostring(c1[#c1]) ~= tostring(c2[#c2]),
  "db_cells: shared anchors, then each task's own")
local shipped = assert(md.db_load())
local stasks = {}
for _, r in ipairs(shipped) do stasks[r.task] = true end
t.ok(#shipped == R.tasks * (R.anchors + R.cells) and #stasks == R.tasks,
  string.format("the shipped database holds every (task, cell) pair of the recipe (%d)", #shipped))
local dbp = dir .. ".tsv"
f = io.open(dbp, "w")
f:write(table.concat(md.DB_FIELDS, "\t"), "\n", "1\t0+1\t", A, "\t91.5\t93.0\t1.2\t7\n", "2\t3+4\t|conv~0|\t91.5\t93.0\t1.2\t7\n")
f:close()
none, err = md.db_load(dbp)
t.is(err, dbp .. ":3: field 'arch' is malformed", "db_load names file, line and field")
f = io.open(dbp, "w")
f:write("task,classes\n")
f:close()
none, err = md.db_load(dbp)
t.ok(none == nil and err:find(dbp .. ":1: not a MetaD2A database", 1, true), "db_load: a foreign file")
os.remove(dbp)

local fmdir = nl.data.fashion_mnist_dir()
f = io.open(fmdir .. "/train-labels-idx1-ubyte.gz", "rb")
if not f then
  t.diag("skipping the real-data tests: " .. fmdir .. " has no Fashion-MNIST")
  t.done()
end
f:close()

-- a real tiny database: 2 tasks x 2 cells, interrupted after one cell, resumed
R.tasks, R.anchors, R.cells, R.train_per_class, R.test_per_class, R.epochs = 2, 1, 1, 40, 20, 1
local n1 = 0
local okb = pcall(md.db_build, { out = dbp, recipe = R, log = function(s)
  if s:match("1/4") then n1 = n1 + 1 end
  if s:match("task %d") and n1 > 0 then error("killed") end
end })
local part = assert(md.db_load(dbp))
t.ok(not okb and #part == 1, "a killed build leaves its finished cells (" .. #part .. ")")
local trained = md.db_build{ out = dbp, recipe = R }
local full = assert(md.db_load(dbp))
t.ok(trained == 3 and #full == 4, string.format("resume trains only the missing cells (%d), then holds all %d", trained, #full))
t.is(md.db_build{ out = dbp, recipe = R }, 0, "a finished build trains nothing")
local accok = true
for _, r in ipairs(full) do accok = accok and r.acc > 0 and r.acc <= 100 and r.seconds > 0 end
t.ok(accok, "rows hold real accuracies and times")
os.remove(dbp)

-- the extractor and a search on real features
local tr = assert(nl.data.fashion_mnist{ split = "train", limit = 400, seed = 0, pad = 2, normalize = true }):downsample(2)
local ext = md.extractor{ data = tr, C = 4, epochs = 1, threads = 1 }
local feats = ext:features(tr)
t.is(table.concat(feats:shape(), "x"), "400x16", "features: 4C values per image")
local real = md.task(ext, tr:subset{ 1, 7, 9 }, 20)
t.ok(#real == 3 and real[1]:shape()[1] == 20, "a task: one feature matrix per class, per_class rows")
local mr = md.new{ feat = 16, nz = 8, hs_gen = 16, hs_pred = 16, heads = 2 }
local r2 = md.search{ model = mr, task = real, n = 8, samples = 2 }
t.ok(#r2.cells == 8 and r2.seconds < 30, string.format("search on real features: %d cells in %.2f s", #r2.cells, r2.seconds))
t.done()
