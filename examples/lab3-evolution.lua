-- SPDX-License-Identifier: GPL-3.0-or-later
-- Lab 3: regularised evolution against random search.
--
-- Question: with 100 queries of a tabular benchmark, does evolution (REA,
-- Real et al. 2019) find better cells than random sampling, and from how
-- many queries on? Is the difference larger than the spread between runs?
--
-- The benchmark is naslab's own (nl.bench.load(): 1,000 NAS-Bench-201 cells
-- trained on Fashion-MNIST). Searches see valid_acc; we report test_acc of
-- the cell they would pick. In the workbench the search pane draws every
-- run and the median as it goes.
local b = nl.bench.load()
local sp = b:space()
local cells = b:archs()
local BUDGET, RUNS, POP, SAMPLE = 100, 20, 20, 5

-- One search run: `propose(history, rng)` gives the next cell to query.
local function run(name, k, propose)
  local rng = nl.rng(1000 * k + #name)
  local hist, seen, best = {}, {}, nil
  while #hist < BUDGET do
    local a = propose(hist, rng)
    local key = tostring(a)
    if not seen[key] then -- a repeated query costs nothing and tells nothing
      seen[key] = true
      local v = b:query(a, "valid_acc")
      hist[#hist + 1] = { arch = a, valid = v }
      if not best or v > best.valid then best = hist[#hist] end
      nl.emit("search.query", { run = name .. " " .. k, query = #hist, best = best.valid })
    end
  end
  return hist, best
end

local function random_search(_, rng)
  return cells[rng:int(1, #cells)]
end

-- REA: keep the last POP cells; pick the best of SAMPLE random members,
-- mutate one edge, and keep only mutants that the benchmark has (its 1,000
-- cells are canonical forms).
local function rea(hist, rng)
  if #hist < POP then return random_search(hist, rng) end
  local parent
  for _ = 1, SAMPLE do
    local m = hist[#hist - POP + rng:int(1, POP)]
    if not parent or m.valid > parent.valid then parent = m end
  end
  for _ = 1, 50 do
    local child = parent.arch:mutate(rng):canonical()
    if pcall(b.query, b, child, "valid_acc") then return child end
  end
  return random_search(hist, rng)
end

local function summary(name, propose)
  local at = { 10, 25, 50, 100 }
  local sums, finals = {}, {}
  for k = 1, RUNS do
    local hist = run(name, k, propose)
    local best = -math.huge
    local j = 1
    for q, h in ipairs(hist) do
      best = math.max(best, h.valid)
      if q == at[j] then sums[j] = (sums[j] or 0) + best; j = j + 1 end
    end
    -- the cell a search returns: the best by validation accuracy
    local pick = hist[1]
    for _, h in ipairs(hist) do if h.valid > pick.valid then pick = h end end
    finals[k] = b:query(pick.arch, "test_acc")
  end
  local m = 0
  for _, v in ipairs(finals) do m = m + v end
  m = m / #finals
  local sd = 0
  for _, v in ipairs(finals) do sd = sd + (v - m) ^ 2 end
  sd = math.sqrt(sd / (#finals - 1))
  io.write(string.format("%-7s", name))
  for j in ipairs(at) do io.write(string.format("  %6.2f", sums[j] / RUNS)) end
  io.write(string.format("    %6.2f +- %.2f\n", m, sd))
end

local top = -math.huge
for _, a in ipairs(cells) do top = math.max(top, b:query(a, "test_acc")) end
print(string.format("%d runs each, %d queries; best test_acc in the table %.2f", RUNS, BUDGET, top))
print("         mean best valid_acc after q queries     test_acc of the pick")
print("method   q=10    q=25    q=50   q=100")
summary("random", random_search)
summary("rea", rea)
-- Observe: both start alike (REA's first 20 queries are random); look at
-- q=50 and q=100 and compare the gap with the +- spread. Then try: POP = 10,
-- SAMPLE = 10 (greedier), or BUDGET = 300. Which changes the picture most?
