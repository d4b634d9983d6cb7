-- SPDX-License-Identifier: GPL-3.0-or-later
-- bench/mdenas_supernet.lua - MDENAS as its paper runs it, on weight
-- sharing: an NB201 supernet with the embedded benchmark's network (C, N,
-- data from the recipe file beside its CSV: 5,000 Fashion-MNIST training
-- images at 16x16); each epoch trains the cell MDENAS samples for one epoch
-- on the shared weights (sn:train{arch = ...}) and evaluates it with
-- inherited weights on the 1,000 validation images (batch norm
-- recalibrated on 10 training batches). Prints the epochs, the final cell
-- (argmax of theta per edge), its supernet accuracy and its benchmark
-- accuracy: looked up when its canonical form is one of the benchmark's
-- cells, else trained stand-alone with the benchmark's recipe (seed = its
-- index, as data/build.lua trains; some 15 s of one core).
--
--   naslab bench/mdenas_supernet.lua [--epochs E] [--seed S] [--warmup W] [--lr LR] [--threads T]
--                                    [--domain space|bench]
--
-- --warmup W first trains the supernet W epochs with uniform single-path
-- sampling (SPOS); --domain bench restricts MDENAS to the benchmark's 1,000
-- cells (sampling and argmax), so the final cell is always in the table.
local opts = { epochs = 20, seed = 1, warmup = 0, lr = 0.1, threads = 1, domain = "space" }
for i = 1, #arg, 2 do
  local k, v = arg[i]:match("^%-%-(%w+)$"), arg[i + 1]
  local good = k and opts[k] ~= nil and v and (k == "domain" and (v == "space" or v == "bench") or tonumber(v))
  if not good then
    io.stderr:write("usage: naslab bench/mdenas_supernet.lua [--epochs E] [--seed S] [--warmup W] [--lr LR]"
      .. " [--threads T] [--domain space|bench]\n")
    os.exit(2)
  end
  opts[k] = k == "domain" and v or (math.tointeger(tonumber(v)) or tonumber(v))
end
nl.search.register("mdenas", require "naslab.search.mdenas")

local b = assert(nl.bench.load())
local R = {}
for line in io.lines(b:path() .. ".recipe") do
  local k, v = line:match("^(%w+) = (.+)$")
  if k then R[k] = tonumber(v) or v end
end
local tr, va = assert(nl.data.fashion_mnist{ split = "train", limit = R.train + R.valid, valid = R.valid, seed = 0,
                                             pad = R.pad, normalize = true })
tr, va = tr:downsample(R.downsample), va:downsample(R.downsample)

local sn = nl.supernet{ data = tr, C = R.C, N = R.N, seed = opts.seed, threads = opts.threads }
print(string.format("supernet C=%d N=%d on %d Fashion-MNIST images, %d threads; SPOS warm-up %d epochs; "
  .. "MDENAS %d epochs (lr %g cosine within each epoch, alpha 0.01), seed %d, domain %s", R.C, R.N, #tr,
  opts.threads, opts.warmup, opts.epochs, opts.lr, opts.seed, opts.domain))
local t0 = nl.clock()
if opts.warmup > 0 then sn:train{ data = tr, epochs = opts.warmup, batch = R.batch, lr = opts.lr, seed = opts.seed } end
local eopts = { data = va, calib = tr, calib_batches = 10, batch = R.batch, seed = opts.seed }
local oracle = nl.search.oracle.supernet(sn, eopts)
if opts.domain == "bench" then
  local ob = nl.search.oracle.bench(b, "test_acc")
  oracle.contains, oracle.archs = ob.contains, ob.archs
end
local r = nl.search.run("mdenas", { oracle = oracle, budget = opts.epochs, seed = opts.seed,
                                    train = { data = tr, batch = R.batch, lr = opts.lr } })
local wall = nl.clock() - t0

for _, h in ipairs(r.history) do
  print(string.format("  query %2d  %-95s %6.2f%%", h.n, tostring(h.arch), h.value))
end
for e = 1, 6 do
  local row = {}
  for k = 1, 5 do row[k] = string.format("%.2f", r.theta[e][k]) end
  print(string.format("  theta edge %d (%s): %s", e, table.concat(r.ops, " "), table.concat(row, " ")))
end

local fin = r.final.arch
local canon = tostring(fin:canonical())
local bench_acc, how
for _, a in ipairs(b:archs()) do
  if tostring(a) == canon then bench_acc, how = b:query(a, "test_acc"), "benchmark table" end
end
if not bench_acc then
  local te = assert(nl.data.fashion_mnist{ split = "test", limit = R.test, pad = R.pad, normalize = true })
  te = te:downsample(R.downsample)
  local c = fin:canonical()
  local st = nl.train{ arch = c, data = tr, test = te, epochs = R.epochs, batch = R.batch, lr = R.lr,
                       momentum = R.momentum, nesterov = R.nesterov == "true", weight_decay = R.weight_decay,
                       schedule = R.schedule, C = R.C, N = R.N, threads = 1, seed = c:index() }
  bench_acc, how = st.test_acc, "trained with the benchmark's recipe"
end
local col = b:column("test_acc")
local above, sum = 0, 0
for _, v in ipairs(col) do
  if v > bench_acc then above = above + 1 end
  sum = sum + v
end
print(string.format("%d epochs, %d queries, %.0f s (training and evaluation)", r.epochs, r.queries, wall))
print(string.format("final cell %s: supernet %.2f%% (queried %s)", tostring(fin), r.final.value,
                    tostring(r.final.queried)))
print(string.format("  test_acc %.2f (%s): better than %d of the benchmark's %d cells (mean %.2f)", bench_acc, how,
                    #col - above, #col, sum / #col))
print(string.format("best queried cell %s: supernet %.2f%%", tostring(r.best.arch), r.best.value))
