#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""nb101_enum_peer.py - the peer of bench/bench_nb101.c: NAS-Bench-101's graph
enumeration done the way the official generate_graphs.py does it (every
upper-triangular bit pattern, the full-DAG and edge-count filters, every
labelling, bucketing by the iterated-MD5 module hash with hashlib), written
from the description in ALGORITHMS.md section 0.1 without numpy.

Usage: nb101_enum_peer.py [MAX_V]   (default 7; the benchmark uses 6)
Prints one line: "count=N seconds=S digest=D", where D is the MD5 of the
sorted unique hashes joined by newlines, so the C side can compare sets.
"""
import hashlib
import itertools
import sys
import time


def module_hash(n, mat, labels):
    """Official module hash of an n-vertex 0/1 matrix (list of rows)."""
    out_deg = [sum(mat[v]) for v in range(n)]
    in_deg = [sum(mat[w][v] for w in range(n)) for v in range(n)]
    h = [hashlib.md5(str((out_deg[v], in_deg[v], labels[v])).encode('utf-8')).hexdigest()
         for v in range(n)]
    for _ in range(n):
        nxt = []
        for v in range(n):
            ins = sorted(h[w] for w in range(n) if mat[w][v])
            outs = sorted(h[w] for w in range(n) if mat[v][w])
            msg = ''.join(ins) + '|' + ''.join(outs) + '|' + h[v]
            nxt.append(hashlib.md5(msg.encode('utf-8')).hexdigest())
        h = nxt
    return hashlib.md5(str(sorted(h)).encode('utf-8')).hexdigest()


def full_dag(n, mat):
    """No all-zero row but the last, no all-zero column but the first."""
    for v in range(n - 1):
        if not any(mat[v]):
            return False
    for v in range(1, n):
        if not any(mat[w][v] for w in range(n)):
            return False
    return True


def enumerate_cells(max_v, max_edges=9, num_ops=3):
    buckets = {}
    for n in range(2, max_v + 1):
        nbits = n * (n - 1) // 2
        for bits in range(1 << nbits):
            # Edge (x, y) is bit x + y(y-1)/2: column-major upper triangle.
            mat = [[1 if x < y and (bits >> (x + y * (y - 1) // 2)) & 1 else 0
                    for y in range(n)] for x in range(n)]
            if not full_dag(n, mat) or sum(map(sum, mat)) > max_edges:
                continue
            for lab in itertools.product(range(num_ops), repeat=n - 2):
                labels = [-1] + list(lab) + [-2]
                key = module_hash(n, mat, labels)
                if key not in buckets:
                    buckets[key] = (bits, labels)
    return buckets


def main():
    max_v = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    t0 = time.perf_counter()
    buckets = enumerate_cells(max_v)
    dt = time.perf_counter() - t0
    digest = hashlib.md5('\n'.join(sorted(buckets)).encode('ascii')).hexdigest()
    print('count=%d seconds=%.3f digest=%s' % (len(buckets), dt, digest))


if __name__ == '__main__':
    main()
