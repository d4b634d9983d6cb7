-- SPDX-License-Identifier: GPL-3.0-or-later
-- nl.data: IDX data sets from the fixtures in tests/data (exact messages for
-- damaged files and misuse), the naslab.Dataset methods, the digits loader on
-- small gzipped CSV files written here, and the real digits and
-- Fashion-MNIST when Debian's python3-sklearn and dataset-fashion-mnist are
-- installed.
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

-- Digits: gzipped CSV files written here. gzip() stores the text in
-- uncompressed deflate blocks, which is valid gzip and needs no library.
local function crc32(s)
  local crc = 0xFFFFFFFF
  for i = 1, #s do
    crc = crc ~ s:byte(i)
    for _ = 1, 8 do crc = (crc >> 1) ~ (0xEDB88320 & -(crc & 1)) end
  end
  return crc ~ 0xFFFFFFFF
end
local function gzip(text)
  local out, pos = { "\31\139\8\0\0\0\0\0\0\255" }, 1
  repeat
    local chunk = text:sub(pos, pos + 65534)
    pos = pos + #chunk
    local final = pos > #text
    out[#out + 1] = string.pack("<BI2I2", final and 1 or 0, #chunk, ~#chunk & 0xFFFF) .. chunk
  until final
  out[#out + 1] = string.pack("<I4I4", crc32(text), #text)
  return table.concat(out)
end
local tmp = os.tmpname()
local made = { tmp }
local function write(name, text)
  local path = tmp .. "-" .. name
  local f = assert(io.open(path, "wb"))
  f:write(gzip(text))
  f:close()
  made[#made + 1] = path
  return path
end
-- The synthetic digits: pixel k of example i is (i + k) % 17, label i % 10.
local function digit_line(i)
  local v = {}
  for k = 0, 63 do v[#v + 1] = (i + k) % 17 end
  v[#v + 1] = i % 10
  return table.concat(v, ",")
end
local function digits_text(n, bad, repl)
  local lines = {}
  for i = 0, n - 1 do lines[#lines + 1] = i + 1 == bad and repl or digit_line(i) end
  return table.concat(lines, "\n") .. "\n"
end
local function digit_stats(n)
  local s, q = 0, 0
  for i = 0, n - 1 do for k = 0, 63 do s = s + (i + k) % 17 / 16 end end
  local m = s / (64 * n)
  for i = 0, n - 1 do for k = 0, 63 do q = q + ((i + k) % 17 / 16 - m) ^ 2 end end
  return m, math.sqrt(q / (64 * n))
end

local DIG = write("digits.csv.gz", digits_text(20))
local g = assert(nl.data.digits { path = DIG })
t.is(table.concat(g:shape(), ","), "20,1,8,8", "digits: 20 images of 1x8x8")
t.is(table.concat(g:classes(), ","), "0,1,2,3,4,5,6,7,8,9", "digits: classes 0..9")
t.is(table.concat(g:labels(), ","), "0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9", "digits: labels in file order")
t.is(g:name(), "digits train", "digits: name")
t.is(g:images():get(3, 1, 2, 4), (2 + 11) % 17 / 16, "digits: pixel (2, 4) of the third image is its value / 16")
local gm, gs, gn = g:stats()
local dm, ds = digit_stats(20)
t.near(gm, dm, 1e-12, "digits: pixel mean")
t.near(gs, ds, 1e-12, "digits: pixel std")
t.is(gn, false, "digits: not normalised by default")

local g72 = assert(nl.data.digits { path = DIG, classes = { "7", 2 } })
t.is(table.concat(g72:labels(), ","), "1,0,1,0", "digits classes {\"7\", 2}: by name or id, relabelled in order")
t.is(table.concat(g72:class_ids(), ","), "7,2", "digits classes: the original ids")
local gb = assert(nl.data.digits { path = DIG, limit = 10, balanced = true, seed = 1 })
t.is(table.concat(gb:histogram(), ","), "1,1,1,1,1,1,1,1,1,1", "digits: balanced limit 10")
local s1 = assert(nl.data.digits { path = DIG, seed = 5 })
local s2 = assert(nl.data.digits { path = DIG, seed = 5 })
t.ok(s1:images():equal(s2:images()) and not s1:images():equal(g:images()), "digits: a seed shuffles, the same way twice")
local gl = assert(nl.data.digits { path = DIG, limit = 3 })
t.is(table.concat(gl:labels(), ","), "0,1,2", "digits: limit 3 keeps the first three")
local gt, gv = nl.data.digits { path = DIG, valid = 5, normalize = true, pad = 1, upsample = 2 }
t.is(table.concat(gt:shape(), ",") .. " " .. table.concat(gv:shape(), ","), "15,1,20,20 5,1,20,20",
  "digits valid 5, pad 1, upsample 2: 15 + 5 images of (8 + 2) * 2")
local tm, ts = digit_stats(15)
t.near((gt:stats()), tm, 1e-12, "digits: statistics of the training part")
t.near(gv:images():get(1, 1, 2, 2), -tm / ts, 1e-6, "digits: padding, upsampled, is black normalised")
t.near(gv:images():get(1, 1, 3, 4), ((15 + 0) % 17 / 16 - tm) / ts, 1e-6,
  "digits: valid starts with example 15, its first pixel doubled")
t.is(table.concat(gv:labels(), ","), "5,6,7,8,9", "digits: valid holds the last five")

-- Damaged digits: nil, message naming file and line.
local function digits_fails(name, text, want, what)
  local path = write(name, text)
  local x, msg = nl.data.digits { path = path }
  t.is(x, nil, what .. ": nil")
  t.is(msg, path .. want, what .. ": message")
end
local sixteens = ("16,"):rep(64)
digits_fails("short.csv.gz", digits_text(20, 12, ("16,"):rep(63) .. "3"),
  ":12: expected 65 values (64 pixels and a label), found 64", "digits: 64 values")
digits_fails("pixel.csv.gz", digits_text(20, 3, ("0,"):rep(4) .. "17," .. ("0,"):rep(59) .. "3"),
  ":3: pixel 5 is 17, outside 0..16", "digits: pixel 17")
digits_fails("label.csv.gz", digits_text(20, 4, sixteens .. "10"), ":4: label 10 is outside 0..9", "digits: label 10")
digits_fails("word.csv.gz", digits_text(20, 2, "16,x," .. sixteens:sub(7) .. "1"), ":2: value 2 ('x') is not an integer",
  "digits: a word")
digits_fails("empty.csv.gz", "", ": no digits in the file", "digits: an empty file")
local missing = tmp .. "-absent.csv.gz"
local nx, nmsg = nl.data.digits { path = missing }
t.is(nx, nil, "digits: missing file: nil")
t.is(nmsg, missing .. ": not found (Debian: apt-get install python3-sklearn)", "digits: missing file: message")
t.is(nl.data.digits_path("/x.csv.gz"), "/x.csv.gz", "digits_path(path)")

-- Misuse of digits raises.
local function digits(o) return nl.data.digits(o) end
local function digits_raises(opts, want, what)
  t.error_like(function() digits(opts) end, "bad argument #1 to 'digits' (" .. want .. ")", what, true)
end
digits_raises({ path = DIG, upsample = 0 }, "upsample must be an integer in 1..64, got 0", "digits: upsample 0")
digits_raises({ path = DIG, upsample = 1.5 }, "upsample must be an integer in 1..64, got 1.5", "digits: upsample 1.5")
digits_raises({ path = 3 }, "path must be a string, got number", "digits: path 3")
digits_raises({ path = DIG, classes = { 10 } }, "classes[1] must be a class id 0..9 or a class name, got 10",
  "digits: class 10")
digits_raises({ path = DIG, valid = 20 }, "valid=20 of 20 examples leaves the training part empty", "digits: valid 20")
digits_raises({ dir = "/x" },
  "unknown option 'dir' (known: path, upsample, limit, classes, valid, seed, pad, normalize, balanced)",
  "digits: unknown option")

-- d:upsample.
local u = g:upsample(3)
t.is(table.concat(u:shape(), ","), "20,1,24,24", "upsample(3): 8x8 becomes 24x24")
local same = true
for y = 1, 24 do
  for x = 1, 24 do
    same = same and u:images():get(7, 1, y, x) == g:images():get(7, 1, (y - 1) // 3 + 1, (x - 1) // 3 + 1)
  end
end
t.ok(same, "upsample(3): each pixel a 3x3 block of its value")
t.is(table.concat(u:labels(), ","), table.concat(g:labels(), ","), "upsample keeps the labels")
t.is(table.concat(u:classes(), ","), table.concat(g:classes(), ","), "upsample keeps the classes")
t.is(select(2, u:stats()), select(2, g:stats()), "upsample keeps the statistics")
t.ok(u:downsample(3):images():equal(g:images()), "downsample(upsample(d, 3), 3) is d")
t.ok(gt:downsample(2):images():allclose(assert(nl.data.digits { path = DIG, valid = 5, normalize = true, pad = 1 })
  :images(), 1e-6, 1e-6), "downsample(2) undoes upsample = 2 on normalised, padded digits")
t.error_is(function() g:upsample(0) end, "bad argument #1 to 'upsample' (factor must be in 1..64)", "upsample(0)")
t.error_is(function() g:upsample(65) end, "bad argument #1 to 'upsample' (factor must be in 1..64)", "upsample(65)")
for _, p in ipairs(made) do os.remove(p) end

-- The real digits.
local dpath = nl.data.digits_path()
local df = io.open(dpath, "rb")
if not df then
  t.diag("skipping: " .. dpath .. " absent (Debian: apt-get install python3-sklearn)")
else
  df:close()
  -- Reference figures from Python over the same file (values / 16,
  -- population std).
  local real = assert(nl.data.digits())
  t.is(#real, 1797, "real digits: 1,797")
  t.is(table.concat(real:histogram(), ","), "178,182,177,183,181,182,181,179,174,180", "real digits: per class")
  local rm2, rs2 = real:stats()
  t.near(rm2, 0.30526028624095713, 1e-12, "real digits: mean")
  t.near(rs2, 0.3760492217921994, 1e-12, "real digits: std")
  local r32 = assert(nl.data.digits { upsample = 4, limit = 10, normalize = true })
  t.is(table.concat(r32:shape(), ","), "10,1,32,32", "real digits, upsample 4: the 32x32 NAS-Bench-201 takes")
end

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
