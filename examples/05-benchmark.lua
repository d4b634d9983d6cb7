-- SPDX-License-Identifier: GPL-3.0-or-later
-- A tabular benchmark: query measured accuracies of NAS-Bench-201 cells.
-- Usage: naslab 05-benchmark.lua [path/to/nb201.csv]
local path = arg[1] or "../../shared/data/nb201.csv"
local b, err = nl.bench.load(path)
if not b then
  print("no benchmark here (" .. err .. "); pass the path of nb201.csv")
  return
end
print(#b .. " cells, metrics: " .. table.concat(b:metrics(), ", "))
local best, acc = b:best("c10_test")
print(string.format("best CIFAR-10 test accuracy %.2f%% (benchmark idx %d)", acc, b:index(best)))
print(best)

-- How well does the parameter count alone rank the cells?
local cells, accs, params = b:archs(), b:column("c10_test"), {}
for i, a in ipairs(cells) do params[i] = a:params() end
print(string.format("Kendall tau(params, c10_test) = %.3f", nl.stats.kendall(params, accs)))
