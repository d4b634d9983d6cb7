-- SPDX-License-Identifier: GPL-3.0-or-later
-- nl.data: IDX data sets from the fixtures in tests/data (exact messages for
-- damaged files and misuse), the naslab.Dataset methods, and the real
-- Fashion-MNIST when Debian's dataset-fashion-mnist is installed.
local t = require "tap"

local top = os.getenv("top_srcdir")
if not top then
  local src = debug and debug.getinfo(1, "S").source or "@./tests/lua/x.lua"
  top = src:match("^@(.*)/tests/lua/[^/]*$") or "."
end
local dir = top .. "/tests/data/"
local IMG, LAB = dir .. "idx_images.idx.gz", dir .. "idx_labels.idx"

-- The fixture: six 2x3 images, pixel k of image i = 7 * (6 i + k); labels.
local function pixel(i, k) return 7 * (6 * i + k) / 255 end
local LABELS = { 2, 0, 1, 2, 0, 1 }
local function stats(list)
  local s, q, n = 0, 0, 0
  for _, i in ipairs(list) do for k = 0, 5 do s = s + pixel(i, k); n = n + 1 end end
  local m = s / n
  for _, i in ipairs(list) do for k = 0, 5 do q = q + (pixel(i, k) - m) ^ 2 end end
  return m, math.sqrt(q / n)
end
-- Which fixture example a row holds, from its first raw pixel.
local function which(img, mean, std)
  local v = img:get(1, 1, 1)
  if mean then v = v * std + mean end
  return math.floor(v * 255 / 42 + 0.5)
end

