/* SPDX-License-Identifier: GPL-3.0-or-later */
/* nb201.c - the NAS-Bench-201 space: cell strings, index, random operators,
 * canonical forms, costs of the benchmark's network and three encodings (the
 * conventions are stated in nb201.h). Uses core (error, rng). */
#include "space/nb201.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"

static const char *const op_names[NL_NB201_NOPS] = { "none", "skip_connect", "nor_conv_1x1",
                                                     "nor_conv_3x3", "avg_pool_3x3" };

/* Source and destination node of each edge, canonical order. */
static const int edge_from[NL_NB201_NEDGES] = { 0, 0, 1, 0, 1, 2 };
static const int edge_to[NL_NB201_NEDGES] = { 1, 2, 2, 3, 3, 3 };

enum { OP_NONE, OP_SKIP, OP_CONV1, OP_CONV3, OP_POOL };

const char *nl_nb201_op_name(int k)
{
    return k >= 0 && k < NL_NB201_NOPS ? op_names[k] : NULL;
}

static nl_arch make(const uint8_t op[6])
{
    nl_arch a;
    memset(&a, 0, sizeof a);
    a.space = &nl_space_nb201;
    memcpy(a.u.nb201.op, op, 6);
    return a;
}

/* ---------------------------------------------------------------- text */

/* Describe what sits at s[pos] for an error message. */
static const char *found_at(const char *s, size_t pos, char *buf, size_t cap)
{
    if (!s[pos]) return "end of string";
    size_t n = 0;
    while (s[pos + n] && s[pos + n] != '|' && s[pos + n] != '~' && s[pos + n] != '+' && n < 24) n++;
    if (n == 0) n = 1;
    snprintf(buf, cap, "'%.*s'", (int)n, s + pos);
    return buf;
}

static int perr(const char *s, size_t pos, const char *expected)
{
    char buf[40];
    return nl_err(NL_EPARSE, "bad nb201 cell at character %zu: expected %s, found %s", pos + 1, expected,
                  found_at(s, pos, buf, sizeof buf));
}

static int parse(const char *s, nl_arch *out)
{
    uint8_t op[6];
    size_t p = 0;
    int e = 0;
    if (!s) return nl_err(NL_EINVAL, "nb201 cell string is NULL");
    for (int node = 1; node <= 3; node++) {
        if (node > 1) {
            if (s[p] != '+') return perr(s, p, "'+'");
            p++;
        }
        if (s[p] != '|') return perr(s, p, "'|'");
        p++;
        for (int src = 0; src < node; src++, e++) {
            int k = -1;
            for (int i = 0; i < NL_NB201_NOPS; i++) {
                size_t len = strlen(op_names[i]);
                if (strncmp(s + p, op_names[i], len) == 0 && s[p + len] == '~') k = i;
            }
            if (k < 0)
                return perr(s, p, "an operation (none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3)");
            p += strlen(op_names[k]) + 1;
            if (s[p] != '0' + src) {
                char want[16];
                snprintf(want, sizeof want, "'%d'", src);
                return perr(s, p, want);
            }
            p++;
            if (s[p] != '|') return perr(s, p, "'|'");
            p++;
            op[e] = (uint8_t)k;
        }
    }
    if (s[p]) return perr(s, p, "end of string");
    *out = make(op);
    return 0;
}

static int format(const nl_arch *a, char *buf, size_t cap)
{
    char tmp[160];
    size_t n = 0;
    int e = 0;
    for (int node = 1; node <= 3; node++) {
        if (node > 1) tmp[n++] = '+';
        tmp[n++] = '|';
        for (int src = 0; src < node; src++, e++) {
            int k = a->u.nb201.op[e];
            if (k >= NL_NB201_NOPS) return nl_err(NL_EINVAL, "nb201 edge %d has op %d (expected 0..4)", e, k);
            n += (size_t)snprintf(tmp + n, sizeof tmp - n, "%s~%d|", op_names[k], src);
        }
    }
    tmp[n] = '\0';
    if (n + 1 > cap) return nl_err(NL_ERANGE, "buffer of %zu bytes too small for %zu", cap, n + 1);
    memcpy(buf, tmp, n + 1);
    return (int)n;
}

/* ---------------------------------------------------------------- random operators */

static int sample(nl_rng *r, nl_arch *out)
{
    uint8_t op[6];
    for (int e = 0; e < 6; e++) op[e] = (uint8_t)nl_rng_below(r, NL_NB201_NOPS);
    *out = make(op);
    return 0;
}

static int mutate(const nl_arch *a, nl_rng *r, nl_arch *out)
{
    uint8_t op[6];
    memcpy(op, a->u.nb201.op, 6);
    int e = (int)nl_rng_below(r, 6);
    op[e] = (uint8_t)((op[e] + 1 + nl_rng_below(r, NL_NB201_NOPS - 1)) % NL_NB201_NOPS);
    *out = make(op);
    return 0;
}

