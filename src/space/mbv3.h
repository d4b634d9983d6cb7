/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mbv3.h - the once-for-all MobileNetV3 space (nl_space_mbv3): 5 elastic stages
 * of depth 2..4, kernel 3/5/7 and expand ratio 3/4/6 per layer, input
 * resolution 128..224 in steps of 4 (OFA's 25 choices); text form, random
 * operators, MAdds and params of the ImageNet network, and the "int" and
 * "onehot" encodings.
 *
 * Text form: "r224:d4,3,2,4,4:k7,5,...:e6,4,..." -- the resolution, the five
 * stage depths, then the kernel sizes and then the expand ratios of the active
 * layers only (sum of the depths entries each), stage by stage.
 *
 * Network (OFA's OFAMobileNetV3, width 1.0 unless width_x100 says otherwise):
 * conv3x3 s2 3->16 + BN + h_swish; a fixed depthwise-separable block (dw3x3
 * 16, pw 16->16); the 5 stages (widths 24, 40, 80, 112, 160; first-layer
 * strides 2, 2, 2, 1, 2; SE in stages 2, 4 and 5); MBConv = pw expand to
 * mid = make_divisible(in*e, 8) + BN, dw kxk + BN, SE (reduce to
 * make_divisible(mid/4, 8), both 1x1 convs with bias), pw project + BN; then
 * 1x1 to 960 + BN, global pool, 1x1 960->1280 (no BN, no bias), linear
 * 1280->classes. Params count every weight, bias and BN gamma/beta. MAdds
 * follow OFA's flops_counter: k*k*Cin/groups*Cout*Hout*Wout per conv (SE
 * convs at 1x1), in*out per linear layer; BN, activations, pooling and
 * biases are free.
 *
 * Encodings: "int" [46] = resolution, 5 depths, 20 kernel sizes, 20 expand
 * ratios (0 for layers beyond a stage's depth); "onehot" [145] = OFA's
 * accuracy-predictor encoding: for layer i (stage i/4, position i%4) a
 * one-hot of k in (3,5,7) at 3i, of e in (3,4,6) at 60+3i (all zero beyond a
 * stage's depth), and the resolution one-hot at 120 + (r-128)/4. */
#ifndef NL_MBV3_H
#define NL_MBV3_H

#include <stdint.h>

#include "space/space.h"

#define NL_MBV3_RES_MIN 128
#define NL_MBV3_RES_MAX 224
#define NL_MBV3_RES_STEP 4

extern const nl_space nl_space_mbv3;

/* One inverted-residual layer: kernel size, expanded (mid) channels, output
 * channels, stride, and whether it has squeeze-and-excitation. A layer whose
 * mid equals its input channels has no expand conv (MobileNet's first
 * block). */
typedef struct nl_mbv3_layer {
    int kernel, mid, out, stride, se;
} nl_mbv3_layer;

/* Params and MAdds of a MobileNetV3-style network at res x res: first conv
 * 3x3 s2 3->stem + BN, the n layers, 1x1 to final_expand + BN, global pool,
 * 1x1 final_expand->last_channel without BN (with bias when mix_bias), and a
 * linear layer to `classes` with bias; counting conventions as stated above.
 * Either out pointer may be NULL. NL_EINVAL for non-positive sizes. */
int nl_mbv3_net_cost(int res, int stem, const nl_mbv3_layer *layers, int n, int final_expand,
                     int last_channel, int classes, int mix_bias, int64_t *params, int64_t *madds);

/* OFA's make_divisible(v, 8): round to the nearest multiple of 8 (at least 8),
 * going up a step when rounding down would lose more than 10%. */
int nl_mbv3_make_divisible(double v);

#endif
