-- SPDX-License-Identifier: GPL-3.0-or-later
-- bench/supernet_tau.lua - how well a weight-sharing supernet ranks cells:
-- an NB201 supernet with the embedded benchmark's network (its recipe file
-- beside the CSV says C, N, data) is trained with uniform single-path
-- sampling (SPOS) on the same training images, then each of K cells drawn
-- from the benchmark is evaluated with inherited weights (batch norm
-- recalibrated on training batches) on the validation images; the ranking is
-- compared with the cells' stand-alone test accuracy in the benchmark
-- (Kendall tau-b, Spearman rho, top-10 overlap), for several seeds.
--
--   naslab bench/supernet_tau.lua [--epochs E] [--cells K] [--seeds S] [--bench CSV]
local opts = { epochs = 30, cells = 200, seeds = 3, bench = nil }
for i = 1, #arg, 2 do
  local k, v = arg[i]:match("^%-%-(%w+)$"), arg[i + 1]
  if not k or opts[k] == nil and k ~= "bench" or not v then
    io.stderr:write("usage: naslab bench/supernet_tau.lua [--epochs E] [--cells K] [--seeds S] [--bench CSV]\n")
    os.exit(2)
  end
  opts[k] = k == "bench" and v or math.tointeger(tonumber(v))
end

local b = assert(nl.bench.load(opts.bench))
local R = {}
for line in io.lines(b:path() .. ".recipe") do
  local k, v = line:match("^(%w+) = (.+)$")
  if k then R[k] = tonumber(v) or v end
end
local tr, va = assert(nl.data.fashion_mnist{ split = "train", limit = R.train + R.valid, valid = R.valid, seed = 0,
                                             pad = R.pad, normalize = true })
tr, va = tr:downsample(R.downsample), va:downsample(R.downsample)

local archs = b:archs()
local side = (28 + 2 * R.pad) // R.downsample
print(string.format("supernet C=%d N=%d on %d Fashion-MNIST images (%dx%d), SPOS %d epochs; %d cells of %s",
                    R.C, R.N, #tr, side, side, opts.epochs, opts.cells, b:path()))
print(string.format("%-6s %8s %8s %8s %10s %10s", "seed", "tau", "rho", "top-10", "train s", "eval s"))
local taus = {}
for seed = 1, opts.seeds do
  local pick = nl.rng(1000 + seed):permutation(#archs)
  local sn = nl.supernet{ data = tr, C = R.C, N = R.N, seed = seed }
  local t0 = os.clock()
  local st = sn:train{ data = tr, epochs = opts.epochs, batch = R.batch, lr = R.lr, seed = seed }
  local est, truth = {}, {}
  local t1 = os.clock()
  for i = 1, math.min(opts.cells, #archs) do
    local a = archs[pick[i]]
    est[i] = sn:eval(a, { data = va, calib = tr, calib_batches = 10, batch = R.batch, seed = seed })
    truth[i] = b:query(a, "test_acc")
  end
  local tau = nl.stats.kendall(est, truth)
  taus[#taus + 1] = tau
  print(string.format("%-6d %8.3f %8.3f %8.2f %10.1f %10.1f", seed, tau, nl.stats.spearman(est, truth),
                      nl.stats.topk(est, truth, 10), st.seconds, os.clock() - t1))
  sn:close()
end
local s = 0
for _, v in ipairs(taus) do s = s + v end
print(string.format("mean Kendall tau over %d seeds: %.3f", #taus, s / #taus))
