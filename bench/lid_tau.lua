-- SPDX-License-Identifier: GPL-3.0-or-later
-- bench/lid_tau.lua - NAS-LID against gradient matching and plain SPOS on
-- naslab's own Fashion-MNIST benchmark (issue 8). Extends supernet_tau.lua:
-- the same network (the benchmark's recipe: C, N, 16x16 images, the same
-- 5,000 training images), the same cells drawn per seed, evaluated with
-- inherited weights after batch-norm recalibration on the 1,000 validation
-- images and ranked against the benchmark's stand-alone test accuracy.
--
-- Methods, all with the same total training budget (epochs summed over
-- every supernet trained: E = e0 + 2 e1 + 4 e2 + ...):
--   spos  one supernet, uniform single paths, E epochs;
--   lid   NAS-LID: e0 epochs, split by LID cosine similarity (min-cut), each
--         child e1 epochs from its parent's weights, split again, ...;
--   grad  the same schedule split by gradient matching (GM-NAS's criterion);
--   random (not run unless named) the same schedule split on a random edge
--         into a random 2-vs-3 partition: whether a criterion beats splitting as such.
-- The root supernet of lid and grad is trained with the same seed, so the
-- two differ only from the first split on.
--
--   naslab bench/lid_tau.lua [--epochs 8,2,1] [--cells K] [--seeds S] [--from F] [--repeats R]
--                            [--methods spos,lid,grad] [--threads T] [--bench CSV]
-- (seeds F .. F+S-1; seed s draws its cells with nl.rng(1000 + s), as supernet_tau.lua does)
--   naslab bench/lid_tau.lua --mem lid|grad [--repeats R] [--C c --N n --full 1]
-- The second form measures one criterion on a fresh supernet in a process of
-- its own: peak resident memory (VmHWM) before and after, and its time.
local opts = { epochs = "8,2,1", cells = 100, seeds = 2, from = 1, repeats = 10, methods = "spos,lid,grad", bench = nil,
               mem = nil, C = nil, N = nil, full = 0, threads = nil }
local function usage()
  io.stderr:write("usage: naslab bench/lid_tau.lua [--epochs 8,2,1] [--cells K] [--seeds S] [--from F] [--repeats R] "
                  .. "[--methods spos,lid,grad,random] [--threads T] [--bench CSV] | --mem lid|grad [--repeats R] [--C c --N n --full 1]\n")
  os.exit(2)
end
for i = 1, #arg, 2 do
  local k, v = arg[i]:match("^%-%-(%w+)$"), arg[i + 1]
  if not k or not v or (opts[k] == nil and k ~= "bench" and k ~= "mem" and k ~= "C" and k ~= "N" and k ~= "threads") then
    usage()
  end
  opts[k] = tonumber(v) and math.tointeger(tonumber(v)) or v
end
require "naslab.lid"

local b = assert(nl.bench.load(opts.bench))
local R = {}
for line in io.lines(b:path() .. ".recipe") do
  local k, v = line:match("^(%w+) = (.+)$")
  if k then R[k] = tonumber(v) or v end
end
-- --full 1: the paper's input size (32x32: Fashion-MNIST padded, not downsampled)
local down = opts.full == 1 and 1 or R.downsample
local tr, va = assert(nl.data.fashion_mnist{ split = "train", limit = R.train + R.valid, valid = R.valid, seed = 0,
                                             pad = R.pad, normalize = true })
if down > 1 then tr, va = tr:downsample(down), va:downsample(down) end
local side = (28 + 2 * R.pad) // down

local function status(key)
  for line in io.lines("/proc/self/status") do
    local v = line:match("^" .. key .. ":%s+(%d+) kB")
    if v then return tonumber(v) end
  end
end

if opts.mem then
  local C, N = opts.C or R.C, opts.N or R.N
  local sn = nl.supernet{ data = tr, C = C, N = N, seed = 1, threads = opts.threads }
  collectgarbage()
  -- reset the peak to the current resident size (Linux >= 4.0), so VmHWM
  -- after the call is the peak of the criterion itself
  local cr = io.open("/proc/self/clear_refs", "w")
  local reset = cr and cr:write("5") and cr:close()
  local before, hwm0 = status("VmRSS"), status("VmHWM")
  local c = nl.lid.criterion(sn, { data = tr, criterion = opts.mem, repeats = opts.repeats, batch = 128, seed = 1 })
  local after = status("VmHWM")
  print(string.format("criterion %s C=%d N=%d %dx%d params %d repeats %d: RSS before %d kB (peak %s), peak during "
                      .. "%d kB (+%d kB), own scratch %.1f kB, %.2f s, %d passes, edge %d groups %s|%s",
                      opts.mem, C, N, side, side, sn:params(), opts.repeats, before,
                      reset and string.format("reset to %d kB", hwm0) or "NOT reset", after, after - before,
                      c.scratch_bytes / 1024, c.seconds, c.forwards, c.edge, nl.lid.set_names(c.groups[1]),
                      nl.lid.set_names(c.groups[2])))
  os.exit(0)
end

local sched = {}
for e in tostring(opts.epochs):gmatch("%d+") do sched[#sched + 1] = math.tointeger(tonumber(e)) end
local levels = #sched - 1
local budget = 0
for l, e in ipairs(sched) do budget = budget + e * 2 ^ (l - 1) end
budget = math.tointeger(budget)

local archs = b:archs()
print(string.format("NB201 supernets C=%d N=%d on %d Fashion-MNIST images (%dx%d); budget %d supernet-epochs "
                    .. "(split schedule %s, %d levels -> %d sub-supernets); %d cells of %s; criterion %d repeats, "
                    .. "batch 128, k 20", R.C, R.N, #tr, side, side, budget, opts.epochs, levels, 2 ^ levels,
                    opts.cells, b:path(), opts.repeats))
print(string.format("%-5s %-6s %8s %8s %8s %8s %8s %8s %9s %9s %9s  %s", "seed", "meth", "tau0", "tau1", "tau",
                    "rho", "top-10", "epochs", "train s", "crit s", "eval s", "splits"))
local sum, cnt = {}, {}
for seed = opts.from, opts.from + opts.seeds - 1 do
  local pick = nl.rng(1000 + seed):permutation(#archs)
  local cells, truth = {}, {}
  for i = 1, math.min(opts.cells, #archs) do
    cells[i] = archs[pick[i]]
    truth[i] = b:query(cells[i], "test_acc")
  end
  for meth in opts.methods:gmatch("%a+") do
    local o = { data = tr, valid = va, C = R.C, N = R.N, seed = seed, threads = opts.threads, lr = R.lr,
                batch = R.batch, repeats = opts.repeats, cells = cells, truth = truth, calib_batches = 10 }
    if meth == "spos" then
      o.criterion, o.levels, o.epochs = "none", 0, { budget }
    else
      o.criterion, o.levels, o.epochs = meth, levels, sched
    end
    local res = nl.lid.run(o)
    local sp = {}
    for _, s in ipairs(res.splits) do
      if s.level == 1 then sp[#sp + 1] = string.format("e%d:%s", s.edge, s.groups) end
    end
    print(string.format("%-5d %-6s %8s %8s %8.3f %8.3f %8.2f %8d %9.1f %9.1f %9.1f  %s", seed, meth,
                        res.taus[0] and meth ~= "spos" and string.format("%.3f", res.taus[0]) or "-",
                        res.taus[1] and string.format("%.3f", res.taus[1]) or "-", res.tau,
                        nl.stats.spearman(res.pred, truth), nl.stats.topk(res.pred, truth, 10), res.epochs_total,
                        res.seconds.train, res.seconds.criterion, res.seconds.eval, table.concat(sp, " ")))
    io.stdout:flush()
    sum[meth] = (sum[meth] or 0) + res.tau
    cnt[meth] = (cnt[meth] or 0) + 1
    for _, l in ipairs(res.leaves) do l.sn:close() end
  end
end
for meth in opts.methods:gmatch("%a+") do
  if cnt[meth] then
    print(string.format("mean Kendall tau %-6s over %d seeds: %.3f", meth, cnt[meth], sum[meth] / cnt[meth]))
  end
end
