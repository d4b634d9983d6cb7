#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# A training run killed with SIGKILL (no chance to save anything) and started
# again with the same command resumes from its last periodic checkpoint and
# ends with the weights of an uninterrupted run: the same loss curve and test
# accuracy, printed to 17 digits. Needs Fashion-MNIST (skips without it).
. "$(dirname "$0")/tap.sh"

cat >"$tmp/run.lua" <<'LUA'
local tr = nl.data.fashion_mnist{ split = "train", limit = 1200, seed = 3, pad = 2, normalize = true }
if not tr then print("no-data") return end
local te = nl.data.fashion_mnist{ split = "test", limit = 200, pad = 2, normalize = true }
tr, te = tr:downsample(2), te:downsample(2)
local r = nl.train{ arch = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|",
                    data = tr, test = te, epochs = 4, batch = 32, C = 8, N = 1, threads = 1, seed = 9,
                    checkpoint = arg[1], checkpoint_every = 2,
                    progress = function(ev) io.stderr:write("epoch ", ev.epoch, "\n") end }
for _, l in ipairs(r.loss_curve) do io.write(string.format("%.17g ", l)) end
print(string.format("%.17g", r.acc))
LUA

"$NASLAB" "$tmp/run.lua" "$tmp/a.ckpt" >"$tmp/a.out" 2>/dev/null
if grep -q no-data "$tmp/a.out"; then
    echo "1..0 # SKIP no Fashion-MNIST (apt-get install dataset-fashion-mnist)"
    exit 0
fi
"$NASLAB" "$tmp/run.lua" "$tmp/b.ckpt" >"$tmp/b.out" 2>"$tmp/b.err" &
pid=$!
wait_for "$tmp/b.err" "^epoch 2"
kill -KILL $pid 2>/dev/null
wait $pid 2>/dev/null
[ -f "$tmp/b.ckpt" ]; ok $? "the killed run left a checkpoint"
# A kill that lands inside a write can leave b.ckpt.tmp.PID (nothing can
# clean up after SIGKILL); the checkpoint itself is replaced by rename only,
# so it is always whole: the resume below reads it.
[ -s "$tmp/b.ckpt" ]; ok $? "the checkpoint is not empty"
"$NASLAB" "$tmp/run.lua" "$tmp/b.ckpt" >"$tmp/b.out" 2>"$tmp/b2.err"; rc=$?
ok $rc "the same command resumes"
[ "$(head -1 "$tmp/b2.err")" != "epoch 1" ]; ok $? "from where it stopped (first event: $(head -1 "$tmp/b2.err"))"
cmp -s "$tmp/a.out" "$tmp/b.out" || { diag <"$tmp/a.out"; diag <"$tmp/b.out"; false; }
ok $? "and ends with the uninterrupted run's loss curve and accuracy, to 17 digits"
done_testing
