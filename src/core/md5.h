/* SPDX-License-Identifier: GPL-3.0-or-later */
/* md5.h - the MD5 message digest of RFC 1321, streaming and one-shot, plus
 * lowercase hex output. naslab needs it only to reproduce NAS-Bench-101's
 * module hash byte for byte; it is written by hand from the RFC because no
 * library in our Debian dependency set (OpenBLAS, zlib, Lua, ncurses,
 * readline) provides MD5. Uses only libc. */
#ifndef NL_MD5_H
#define NL_MD5_H

#include <stddef.h>
#include <stdint.h>

typedef struct nl_md5_ctx {
    uint32_t st[4];
    uint64_t len;       /* bytes hashed so far */
    uint8_t buf[64];    /* pending partial block */
} nl_md5_ctx;

/* Start a digest in `m` (caller-provided storage; nothing to free). */
void nl_md5_init(nl_md5_ctx *m);
/* Add n bytes at data (n may be 0). */
void nl_md5_update(nl_md5_ctx *m, const void *data, size_t n);
/* Finish: write the 16-byte digest to out. `m` must be re-initialised before
 * another use. */
void nl_md5_final(nl_md5_ctx *m, uint8_t out[16]);
/* One-shot digest of n bytes at data into out[16]. Never fails. */
void nl_md5(const void *data, size_t n, uint8_t out[16]);
/* Compress one 64-byte block into each of 4 independent MD5 states at once
 * (SSE2 when the compiler targets it, else one after another); the
 * multi-buffer building block for hashing many short messages. st[w][lane]
 * is word w of lane's state; blk[lane] points at that lane's block. The
 * caller pads messages (RFC 1321 section 3.1-3.2) and sets the initial state
 * (nl_md5_iv). */
void nl_md5_compress4(uint32_t st[4][4], const uint8_t *const blk[4]);
/* The same for 8 lanes (st[w][lane]): AVX2 when the processor has it (checked
 * at run time), else two 4-lane calls. */
void nl_md5_compress8(uint32_t st[4][8], const uint8_t *const blk[8]);
/* The four initial state words A, B, C, D. */
extern const uint32_t nl_md5_iv[4];
/* Write the 32 lowercase hex digits of a digest plus a NUL into out[33]. */
void nl_md5_hex(const uint8_t digest[16], char out[33]);

#endif
