-- SPDX-License-Identifier: GPL-3.0-or-later
-- Multi-objective NAS keeps the Pareto front: cells that no other cell beats in
-- both accuracy (maximise) and cost (minimise). Here: NAS-Bench-201 cells with
-- their real parameter counts and a made-up accuracy that grows with size.
local sp, r = nl.space("nb201"), nl.rng(7)
local points, cells = {}, {}
for i = 1, 300 do
  local a = sp:sample(r)
  local mparams = a:params() / 1e6
  cells[i] = a
  points[i] = { 85 + 8 * math.sqrt(mparams) + r:normal(0, 0.8), mparams }
end

local sense = { "max", "min" } -- accuracy up, parameters down
local idx = nl.pareto.front(points, sense)
print(string.format("%d of %d cells are on the front", #idx, #points))
local ref = { 80, 1.6 } -- worse than every point in both objectives
print(string.format("hypervolume %.4f", nl.pareto.hypervolume(points, ref, sense)))
local best = idx[1]
for _, i in ipairs(idx) do if points[i][1] > points[best][1] then best = i end end
print(string.format("most accurate on the front: %.2f%% at %.3fM params", points[best][1], points[best][2]))
print(cells[best])
