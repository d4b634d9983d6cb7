#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# ofa_flops.py - an independent recount of OFA MobileNetV3 subnets, written from
# the published architecture (ofa_mbv3.py's layer settings), used to derive the
# reference constants of tests/test_mbv3.c. It counts two ways:
#   - multiply-adds and parameters, naslab's convention;
#   - "FLOPs" as mmcv's complexity counter reports them in MMRazor's OFA model
#     table: multiply-adds plus 2*numel for each BN output, numel for each ReLU
#     output, the input numel of each pooling, and each conv/linear bias
#     (hswish/hsigmoid and elementwise products are not counted).
# Usage: python3 tests/ref/ofa_flops.py
def make_divisible(v, d=8):
    n = max(d, int(v + d / 2) // d * d)
    return n + d if n < 0.9 * v else n


def count(res, depths, ks, es):
    width = [16, 16, 24, 40, 80, 112, 160, 960, 1280]
    stride = [1, 2, 2, 2, 1, 2]
    se = [0, 0, 1, 0, 1, 1]
    act = ["relu", "relu", "relu", "hswish", "hswish", "hswish"]
    tot = {"mac": 0, "extra": 0, "par": 0}

    def conv(cin, cout, k, hout, groups=1, bias=False, bn=True, a=None):
        tot["mac"] += hout * hout * cout * k * k * cin // groups
        tot["par"] += k * k * cin // groups * cout
        n = hout * hout * cout
        if bias:
            tot["extra"] += n
            tot["par"] += cout
        if bn:
            tot["extra"] += 2 * n
            tot["par"] += 2 * cout
        if a == "relu":
            tot["extra"] += n

    h = (res + 1) // 2
    conv(3, 16, 3, h, a="hswish")                 # first conv, stride 2
    conv(16, 16, 3, h, groups=16, a="relu")       # first block: depthwise
    conv(16, 16, 1, h)                            # and point-linear
    cin, li = 16, 0
    for s in range(5):
        for i in range(depths[s]):
            k, e = ks[li], es[li]
            li += 1
            mid = make_divisible(cin * e)
            st = stride[s + 1] if i == 0 else 1
            hout = (h - 1) // st + 1 if st > 1 else h
            conv(cin, mid, 1, h, a=act[s + 1])                   # inverted bottleneck
            conv(mid, mid, k, hout, groups=mid, a=act[s + 1])    # depthwise
            if se[s + 1]:
                red = make_divisible(mid // 4)
                tot["extra"] += hout * hout * mid                # squeeze: average pool
                conv(mid, red, 1, 1, bias=True, bn=False, a="relu")
                conv(red, mid, 1, 1, bias=True, bn=False)
            conv(mid, width[s + 2], 1, hout)                     # point-linear
            cin, h = width[s + 2], hout
    conv(160, 960, 1, h, a="hswish")
    tot["extra"] += h * h * 960                                  # global average pool
    conv(960, 1280, 1, 1, bn=False, a="hswish")                  # feature mix
    tot["mac"] += 1280 * 1000
    tot["par"] += 1280 * 1000 + 1000
    tot["extra"] += 1000
    return tot["mac"], tot["mac"] + tot["extra"], tot["par"]


# OFA's specialised subnets for the Samsung Note8, as MMRazor lists them
# (configs/nas/mmcls/onceforall: OFA_SUBNET_NOTE8_LAT22.yaml / LAT31.yaml,
# README: 4.3M params 70.9M FLOPs, and 4.6M params 105.4M FLOPs).
print("note8_lat@22ms", count(140, [2] * 5, [3, 3, 5, 5, 7, 3, 5, 3, 3, 7], [3, 3, 3, 3, 4, 3, 3, 4, 6, 6]))
print("note8_lat@31ms", count(152, [2, 2, 3, 3, 4], [5, 3, 5, 5, 3, 3, 5, 3, 5, 7, 3, 3, 5, 5],
                              [3, 3, 4, 3, 4, 4, 4, 4, 3, 4, 6, 3, 3, 3]))
