-- SPDX-License-Identifier: GPL-3.0-or-later
-- Search recipes on the embedded benchmark (naslab's own 1,000 NB201 cells
-- trained on Fashion-MNIST): one run of regularised evolution and one of
-- predictor-guided search, then a small sweep against random search.
-- In the workbench the search pane draws every run as it goes.
local oracle = nl.search.oracle.bench(nil, "valid_acc") -- search on validation accuracy
local b = oracle.bench

for _, r in ipairs(nl.search.list()) do print(string.format("%-8s %s", r.name, r.doc)) end

local r = nl.search.run("rea", { oracle = oracle, budget = 60, seed = 1 })
print(string.format("rea:   best valid %.2f at query %d, test %.2f: %s", r.best.value, r.best.query,
                    b:query(r.best.arch, "test_acc"), tostring(r.best.arch)))

r = nl.search.run("renas", { oracle = oracle, budget = 60, seed = 1, predictor = "gbdt", candidates = "smart" })
print(string.format("renas: best valid %.2f at query %d, test %.2f (%d rounds)", r.best.value, r.best.query,
                    b:query(r.best.arch, "test_acc"), #r.rounds))

local sw = nl.search.sweep { oracle = oracle, seeds = 5, budget = 60, quiet = true, top = 10,
                             algos = { "random", "rea", { "renas", predictor = "gbdt", label = "renas-gbdt" } } }
sw:print { 10, 30, 60 }
