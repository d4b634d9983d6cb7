/* SPDX-License-Identifier: GPL-3.0-or-later */
/* md5.c - MD5 (RFC 1321), written by hand from the RFC's description: no
 * library in naslab's Debian dependency set provides it, and NAS-Bench-101's
 * module hash needs it byte for byte. The NB101 enumeration hashes some 24
 * million short messages, hence the unrolled steps and the multi-buffer
 * forms that run 4 (SSE2) or 8 (AVX2) independent messages in SIMD lanes. */
#include "core/md5.h"

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

const uint32_t nl_md5_iv[4] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476 };

/* T[i] = floor(2^32 * |sin(i + 1)|), RFC 1321 section 3.4. */
static const uint32_t T[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

#define ROTL(x, s) (((x) << (s)) | ((x) >> (32 - (s))))
#define F(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define G(x, y, z) ((y) ^ ((z) & ((x) ^ (y))))
#define H(x, y, z) ((x) ^ (y) ^ (z))
#define I(x, y, z) ((y) ^ ((x) | ~(z)))
#define STEP(f, a, b, c, d, k, s, i) \
    (a) += f((b), (c), (d)) + X[k] + T[i]; \
    (a) = ROTL((a), (s)) + (b)

/* Process one 64-byte block; words are little-endian whatever the host. */
static void md5_block(uint32_t st[4], const uint8_t *p)
{
    uint32_t X[16];
    for (int i = 0; i < 16; i++)
        X[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
               (uint32_t)p[4 * i + 3] << 24;
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3];

    STEP(F, a, b, c, d, 0, 7, 0);    STEP(F, d, a, b, c, 1, 12, 1);
    STEP(F, c, d, a, b, 2, 17, 2);   STEP(F, b, c, d, a, 3, 22, 3);
    STEP(F, a, b, c, d, 4, 7, 4);    STEP(F, d, a, b, c, 5, 12, 5);
    STEP(F, c, d, a, b, 6, 17, 6);   STEP(F, b, c, d, a, 7, 22, 7);
    STEP(F, a, b, c, d, 8, 7, 8);    STEP(F, d, a, b, c, 9, 12, 9);
    STEP(F, c, d, a, b, 10, 17, 10); STEP(F, b, c, d, a, 11, 22, 11);
    STEP(F, a, b, c, d, 12, 7, 12);  STEP(F, d, a, b, c, 13, 12, 13);
    STEP(F, c, d, a, b, 14, 17, 14); STEP(F, b, c, d, a, 15, 22, 15);

    STEP(G, a, b, c, d, 1, 5, 16);   STEP(G, d, a, b, c, 6, 9, 17);
    STEP(G, c, d, a, b, 11, 14, 18); STEP(G, b, c, d, a, 0, 20, 19);
    STEP(G, a, b, c, d, 5, 5, 20);   STEP(G, d, a, b, c, 10, 9, 21);
    STEP(G, c, d, a, b, 15, 14, 22); STEP(G, b, c, d, a, 4, 20, 23);
    STEP(G, a, b, c, d, 9, 5, 24);   STEP(G, d, a, b, c, 14, 9, 25);
    STEP(G, c, d, a, b, 3, 14, 26);  STEP(G, b, c, d, a, 8, 20, 27);
    STEP(G, a, b, c, d, 13, 5, 28);  STEP(G, d, a, b, c, 2, 9, 29);
    STEP(G, c, d, a, b, 7, 14, 30);  STEP(G, b, c, d, a, 12, 20, 31);

    STEP(H, a, b, c, d, 5, 4, 32);   STEP(H, d, a, b, c, 8, 11, 33);
    STEP(H, c, d, a, b, 11, 16, 34); STEP(H, b, c, d, a, 14, 23, 35);
    STEP(H, a, b, c, d, 1, 4, 36);   STEP(H, d, a, b, c, 4, 11, 37);
    STEP(H, c, d, a, b, 7, 16, 38);  STEP(H, b, c, d, a, 10, 23, 39);
    STEP(H, a, b, c, d, 13, 4, 40);  STEP(H, d, a, b, c, 0, 11, 41);
    STEP(H, c, d, a, b, 3, 16, 42);  STEP(H, b, c, d, a, 6, 23, 43);
    STEP(H, a, b, c, d, 9, 4, 44);   STEP(H, d, a, b, c, 12, 11, 45);
    STEP(H, c, d, a, b, 15, 16, 46); STEP(H, b, c, d, a, 2, 23, 47);

    STEP(I, a, b, c, d, 0, 6, 48);   STEP(I, d, a, b, c, 7, 10, 49);
    STEP(I, c, d, a, b, 14, 15, 50); STEP(I, b, c, d, a, 5, 21, 51);
    STEP(I, a, b, c, d, 12, 6, 52);  STEP(I, d, a, b, c, 3, 10, 53);
    STEP(I, c, d, a, b, 10, 15, 54); STEP(I, b, c, d, a, 1, 21, 55);
    STEP(I, a, b, c, d, 8, 6, 56);   STEP(I, d, a, b, c, 15, 10, 57);
    STEP(I, c, d, a, b, 6, 15, 58);  STEP(I, b, c, d, a, 13, 21, 59);
    STEP(I, a, b, c, d, 4, 6, 60);   STEP(I, d, a, b, c, 11, 10, 61);
    STEP(I, c, d, a, b, 2, 15, 62);  STEP(I, b, c, d, a, 9, 21, 63);

    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
}

void nl_md5_init(nl_md5_ctx *m)
{
    memcpy(m->st, nl_md5_iv, sizeof m->st);
    m->len = 0;
}

#if defined(__SSE2__)
/* The same 64 steps on four lanes of 32-bit words. */
#define VROTL(x, s) _mm_or_si128(_mm_slli_epi32((x), (s)), _mm_srli_epi32((x), 32 - (s)))
#define VF(x, y, z) _mm_xor_si128((z), _mm_and_si128((x), _mm_xor_si128((y), (z))))
#define VG(x, y, z) _mm_xor_si128((y), _mm_and_si128((z), _mm_xor_si128((x), (y))))
#define VH(x, y, z) _mm_xor_si128(_mm_xor_si128((x), (y)), (z))
#define VI(x, y, z) _mm_xor_si128((y), _mm_or_si128((x), _mm_xor_si128((z), ones)))
#define VSTEP(f, a, b, c, d, k, s, i)                                                           \
    (a) = _mm_add_epi32(_mm_add_epi32((a), f((b), (c), (d))),                                   \
                        _mm_add_epi32(X[k], _mm_set1_epi32((int)T[i])));                        \
    (a) = _mm_add_epi32(VROTL((a), (s)), (b))

void nl_md5_compress4(uint32_t st[4][4], const uint8_t *const blk[4])
{
    __m128i X[16];
    /* Transpose: X[k] holds word k of the four blocks (x86 is little-endian,
     * as MD5's words are). */
    for (int j = 0; j < 4; j++) {
        __m128i r0 = _mm_loadu_si128((const __m128i *)(blk[0] + 16 * j));
        __m128i r1 = _mm_loadu_si128((const __m128i *)(blk[1] + 16 * j));
        __m128i r2 = _mm_loadu_si128((const __m128i *)(blk[2] + 16 * j));
        __m128i r3 = _mm_loadu_si128((const __m128i *)(blk[3] + 16 * j));
        __m128i t0 = _mm_unpacklo_epi32(r0, r1), t1 = _mm_unpackhi_epi32(r0, r1);
        __m128i t2 = _mm_unpacklo_epi32(r2, r3), t3 = _mm_unpackhi_epi32(r2, r3);
        X[4 * j] = _mm_unpacklo_epi64(t0, t2);
        X[4 * j + 1] = _mm_unpackhi_epi64(t0, t2);
        X[4 * j + 2] = _mm_unpacklo_epi64(t1, t3);
        X[4 * j + 3] = _mm_unpackhi_epi64(t1, t3);
    }
    const __m128i ones = _mm_set1_epi32(-1);
    __m128i a0 = _mm_loadu_si128((const __m128i *)st[0]), b0 = _mm_loadu_si128((const __m128i *)st[1]);
    __m128i c0 = _mm_loadu_si128((const __m128i *)st[2]), d0 = _mm_loadu_si128((const __m128i *)st[3]);
    __m128i a = a0, b = b0, c = c0, d = d0;

    VSTEP(VF, a, b, c, d, 0, 7, 0);    VSTEP(VF, d, a, b, c, 1, 12, 1);
    VSTEP(VF, c, d, a, b, 2, 17, 2);   VSTEP(VF, b, c, d, a, 3, 22, 3);
    VSTEP(VF, a, b, c, d, 4, 7, 4);    VSTEP(VF, d, a, b, c, 5, 12, 5);
    VSTEP(VF, c, d, a, b, 6, 17, 6);   VSTEP(VF, b, c, d, a, 7, 22, 7);
    VSTEP(VF, a, b, c, d, 8, 7, 8);    VSTEP(VF, d, a, b, c, 9, 12, 9);
    VSTEP(VF, c, d, a, b, 10, 17, 10); VSTEP(VF, b, c, d, a, 11, 22, 11);
    VSTEP(VF, a, b, c, d, 12, 7, 12);  VSTEP(VF, d, a, b, c, 13, 12, 13);
    VSTEP(VF, c, d, a, b, 14, 17, 14); VSTEP(VF, b, c, d, a, 15, 22, 15);

    VSTEP(VG, a, b, c, d, 1, 5, 16);   VSTEP(VG, d, a, b, c, 6, 9, 17);
    VSTEP(VG, c, d, a, b, 11, 14, 18); VSTEP(VG, b, c, d, a, 0, 20, 19);
    VSTEP(VG, a, b, c, d, 5, 5, 20);   VSTEP(VG, d, a, b, c, 10, 9, 21);
    VSTEP(VG, c, d, a, b, 15, 14, 22); VSTEP(VG, b, c, d, a, 4, 20, 23);
    VSTEP(VG, a, b, c, d, 9, 5, 24);   VSTEP(VG, d, a, b, c, 14, 9, 25);
    VSTEP(VG, c, d, a, b, 3, 14, 26);  VSTEP(VG, b, c, d, a, 8, 20, 27);
    VSTEP(VG, a, b, c, d, 13, 5, 28);  VSTEP(VG, d, a, b, c, 2, 9, 29);
    VSTEP(VG, c, d, a, b, 7, 14, 30);  VSTEP(VG, b, c, d, a, 12, 20, 31);

    VSTEP(VH, a, b, c, d, 5, 4, 32);   VSTEP(VH, d, a, b, c, 8, 11, 33);
    VSTEP(VH, c, d, a, b, 11, 16, 34); VSTEP(VH, b, c, d, a, 14, 23, 35);
    VSTEP(VH, a, b, c, d, 1, 4, 36);   VSTEP(VH, d, a, b, c, 4, 11, 37);
    VSTEP(VH, c, d, a, b, 7, 16, 38);  VSTEP(VH, b, c, d, a, 10, 23, 39);
    VSTEP(VH, a, b, c, d, 13, 4, 40);  VSTEP(VH, d, a, b, c, 0, 11, 41);
    VSTEP(VH, c, d, a, b, 3, 16, 42);  VSTEP(VH, b, c, d, a, 6, 23, 43);
    VSTEP(VH, a, b, c, d, 9, 4, 44);   VSTEP(VH, d, a, b, c, 12, 11, 45);
    VSTEP(VH, c, d, a, b, 15, 16, 46); VSTEP(VH, b, c, d, a, 2, 23, 47);

    VSTEP(VI, a, b, c, d, 0, 6, 48);   VSTEP(VI, d, a, b, c, 7, 10, 49);
    VSTEP(VI, c, d, a, b, 14, 15, 50); VSTEP(VI, b, c, d, a, 5, 21, 51);
    VSTEP(VI, a, b, c, d, 12, 6, 52);  VSTEP(VI, d, a, b, c, 3, 10, 53);
    VSTEP(VI, c, d, a, b, 10, 15, 54); VSTEP(VI, b, c, d, a, 1, 21, 55);
    VSTEP(VI, a, b, c, d, 8, 6, 56);   VSTEP(VI, d, a, b, c, 15, 10, 57);
    VSTEP(VI, c, d, a, b, 6, 15, 58);  VSTEP(VI, b, c, d, a, 13, 21, 59);
    VSTEP(VI, a, b, c, d, 4, 6, 60);   VSTEP(VI, d, a, b, c, 11, 10, 61);
    VSTEP(VI, c, d, a, b, 2, 15, 62);  VSTEP(VI, b, c, d, a, 9, 21, 63);

    _mm_storeu_si128((__m128i *)st[0], _mm_add_epi32(a, a0));
    _mm_storeu_si128((__m128i *)st[1], _mm_add_epi32(b, b0));
    _mm_storeu_si128((__m128i *)st[2], _mm_add_epi32(c, c0));
    _mm_storeu_si128((__m128i *)st[3], _mm_add_epi32(d, d0));
}
#else
void nl_md5_compress4(uint32_t st[4][4], const uint8_t *const blk[4])
{
    for (int l = 0; l < 4; l++) {
        uint32_t s[4] = { st[0][l], st[1][l], st[2][l], st[3][l] };
        md5_block(s, blk[l]);
        for (int w = 0; w < 4; w++) st[w][l] = s[w];
    }
}
#endif

#if defined(__GNUC__) && defined(__x86_64__) && defined(__SSE2__)
#include <immintrin.h>
#define HAVE_AVX2_PATH 1
#define WROTL(x, s) _mm256_or_si256(_mm256_slli_epi32((x), (s)), _mm256_srli_epi32((x), 32 - (s)))
#define WF(x, y, z) _mm256_xor_si256((z), _mm256_and_si256((x), _mm256_xor_si256((y), (z))))
#define WG(x, y, z) _mm256_xor_si256((y), _mm256_and_si256((z), _mm256_xor_si256((x), (y))))
#define WH(x, y, z) _mm256_xor_si256(_mm256_xor_si256((x), (y)), (z))
#define WI(x, y, z) _mm256_xor_si256((y), _mm256_or_si256((x), _mm256_xor_si256((z), ones)))
#define WSTEP(f, a, b, c, d, k, s, i)                                                           \
    (a) = _mm256_add_epi32(_mm256_add_epi32((a), f((b), (c), (d))),                             \
                           _mm256_add_epi32(X[k], _mm256_set1_epi32((int)T[i])));               \
    (a) = _mm256_add_epi32(WROTL((a), (s)), (b))

/* Words 4j..4j+3 of lanes base..base+3, transposed into out[0..3]. */
__attribute__((target("avx2"))) static inline void transpose4(const uint8_t *const *blk, int j, __m128i out[4])
{
    __m128i r0 = _mm_loadu_si128((const __m128i *)(blk[0] + 16 * j));
    __m128i r1 = _mm_loadu_si128((const __m128i *)(blk[1] + 16 * j));
    __m128i r2 = _mm_loadu_si128((const __m128i *)(blk[2] + 16 * j));
    __m128i r3 = _mm_loadu_si128((const __m128i *)(blk[3] + 16 * j));
    __m128i t0 = _mm_unpacklo_epi32(r0, r1), t1 = _mm_unpackhi_epi32(r0, r1);
    __m128i t2 = _mm_unpacklo_epi32(r2, r3), t3 = _mm_unpackhi_epi32(r2, r3);
    out[0] = _mm_unpacklo_epi64(t0, t2);
    out[1] = _mm_unpackhi_epi64(t0, t2);
    out[2] = _mm_unpacklo_epi64(t1, t3);
    out[3] = _mm_unpackhi_epi64(t1, t3);
}

__attribute__((target("avx2"))) static void compress8_avx2(uint32_t st[4][8], const uint8_t *const blk[8])
{
    __m256i X[16];
    for (int j = 0; j < 4; j++) {
        __m128i lo[4], hi[4];
        transpose4(blk, j, lo);
        transpose4(blk + 4, j, hi);
        for (int i = 0; i < 4; i++) X[4 * j + i] = _mm256_inserti128_si256(_mm256_castsi128_si256(lo[i]), hi[i], 1);
    }
    const __m256i ones = _mm256_set1_epi32(-1);
    __m256i a0 = _mm256_loadu_si256((const __m256i *)st[0]), b0 = _mm256_loadu_si256((const __m256i *)st[1]);
    __m256i c0 = _mm256_loadu_si256((const __m256i *)st[2]), d0 = _mm256_loadu_si256((const __m256i *)st[3]);
    __m256i a = a0, b = b0, c = c0, d = d0;

    WSTEP(WF, a, b, c, d, 0, 7, 0);    WSTEP(WF, d, a, b, c, 1, 12, 1);
    WSTEP(WF, c, d, a, b, 2, 17, 2);   WSTEP(WF, b, c, d, a, 3, 22, 3);
    WSTEP(WF, a, b, c, d, 4, 7, 4);    WSTEP(WF, d, a, b, c, 5, 12, 5);
    WSTEP(WF, c, d, a, b, 6, 17, 6);   WSTEP(WF, b, c, d, a, 7, 22, 7);
    WSTEP(WF, a, b, c, d, 8, 7, 8);    WSTEP(WF, d, a, b, c, 9, 12, 9);
    WSTEP(WF, c, d, a, b, 10, 17, 10); WSTEP(WF, b, c, d, a, 11, 22, 11);
    WSTEP(WF, a, b, c, d, 12, 7, 12);  WSTEP(WF, d, a, b, c, 13, 12, 13);
    WSTEP(WF, c, d, a, b, 14, 17, 14); WSTEP(WF, b, c, d, a, 15, 22, 15);

    WSTEP(WG, a, b, c, d, 1, 5, 16);   WSTEP(WG, d, a, b, c, 6, 9, 17);
    WSTEP(WG, c, d, a, b, 11, 14, 18); WSTEP(WG, b, c, d, a, 0, 20, 19);
    WSTEP(WG, a, b, c, d, 5, 5, 20);   WSTEP(WG, d, a, b, c, 10, 9, 21);
    WSTEP(WG, c, d, a, b, 15, 14, 22); WSTEP(WG, b, c, d, a, 4, 20, 23);
    WSTEP(WG, a, b, c, d, 9, 5, 24);   WSTEP(WG, d, a, b, c, 14, 9, 25);
    WSTEP(WG, c, d, a, b, 3, 14, 26);  WSTEP(WG, b, c, d, a, 8, 20, 27);
    WSTEP(WG, a, b, c, d, 13, 5, 28);  WSTEP(WG, d, a, b, c, 2, 9, 29);
    WSTEP(WG, c, d, a, b, 7, 14, 30);  WSTEP(WG, b, c, d, a, 12, 20, 31);

    WSTEP(WH, a, b, c, d, 5, 4, 32);   WSTEP(WH, d, a, b, c, 8, 11, 33);
    WSTEP(WH, c, d, a, b, 11, 16, 34); WSTEP(WH, b, c, d, a, 14, 23, 35);
    WSTEP(WH, a, b, c, d, 1, 4, 36);   WSTEP(WH, d, a, b, c, 4, 11, 37);
    WSTEP(WH, c, d, a, b, 7, 16, 38);  WSTEP(WH, b, c, d, a, 10, 23, 39);
    WSTEP(WH, a, b, c, d, 13, 4, 40);  WSTEP(WH, d, a, b, c, 0, 11, 41);
    WSTEP(WH, c, d, a, b, 3, 16, 42);  WSTEP(WH, b, c, d, a, 6, 23, 43);
    WSTEP(WH, a, b, c, d, 9, 4, 44);   WSTEP(WH, d, a, b, c, 12, 11, 45);
    WSTEP(WH, c, d, a, b, 15, 16, 46); WSTEP(WH, b, c, d, a, 2, 23, 47);

    WSTEP(WI, a, b, c, d, 0, 6, 48);   WSTEP(WI, d, a, b, c, 7, 10, 49);
    WSTEP(WI, c, d, a, b, 14, 15, 50); WSTEP(WI, b, c, d, a, 5, 21, 51);
    WSTEP(WI, a, b, c, d, 12, 6, 52);  WSTEP(WI, d, a, b, c, 3, 10, 53);
    WSTEP(WI, c, d, a, b, 10, 15, 54); WSTEP(WI, b, c, d, a, 1, 21, 55);
    WSTEP(WI, a, b, c, d, 8, 6, 56);   WSTEP(WI, d, a, b, c, 15, 10, 57);
    WSTEP(WI, c, d, a, b, 6, 15, 58);  WSTEP(WI, b, c, d, a, 13, 21, 59);
    WSTEP(WI, a, b, c, d, 4, 6, 60);   WSTEP(WI, d, a, b, c, 11, 10, 61);
    WSTEP(WI, c, d, a, b, 2, 15, 62);  WSTEP(WI, b, c, d, a, 9, 21, 63);


    _mm256_storeu_si256((__m256i *)st[0], _mm256_add_epi32(a, a0));
    _mm256_storeu_si256((__m256i *)st[1], _mm256_add_epi32(b, b0));
    _mm256_storeu_si256((__m256i *)st[2], _mm256_add_epi32(c, c0));
    _mm256_storeu_si256((__m256i *)st[3], _mm256_add_epi32(d, d0));
}
#endif

void nl_md5_compress8(uint32_t st[4][8], const uint8_t *const blk[8])
{
#ifdef HAVE_AVX2_PATH
    if (__builtin_cpu_supports("avx2")) {
        compress8_avx2(st, blk);
        return;
    }
#endif
    for (int half = 0; half < 2; half++) {
        uint32_t s4[4][4];
        for (int w = 0; w < 4; w++)
            for (int l = 0; l < 4; l++) s4[w][l] = st[w][4 * half + l];
        nl_md5_compress4(s4, blk + 4 * half);
        for (int w = 0; w < 4; w++)
            for (int l = 0; l < 4; l++) st[w][4 * half + l] = s4[w][l];
    }
}

void nl_md5_update(nl_md5_ctx *m, const void *data, size_t n)
{
    const uint8_t *p = data;
    size_t have = (size_t)(m->len & 63);
    m->len += n;
    if (have) {
        size_t take = 64 - have < n ? 64 - have : n;
        memcpy(m->buf + have, p, take);
        p += take;
        n -= take;
        if (have + take < 64) return;
        md5_block(m->st, m->buf);
    }
    for (; n >= 64; p += 64, n -= 64) md5_block(m->st, p);
    if (n) memcpy(m->buf, p, n);
}

void nl_md5_final(nl_md5_ctx *m, uint8_t out[16])
{
    uint64_t bits = m->len * 8;
    size_t have = (size_t)(m->len & 63);
    /* Pad with 0x80 then zeros up to 56 mod 64, then the bit length (LE). */
    m->buf[have++] = 0x80;
    if (have > 56) {
        memset(m->buf + have, 0, 64 - have);
        md5_block(m->st, m->buf);
        have = 0;
    }
    memset(m->buf + have, 0, 56 - have);
    for (int i = 0; i < 8; i++) m->buf[56 + i] = (uint8_t)(bits >> (8 * i));
    md5_block(m->st, m->buf);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) out[4 * i + j] = (uint8_t)(m->st[i] >> (8 * j));
}

void nl_md5(const void *data, size_t n, uint8_t out[16])
{
    nl_md5_ctx m;
    nl_md5_init(&m);
    nl_md5_update(&m, data, n);
    nl_md5_final(&m, out);
}

void nl_md5_hex(const uint8_t digest[16], char out[33])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[32] = '\0';
}
