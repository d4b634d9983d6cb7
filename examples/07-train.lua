-- SPDX-License-Identifier: GPL-3.0-or-later
-- Train real networks: two NAS-Bench-201 cells from scratch on a slice of
-- Fashion-MNIST, then a weight-sharing supernet that ranks cells without
-- training each one. Small sizes (16x16 inputs, C=4, one cell per stage) so
-- it runs in seconds; nl.train's defaults are NAS-Bench-201's own network.
local train = nl.data.fashion_mnist{ split = "train", limit = 1000, seed = 1, pad = 2, normalize = true }
if not train then
  print("no Fashion-MNIST here (apt-get install dataset-fashion-mnist)")
  return
end
local test = nl.data.fashion_mnist{ split = "test", limit = 500, pad = 2, normalize = true }
train, test = train:downsample(2), test:downsample(2) -- 32x32 -> 16x16

local sp = nl.space("nb201")
local convs = sp:parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
local pools = sp:parse("|avg_pool_3x3~0|+|none~0|avg_pool_3x3~1|+|none~0|none~1|avg_pool_3x3~2|")
for _, a in ipairs{ convs, pools } do
  local epochs = 0
  local r = nl.train{ arch = a, data = train, test = test, epochs = 5, batch = 64, C = 4, N = 1, seed = 1,
                      progress = function(ev) epochs = ev.epoch end } -- called after every epoch
  local curve = {}
  for i, l in ipairs(r.loss_curve) do curve[i] = string.format("%.2f", l) end
  print(string.format("%s\n  %d epochs, loss %s, test %.1f%%, %d params, %.0f images/s", tostring(a), epochs,
                      table.concat(curve, " "), r.acc, r.params, r.images_per_s))
end

-- One supernet holds every cell; each is evaluated with the shared weights
-- after recomputing its batch-norm statistics.
local sn = nl.supernet{ data = train, C = 4, N = 1, seed = 1 }
sn:train{ data = train, epochs = 10, batch = 64 }
for _, a in ipairs{ convs, pools } do
  print(string.format("supernet estimate for %s: %.1f%%", tostring(a), sn:eval(a, { data = test, calib = train })))
end
