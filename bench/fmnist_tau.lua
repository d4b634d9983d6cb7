-- SPDX-License-Identifier: GPL-3.0-or-later
-- bench/fmnist_tau.lua - how naslab's own benchmark (NB201 cells trained on
-- Fashion-MNIST by data/build.lua) ranks cells compared with the real
-- NAS-Bench-201 accuracies of the same cells: Kendall tau-b and Spearman rho
-- of test_acc against c10_test and c100_test, with parameter count as the
-- usual naive baseline, and the top-10 overlap.
--
--   naslab bench/fmnist_tau.lua [NB201_CSV [FMNIST_CSV]]
--
-- NB201_CSV defaults to $NASLAB_SHARED/data/nb201.csv (../shared/data).
local shared = os.getenv("NASLAB_SHARED") or "../shared"
local real = assert(nl.bench.load(arg[1] or (shared .. "/data/nb201.csv")))
local own = assert(nl.bench.load(arg[2]))

local archs = own:archs()
local fm, c10, c100, params = {}, {}, {}, {}
for i, a in ipairs(archs) do
  fm[i] = own:query(a, "test_acc")
  c10[i] = real:query(a, "c10_test")
  c100[i] = real:query(a, "c100_test")
  params[i] = own:query(a, "params")
end
print(string.format("%d cells of %s against %s", #archs, own:path(), real:path()))
print(string.format("%-34s %8s %8s %8s", "", "tau", "rho", "top-10"))
local function row(name, x, y)
  print(string.format("%-34s %8.3f %8.3f %8.2f", name, nl.stats.kendall(x, y), nl.stats.spearman(x, y),
                      nl.stats.topk(x, y, 10)))
end
row("fmnist test_acc vs c10_test", fm, c10)
row("fmnist test_acc vs c100_test", fm, c100)
row("params vs c10_test", params, c10)
row("fmnist valid_acc vs test_acc", own:column("valid_acc"), own:column("test_acc"))
local b = own:best("test_acc")
print(string.format("best fmnist cell %s: fmnist %.2f, c10_test %.2f (best in these cells %.2f)", tostring(b),
                    own:query(b, "test_acc"), real:query(b, "c10_test"), math.max(table.unpack(c10))))
