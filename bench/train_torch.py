# SPDX-License-Identifier: GPL-3.0-or-later
# train_torch.py - the PyTorch peer of naslab's nl.train for bench/: builds
# the same NAS-Bench-201 network (TinyNetwork for one cell string) and trains
# it on Fashion-MNIST with the same recipe, so that the C trainer can be
# compared with PyTorch 1.13 on CPU in throughput and in accuracy.
#
# Network: stem conv3x3 (in_ch -> C, no bias) + BN; N cells at C; ResNet basic
# block C -> 2C (stride 2); N cells at 2C; basic block -> 4C; N cells at 4C;
# BN, ReLU, global average pool, linear -> classes. Cell node i = sum over
# j < i of op_{j->i}(node j), output node 3. PyTorch default init and BN
# settings (momentum 0.1, eps 1e-5).
#
# Recipe: SGD, momentum 0.9, Nesterov, weight decay 5e-4 on conv and linear
# weights only; lr 0.1 annealed per step by the closed-form cosine
# lr * (1 + cos(pi * t / total)) / 2, t = optimizer steps taken; batches of
# --batch, reshuffled each epoch, the last short batch kept unless it holds
# a single image (BatchNorm cannot train on one). Images are /255, normalised
# by the mean and population std of the training images used, then
# zero-padded in raw pixels (torchvision Pad then Normalize: the padding holds
# -mean/std) from 28x28 to (28 + 2 pad)^2.
#
# Usage (run with Debian's /usr/bin/python3):
#   train_torch.py --mode throughput [--steps K] [--batch B] [--C C] [--N N]
#   train_torch.py --mode train [--epochs E] [--limit L] [--test-limit L]
# common: --arch CELL --classes K --pad P --seed S --threads T --data DIR
# Prints one JSON line:
#   throughput: images_per_s, seconds_per_step, params, macs_forward_per_image
#   train: test_acc (%), train_loss (per-epoch mean), train_acc_last (%),
#          seconds (training only), images_per_s
import argparse
import gzip
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULT_ARCH = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+"
                "|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


# --- the network -----------------------------------------------------------

def parse_cell(s):
    """'|op~j|+|op~j|op~j|+|...|' -> [[(op, j)], [(op, j), (op, j)], ...]."""
    nodes = []
    for part in s.strip().split("+"):
        edges = []
        for tok in part.strip("|").split("|"):
            op, src = tok.split("~")
            if op not in OPS:
                raise ValueError(f"unknown op {op!r} in cell {s!r}")
            edges.append((op, int(src)))
        nodes.append(edges)
    if len(nodes) != 3 or any(len(e) != i + 1 for i, e in enumerate(nodes)):
        raise ValueError(f"cell {s!r} is not a 4-node NAS-Bench-201 cell")
    for i, edges in enumerate(nodes):
        if sorted(j for _, j in edges) != list(range(i + 1)):
            raise ValueError(f"cell {s!r}: node {i + 1} needs inputs 0..{i}")
    return nodes


class ReLUConvBN(nn.Sequential):
    def __init__(self, cin, cout, k, stride):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(cin, cout, k, stride=stride, padding=(k - 1) // 2,
                      bias=False),
            nn.BatchNorm2d(cout))


