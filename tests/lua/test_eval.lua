-- SPDX-License-Identifier: GPL-3.0-or-later
-- nl.eval.predictor: the predictor evaluation harness on a small synthetic
-- benchmark written here (120 NB201 cells, a target computed from the cell,
-- a second metric with missing values): sampling is deterministic per seed
-- and nested across sizes, training and test cells are disjoint, every
-- statistic equals what nl.predictor and nl.stats give when called
-- directly, events arrive in order, "stop" stops, and bad arguments get
-- exact messages.
local t = require "tap"

local sp = nl.space("nb201")

-- The synthetic benchmark: acc grows with the live nor_conv_3x3 and
-- nor_conv_1x1 edges; acc2 is acc with every sixth cell missing (nan).
local function target(a)
  local s, n3, n1 = tostring(a:canonical()), 0, 0
  for _ in s:gmatch("nor_conv_3x3") do n3 = n3 + 1 end
  for _ in s:gmatch("nor_conv_1x1") do n1 = n1 + 1 end
  return 80 + 2 * n3 + 0.5 * n1 + (a:index() % 7) * 0.01
end
local rng = nl.rng(11)
local path = os.tmpname()
local f = assert(io.open(path, "w"))
f:write("arch,acc,acc2\n")
local seen, N = {}, 0
while N < 120 do
  local a = sp:sample(rng)
  local s = tostring(a)
  if not seen[s] then
    seen[s] = true
    N = N + 1
    f:write(string.format("%s,%.4f,%s\n", s, target(a), N % 6 == 0 and "nan" or string.format("%.4f", target(a))))
  end
end
f:close()
local b = assert(nl.bench.load(path, { space = "nb201" }))
local archs, ys = b:archs(), b:column("acc")

