/* SPDX-License-Identifier: GPL-3.0-or-later */
/* rng.h - naslab's random number generator: xoshiro256** seeded through
 * splitmix64, with jump() for independent streams. Every random choice in
 * naslab draws from an explicit nl_rng, so a seed fixes a run bit for bit on
 * every machine. Written by hand: it is 40 lines and no Debian library offers
 * a seedable, splittable generator with a stable sequence. */
#ifndef NL_RNG_H
#define NL_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct nl_rng {
    uint64_t s[4];
    double spare;   /* second normal deviate of the polar method */
    int has_spare;
} nl_rng;

/* Seed `r` from a 64-bit seed (any value, 0 included). */
void nl_rng_seed(nl_rng *r, uint64_t seed);
/* Seed `r` as stream number `stream` of `seed`: the seed's generator advanced
 * by `stream` jumps of 2^128 draws, so streams never overlap. */
void nl_rng_seed_stream(nl_rng *r, uint64_t seed, uint64_t stream);
/* Advance by 2^128 draws (the xoshiro256 jump polynomial). */
void nl_rng_jump(nl_rng *r);

/* Next raw 64-bit value. */
uint64_t nl_rng_u64(nl_rng *r);
/* Uniform double in [0, 1) with 53 random bits. */
double nl_rng_uniform(nl_rng *r);
/* Standard normal deviate (Marsaglia polar method). */
double nl_rng_normal(nl_rng *r);
/* Uniform integer in [0, n) without bias (Lemire's method); n must be > 0
 * (returns 0 for n == 0). */
uint64_t nl_rng_below(nl_rng *r, uint64_t n);
/* Uniform integer in [lo, hi], both inclusive; requires lo <= hi. */
int64_t nl_rng_int(nl_rng *r, int64_t lo, int64_t hi);
/* Fill out[0..n) with a uniformly random permutation of 0..n-1. */
void nl_rng_permutation(nl_rng *r, int64_t *out, int64_t n);
/* Shuffle n elements of `size` bytes each in place (Fisher-Yates). */
void nl_rng_shuffle(nl_rng *r, void *base, int64_t n, size_t size);

#endif
