# SPDX-License-Identifier: GPL-3.0-or-later
# optim_ref.py - prints the reference constants of tests/test_optim.c: two
# params on a float32 quadratic, updated by torch.optim (PyTorch 1.13) for 20
# steps under six configurations. Run with Debian's python3-torch:
#   /usr/bin/python3 tests/optim_ref.py
# The test itself does not need Python; its constants are this output.
import math
import torch

INIT = [[0.5, -1.25, 2.0], [[1.5, -0.75], [0.25, -2.0]]]
CONFIGS = [
    # kind, lr, options, cosine schedule
    ("sgd", 0.1, dict(), False),
    ("sgd", 0.1, dict(momentum=0.9, dampening=0.1, weight_decay=0.01), False),
    ("sgd", 0.05, dict(momentum=0.9, nesterov=True, weight_decay=0.001), True),
    ("adam", 0.01, dict(), False),
    ("adam", 0.02, dict(betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1), False),
    ("adamw", 0.01, dict(weight_decay=0.1), True),
]
STEPS = 20


def coeffs(n):
    a = torch.tensor([0.5 + 0.75 * i for i in range(n)], dtype=torch.float32)
    c = torch.tensor([0.1 * i - 0.3 for i in range(n)], dtype=torch.float32)
    return a, c


def run(kind, lr, opts, cosine):
    ps = [torch.tensor(v, dtype=torch.float32) for v in INIT]
    wd = opts.pop("weight_decay", 0.0)
    groups = [dict(params=[ps[0]], weight_decay=wd), dict(params=[ps[1]], weight_decay=0.0)]
    cls = dict(sgd=torch.optim.SGD, adam=torch.optim.Adam, adamw=torch.optim.AdamW)[kind]
    opt = cls(groups, lr=lr, **opts)
    first = None
    for t in range(STEPS):
        rate = lr * 0.1 + (lr - lr * 0.1) * (1 + math.cos(math.pi * t / STEPS)) / 2 if cosine else lr
        for g in opt.param_groups:
            g["lr"] = rate
        for p in ps:
            a, c = coeffs(p.numel())
            p.grad = (a * (p.reshape(-1) - c)).reshape(p.shape)
        opt.step()
        if t == 0:
            first = torch.cat([p.reshape(-1) for p in ps]).tolist()
    return first, torch.cat([p.reshape(-1) for p in ps]).tolist()


for kind, lr, opts, cosine in CONFIGS:
    first, last = run(kind, lr, dict(opts), cosine)
    print("    {%s}," % ", ".join("%.9gf" % v for v in first))
    print("    {%s}," % ", ".join("%.9gf" % v for v in last))
