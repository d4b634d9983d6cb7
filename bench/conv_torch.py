# SPDX-License-Identifier: GPL-3.0-or-later
# conv_torch.py - the PyTorch peer of bench_conv: times F.conv2d forward and
# forward + autograd backward (grads of x and w, no bias) on CPU with a given
# number of threads, for the configurations named on the command line.
#
# Usage: conv_torch.py THREADS REPS N,C,H,K,S,P [...]
# Prints one line per configuration: "N,C,H,K,S,P fwd_seconds fwdbwd_seconds".
import sys
import time

import torch
import torch.nn.functional as F


def bench(n, c, h, k, s, p, reps):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, c, h, h, generator=g, requires_grad=True)
    w = torch.randn(c, c, k, k, generator=g, requires_grad=True)
    with torch.no_grad():
        y = F.conv2d(x, w, stride=s, padding=p)
    dy = torch.randn(y.shape, generator=g)

    def fwd():
        with torch.no_grad():
            F.conv2d(x, w, stride=s, padding=p)

    def fwdbwd():
        x.grad = None
        w.grad = None
        F.conv2d(x, w, stride=s, padding=p).backward(dy)

    out = []
    for fn in (fwd, fwdbwd):
        for _ in range(3):
            fn()
        best = float("inf")
        # Best of three batches of reps calls, as the C side does.
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(reps):
                fn()
            best = min(best, (time.perf_counter() - t0) / reps)
        out.append(best)
    return out


def main():
    threads, reps = int(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(threads)
    for spec in sys.argv[3:]:
        n, c, h, k, s, p = (int(v) for v in spec.split(","))
        f, fb = bench(n, c, h, k, s, p, reps)
        print(f"{spec} {f:.9f} {fb:.9f}", flush=True)


if __name__ == "__main__":
    main()
