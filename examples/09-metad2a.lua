-- SPDX-License-Identifier: GPL-3.0-or-later
-- MetaD2A: from a data set to a NAS-Bench-201 cell without training on it.
-- A feature extractor describes images; the meta-training database (shipped,
-- trained by naslab on 48 class subsets of Fashion-MNIST) teaches a set
-- encoder, a cell generator and a meta-predictor; a new data set is then
-- encoded, cells are generated for it and ranked. Small sizes so it runs in
-- seconds: bench/metad2a.lua is the full-size run (BENCHMARKS.md).
local md = nl.metad2a
local pool = nl.data.fashion_mnist{ split = "train", limit = 2000, balanced = true, seed = 1, pad = 2, normalize = true }
if not pool then
  print("no Fashion-MNIST here (apt-get install dataset-fashion-mnist)")
  return
end
pool = pool:downsample(2) -- 32x32 -> 16x16, the database's inputs

-- 1. the extractor: a small conv network trained on the meta-training classes
local ext = md.extractor{ data = pool, C = 4, epochs = 1 }

-- 2. the database, and each of its tasks as features (one matrix per class)
local db = assert(md.db_load())
local tasks = md.task_map(ext, pool, db, 50)

-- 3. meta-training (the paper runs 400 epochs of each part)
local model, rep = md.meta_train{ db = db, tasks = tasks, epochs = { 5, 5 },
                                  model = { feat = ext.feat, hs_pred = 32, lr = 1e-3 } }
print(string.format("meta-trained on %d tasks: %d (task, good cell) pairs, %d triples", rep.tasks, rep.pairs,
                    rep.triples))

-- 4. a data set it never saw: Fashion-MNIST test images of held-out classes
local new = assert(nl.data.fashion_mnist{ split = "test", classes = { 0, 2, 4, 6 }, limit = 400, balanced = true,
                                          pad = 2, normalize = true }):downsample(2)
local res = md.search{ model = model, task = md.task(ext, new, 50), n = 20, samples = 5 }
print(string.format("%d candidates generated from %d graphs and ranked in %.2f s", #res.cells, res.tried,
                    res.seconds))
for k = 1, 3 do print(string.format("  %d. %s  predicted %.1f%%", k, tostring(res.cells[k]), res.scores[k])) end
