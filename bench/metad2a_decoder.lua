-- SPDX-License-Identifier: GPL-3.0-or-later
-- bench/metad2a_decoder.lua - MetaD2A's graph decoder with and without the
-- node position in its GRU input (nl.metad2a.new{position = ...}), trained
-- the same way on the shipped database's (task, top-3 cell) pairs: the
-- teacher-forced loss per pair, how many of 100 decoded graphs per task are
-- valid cells and how many distinct cells they hold, and for how many tasks the most
-- likely cell is one of the task's own top 3. The reference decoder
-- (position = false) is the peer, measured in the same run.
--
--   naslab bench/metad2a_decoder.lua [--epochs 200]
local nl = require "naslab"
local md = nl.metad2a
local epochs = 200
if arg[1] == "--epochs" and tonumber(arg[2]) then epochs = math.tointeger(tonumber(arg[2])) end

local pool = assert(nl.data.fashion_mnist{ split = "train", limit = 6000, balanced = true, seed = 7, pad = 2,
                                           normalize = true }):downsample(2)
local ext = md.extractor{ data = pool, C = 16, N = 1, epochs = 3, seed = 0 }
local db = assert(md.db_load())
local tasks = md.task_map(ext, pool, db, 200)
local top = {}
for _, r in ipairs(db) do
  local key = md.classes_key(r.classes)
  top[key] = top[key] or {}
  table.insert(top[key], r)
end
for _, rs in pairs(top) do table.sort(rs, function(a, b) return a.acc > b.acc end) end
local keys = {}
for k in pairs(tasks) do keys[#keys + 1] = k end
table.sort(keys)

print(string.format("%-22s %10s %8s %10s %14s %8s", "decoder", "loss/pair", "valid", "distinct", "greedy in top3",
                    "seconds"))
for _, pos in ipairs{ false, true } do
  local t0 = nl.clock()
  local m, rep = md.meta_train{ db = db, tasks = tasks, epochs = { epochs, 0 },
                                model = { feat = ext.feat, hs_pred = 8, lr = 1e-3, position = pos } }
  local secs = nl.clock() - t0
  local got, tried = 0, 0
  local distinct, hits = {}, 0
  for _, k in ipairs(keys) do
    -- exactly 100 graphs per task: the valid ones come back
    local cells, n = m:generate(tasks[k], { n = 100, unique = false, batch = 100, max = 100 })
    got, tried = got + #cells, tried + n
    for _, c in ipairs(cells) do distinct[tostring(c)] = true end
    local g = m:generate(tasks[k], { n = 1, stochastic = false, max = 1 })
    if g[1] then
      for i = 1, 3 do hits = hits + (tostring(g[1]) == top[k][i].arch and 1 or 0) end
    end
  end
  local nd = 0
  for _ in pairs(distinct) do nd = nd + 1 end
  print(string.format("%-22s %10.3f %7.1f%% %5d/%-5d %9d/%-4d %8.0f", pos and "with position (naslab)" or
                      "type only (reference)", rep.gen_loss, 100 * got / tried, nd, got, hits, #keys, secs))
end