def make_op(name, c):
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(c, c, 1, 1)
    if name == "nor_conv_3x3":
        return ReLUConvBN(c, c, 3, 1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(name)


class Cell(nn.Module):
    """NAS-Bench-201 InferCell at c channels, stride 1. A 'none' edge adds
    zeros, so it is left out of the sum (same values and gradients)."""

    def __init__(self, nodes, c):
        super().__init__()
        self.edges = []   # per node: [(index into self.ops, source node)]
        self.ops = nn.ModuleList()
        for edges in nodes:
            mine = []
            for op, src in edges:
                if op == "none":
                    continue
                mine.append((len(self.ops), src))
                self.ops.append(make_op(op, c))
            self.edges.append(mine)

    def forward(self, x):
        feats = [x]
        for mine in self.edges:
            if mine:
                feats.append(sum(self.ops[i](feats[j]) for i, j in mine))
            else:
                feats.append(torch.zeros_like(x))
        return feats[-1]


class BasicBlock(nn.Module):
    """NAS-Bench-201's ResNetBasicblock, stride 2."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv_a = ReLUConvBN(cin, cout, 3, 2)
        self.conv_b = ReLUConvBN(cout, cout, 3, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(2, stride=2, padding=0),
            nn.Conv2d(cin, cout, 1, stride=1, padding=0, bias=False))

    def forward(self, x):
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class TinyNetwork(nn.Module):
    def __init__(self, arch, C, N, classes, in_ch):
        super().__init__()
        nodes = parse_cell(arch)
        self.stem = nn.Sequential(
            nn.Conv2d(in_ch, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        layers = []
        for stage, c in enumerate((C, 2 * C, 4 * C)):
            if stage > 0:
                layers.append(BasicBlock(c // 2, c))
            layers += [Cell(nodes, c) for _ in range(N)]
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(4 * C), nn.ReLU())
        self.classifier = nn.Linear(4 * C, classes)

    def forward(self, x):
        x = self.lastact(self.cells(self.stem(x)))
        return self.classifier(x.mean(dim=(2, 3)))


def count_macs(model, in_ch, hw):
    """Forward multiply-adds per image: conv k*k*Cin*Cout*Hout*Wout/groups,
    linear in*out (as NAS-Bench-201 counts; pooling, BN, adds not counted)."""
    total = [0]

    def conv_hook(m, inp, out):
        kh, kw = m.kernel_size
        total[0] += (kh * kw * m.in_channels * m.out_channels
                     * out.shape[2] * out.shape[3] // m.groups)

    def fc_hook(m, inp, out):
        total[0] += m.in_features * m.out_features

    hooks = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(fc_hook))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, in_ch, hw, hw))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return total[0]


# --- the recipe ------------------------------------------------------------

def make_optimizer(model, lr):
    decay, no_decay = [], []
    for m in model.modules():
        for name, p in m.named_parameters(recurse=False):
            is_weight = (name == "weight"
                         and isinstance(m, (nn.Conv2d, nn.Linear)))
            (decay if is_weight else no_decay).append(p)
    return torch.optim.SGD(
        [{"params": decay, "weight_decay": 5e-4},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=lr, momentum=0.9, nesterov=True)


def cosine_lr(base, t, total):
    return base * (1.0 + math.cos(math.pi * t / total)) / 2.0


def train_step(model, opt, x, y, lr):
    """One optimizer step at learning rate lr; returns (loss, correct)."""
    for g in opt.param_groups:
        g["lr"] = lr
    opt.zero_grad(set_to_none=True)
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    opt.step()
    return loss.item(), (logits.argmax(1) == y).sum().item()


# --- data ------------------------------------------------------------------

def read_idx(path):
    """An IDX file (gzipped or not) as a numpy uint8 array."""
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big")
            for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    return data.reshape(dims)


def load_data(args):
    d = args.data
    xtr = read_idx(os.path.join(d, "train-images-idx3-ubyte"))
    ytr = read_idx(os.path.join(d, "train-labels-idx1-ubyte"))
    xte = read_idx(os.path.join(d, "t10k-images-idx3-ubyte"))
    yte = read_idx(os.path.join(d, "t10k-labels-idx1-ubyte"))
    if args.limit > 0:
        # The first L images after a seeded shuffle of the training set.
        perm = np.random.default_rng(args.seed).permutation(len(xtr))
        keep = perm[:args.limit]
        xtr, ytr = xtr[keep], ytr[keep]
    if args.test_limit > 0:
        xte, yte = xte[:args.test_limit], yte[:args.test_limit]

    xtr = xtr.astype(np.float64) / 255.0
    xte = xte.astype(np.float64) / 255.0
    mean = xtr.mean()
    std = xtr.std()              # population std (ddof 0)

    def prep(x):
        x = torch.from_numpy(((x - mean) / std).astype(np.float32))
        x = x.unsqueeze(1)       # (N, 1, 28, 28)
        # Raw-pixel zero padding, i.e. -mean/std after normalisation.
        p = args.pad
        return F.pad(x, (p, p, p, p), value=float(-mean / std)) if p else x

    return (prep(xtr), torch.from_numpy(ytr.astype(np.int64)),
            prep(xte), torch.from_numpy(yte.astype(np.int64)))


# --- modes -----------------------------------------------------------------

def throughput(args):
    hw = 28 + 2 * args.pad
    model = TinyNetwork(args.arch, args.C, args.N, args.classes, 1)
    macs = count_macs(model, 1, hw)
    params = sum(p.numel() for p in model.parameters())
    model.train()
    opt = make_optimizer(model, args.lr)
    g = torch.Generator().manual_seed(args.seed)
    x = torch.randn(args.batch, 1, hw, hw, generator=g)
    y = torch.randint(0, args.classes, (args.batch,), generator=g)
    total = 3 + 3 * args.steps
    t = 0
    for _ in range(3):      # warm-up
        train_step(model, opt, x, y, cosine_lr(args.lr, t, total))
        t += 1
    best = float("inf")
    for _ in range(3):      # best of three
        t0 = time.perf_counter()
        for _ in range(args.steps):
            train_step(model, opt, x, y, cosine_lr(args.lr, t, total))
            t += 1
        best = min(best, (time.perf_counter() - t0) / args.steps)
    print(json.dumps({"images_per_s": args.batch / best,
                      "seconds_per_step": best,
                      "params": params,
                      "macs_forward_per_image": macs}), flush=True)


def batches(n, bs, gen):
    """Index tensors of one shuffled epoch; a last batch of 1 is dropped."""
    perm = torch.randperm(n, generator=gen)
    for i in range(0, n, bs):
        idx = perm[i:i + bs]
        if len(idx) > 1:
            yield idx


def evaluate(model, x, y, bs=500):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), bs):
            correct += (model(x[i:i + bs]).argmax(1)
                        == y[i:i + bs]).sum().item()
    return 100.0 * correct / len(x)


def train(args):
    xtr, ytr, xte, yte = load_data(args)
    n = len(xtr)
    model = TinyNetwork(args.arch, args.C, args.N, args.classes, xtr.shape[1])
    opt = make_optimizer(model, args.lr)
    steps_per_epoch = n // args.batch + (1 if n % args.batch > 1 else 0)
    total = args.epochs * steps_per_epoch
    if total < 1:
        raise SystemExit("train_torch.py: no training steps "
                         "(need at least 2 images and 1 epoch)")
    gen = torch.Generator().manual_seed(args.seed)
    losses, acc_last, seen, t = [], 0.0, 0, 0
    seconds = 0.0
    for _ in range(args.epochs):
        model.train()
        loss_sum, correct, count = 0.0, 0, 0
        t0 = time.perf_counter()
        for idx in batches(n, args.batch, gen):
            loss, ok = train_step(model, opt, xtr[idx], ytr[idx],
                                  cosine_lr(args.lr, t, total))
            t += 1
            loss_sum += loss * len(idx)
            correct += ok
            count += len(idx)
        seconds += time.perf_counter() - t0
        seen += count
        losses.append(loss_sum / count)
        acc_last = 100.0 * correct / count
    test_acc = evaluate(model, xte, yte)
    print(json.dumps({"test_acc": test_acc,
                      "train_loss": losses,
                      "train_acc_last": acc_last,
                      "seconds": seconds,
                      "images_per_s": seen / seconds if seconds else 0.0}),
          flush=True)


def main():
    ap = argparse.ArgumentParser(
        description="PyTorch peer of naslab's nl.train (NAS-Bench-201 net)")
    ap.add_argument("--mode", choices=("throughput", "train"),
                    default="throughput")
    ap.add_argument("--arch", default=DEFAULT_ARCH)
    ap.add_argument("--C", type=int, default=16)
    ap.add_argument("--N", type=int, default=5)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--pad", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--test-limit", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = ap.parse_args()
    if args.batch < 2:
        ap.error("--batch must be at least 2 (BatchNorm)")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.mode == "throughput":
        throughput(args)
    else:
        train(args)


if __name__ == "__main__":
    main()
