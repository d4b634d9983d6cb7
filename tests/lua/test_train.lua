-- SPDX-License-Identifier: GPL-3.0-or-later
-- nl.train and nl.supernet: argument errors with their exact messages, then
-- real training on a small slice of Fashion-MNIST (when Debian's
-- dataset-fashion-mnist is installed): learning, determinism, events, a stop
-- and an exact resume from the checkpoint, and the supernet's train, eval,
-- save and load.
local t = require "tap"

local CELL = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"

-- Misuse raises, naming the argument.
t.error_is(function() nl.train() end, "bad argument #1 to 'train' (table expected, got no value)", "no table")
t.error_is(function() nl.train{} end, "bad argument #1 to 'train' (arch (an nb201 cell) is required)", "no arch")
t.error_like(function() nl.train{ arch = CELL, epoch = 3 } end,
  "bad argument #1 to 'train' (unknown option 'epoch' (known: arch, data, valid, test, epochs,", "unknown option", true)
t.error_like(function() nl.train{ arch = "|conv~0|" } end, "bad argument #1 to 'train' (arch: bad nb201 cell at character 2",
  "bad cell string", true)
t.error_is(function() nl.train{ arch = CELL } end,
  "bad argument #1 to 'train' (data (a data set from nl.data) is required)", "no data")
t.error_is(function() nl.train{ arch = nl.space("nb101"):spec({ { 0, 1 }, { 0, 0 } }, { "input", "output" }) } end,
  "bad argument #1 to 'train' (arch must be an nb201 cell, got an nb101 arch)", "nb101 arch")
t.error_is(function() nl.supernet{ C = 0 } end, "bad argument #1 to 'supernet' (C must be an integer in 1..1024, got 0)",
  "supernet C = 0")

local fmdir = nl.data.fashion_mnist_dir()
local f = io.open(fmdir .. "/train-labels-idx1-ubyte.gz", "rb")
if not f then
  t.diag("skipping real training: " .. fmdir .. " has no Fashion-MNIST")
  t.done()
end
f:close()

local tr = assert(nl.data.fashion_mnist{ split = "train", limit = 600, seed = 0, pad = 2, normalize = true }):downsample(2)
local te = assert(nl.data.fashion_mnist{ split = "test", limit = 300, pad = 2, normalize = true }):downsample(2)
t.error_is(function() nl.train{ arch = CELL, data = tr, epochs = 0 } end,
  "bad argument #1 to 'train' (epochs must be an integer in 1..1000000, got 0)", "epochs = 0")
t.error_is(function() nl.train{ arch = CELL, data = tr, progress = 3 } end,
  "bad argument #1 to 'train' (progress must be a function, got number)", "progress not a function")
local small = assert(nl.data.fashion_mnist{ split = "test", limit = 10, normalize = true }):downsample(2)
t.error_is(function() nl.train{ arch = CELL, data = small } end,
  "bad argument #1 to 'train' (data: image size 14 is not a multiple of 4 (pad or downsample it))", "14x14 data")

local R = { arch = CELL, data = tr, test = te, epochs = 3, batch = 64, C = 4, N = 1, threads = 1, seed = 5 }
local function run(extra)
  local o = {}
  for k, v in pairs(R) do o[k] = v end
  for k, v in pairs(extra or {}) do o[k] = v end
  return nl.train(o)
end