-- Loading and the plain accessors.
local d = assert(nl.data.idx{ images = IMG, labels = LAB })
t.is(#d, 6, "#d")
t.is(d:size(), 6, "d:size()")
t.is(table.concat(d:shape(), ","), "6,1,2,3", "d:shape()")
t.is(table.concat(d:classes(), ","), "0,1,2", "numeric class names")
t.is(table.concat(d:labels(), ","), "2,0,1,2,0,1", "labels as stored, 0-based classes")
t.is(d:name(), IMG, "d:name()")
t.is(tostring(d), "naslab.Dataset: " .. IMG .. " (6 images of 1x2x3, 3 classes)", "tostring")
local m, s, normed = d:stats()
local rm, rs = stats { 0, 1, 2, 3, 4, 5 }
t.near(m, rm, 1e-12, "stats mean")
t.near(s, rs, 1e-12, "stats std")
t.is(normed, false, "not normalised")
local img, lab = d:get(4)
t.is(table.concat(img:shape(), ","), "1,2,3", "get: a (c,h,w) image")
t.near(img:get(1, 2, 3), pixel(3, 5), 1e-7, "get(4): its last pixel")
t.is(lab, 2, "get(4): its label")
local all = d:images()
t.is(table.concat(all:shape(), ","), "6,1,2,3", "images(): the whole tensor")
t.near(all:get(6, 1, 1, 2), pixel(5, 1), 1e-7, "images(): values")
local lt = d:labels("tensor")
t.is(lt:get(1), 2, "labels('tensor')")
t.is(table.concat(d:histogram(), ","), "2,2,2", "histogram")

-- Batches.
local b, bl = d:batch { 6, 1, 6 }
t.is(table.concat(b:shape(), ","), "3,1,2,3", "batch{6,1,6}: shape")
t.is(table.concat(bl, ","), "1,2,1", "batch{6,1,6}: labels")
t.near(b:get(2, 1, 2, 1), pixel(0, 3), 1e-7, "batch{6,1,6}: second is example 1")
local r, rl = d:batch(2, 4)
t.is(table.concat(r:shape(), ","), "3,1,2,3", "batch(2, 4): a range")
t.is(table.concat(rl, ","), "0,1,2", "batch(2, 4): labels")
t.error_like(function() d:batch { 1, 7 } end, "bad argument #1 to 'batch' (index 7 at position 2 is outside 1..6)",
  "batch: index out of range", true)
t.error_like(function() d:batch(3, 2) end, "bad argument #2 to 'batch' (range 3..2 is empty)", "batch: empty range", true)
t.error_like(function() d:get(0) end, "bad argument #1 to 'get' (index 0 is outside 1..6)", "get(0)", true)

-- Options.
local n = assert(nl.data.idx { images = IMG, labels = LAB, normalize = true, pad = 1 })
t.is(table.concat(n:shape(), ","), "6,1,4,5", "pad = 1: 4x5")
t.near(n:images():get(1, 1, 1, 1), -rm / rs, 1e-6, "border: -mean/std")
t.near(n:images():get(2, 1, 2, 2), (pixel(1, 0) - rm) / rs, 1e-6, "interior: (x - mean)/std")
t.is(select(3, n:stats()), true, "normalised")
t.ok(tostring(n):find(", normalized)", 1, true) ~= nil, "tostring says normalized")

local c = assert(nl.data.idx { images = IMG, labels = LAB, classes = { 2, 0 } })
t.is(#c, 4, "classes {2, 0}: 4 examples")
t.is(table.concat(c:labels(), ","), "0,1,0,1", "relabelled in the order given")
t.is(table.concat(c:class_ids(), ","), "2,0", "class_ids: the original ids")

local named = assert(nl.data.idx { images = IMG, labels = LAB, names = { "cat", "dog", "owl" }, classes = { "owl" } })
t.is(table.concat(named:classes(), ","), "owl", "names and classes by name")
t.is(#named, 2, "two owls")

local tr, va = nl.data.idx { images = IMG, labels = LAB, valid = 2, normalize = true }
t.is(#tr, 4, "valid = 2: 4 train")
t.is(#va, 2, "valid = 2: 2 valid")
local tm, ts = stats { 0, 1, 2, 3 }
t.near((tr:stats()), tm, 1e-12, "statistics of the training part")
t.is(which(va:images():select(1, 1), tm, ts), 4, "valid holds example 4 first")
t.is(which(va:images():select(1, 2), tm, ts), 5, "and example 5")

local s1 = assert(nl.data.idx { images = IMG, labels = LAB, seed = 9 })
local s2 = assert(nl.data.idx { images = IMG, labels = LAB, seed = 9 })
t.is(table.concat(s1:labels(), ","), table.concat(s2:labels(), ","), "same seed, same order")
t.ok(s1:images():equal(s2:images()), "same seed, same images")

local l3 = assert(nl.data.idx { images = IMG, labels = LAB, limit = 3, balanced = true })
t.is(table.concat(l3:histogram(), ","), "1,1,1", "balanced limit 3")

local ms = assert(nl.data.idx { images = IMG, labels = LAB, normalize = true, mean = 0.5, std = 0.25 })
t.near(ms:images():get(1, 1, 1, 2), (pixel(0, 1) - 0.5) / 0.25, 1e-6, "given mean and std")

-- Methods that derive data sets.
local a, bb = d:split(2)
t.is(#a .. "+" .. #bb, "4+2", "split(2)")
t.is(table.concat(bb:labels(), ","), "0,1", "split without seed: the last two")
local a1, b1 = d:split(0.5, 3)
local a2, b2 = d:split(0.5, 3)
t.ok(b1:images():equal(b2:images()), "split with a seed is deterministic")
t.is(#a1 + #b1, 6, "split covers everything")
local sub = d:subset { 1, 2 }
t.is(#sub, 4, "subset{1, 2}")
t.is(table.concat(sub:labels(), ","), "1,0,1,0", "subset relabels")
t.is(table.concat(sub:class_ids(), ","), "1,2", "subset: original ids")
local sh = d:split(1):shuffle(4)
t.is(#sh, 5, "shuffle returns the data set")
t.error_like(function() d:split(6) end,
  "bad argument #1 to 'split' (valid=6 of 6 examples leaves the training part empty)", "split too large", true)
t.error_like(function() d:subset { 3 } end,
  "bad argument #1 to 'subset' (classes[1] must be a class 0..2 or a class name, got 3)", "subset bad class", true)
t.error_like(function() d:subset { 1, 1 } end, "bad argument #1 to 'subset' (class 1 is listed twice)",
  "subset twice", true)
d:close()
t.is(tostring(d), "naslab.Dataset (closed)", "closed")
t.error_like(function() d:size() end, "calling 'size' on bad self (dataset is closed)", "closed: methods raise", true)

-- Damaged files: nil, message.
local function fails(images, labels, want, name)
  local x, msg = nl.data.idx { images = images, labels = labels }
  t.is(x, nil, name .. ": nil")
  t.is(msg, want, name .. ": message")
end
fails(dir .. "nope.idx", LAB, "cannot open '" .. dir .. "nope.idx': No such file or directory", "missing file")
fails(dir .. "idx_bad_magic.idx", LAB, dir .. "idx_bad_magic.idx: not an IDX file (magic 0x12340801)", "bad magic")
fails(dir .. "idx_short_header.idx", LAB,
  dir .. "idx_short_header.idx: truncated: header of 3 dimensions needs 16 bytes, got 10", "short header")
fails(dir .. "idx_short_data.idx", LAB, dir .. "idx_short_data.idx: truncated: expected 36 bytes of data, got 30",
  "short data")
fails(dir .. "idx_cut.idx.gz", LAB,
  dir .. "idx_cut.idx.gz: truncated: expected 36 bytes of data, got 34 (gzip stream cut short)", "cut gzip")
fails(IMG, dir .. "idx_labels_five.idx", IMG .. " holds 6 images but " .. dir .. "idx_labels_five.idx holds 5 labels",
  "count mismatch")
local x, msg = nl.data.idx { images = IMG, labels = LAB, nclasses = 2 }
t.is(msg, LAB .. ": label 2 at position 0 is outside 0..1", "label beyond nclasses")

-- Misuse raises.
-- Called by their own names, so the messages can name them.
local loaders = {
  fashion_mnist = function(o) return nl.data.fashion_mnist(o) end,
  idx = function(o) return nl.data.idx(o) end,
}
local function raises(f, opts, want, name)
  t.error_like(function() loaders[f](opts) end, "bad argument #1 to '" .. f .. "' (" .. want .. ")", name, true)
end
raises("fashion_mnist", { limit = -3 }, "limit must be a positive integer, got -3", "limit -3")
raises("fashion_mnist", { limit = 2.5 }, "limit must be a positive integer, got 2.5", "limit 2.5")
raises("fashion_mnist", { limit = "x" }, "limit must be a positive integer, got 'x'", "limit 'x'")
raises("fashion_mnist", { split = "dev" }, 'split must be "train" or "test", got "dev"', "split dev")
raises("fashion_mnist", { classes = { 3, 12 } }, "classes[2] must be a class id 0..9 or a class name, got 12",
  "class 12")
raises("fashion_mnist", { classes = { "Cat" } }, "classes[1] must be a class id 0..9 or a class name, got 'Cat'",
  "class Cat")
raises("fashion_mnist", { classes = {} }, "classes must list at least one class", "empty classes")
raises("fashion_mnist", { valid = -1 }, "valid must be a fraction in (0,1) or a whole count >= 1, got -1", "valid -1")
raises("fashion_mnist", { valid = 1.5 }, "valid must be a fraction in (0,1) or a whole count >= 1, got 1.5",
  "valid 1.5")
raises("fashion_mnist", { pad = 100 }, "pad must be an integer in 0..64, got 100", "pad 100")
raises("fashion_mnist", { seed = 1.5 }, "seed must be an integer, got 1.5", "seed 1.5")
raises("fashion_mnist", { normalize = 1 }, "normalize must be a boolean, got number", "normalize 1")
raises("fashion_mnist", { balanced = true }, "balanced needs a limit", "balanced without limit")
raises("fashion_mnist", { mean = 0.5 }, "give both mean and std, or neither", "mean alone")
raises("fashion_mnist", { mean = 0.5, std = 0 }, "std must be positive and finite", "std 0")
raises("fashion_mnist", { colour = 1 },
  "unknown option 'colour' (known: split, limit, classes, valid, seed, pad, normalize, balanced, dir, mean, std)",
  "unknown option")
raises("idx", { labels = LAB }, "images must be a path (string), got nil", "idx without images")
raises("idx", { images = IMG, labels = LAB, classes = { 1, 1 } }, "class 1 is listed twice", "idx duplicate class")
raises("idx", { images = IMG, labels = LAB, classes = { 5 } }, "class 5 is outside 0..2", "idx unknown class")
raises("idx", { images = IMG, labels = LAB, valid = 6 }, "valid=6 of 6 examples leaves the training part empty",
  "idx valid too large")
raises("idx", { images = IMG, labels = LAB, names = { "a", "b" }, nclasses = 3 }, "names lists 2 names for 3 classes",
  "names vs nclasses")

-- Environment: a missing Fashion-MNIST is nil, message.
local none, why = nl.data.fashion_mnist { dir = "/nonexistent/fm" }
t.is(none, nil, "missing Fashion-MNIST: nil")
t.is(why, "Fashion-MNIST not found in /nonexistent/fm (Debian: apt-get install dataset-fashion-mnist)",
  "missing Fashion-MNIST: message")
t.is(nl.data.fashion_mnist_dir("/x"), "/x", "fashion_mnist_dir(dir)")
t.is(nl.data.fashion_mnist_classes[10], "Ankle boot", "fashion_mnist_classes")

-- The real data.
local fmdir = nl.data.fashion_mnist_dir()
local f = io.open(fmdir .. "/train-labels-idx1-ubyte.gz", "rb")
if not f then
  t.diag("skipping the real Fashion-MNIST checks: " .. fmdir .. " has no training files")
  t.done()
end
f:close()
local train = assert(nl.data.fashion_mnist { split = "train" })
t.is(#train, 60000, "60,000 training images")
local _, first = train:get(1)
t.is(first, 9, "first training label: 9")
t.is(train:classes()[first + 1], "Ankle boot", "... Ankle boot")
local fm, fs = train:stats()
t.near(fm, 0.2860405969887955, 1e-12, "train mean (numpy)")
t.near(fs, 0.35302424451492237, 1e-12, "train std (numpy)")
local h = train:histogram()
local even = true
for k = 1, 10 do even = even and h[k] == 6000 end
t.ok(even, "6,000 per class")
train:close()
local test = assert(nl.data.fashion_mnist { split = "test", normalize = true, pad = 2, limit = 100 })
t.is(table.concat(test:shape(), ","), "100,1,32,32", "test, limit 100, pad 2")
t.near((test:stats()), 0.2860405969887955, 1e-12, "test normalised with the training statistics")
local ftr, fva = nl.data.fashion_mnist { classes = { "Sneaker", "Bag" }, valid = 0.25, seed = 2, limit = 400 }
t.is(#ftr .. "+" .. #fva, "300+100", "classes by name, limit 400, valid 0.25")
t.is(table.concat(ftr:classes(), ","), "Sneaker,Bag", "classes in the order given")
t.is(table.concat(ftr:class_ids(), ","), "7,8", "their original ids")
t.done()
