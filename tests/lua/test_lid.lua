-- SPDX-License-Identifier: GPL-3.0-or-later
-- nl.lid: the LID estimator on points of known dimension, similarities and
-- the min-cut from Lua, op masks (a split's children cover every NB201 cell
-- exactly once), argument errors with their exact messages, then (when
-- Debian's dataset-fashion-mnist is installed) the criterion, supernet
-- cloning and masked training, and a whole tiny NAS-LID schedule: events,
-- ownership and determinism by seed.
local t = require "tap"
local lid = require "naslab.lid"

-- 1,000 points on a random 3-dimensional linear subspace of R^30; the MLE at
-- k = 20 is biased (up, at this size): 20% is the stated tolerance.
local r = nl.rng(3)
local B = {}
for i = 1, 3 do
  B[i] = {}
  for j = 1, 30 do B[i][j] = r:normal() end
end
local pts = {}
for n = 1, 1000 do
  local c, p = { r:normal(), r:normal(), r:normal() }, {}
  for j = 1, 30 do p[j] = c[1] * B[1][j] + c[2] * B[2][j] + c[3] * B[3][j] end
  pts[n] = p
end
local d3 = nl.lid.mle(pts, 20)
t.ok(math.abs(d3 - 3) <= 0.6, string.format("3-d subspace of R^30: LID %.3f within 20%% of 3", d3))
t.is(nl.lid.mle(nl.tensor(pts), 20), d3, "a tensor gives the same estimate as a table of rows")
t.error_is(function() nl.lid.mle({}) end, "bad argument #1 to 'mle' (points must have at least one row)", "no points")
t.error_is(function() nl.lid.mle(pts, 1000) end,
  "bad argument #1 to 'mle' (lid: k (1000) must be less than the number of points (1000))", "k too large")
t.error_is(function() nl.lid.mle(pts, 0) end, "bad argument #2 to 'mle' (k must be an integer >= 1, got 0)", "k = 0")
t.error_is(function() nl.lid.mle(3) end, "bad argument #1 to 'mle' (points must be a tensor or a table of rows, got number)",
  "points of the wrong type")

local S = nl.lid.similarity({ { 1, 0 }, { 0, 2 }, { 3, 3 } })
t.near(S[1][3], 1 / math.sqrt(2), 1e-15, "cosine similarity from Lua")
t.near(nl.lid.similarity({ { 1, 0 }, { 0, 2 } }, "invdist")[1][2], 1 / (1 + math.sqrt(5)), 1e-15, "inverse distance")
t.error_is(function() nl.lid.similarity({ { 1 } }, "l1") end,
  "bad argument #2 to 'similarity' (similarity must be cosine, correlation or invdist (got 'l1'))", "unknown similarity")
t.error_is(function() nl.lid.similarity({ { 1, 2 }, { 1 } }) end,
  "bad argument #1 to 'similarity' (vectors[2] must be a table of 2 numbers)", "ragged rows")

-- ops 2 and 5 alike, 1, 3, 4 alike
local M = {}
for i = 1, 5 do
  M[i] = {}
  for j = 1, 5 do
    local gi, gj = (i == 2 or i == 5), (j == 2 or j == 5)
    M[i][j] = i == j and 1 or (gi == gj and 0.8 or -0.2)
  end
end
local g1, g2, cut = nl.lid.mincut(M)
t.is(table.concat(g1, ","), "2,5", "min-cut: the pair")
t.is(table.concat(g2, ","), "1,3,4", "min-cut: the triple")
t.near(cut, 6 * -0.2, 1e-12, "the cut: six between-group pairs")
local s1, s2 = nl.lid.spectral(M)
t.is(table.concat(s1, ",") .. "|" .. table.concat(s2, ","), "2,5|1,3,4", "spectral clustering finds the same blocks")
t.error_is(function() nl.lid.mincut({ { 1, 2 } }) end, "bad argument #1 to 'mincut' (similarity must be square, got 1 x 2)",
  "non-square")

-- Two levels of splits; the four leaves own every cell exactly once.
local a, b = lid.split_mask(lid.ALL, 2, { 3, 28 })
local a1, a2 = lid.split_mask(a, 5, { 24, 7 })
local b1, b2 = lid.split_mask(b, 1, { 5, 26 })
local leaves = { { mask = a1 }, { mask = a2 }, { mask = b1 }, { mask = b2 } }
local counts, cells, bad = { 0, 0, 0, 0 }, 0, 0
for arch in nl.space("nb201"):iter() do
  cells = cells + 1
  local n = 0
  for i, l in ipairs(leaves) do
    if nl.lid.owns(l.mask, arch) then
      n = n + 1
      counts[i] = counts[i] + 1
    end
  end
  if n ~= 1 then bad = bad + 1 end
end
t.is(cells, 15625, "every cell visited")
t.is(bad, 0, "each of the 15,625 cells is owned by exactly one of the 4 leaves")
t.is(counts[1] + counts[2] + counts[3] + counts[4], 15625, "the leaves' sizes add up")
t.is(counts[1], 5 * 2 * 5 * 5 * 2 * 5, "leaf sizes follow the masks (e2 in {none,skip}, e5 in {conv3x3,pool})")
t.is(lid.mask_string(a1), "e2={none,skip_connect} e5={nor_conv_3x3,avg_pool_3x3}", "a readable mask")
local inside = true
local rr = nl.rng(4)
for _ = 1, 100 do inside = inside and nl.lid.owns(b1, nl.lid.sample(b1, rr)) end
t.ok(inside, "cells sampled inside a mask are owned by it")
t.error_is(function() nl.lid.owns({ 31, 31, 0, 31, 31, 31 }, nl.space("nb201"):sample()) end,
  "bad argument #1 to 'owns' (mask[3] must be an integer in 1..31 (a set of ops), got 0)", "a bad mask entry")
t.error_is(function() nl.lid.sample({ 31, 31 }) end,
  "bad argument #1 to 'sample' (mask must have 6 entries (one op set per edge), got 2)", "a short mask")

t.error_is(function() lid.run{ data = 1, criterion = "fisher" } end,
  "bad argument #1 to 'run' (criterion must be lid, grad, random or none, got 'fisher')", "unknown criterion")
t.error_like(function() lid.run{ data = 1, level = 2 } end, "bad argument #1 to 'run' (unknown option 'level' (known: ",
  "unknown option", true)
t.error_is(function() lid.run{ data = 1, levels = 2, epochs = { 1, 1 } } end,
  "bad argument #1 to 'run' (epochs must be a list of 3 epoch counts (the root, then each level's children), got 2 entries)",
  "epochs of the wrong length")
t.error_is(function() lid.run{ data = 1, levels = 7 } end,
  "bad argument #1 to 'run' (levels must be at most 6 (each level splits one more of the 6 edges), got 7)", "7 levels")
t.error_is(function() lid.run{ levels = 1 } end, "bad argument #1 to 'run' (data (a data set from nl.data) is required)",
  "no data")

local fmdir = nl.data.fashion_mnist_dir()
local f = io.open(fmdir .. "/train-labels-idx1-ubyte.gz", "rb")
if not f then
  t.diag("skipping the supernet tests: " .. fmdir .. " has no Fashion-MNIST")
  t.done()
end
f:close()

local tr = assert(nl.data.fashion_mnist{ split = "train", limit = 600, seed = 0, pad = 2, normalize = true }):downsample(2)
local va = assert(nl.data.fashion_mnist{ split = "test", limit = 200, pad = 2, normalize = true }):downsample(2)
local sn = nl.supernet{ data = tr, C = 4, N = 1, seed = 1, threads = 1 }
local CELL = nl.space("nb201"):parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|")
local fv = nl.lid.features(sn, CELL, { data = tr, batch = 64, k = 10 })
t.is(#fv, 3 * 1 + 2, "the LID vector has 3N+2 entries")
local pos = true
for _, v in ipairs(fv) do pos = pos and v > 0 and v < 1000 end
t.ok(pos, "per-layer LIDs are positive and finite: " .. table.concat(fv, " "):sub(1, 60))
t.error_is(function() nl.lid.features(sn, CELL, { data = tr, batch = 10, k = 10 }) end,
  "bad argument #3 to 'features' (batch (10) must exceed k (10))", "batch <= k")
t.error_is(function() nl.lid.criterion(sn, { data = tr, criterion = "fisher" }) end,
  "bad argument #2 to 'criterion' (criterion must be lid or grad, got 'fisher')", "unknown criterion")
t.error_is(function() nl.lid.criterion(sn, { data = tr, batch = 1000 }) end,
  "bad argument #2 to 'criterion' (lid: the data set has 600 examples, fewer than batch (1000))", "batch > data")
t.error_is(function() nl.lid.criterion(sn, { data = 3 }) end,
  "bad argument #2 to 'criterion' (data must be a data set (naslab.Dataset), got number)", "no data set")

local c1 = nl.lid.criterion(sn, { data = tr, mask = { 31, 6, 31, 31, 31, 31 }, repeats = 1, batch = 64, k = 10, seed = 2 })
local c2 = nl.lid.criterion(sn, { data = tr, mask = { 31, 6, 31, 31, 31, 31 }, repeats = 1, batch = 64, k = 10, seed = 2 })
t.ok(not c1.edges[2].candidate, "an edge the mask restricts is not split again")
t.ok(c1.edges[c1.edge].candidate, "the chosen edge is a candidate")
t.is(c1.groups[1] + c1.groups[2], 31, "the two groups partition the five ops")
t.is(c1.edges[1].S[2][3], c2.edges[1].S[2][3], "same seed, same similarities")
t.error_is(function() nl.lid.criterion(sn, { data = tr, partition = "kmeans" }) end,
  "bad argument #2 to 'criterion' (partition must be mincut or spectral, got 'kmeans')", "unknown partition")
local cs = nl.lid.criterion(sn, { data = tr, mask = { 31, 6, 31, 31, 31, 31 }, partition = "spectral", repeats = 1,
                                  batch = 64, k = 10, seed = 2 })
t.is(cs.edges[1].S[2][3], c1.edges[1].S[2][3], "the partition does not change the similarities")
t.is(cs.groups[1] & cs.groups[2], 0, "spectral groups are disjoint")
local cg = nl.lid.criterion(sn, { data = tr, criterion = "grad", repeats = 1, batch = 64, seed = 2 })
t.is(cg.forwards, 30, "gradient matching: one pass per edge and op")

t.error_is(function() sn:train{ data = tr, mask = { 31, 31, 31, 31, 31, 0 } } end,
  "bad argument #1 to 'train' (mask[6] must be an integer in 1..31 (a set of ops), got 0)", "train with a bad mask")
t.error_is(function() sn:train{ data = tr, mask = lid.ALL, arch = CELL } end,
  "bad argument #1 to 'train' (give arch or mask, not both)", "arch and mask")
sn:train{ data = tr, epochs = 1, mask = a1, seed = 3 }
local twin = sn:clone()
local e1 = sn:eval(CELL, { data = va, calib = tr, calib_batches = 2, seed = 1 })
local e2 = twin:eval(CELL, { data = va, calib = tr, calib_batches = 2, seed = 1 })
t.is(e2, e1, "a clone evaluates a cell exactly as its parent")
twin:train{ data = tr, epochs = 1, mask = a2, seed = 4 }
t.is(sn:eval(CELL, { data = va, calib = tr, calib_batches = 2, seed = 1 }), e1, "training the clone leaves the parent alone")
twin:close()
sn:close()

-- A whole schedule: 1 level, 2 sub-supernets, 6 cells.
local archs, truth = {}, {}
local pr = nl.rng(7)
for i = 1, 6 do
  archs[i] = nl.space("nb201"):sample(pr)
  truth[i] = i
end
local function go(seed, events)
  return lid.run{ data = tr, valid = va, C = 4, N = 1, seed = seed, threads = 1, levels = 1, epochs = { 1, 1 },
                  repeats = 1, lid_batch = 64, k = 10, cells = archs, truth = truth, calib_batches = 2,
                  progress = events and function(ev) events[#events + 1] = ev end }
end
local evs = {}
local r1 = go(5, evs)
t.is(#r1.leaves, 2, "one level: two sub-supernets")
t.is(r1.epochs_total, 3, "training budget: 1 root epoch + 2 children x 1")
local owned = true
for _, arch in ipairs(archs) do owned = owned and lid.owner(r1.leaves, arch) ~= nil end
t.ok(owned, "every ranked cell has an owner")
local names = {}
for _, ev in ipairs(evs) do names[#names + 1] = ev.name end
t.is(table.concat(names, " "), "rank lid.tau lid.split rank lid.tau", "events: rank at level 0, the split, rank at level 1")
t.is(evs[3].level, 1, "the split event carries its level")
t.ok(evs[3].groups:match("^[%a_%d,]+|[%a_%d,]+$"), "and its groups: " .. evs[3].groups)
t.is(#evs[4].pred, 6, "the rank event carries the predictions")
local r3 = lid.run{ data = tr, valid = va, C = 4, N = 1, seed = 5, threads = 1, levels = 1, epochs = { 1, 0 },
                   criterion = "random", cells = archs, truth = truth, calib_batches = 2, rank_levels = false }
local rs = r3.splits[1]
t.ok(rs.edge >= 1 and rs.edge <= 6 and #r3.leaves == 2, "a random split: edge " .. rs.edge .. ", " .. rs.groups)
t.is(select(2, rs.groups:gsub(",", ",")), 3, "into 2 and 3 ops")
t.is(r3.taus[0], nil, "rank_levels = false ranks only after the last level")
for _, l in ipairs(r3.leaves) do l.sn:close() end
local r2 = go(5)
t.is(r2.splits[1].groups, r1.splits[1].groups, "same seed: the same split")
t.is(table.concat(r2.pred, ","), table.concat(r1.pred, ","), "and the same predictions, exactly")
for _, l in ipairs(r1.leaves) do l.sn:close() end
for _, l in ipairs(r2.leaves) do l.sn:close() end
t.done()
