-- SPDX-License-Identifier: GPL-3.0-or-later
-- bench/proxy_tau.lua - how well the zero-cost proxies (nl.proxy) rank the
-- cells of naslab's own benchmark: each proxy is computed on the untrained
-- network of the benchmark's recipe (C = 8, N = 2, Fashion-MNIST normalised,
-- padded to 32 and averaged 2x2 to 16x16, data/README.md) with one minibatch
-- of its training images, then ranked against the benchmark's test_acc and,
-- when the real NAS-Bench-201 table is there, against c10_test of the same
-- cells (Kendall tau-b, Spearman rho). Also the CPU time per cell.
--
--   naslab bench/proxy_tau.lua [--cells N] [--seed S] [--batch B] [--threads T] [--nb201 CSV]
--
-- --cells N scores the first N cells of the benchmark (file order) instead of
-- all 1,000. The NB201 table defaults to $NASLAB_SHARED/data/nb201.csv
-- (../shared/data/nb201.csv).
local opts = { seed = 0, batch = 128, threads = 1 }
do
  local i = 1
  while i <= #arg do
    local a, v = arg[i], arg[i + 1]
    if a == "--cells" and tonumber(v) then opts.cells = math.tointeger(tonumber(v))
    elseif a == "--seed" and tonumber(v) then opts.seed = math.tointeger(tonumber(v))
    elseif a == "--batch" and tonumber(v) then opts.batch = math.tointeger(tonumber(v))
    elseif a == "--threads" and tonumber(v) then opts.threads = math.tointeger(tonumber(v))
    elseif a == "--nb201" and v then opts.nb201 = v
    else
      io.stderr:write("usage: naslab bench/proxy_tau.lua [--cells N] [--seed S] [--batch B] [--threads T] [--nb201 CSV]\n")
      os.exit(2)
    end
    i = i + 2
  end
end

local own = assert(nl.bench.load())
local shared = os.getenv("NASLAB_SHARED") or "../shared"
local real = nl.bench.load(opts.nb201 or (shared .. "/data/nb201.csv"))
if not real then io.stderr:write("no NAS-Bench-201 table: ranking against the Fashion-MNIST benchmark only\n") end

-- The benchmark's training images (data/build.lua's load_data).
local tr, why = nl.data.fashion_mnist{ split = "train", limit = 6000, valid = 1000, seed = 0, pad = 2, normalize = true }
if not tr then error(why, 0) end
tr = tr:downsample(2)

local archs = own:archs()
local n = math.min(opts.cells or #archs, #archs)
local acc, c10 = {}, {}
for i = 1, n do
  acc[i] = own:query(archs[i], "test_acc")
  if real then c10[i] = real:query(archs[i], "c10_test") end
end

print(string.format("%d of %d cells of %s; C=8 N=2 16x16, batch %d, seed %d, %d thread(s)", n, #archs, own:path(),
                    opts.batch, opts.seed, opts.threads))
print(string.format("%-10s %9s %9s %9s %9s %12s", "proxy", "tau_fm", "rho_fm", "tau_c10", "rho_c10", "s/cell"))
local popts = { C = 8, N = 2, batch = opts.batch, seed = opts.seed, threads = opts.threads }
for _, p in ipairs(nl.proxies()) do
  local score = {}
  local t0 = os.clock()
  for i = 1, n do
    score[i] = nl.proxy(p.name, archs[i], tr, popts)
    if i % 100 == 0 then io.stderr:write(string.format("%s: %d/%d\r", p.name, i, n)) end
  end
  local per = (os.clock() - t0) / n
  local ninf = 0
  for i = 1, n do if score[i] == -math.huge then ninf = ninf + 1 end end
  local tc, rc = 0 / 0, 0 / 0
  if real then tc, rc = nl.stats.kendall(score, c10), nl.stats.spearman(score, c10) end
  print(string.format("%-10s %9.3f %9.3f %9.3f %9.3f %12.4f%s", p.name, nl.stats.kendall(score, acc),
                      nl.stats.spearman(score, acc), tc, rc, per,
                      ninf > 0 and string.format("   (%d cells score -inf)", ninf) or ""))
end
if real then
  print(string.format("%-10s %9s %9s %9.3f %9.3f", "test_acc", "", "", nl.stats.kendall(acc, c10),
                      nl.stats.spearman(acc, c10)))
end