-- A run of two kinds, two sizes (one a fraction), two seeds.
local events = {}
local O = { mlp = { epochs = 100 }, renas = { epochs = 3 } }
local res = nl.eval.predictor{ bench = b, metric = "acc", predictor = { "mlp", "renas" }, opts = O, sizes = { 20, 0.25 },
                               seeds = { 3, 4 }, topk = { 5, 10 },
                               progress = function(ev) events[#events + 1] = ev end }
t.is(#res.runs, 8, "one run per kind, size and seed")
t.is(res.cells, 120, "every cell has a value of acc")
t.is(table.concat(res.sizes, ","), "20,30", "a fraction of the cells: 0.25 of 120 is 30")
t.is(res.metric, "acc", "metric")

local good_split, disjoint, same_across_kinds = true, true, true
local by = {}
for _, r in ipairs(res.runs) do
  local tr, te = nl.eval.split(120, r.size, r.seed)
  local s = {}
  for i, c in ipairs(tr) do good_split = good_split and r.train[i] == c; s[c] = true end
  for _, c in ipairs(te) do disjoint = disjoint and not s[c]; s[c] = true end
  local all = 0
  for _ in pairs(s) do all = all + 1 end
  disjoint = disjoint and all == 120 and #tr == r.size and r.n_train == r.size and r.n_test == 120 - r.size
  local key = r.size .. "/" .. r.seed
  if by[key] then same_across_kinds = same_across_kinds and table.concat(by[key], ",") == table.concat(r.train, ",") end
  by[key] = r.train
end
t.ok(good_split, "each run trains on nl.eval.split(n, size, seed)")
t.ok(disjoint, "training and test cells are disjoint and cover the bench")
t.ok(same_across_kinds, "every kind sees the same cells for a size and seed")

local a1, b1 = nl.eval.split(120, 20, 3)
local a2, b2 = nl.eval.split(120, 20, 3)
local a3 = nl.eval.split(120, 20, 4)
local a4 = nl.eval.split(120, 30, 3)
t.ok(table.concat(a1, ",") == table.concat(a2, ",") and table.concat(b1, ",") == table.concat(b2, ","),
  "the same seed gives the same split")
t.ok(table.concat(a1, ",") ~= table.concat(a3, ","), "another seed gives another split")
t.is(table.concat(a1, ","), table.concat(a4, ",", 1, 20), "a smaller training set is a prefix of a larger one")
local _, te5 = nl.eval.split(120, 20, 3, 7)
t.is(table.concat(te5, ","), table.concat(b1, ",", 1, 7), "a test subsample: the next cells of the permutation")

-- The statistics agree with nl.predictor and nl.stats called directly.
for _, pick in ipairs{ 1, 8 } do
  local r = res.runs[pick]
  local tr, te = nl.eval.split(120, r.size, r.seed)
  local tra, try, tea, tey = {}, {}, {}, {}
  for i, c in ipairs(tr) do tra[i] = archs[c]; try[i] = ys[c] end
  for i, c in ipairs(te) do tea[i] = archs[c]; tey[i] = ys[c] end
  local po = { seed = r.seed }
  for k, v in pairs(O[r.kind]) do po[k] = v end
  local p = nl.predictor(r.kind, po):fit(tra, try)
  local s = p:predict(tea)
  local what = string.format("%s size %d seed %d", r.kind, r.size, r.seed)
  t.is(r.tau, nl.stats.kendall(s, tey), what .. ": tau is nl.stats.kendall of the same fit")
  t.is(r.rho, nl.stats.spearman(s, tey), what .. ": rho is nl.stats.spearman")
  t.is(r.top5, nl.stats.topk(s, tey, 5), what .. ": top5 is nl.stats.topk")
  t.is(r.top10, nl.stats.topk(s, tey, 10), what .. ": top10")
  t.ok(r.fit_seconds > 0 and r.predict_seconds >= 0, what .. ": timed")
end
local mlp_tau = {}
for _, r in ipairs(res.runs) do if r.kind == "mlp" and r.size == 30 then mlp_tau[#mlp_tau + 1] = r.tau end end
-- Under chance, tau over 90 cells has a spread of about 0.07.
t.ok(mlp_tau[1] > 0.3 and mlp_tau[2] > 0.3,
  string.format("mlp ranks the synthetic target far above chance (tau %.3f, %.3f)", mlp_tau[1], mlp_tau[2]))

-- The summary: mean and sample sd per kind and size, in run order.
t.is(#res.summary, 4, "one summary row per kind and size")
local s1 = res.summary[3]
t.ok(s1.kind == "mlp" and s1.size == 30 and s1.seeds == 2, "summary rows by size, then kind")
local m = (mlp_tau[1] + mlp_tau[2]) / 2
t.near(s1.tau_mean, m, 1e-15, "tau_mean")
t.near(s1.tau_sd, math.abs(mlp_tau[1] - mlp_tau[2]) / math.sqrt(2), 1e-12, "tau_sd (n - 1)")
t.ok(s1.top5_mean ~= nil and s1.top10_sd ~= nil and s1.fit_mean > 0, "top-k and fit time summarised")

-- Events: one per run, in order, then the summary.
t.is(#events, 9, "8 run events and a summary")
local order = true
for i = 1, 8 do
  local ev = events[i]
  order = order and ev.name == "eval.run" and ev.run == i and ev.runs == 8 and ev.tau == res.runs[i].tau and
    ev.kind == res.runs[i].kind and ev.top5 == res.runs[i].top5 and ev.train == nil
end
t.ok(order, "run events carry run, runs, kind, tau, top-k")
t.ok(events[9].name == "eval.summary" and events[9].runs == 8 and events[9].summary == res.summary,
  "the summary event carries the summary")

-- The same events reach the event stream (when this build has one): a run
-- directory records eval.run, rank (predicted against true values, for the
-- ranking pane) and eval.summary.
if nl.emit and nl.run then
  local dir = os.tmpname()
  os.remove(dir)
  assert(nl.run.open(dir))
  local r2 = nl.eval.predictor{ bench = b, metric = "acc", predictor = "mlp", opts = O.mlp, sizes = { 20 },
                                seeds = { 3 }, topk = { 5 } }
  nl.run.close()
  local got = {}
  nl.run.replay(dir, function(ev) got[#got + 1] = ev end)
  local names = {}
  for i, ev in ipairs(got) do names[i] = ev.name end
  t.is(table.concat(names, ","), "eval.run,rank,eval.summary", "events recorded in a run directory")
  t.ok(got[1].tau == r2.runs[1].tau and got[1].kind == "mlp" and got[1].seed == 3, "eval.run carries the run")
  t.ok(#got[2]["true"] == 100 and #got[2].pred == 100, "rank carries the 100 test cells")
  t.ok(got[3].kind == "mlp" and got[3].tau_mean == r2.summary[1].tau_mean, "eval.summary carries a summary row")
  os.execute("rm -rf '" .. dir .. "'")
else
  t.diag("no event stream in this build: events to it not checked")
end

-- The printed table.
local txt = res:format()
t.ok(txt:find("kind%s+size%s+seeds%s+tau %(mean ± sd%)%s+rho%s+top5%s+top10%s+fit s"), "table header")
t.ok(txt:find("\nmlp%s+30%s+2%s+" .. string.format("%.3f", s1.tau_mean):gsub("%.", "%%.")), "a table line")
t.is(tostring(res), txt, "tostring gives the table")

-- "stop" from progress ends the run early, keeping what was measured.
local n = 0
local part = nl.eval.predictor{ bench = b, metric = "acc", predictor = "mlp", opts = { epochs = 5 }, sizes = { 20 },
                                seeds = 3, topk = {},
                                progress = function(ev) n = n + 1; if ev.run == 2 then return "stop" end end }
t.ok(part.stopped and #part.runs == 2 and n == 3, "stop after the second run (2 run events and the summary)")
t.ok(part:format():find("stopped early", 1, true), "the table says so")

-- A test subsample; a metric with missing values; seeds as a count.
local sub = nl.eval.predictor{ bench = b, metric = "acc2", predictor = "mlp", opts = { epochs = 5 }, sizes = { 10 },
                               seeds = 2, test = 15, topk = 3, canonical = true }
t.is(sub.cells, 100, "cells without a value are left out")
local c2 = b:column("acc2")
local rows_ok, pos = true, {}
for i, v in ipairs(c2) do if v == v then pos[#pos + 1] = i end end
local trs = nl.eval.split(100, 10, 1, 15)
for i, c in ipairs(trs) do rows_ok = rows_ok and sub.runs[1].train[i] == pos[c] and c2[pos[c]] == c2[pos[c]] end
t.ok(rows_ok, "train holds row numbers of b:archs(), skipping cells without a value")
t.ok(#sub.runs == 2 and sub.runs[1].seed == 1 and sub.runs[2].seed == 2, "seeds = 2 means seeds 1 and 2")
t.ok(sub.runs[1].n_test == 15 and sub.runs[1].n_train == 10, "test = 15 cells")
t.ok(sub:format():find("canonical cells", 1, true), "canonical noted in the table")

-- The bench by path; a bench that cannot be loaded is an environment failure.
local byp = nl.eval.predictor{ bench = path, metric = "acc", predictor = "mlp", opts = O.mlp, sizes = { 20 },
                               seeds = { 3 }, topk = { 5 } }
t.is(byp.runs[1].tau, res.runs[1].tau, "bench given by path: the same first run")
local none, why = nl.eval.predictor{ bench = path .. ".missing", sizes = { 20 } }
t.ok(none == nil and why:find("cannot open", 1, true), "missing bench file: nil, message")

-- Errors.
local function E(o, msg, name)
  o.bench = o.bench or b
  t.error_is(function() nl.eval.predictor(o) end, "bad argument #1 to 'predictor' (" .. msg .. ")", name)
end
t.error_is(function() nl.eval.predictor("x") end, "bad argument #1 to 'predictor' (table expected, got string)", "not a table")
E({ metric = "c10_test" }, "unknown metric 'c10_test' (known: acc, acc2)", "unknown metric lists the bench's")
E({}, "no metric given and " .. path .. " has neither c10_test nor test_acc (known: acc, acc2)", "no default metric")
E({ metric = "acc", sizes = { 200 } },
  "sizes[1] = 200 is larger than the bench allows (120 cells with values; at most 118 leave 2 to test)", "size too large")
E({ metric = "acc", sizes = { 1 } }, "sizes[1] must be an integer >= 2 or a fraction in (0, 1), got 1", "size 1")
E({ metric = "acc", sizes = { 0.01 } }, "sizes[1] = 0.01 gives 1 training cells of 120; at least 2 are needed",
  "fraction too small")
E({ metric = "acc", sizes = { 20, 20 } }, "sizes[2] repeats the training-set size 20", "repeated size")
E({ metric = "acc", sizes = {} }, "sizes is an empty list", "no sizes")
E({ metric = "acc" }, "sizes[1] = 0.01 gives 1 training cells of 120; at least 2 are needed",
  "the default sizes are 1% and 10% of the cells")
E({ metric = "acc", seeds = 2.5 }, "seeds must be a count >= 1 or a list of integer seeds, got 2.5", "fractional count")
E({ metric = "acc", seeds = 0 }, "seeds must be a count >= 1 or a list of integer seeds, got 0", "zero seeds")
E({ metric = "acc", seeds = { 1, "x" } }, "seeds[2] must be an integer >= 0, got 'x'", "seed not a number")
E({ metric = "acc", seeds = { -1 } }, "seeds[1] must be an integer >= 0, got -1", "negative seed")
E({ metric = "acc", seeds = { 4, 4 } }, "seeds[2] repeats seed 4", "repeated seed")
E({ metric = "acc", seeds = {} }, "seeds is an empty list", "no seeds")
E({ metric = "acc", seeds = "3" }, "seeds must be a count or a list of integer seeds, got string", "seeds of a wrong type")
E({ metric = "acc", predictor = "xgb" }, "unknown predictor 'xgb' (known: " ..
  table.concat((function() local k = {} for i, p in ipairs(nl.predictors()) do k[i] = p.name end return k end)(), ", ") ..
  ")", "unknown predictor")
E({ metric = "acc", predictor = { "mlp", "mlp" } }, "predictor 'mlp' is listed twice", "kind twice")
E({ metric = "acc", opts = { seed = 1 } }, "opts.seed cannot be set: each run seeds its predictor with the run's seed",
  "opts.seed")
E({ metric = "acc", predictor = "mlp", opts = { mlp = { epochs = 2 }, epochs = 3 } },
  "opts mixes per-kind tables (mlp) with shared options (epochs)", "mixed opts")
E({ metric = "acc", predictor = "mlp", opts = { renas = { epochs = 2 } } },
  "opts.renas is given but renas is not among the predictors", "opts for a kind not run")
t.error_like(function() nl.eval.predictor{ bench = b, metric = "acc", predictor = "mlp", opts = { epoch = 2 },
                                            sizes = { 20 } } end,
  "bad argument #1 to 'predictor' (opts for mlp: unknown option 'epoch' (known: seed,",
  "a predictor option is checked before any run", true)
E({ metric = "acc", sizes = { 20 }, test = 1 }, "test must be an integer >= 2 (cells to test on), got 1", "test too small")
E({ metric = "acc", sizes = { 30 }, test = 100 },
  "test = 100 is more than the 90 cells left beside the largest training set (30 of 120)", "test too large")
E({ metric = "acc", sizes = { 20 }, test = 5, topk = { 10 } }, "topk[1] = 10 is more than the 5 test cells", "topk > test")
E({ metric = "acc", sizes = { 20 }, topk = { 0 } }, "topk[1] must be an integer >= 1, got 0", "topk 0")
E({ metric = "acc", size = { 20 } }, "unknown option 'size' (known: bench, metric, predictor, opts, sizes, seeds, test, " ..
  "topk, canonical, progress)", "unknown option")
E({ metric = "acc", progress = 3 }, "progress must be a function, got number", "progress not a function")
E({ metric = "acc", canonical = 1 }, "canonical must be a boolean, got number", "canonical not a boolean")
E({ bench = 42 }, "bench must be a naslab.Bench, a path or a name, got number", "bench of a wrong type")
t.error_like(function() nl.eval.predictor{ bench = b, metric = "acc", sizes = { 20 }, seeds = 1, topk = {},
                                            predictor = "mlp", opts = { epochs = 2 },
                                            progress = function() error("boom") end } end,
  "boom", "an error in progress propagates")

b:close()
os.remove(path)
t.done()
