-- SPDX-License-Identifier: GPL-3.0-or-later
-- Reproducible randomness: every random choice in naslab draws from an
-- explicit generator, so a seed fixes a whole experiment.
local r = nl.rng(2024)
print("a die roll:", r:int(6))
print("a permutation of 1..5:", table.concat(r:permutation(5), " "))

-- Two generators with the same seed agree; streams of one seed never overlap.
local a, b = nl.rng(7), nl.rng(7)
print("same seed agrees:", a:uniform() == b:uniform())
local s0, s1 = nl.rng(7, 0), nl.rng(7, 1)
print("streams differ:", s0:uniform() ~= s1:uniform())

-- A quick Monte Carlo estimate of pi, reproducible to the last digit.
local inside, n = 0, 100000
for _ = 1, n do
  local x, y = r:uniform(), r:uniform()
  if x * x + y * y < 1 then inside = inside + 1 end
end
print(string.format("pi ~ %.4f", 4 * inside / n))
