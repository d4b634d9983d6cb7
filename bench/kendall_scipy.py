#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""kendall_scipy.py - the peer of bench/bench_kendall.c: scipy.stats.kendalltau
(default tau-b, which also computes its p-value) timed on the pairs that the C
program wrote, best of REPEATS runs.

Usage: kendall_scipy.py FILE N [REPEATS]
FILE holds N native-endian float64 x values followed by N y values.
Prints one line: "tau=T seconds=S scipy=VERSION".
Run it with Debian's /usr/bin/python3 (python3-scipy, python3-numpy).
"""
import sys
import time

import numpy as np
import scipy
from scipy import stats


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__.strip().splitlines()[3])
    path, n = sys.argv[1], int(sys.argv[2])
    repeats = int(sys.argv[3]) if len(sys.argv) == 4 else 3
    data = np.fromfile(path, dtype=np.float64)
    if data.size != 2 * n:
        sys.exit(f"{path}: expected {2 * n} values, found {data.size}")
    x, y = data[:n], data[n:]
    best, tau = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = stats.kendalltau(x, y)
        best = min(best, time.perf_counter() - t0)
        tau = float(res[0])
    print(f"tau={tau!r} seconds={best:.6f} scipy={scipy.__version__}")


if __name__ == "__main__":
    main()