local events = {}
local r = run{ progress = function(ev) events[#events + 1] = ev end }
-- Chance is 10%. The exact figure depends on the kernels' rounding (the
-- AVX-512 and portable convolutions give 49.3% and 51.3% here), so the test
-- asks for clear learning, not a particular run.
t.ok(r.acc > 40, string.format("learns Fashion-MNIST: %.1f%% on 300 test images after 3 epochs on 600", r.acc))
t.is(r.acc, r.test_acc, "acc is the test accuracy when test data is given")
t.is(#r.loss_curve, 3, "one loss per epoch")
t.ok(r.loss_curve[3] < r.loss_curve[1], string.format("loss falls: %.3f -> %.3f", r.loss_curve[1], r.loss_curve[3]))
t.is(r.steps, 30, "600 / 64 -> 10 steps an epoch (the last of 24), 30 in all")
t.ok(r.images_per_s > 0 and r.seconds > 0, "throughput and time")
t.is(r.params, nl.space("nb201"):parse(CELL):params{ C = 4, N = 1 } - 27 * 4 + 9 * 4, "params: the space's count, "
  .. "with a 1-channel stem")
t.is(#events, 3, "an event per epoch")
t.is(events[3].name, "train.epoch", "event name")
t.is(events[3].epoch, 3, "event epoch")
t.is(events[3].test_acc, r.test_acc, "the last epoch's event carries the test accuracy")

local r2 = run()
t.is(r2.loss_curve[3], r.loss_curve[3], "same seed and threads: the same run, bit for bit")
t.is(r2.acc, r.acc, "and the same accuracy")
local r3 = run{ seed = 6 }
t.ok(r3.loss_curve[3] ~= r.loss_curve[3], "another seed, another run")

-- A stop after epoch 2, then the same call resumes from the checkpoint.
local ck = os.tmpname()
os.remove(ck)
t.error_is(function()
  run{ checkpoint = ck, progress = function(ev) if ev.epoch == 2 then return "stop" end end }
end, "interrupted!", "a progress function returning 'stop' stops the run")
local rr = run{ checkpoint = ck }
t.is(rr.resumed_epoch, 3, "the next call resumes at epoch 3")
t.is(rr.loss_curve[3], r.loss_curve[3], "and ends where the uninterrupted run ended")
t.is(rr.acc, r.acc, "with its test accuracy")
t.error_is(function() run{ checkpoint = ck, arch = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|skip_connect~0|nor_conv_3x3~1|none~2|" } end,
  "bad argument #1 to 'train' (checkpoint " .. ck .. ": written by another run (nb201 C=4 N=1 1x16x16 10 classes "
  .. CELL .. "), this run trains nb201 C=4 N=1 1x16x16 10 classes "
  .. "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|skip_connect~0|nor_conv_3x3~1|none~2|)",
  "a checkpoint of another cell with the same shapes is refused")
local rdone = run{ checkpoint = ck }
t.is(rdone.loss, r.loss, "a finished checkpoint gives back the finished run")
t.is(rdone.acc, r.acc, "and its test accuracy")
os.remove(ck)
t.error_like(function() run{ progress = function() error("boom") end } end, "boom", "an error in progress is raised")

-- The supernet.
local sn = nl.supernet{ data = tr, C = 4, N = 1, seed = 1, threads = 1 }
t.ok(tostring(sn):match("^naslab.Supernet %(nb201, %d+ params, 0 epochs trained%)$"), "tostring: " .. tostring(sn))
local st = sn:train{ data = tr, epochs = 2, batch = 64 }
t.is(#st.loss_curve, 2, "supernet trains with SPOS")
local a = nl.space("nb201"):parse(CELL)
local acc = sn:eval(a, { data = te, calib = tr, calib_batches = 4, batch = 64 })
t.ok(acc >= 0 and acc <= 100, string.format("a cell evaluated with inherited weights: %.1f%%", acc))
t.is(sn:eval(a, { data = te, calib = tr, calib_batches = 4, batch = 64 }), acc, "evaluation is deterministic")
local path = os.tmpname()
t.ok(sn:save(path), "save")
local sn2 = nl.supernet{ data = tr, C = 4, N = 1, seed = 99, threads = 1 }
t.ok(sn2:load(path) == sn2, "load returns the supernet")
t.is(sn2:eval(a, { data = te, calib = tr, calib_batches = 4, batch = 64 }), acc, "a loaded supernet evaluates the same")
local wrong = nl.supernet{ data = tr, C = 8, N = 1, threads = 1 }
local okl, msg = wrong:load(path)
t.is(okl, nil, "loading into another shape fails")
t.is(msg, "checkpoint " .. path .. ": param 'stem.w' has shape [4,1,3,3], network expects [8,1,3,3]",
  "naming the file and the param")
os.remove(path)
t.done()
