-- SPDX-License-Identifier: GPL-3.0-or-later
-- Lab 5: weight sharing. Does a supernet rank cells like training each one?
--
-- Question: one-shot NAS trains one supernet that contains every cell and
-- scores a cell with the shared weights, instead of training it alone. How
-- well does that score rank cells, compared with their stand-alone accuracy
-- and with simply counting parameters?
--
-- The stand-alone accuracies are naslab's own benchmark (nl.bench.load():
-- each cell trained alone, C=8, N=2, 16x16 Fashion-MNIST, 5,000 training
-- images, 4 epochs; data/README.md). The supernet below uses the same
-- network and images, trained with uniform single-path sampling (SPOS).
local EPOCHS, CELLS = 3, 30 -- raise both for a better estimate (minutes)
local b = nl.bench.load()
local train, valid = nl.data.fashion_mnist { split = "train", limit = 6000, valid = 1000, seed = 0, pad = 2,
                                             normalize = true }
if not train then
  print("no Fashion-MNIST here (apt-get install dataset-fashion-mnist)")
  return
end
train, valid = train:downsample(2), valid:downsample(2)

local sn = nl.supernet { data = train, C = 8, N = 2, seed = 1 }
local st = sn:train { data = train, epochs = EPOCHS, batch = 128, lr = 0.1, seed = 1 }
print(string.format("supernet: %d SPOS epochs on %d images in %.1f s", EPOCHS, #train, st.seconds))

local archs = b:archs()
local pick = nl.rng(5):permutation(#archs)
local shared, alone, params = {}, {}, {}
for i = 1, CELLS do
  local a = archs[pick[i]]
  -- batch-norm statistics are recomputed for each cell before it is scored
  shared[i] = sn:eval(a, { data = valid, calib = train, calib_batches = 5, batch = 128, seed = 1 })
  alone[i] = b:query(a, "test_acc")
  params[i] = b:query(a, "params")
end
nl.emit("rank", { ["true"] = alone, pred = shared }) -- the ranking pane
print(string.format("%d cells        Kendall tau  Spearman rho", CELLS))
print(string.format("supernet score    %8.3f   %8.3f", nl.stats.kendall(shared, alone), nl.stats.spearman(shared, alone)))
print(string.format("parameter count   %8.3f   %8.3f", nl.stats.kendall(params, alone), nl.stats.spearman(params, alone)))
sn:close()
-- Observe: with this budget the shared weights rank cells barely better than
-- chance (BENCHMARKS.md measured tau about 0.01 after 20 epochs on 100 cells),
-- while the parameter count is a strong baseline. Why might a cell's score
-- with shared weights differ from its score when trained alone? Try more
-- EPOCHS, then read about NAS-LID (issue 8), which splits the supernet.
