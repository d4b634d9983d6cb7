-- SPDX-License-Identifier: GPL-3.0-or-later
-- The naswot search recipe: option errors; then (when Debian's
-- dataset-fashion-mnist is installed) on a small batch and network: the
-- candidates are the run's uniform draws, their scores are nl.proxy's, the
-- argmax is the one cell queried, top-k queries the k best-scored in order,
-- the budget caps them, the events, determinism, and the default data (the
-- embedded benchmark's training images, C = 8, N = 2).
local t = require "tap"
nl.search.register("naswot", require "naslab.search.naswot")

local b = assert(nl.bench.load())
local ob = nl.search.oracle.bench(b, "test_acc")
t.error_is(function() nl.search.run("naswot", { oracle = ob, candidates = 0 }) end,
  "naswot: candidates must be an integer >= 1, got 0", "candidates 0")
t.error_is(function() nl.search.run("naswot", { oracle = ob, topk = 1.5 }) end,
  "naswot: topk must be an integer >= 1, got 1.5", "topk 1.5")
t.error_like(function() nl.search.run("naswot", { oracle = ob, proxy = 8 }) end,
  "option 'proxy' of naswot must be a table, got number", "proxy must be a table", true)

local fmdir = nl.data.fashion_mnist_dir()
local f = io.open(fmdir .. "/train-labels-idx1-ubyte.gz", "rb")
if not f then
  t.diag("skipping the scores: " .. fmdir .. " has no Fashion-MNIST")
  t.done()
end
f:close()

local tr = assert(nl.data.fashion_mnist{ split = "train", limit = 200, seed = 0, pad = 2, normalize = true })
tr = tr:downsample(2)
local P = { data = tr, C = 4, N = 1, batch = 32, seed = 2 }
local O = { C = 4, N = 1, batch = 32, seed = 2, threads = 1 }

local r = nl.search.run("naswot", { oracle = ob, budget = 10, seed = 11, candidates = 12, proxy = P })
local archs, rng, drawn = b:archs(), nl.rng(11), true
for i = 1, 12 do
  if tostring(r.scores[i].arch) ~= tostring(archs[rng:int(#archs)]) then drawn = false end
end
t.ok(#r.scores == 12 and drawn, "the 12 candidates are the run's uniform draws from the benchmark, in order")
local exact, bi = true, 1
for i, c in ipairs(r.scores) do
  if c.score ~= nl.proxy("naswot", c.arch, tr, O) then exact = false end
  if c.score > r.scores[bi].score then bi = i end
end
t.ok(exact, "every score is nl.proxy('naswot', arch, data, opts) to the bit")
t.is(r.queries, 1, "topk 1: one query")
t.is(tostring(r.best.arch), tostring(r.scores[bi].arch), "the queried cell is the argmax of the scores")
t.is(r.best.value, b:query(r.scores[bi].arch, "test_acc"), "its value is the benchmark's test_acc")
t.ok(r.chosen.score == r.scores[bi].score and r.chosen.value == r.best.value, "result.chosen: its score and value")

local order = {}
for i = 1, #r.scores do order[i] = i end
table.sort(order, function(i, j)
  if r.scores[i].score ~= r.scores[j].score then return r.scores[i].score > r.scores[j].score end
  return i < j
end)
local r3 = nl.search.run("naswot", { oracle = ob, budget = 10, seed = 11, candidates = 12, topk = 3, proxy = P })
local top, seen = {}, {}
for _, i in ipairs(order) do
  local k = tostring(r.scores[i].arch)
  if not seen[k] and #top < 3 then seen[k] = true; top[#top + 1] = k end
end
local inorder = r3.queries == 3
for i = 1, 3 do if not r3.history[i] or tostring(r3.history[i].arch) ~= top[i] then inorder = false end end
t.ok(inorder, "topk 3: the three best-scored distinct cells, best first")
local r2 = nl.search.run("naswot", { oracle = ob, budget = 2, seed = 11, candidates = 12, topk = 3, proxy = P })
t.is(r2.queries, 2, "the budget caps top-k")

local tmp = os.getenv("TMPDIR") or "/tmp"
local dir = string.format("%s/naslab-naswot-%d-%d", tmp, os.time(), math.random(1 << 30))
local again = nl.search.run("naswot", { oracle = ob, budget = 10, seed = 11, candidates = 12, proxy = P, dir = dir })
local same = true
for i, c in ipairs(r.scores) do
  if tostring(again.scores[i].arch) ~= tostring(c.arch) or again.scores[i].score ~= c.score then same = false end
end
t.ok(same, "the same seed gives the same candidates and scores")
local other = nl.search.run("naswot", { oracle = ob, budget = 10, seed = 12, candidates = 12, proxy = P })
t.ok(tostring(other.scores[1].arch) ~= tostring(r.scores[1].arch), "another seed draws other cells")
local n, best = 0, -math.huge
local last
nl.run.replay(dir, function(ev)
  if ev.name == "search.naswot" then n = n + 1; last = ev end
end)
for _, c in ipairs(r.scores) do best = math.max(best, c.score) end
t.ok(n == 12 and last.candidate == 12 and last.best_score == best, "one search.naswot event per candidate")
os.remove(dir .. "/queries.tsv")
os.remove(dir .. "/events.jsonl")
os.remove(dir)

-- The defaults: the embedded benchmark's images and network.
local d = nl.search.run("naswot", { budget = 1, seed = 3, candidates = 2 })
local full = assert(nl.data.fashion_mnist{ split = "train", limit = 6000, valid = 1000, seed = 0, pad = 2,
                                           normalize = true })
full = full:downsample(2)
local ok = true
for _, c in ipairs(d.scores) do
  local want = nl.proxy("naswot", c.arch, full, { C = 8, N = 2, batch = 128, seed = 0, threads = 1 })
  if c.score ~= want then ok = false end
end
t.ok(ok, "defaults: the benchmark's 5,000 training images, C = 8, N = 2, batch 128, seed 0")
t.done()
