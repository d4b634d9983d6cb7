-- SPDX-License-Identifier: GPL-3.0-or-later
-- Fashion-MNIST as naslab's training data: a 3-class task with a seeded
-- validation split, padded to the 32x32 inputs NAS-Bench-201 networks expect.
local train, valid = nl.data.fashion_mnist {
  classes = { "Sneaker", "Sandal", "Ankle boot" }, limit = 3000, balanced = true,
  valid = 0.2, seed = 1, pad = 2,
}
assert(train, valid) -- on failure the second result is the message
print(train)
print("train / valid:", #train, #valid)
print("images:", table.concat(train:shape(), "x"), "classes:", table.concat(train:classes(), ", "))
local mean, std = train:stats()
print(string.format("normalised with mean %.4f, std %.4f of the training part", mean, std))

-- A minibatch: images as one tensor, labels 0..k-1.
local x, y = train:batch(1, 8)
print("batch:", table.concat(x:shape(), "x"), "labels:", table.concat(y, " "))
