-- SPDX-License-Identifier: GPL-3.0-or-later
-- Lab 2: performance predictors and ranking correlation.
--
-- Question: after training a few cells, can a model predict how the others
-- rank? How many trained cells does it need, and does it beat the free
-- baseline of counting parameters?
--
-- naslab's own benchmark (1,000 NAS-Bench-201 cells on Fashion-MNIST,
-- nl.bench.load()): fit on n random cells' test_acc, predict the rest, and
-- compare the predicted order with the true one (Kendall tau, Spearman rho,
-- and how many of the true top 10 the predicted top 10 holds).
local b = nl.bench.load()
local archs = b:archs()
local y = b:column("test_acc")
local KINDS = { "mlp", "renas" }
for _, k in ipairs(nl.predictors()) do if k == "gbdt" then KINDS[#KINDS + 1] = "gbdt" end end

local function evaluate(scores, truth)
  return nl.stats.kendall(scores, truth), nl.stats.spearman(scores, truth), nl.stats.topk(scores, truth, 10)
end

print(string.format("%-8s %5s  %7s %7s %7s", "model", "n", "tau", "rho", "top10"))
for _, n in ipairs { 20, 100 } do
  local perm = nl.rng(7):permutation(#archs)
  local tr, ty, te, tt = {}, {}, {}, {}
  for i, j in ipairs(perm) do
    if i <= n then tr[#tr + 1], ty[#ty + 1] = archs[j], y[j]
    else te[#te + 1], tt[#tt + 1] = archs[j], y[j] end
  end
  local params = {}
  for i, a in ipairs(te) do params[i] = b:query(a, "params") end
  print(string.format("%-8s %5d  %7.3f %7.3f %7.2f", "params", n, evaluate(params, tt)))
  for _, kind in ipairs(KINDS) do
    local p = nl.predictor(kind, { seed = 1 })
    p:fit(tr, ty)
    local s = p:predict(te)
    nl.emit("rank", { ["true"] = tt, pred = s }) -- the ranking pane of the workbench
    print(string.format("%-8s %5d  %7.3f %7.3f %7.2f", kind, n, evaluate(s, tt)))
  end
end
-- Observe: with 20 cells the models hardly beat the parameter count; with
-- 100 they pull ahead. Which errors matter for a search: a wrong order among
-- poor cells, or among the best ones (top-10)? nl.eval.predictor{...} runs
-- this protocol over many seeds (man naslab).
