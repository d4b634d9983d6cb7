/* SPDX-License-Identifier: GPL-3.0-or-later */
/* rng.c - xoshiro256** (Blackman and Vigna, public-domain reference algorithm),
 * splitmix64 seeding, unbiased bounded integers, permutations (see rng.h). */
#include "core/rng.h"

#include <math.h>
#include <string.h>

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void nl_rng_seed(nl_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    r->has_spare = 0;
    r->spare = 0;
}

void nl_rng_seed_stream(nl_rng *r, uint64_t seed, uint64_t stream)
{
    nl_rng_seed(r, seed);
    for (uint64_t i = 0; i < stream; i++) nl_rng_jump(r);
}

uint64_t nl_rng_u64(nl_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

void nl_rng_jump(nl_rng *r)
{
    static const uint64_t jump[] = { 0x180ec6d33cfd0abaULL, 0xd5a61266f0c9392cULL,
                                     0xa9582618e03fc9aaULL, 0x39abdc4529b1661cULL };
    uint64_t t[4] = { 0, 0, 0, 0 };
    for (int i = 0; i < 4; i++)
        for (int b = 0; b < 64; b++) {
            if (jump[i] & (UINT64_C(1) << b))
                for (int k = 0; k < 4; k++) t[k] ^= r->s[k];
            nl_rng_u64(r);
        }
    memcpy(r->s, t, sizeof t);
    r->has_spare = 0;
}

double nl_rng_uniform(nl_rng *r) { return (double)(nl_rng_u64(r) >> 11) * 0x1.0p-53; }

double nl_rng_normal(nl_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u, v, s;
    do {
        u = 2.0 * nl_rng_uniform(r) - 1.0;
        v = 2.0 * nl_rng_uniform(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double m = sqrt(-2.0 * log(s) / s);
    r->spare = v * m;
    r->has_spare = 1;
    return u * m;
}

uint64_t nl_rng_below(nl_rng *r, uint64_t n)
{
    if (n == 0) return 0;
    __uint128_t m = (__uint128_t)nl_rng_u64(r) * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t threshold = -n % n;
        while (lo < threshold) {
            m = (__uint128_t)nl_rng_u64(r) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

int64_t nl_rng_int(nl_rng *r, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)hi - (uint64_t)lo + 1; /* 0 means the full range */
    if (span == 0) return (int64_t)nl_rng_u64(r);
    return (int64_t)((uint64_t)lo + nl_rng_below(r, span));
}

void nl_rng_permutation(nl_rng *r, int64_t *out, int64_t n)
{
    for (int64_t i = 0; i < n; i++) out[i] = i;
    nl_rng_shuffle(r, out, n, sizeof *out);
}

void nl_rng_shuffle(nl_rng *r, void *base, int64_t n, size_t size)
{
    unsigned char *p = base, tmp[64];
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)nl_rng_below(r, (uint64_t)i + 1);
        if (j == i) continue;
        unsigned char *a = p + (size_t)i * size, *b = p + (size_t)j * size;
        for (size_t off = 0; off < size; off += sizeof tmp) {
            size_t c = size - off < sizeof tmp ? size - off : sizeof tmp;
            memcpy(tmp, a + off, c);
            memcpy(a + off, b + off, c);
            memcpy(b + off, tmp, c);
        }
    }
}