static int crossover(const nl_arch *a, const nl_arch *b, nl_rng *r, nl_arch *out)
{
    uint8_t op[6];
    for (int e = 0; e < 6; e++) op[e] = nl_rng_below(r, 2) ? b->u.nb201.op[e] : a->u.nb201.op[e];
    *out = make(op);
    return 0;
}

static int equal(const nl_arch *a, const nl_arch *b)
{
    return a->space == b->space && memcmp(a->u.nb201.op, b->u.nb201.op, 6) == 0;
}

/* ---------------------------------------------------------------- enumeration */

static int prepare(nl_progress_fn fn, void *ud)
{
    (void)fn;
    (void)ud;
    return 0;
}

static int at(int64_t i, nl_arch *out)
{
    if (i < 0 || i >= NL_NB201_SIZE)
        return nl_err(NL_ERANGE, "nb201 index %lld out of range 0..%d", (long long)i, NL_NB201_SIZE - 1);
    uint8_t op[6];
    for (int e = 5; e >= 0; e--) {
        op[e] = (uint8_t)(i % 5);
        i /= 5;
    }
    *out = make(op);
    return 0;
}

static int64_t index_of(const uint8_t op[6])
{
    int64_t i = 0;
    for (int e = 0; e < 6; e++) i = i * 5 + op[e];
    return i;
}

static int index_fn(const nl_arch *a, int64_t *out)
{
    for (int e = 0; e < 6; e++)
        if (a->u.nb201.op[e] >= NL_NB201_NOPS)
            return nl_err(NL_ENOTFOUND, "nb201 edge %d has op %d (expected 0..4)", e, a->u.nb201.op[e]);
    *out = index_of(a->u.nb201.op);
    return 0;
}

/* ---------------------------------------------------------------- canonical form */

static void prune(uint8_t op[6])
{
    int fwd[4], bwd[4];
    fwd[0] = 1;
    for (int i = 1; i < 4; i++) {
        fwd[i] = 0;
        for (int e = 0; e < 6; e++)
            if (edge_to[e] == i && op[e] != OP_NONE && fwd[edge_from[e]]) fwd[i] = 1;
    }
    bwd[3] = 1;
    for (int j = 2; j >= 0; j--) {
        bwd[j] = 0;
        for (int e = 0; e < 6; e++)
            if (edge_from[e] == j && op[e] != OP_NONE && bwd[edge_to[e]]) bwd[j] = 1;
    }
    for (int e = 0; e < 6; e++)
        if (!fwd[edge_from[e]] || !bwd[edge_to[e]]) op[e] = OP_NONE;
}

static int canonical(const nl_arch *a, nl_arch *out)
{
    uint8_t op[6];
    memcpy(op, a->u.nb201.op, 6);
    prune(op);
    if (op[2] == OP_NONE) {
        /* Without the 2<-1 edge, nodes 1 and 2 are interchangeable. */
        uint8_t sw[6] = { op[1], op[0], OP_NONE, op[3], op[5], op[4] };
        if (index_of(sw) < index_of(op)) memcpy(op, sw, 6);
    }
    *out = make(op);
    return 0;
}

/* ---------------------------------------------------------------- costs */

typedef struct net_dims {
    int C, N, classes, res;
} net_dims;

static int dims(const nl_net_opts *o, net_dims *d)
{
    d->C = o && o->C ? o->C : 16;
    d->N = o && o->N ? o->N : 5;
    d->classes = o && o->classes ? o->classes : 10;
    d->res = o && o->resolution ? o->resolution : 32;
    if (o && o->width_x100 && o->width_x100 != 100)
        return nl_err(NL_EINVAL, "nb201 has no width multiplier (got %.2f); set C instead", o->width_x100 / 100.0);
    if (d->C < 1 || d->N < 1 || d->classes < 1 || d->res < 4 || d->C > 4096 || d->N > 1000 ||
        d->res > 4096 || d->classes > 1000000)
        return nl_err(NL_EINVAL, "nb201 network options out of range (C=%d, N=%d, classes=%d, resolution=%d)",
                      d->C, d->N, d->classes, d->res);
    return 0;
}

/* Params and MACs of one edge op on C channels at HxH. */
static void edge_cost(int op, int64_t C, int64_t H, int64_t *p, int64_t *f)
{
    int64_t k = op == OP_CONV3 ? 3 : op == OP_CONV1 ? 1 : 0;
    *p = k ? k * k * C * C + 2 * C : 0;
    *f = k ? k * k * C * C * H * H : 0;
}

