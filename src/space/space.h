/* SPDX-License-Identifier: GPL-3.0-or-later */
/* space.h - search spaces as const vtables, and architectures as small values.
 * An nl_arch is a plain struct (copy it freely) that points at its space.
 * Every space lives in one file (nb201.c, nb101.c, mbv3.c) and exports one
 * `const nl_space nl_space_<name>`; space.c lists them in one registry that Lua
 * enumerates. Uses core (error, rng, progress). */
#ifndef NL_SPACE_H
#define NL_SPACE_H

#include <stddef.h>
#include <stdint.h>

#include "core/progress.h"
#include "core/rng.h"

/* NAS-Bench-201 cell: op[e] in 0..4 for the six edges in canonical order
 * (1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2); ops in the official order
 * none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3. */
typedef struct nl_nb201 {
    uint8_t op[6];
} nl_nb201;

/* NAS-Bench-101 cell, always stored pruned (as ModelSpec does): nv vertices
 * (2..7), adj[i] has bit j set for the edge i->j (i < j), op[0] = -1 (input),
 * op[nv-1] = -2 (output), interior op in 0..2 (conv3x3, conv1x1, maxpool3x3). */
typedef struct nl_nb101 {
    uint8_t nv;
    uint8_t adj[7];
    int8_t op[7];
} nl_nb101;

/* OFA MobileNetV3 subnet: input resolution, depth of each of the 5 elastic
 * stages (2..4), and kernel size (3/5/7) and expand ratio (3/4/6) of each of
 * the 20 layer slots (layer i is stage i/4, position i%4; slots beyond a
 * stage's depth are 0). */
typedef struct nl_mbv3 {
    uint16_t res;
    uint8_t depth[5];
    uint8_t ks[20];
    uint8_t e[20];
} nl_mbv3;

struct nl_space;

typedef struct nl_arch {
    const struct nl_space *space;
    union {
        nl_nb201 nb201;
        nl_nb101 nb101;
        nl_mbv3 mbv3;
    } u;
} nl_arch;

/* Options of the network whose cost a space counts. 0 means the space's
 * default: nb201 C=16, N=5, classes=10, resolution 32; nb101 stem 128,
 * classes 10, resolution 32; mbv3 resolution from the arch, classes 1000,
 * width multiplier 1.0 (width_x100 = 100). */
typedef struct nl_net_opts {
    int classes, C, N, resolution, width_x100;
} nl_net_opts;

typedef struct nl_space {
    const char *name;  /* "nb201" */
    const char *title; /* one line for listings */
    double size;       /* number of distinct architectures (nb101: 423624) */

    /* Text form. parse fails with NL_EPARSE and a message naming the position
     * and what was expected. format writes a NUL-terminated string into buf and
     * returns its length, or NL_ERANGE if cap is too small. */
    int (*parse)(const char *s, nl_arch *out);
    int (*format)(const nl_arch *a, char *buf, size_t cap);

    /* Random operators (all draw from r only). mutate changes exactly one
     * decision (and returns an arch different from a); crossover mixes two
     * parents decision by decision. */
    int (*sample)(nl_rng *r, nl_arch *out);
    int (*mutate)(const nl_arch *a, nl_rng *r, nl_arch *out);
    int (*crossover)(const nl_arch *a, const nl_arch *b, nl_rng *r, nl_arch *out);

    /* 1 if both archs are the same point of the space: the same stored form
     * (nb201, mbv3), or isomorphic cells with the same official hash (nb101). */
    int (*equal)(const nl_arch *a, const nl_arch *b);

    /* Parameter and FLOP counts of the space's network (see ALGORITHMS.md for
     * each space's counting convention; nb201 flops are MACs as the benchmark's
     * flop_benchmark.py, mbv3 flops are MAdds). Either out pointer may be NULL. */
    int (*cost)(const nl_arch *a, const nl_net_opts *o, int64_t *params, int64_t *flops);

    /* Encodings: NULL-terminated names; shape of one encoded arch; encode
     * writes exactly prod(shape) floats into out. Unknown kind: NL_ENOTFOUND
     * with a message listing the known kinds. */
    const char *const *encodings;
    int (*encode_shape)(const char *kind, int *ndim, int64_t shape[4]);
    int (*encode)(const nl_arch *a, const char *kind, float *out);

    /* Enumeration, for spaces small enough (NULL otherwise). prepare builds
     * what enumeration needs (idempotent; may take seconds, reports progress
     * and honours Ctrl-C). at(i) gives the i-th architecture for i in
     * [0, size); index is its inverse (NL_ENOTFOUND if not in the space). */
    int (*prepare)(nl_progress_fn fn, void *ud);
    int (*at)(int64_t i, nl_arch *out);
    int (*index)(const nl_arch *a, int64_t *out);

    /* Optional (NULL when the space has none): nb101's official module hash
     * as 32 lowercase hex chars + NUL into out[33]; nb101's spec constructor
     * from an n x n 0/1 matrix (row-major) and n op names. */
    int (*hash)(const nl_arch *a, char out[33]);
    int (*from_spec)(int n, const int *matrix, const char *const *ops, nl_arch *out);

    /* Optional: the canonical member of a's equivalence class (architectures
     * that compute the same function; each space documents what it merges).
     * NULL when every stored form is already canonical (nb101 stores pruned,
     * hash-unique cells). out may alias a. */
    int (*canonical)(const nl_arch *a, nl_arch *out);
} nl_space;

/* The registry: NULL-terminated, in display order. */
extern const nl_space *const nl_spaces[];
/* Look a space up by name; NL_ENOTFOUND (message lists the names) if unknown. */
int nl_space_find(const char *name, const nl_space **out);

/* Number of floats one arch of `sp` encodes to under `kind` into *numel, and
 * the shape into ndim/shape when those are not NULL. NL_ENOTFOUND (message
 * lists the kinds) for an unknown kind. */
int nl_space_encode_numel(const nl_space *sp, const char *kind, int64_t *numel, int *ndim,
                          int64_t shape[4]);

/* Encode n archs of `sp` under `kind` into out, which holds n * numel floats
 * (row i is arch i, laid out as encode() writes it). Fails with NL_EINVAL if
 * an arch belongs to another space, NL_ENOTFOUND for an unknown kind. */
int nl_space_encode_batch(const nl_space *sp, const nl_arch *archs, int64_t n, const char *kind,
                          float *out);

/* Number of distinct architectures of an enumerable space, i.e. of
 * equivalence classes under sp->canonical (sp->size when canonical is NULL).
 * Calls prepare() first and reports progress every 4096 archs; NL_EINVAL for
 * a space without enumeration, NL_EINTR when interrupted. */
int nl_space_distinct(const nl_space *sp, nl_progress_fn fn, void *ud, int64_t *out);

#endif
