-- SPDX-License-Identifier: GPL-3.0-or-later
-- How well does a predictor rank architectures? Kendall tau, Spearman rho and
-- top-k precision between predicted and true scores. Here the "predictor" is
-- the truth plus noise, so the correlations fall as the noise grows.
local r = nl.rng(1)
local truth = {}
for i = 1, 1000 do truth[i] = 90 + 4 * r:uniform() end

for _, noise in ipairs({ 0.1, 0.5, 2.0 }) do
  local pred = {}
  for i, y in ipairs(truth) do pred[i] = y + noise * r:normal() end
  print(string.format("noise %.1f: tau %.3f  rho %.3f  top-50 precision %.2f", noise,
    nl.stats.kendall(pred, truth), nl.stats.spearman(pred, truth), nl.stats.topk(pred, truth, 50)))
end

-- Ties are handled exactly: tau-b (scipy's default) and tau-a (what ReNAS reports).
local x, y = { 1, 2, 2, 3, 4 }, { 1, 3, 2, 2, 5 }
print(string.format("tau-b %.4f, tau-a %.4f", nl.stats.kendall(x, y), nl.stats.kendall(x, y, "a")))