static int cost(const nl_arch *a, const nl_net_opts *o, int64_t *params, int64_t *flops)
{
    net_dims d;
    int rc = dims(o, &d);
    if (rc) return rc;
    int64_t p = 0, f = 0, C = d.C, H = d.res;
    p += 27 * C + 2 * C; /* stem conv3x3 3->C, BN */
    f += 27 * C * H * H;
    for (int stage = 0; stage < 3; stage++) {
        if (stage > 0) {
            /* ResNet basic block, stride 2: ReLUConvBN 3x3 s2, ReLUConvBN 3x3,
             * shortcut AvgPool(2,2) then conv1x1 without BN. */
            int64_t Ho = (H - 1) / 2 + 1, Hp = H / 2, Co = 2 * C;
            p += 9 * C * Co + 2 * Co + 9 * Co * Co + 2 * Co + C * Co;
            f += 9 * C * Co * Ho * Ho + 9 * Co * Co * Ho * Ho + C * Co * Hp * Hp;
            C = Co;
            H = Ho;
        }
        for (int e = 0; e < 6; e++) {
            int64_t ep, ef;
            edge_cost(a->u.nb201.op[e], C, H, &ep, &ef);
            p += ep * d.N;
            f += ef * d.N;
        }
    }
    p += 2 * C + C * d.classes + d.classes; /* final BN, classifier */
    f += C * d.classes + d.classes;
    if (params) *params = p;
    if (flops) *flops = f;
    return 0;
}

/* ---------------------------------------------------------------- encodings */

static const char *const encodings[] = { "onehot", "path", "renas", "renas_onehot", NULL };

static int encode_shape(const char *kind, int *ndim, int64_t shape[4])
{
    if (kind && strcmp(kind, "onehot") == 0) {
        *ndim = 1;
        shape[0] = 30;
    } else if (kind && strcmp(kind, "path") == 0) {
        *ndim = 1;
        shape[0] = 155;
    } else if (kind && strcmp(kind, "renas") == 0) {
        *ndim = 3;
        shape[0] = 31;
        shape[1] = 4;
        shape[2] = 4;
    } else if (kind && strcmp(kind, "renas_onehot") == 0) {
        *ndim = 3;
        shape[0] = 35;
        shape[1] = 4;
        shape[2] = 4;
    } else {
        return nl_err(NL_ENOTFOUND, "unknown nb201 encoding '%s' (known: onehot, path, renas, renas_onehot)",
                      kind ? kind : "(null)");
    }
    return 0;
}

/* The 30 FLOPs and params matrices of the renas tensors, from `out` on. */
static void renas_costs(const uint8_t *op, float *out)
{
    for (int c = 0; c < 15; c++) {
        int64_t C = 16 << (c / 5), H = 32 >> (c / 5);
        float *F = out + 2 * c * 16, *P = F + 16;
        for (int e = 0; e < 6; e++) {
            int64_t ep, ef;
            edge_cost(op[e], C, H, &ep, &ef);
            F[edge_from[e] * 4 + edge_to[e]] = (float)ef;
            P[edge_from[e] * 4 + edge_to[e]] = (float)ep;
        }
    }
}

static int encode(const nl_arch *a, const char *kind, float *out)
{
    const uint8_t *op = a->u.nb201.op;
    for (int e = 0; e < 6; e++)
        if (op[e] >= NL_NB201_NOPS) return nl_err(NL_EINVAL, "nb201 edge %d has op %d (expected 0..4)", e, op[e]);
    if (kind && strcmp(kind, "onehot") == 0) {
        memset(out, 0, 30 * sizeof *out);
        for (int e = 0; e < 6; e++) out[e * 5 + op[e]] = 1.0f;
    } else if (kind && strcmp(kind, "path") == 0) {
        memset(out, 0, 155 * sizeof *out);
        out[op[3]] = 1.0f;
        out[5 + op[0] + 5 * op[4]] = 1.0f;
        out[5 + op[1] + 5 * op[5]] = 1.0f;
        out[30 + op[0] + 5 * op[2] + 25 * op[5]] = 1.0f;
    } else if (kind && strcmp(kind, "renas") == 0) {
        memset(out, 0, 31 * 16 * sizeof *out);
        for (int e = 0; e < 6; e++) out[edge_from[e] * 4 + edge_to[e]] = (float)(op[e] + 1);
        renas_costs(op, out + 16);
    } else if (kind && strcmp(kind, "renas_onehot") == 0) {
        memset(out, 0, 35 * 16 * sizeof *out);
        for (int e = 0; e < 6; e++) out[op[e] * 16 + edge_from[e] * 4 + edge_to[e]] = 1.0f;
        renas_costs(op, out + 5 * 16);
    } else {
        int nd;
        int64_t sh[4];
        return encode_shape(kind, &nd, sh);
    }
    return 0;
}

const nl_space nl_space_nb201 = {
    .name = "nb201",
    .title = "NAS-Bench-201 cells: 6 edges x 5 ops (15,625)",
    .size = NL_NB201_SIZE,
    .parse = parse,
    .format = format,
    .sample = sample,
    .mutate = mutate,
    .crossover = crossover,
    .equal = equal,
    .cost = cost,
    .encodings = encodings,
    .encode_shape = encode_shape,
    .encode = encode,
    .prepare = prepare,
    .at = at,
    .index = index_fn,
    .hash = NULL,
    .from_spec = NULL,
    .canonical = canonical,
};
