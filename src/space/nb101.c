/* SPDX-License-Identifier: GPL-3.0-or-later */
/* nb101.c - the NAS-Bench-101 space (conventions in nb101.h): spec checking
 * and pruning as ModelSpec, the official iterated-MD5 module hash, the
 * two-thread enumeration of the 423,624 unique cells, the benchmark network's
 * params/FLOPs and the onehot, path and ReNAS encodings.
 * Uses core (error, md5, progress, rng) and POSIX threads. */
#include "space/nb101.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/md5.h"

#define MAXV 7
#define MAX_EDGES 9

static const char *const op_long[3] = { "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3" };
static const char *const op_short[3] = { "c3", "c1", "mp" };

static int popc(unsigned x)
{
    int n = 0;
    for (; x; x &= x - 1) n++;
    return n;
}

static int edge_count(const nl_nb101 *c)
{
    int e = 0;
    for (int i = 0; i < c->nv; i++) e += popc(c->adj[i]);
    return e;
}

static nl_arch wrap(const nl_nb101 *c)
{
    nl_arch a;
    memset(&a, 0, sizeof a);
    a.space = &nl_space_nb101;
    a.u.nb101 = *c;
    return a;
}

/* ---------------------------------------------------------------- specs */

/* Prune an n-vertex upper-triangular graph (adj[i] bit j: edge i->j, interior
 * op[v] in 0..2) as ModelSpec._prune does, then check the edge limit on what
 * remains, as the API does. */
static int make_cell(int n, const uint8_t *adj, const int8_t *op, nl_nb101 *out)
{
    unsigned fwd = 1, bwd = 1u << (n - 1);
    for (int i = 0; i < n; i++)
        if (fwd >> i & 1) fwd |= adj[i];
    for (int i = n - 1; i >= 0; i--)
        if (adj[i] & bwd) bwd |= 1u << i;
    unsigned keep = fwd & bwd;
    int map[MAXV], m = 0;
    for (int i = 0; i < n; i++) map[i] = keep >> i & 1 ? m++ : -1;
    /* The input survives exactly when the output is reachable from it. */
    if (!(keep & 1) || m < 2) return nl_err(NL_EINVAL, "no path from input to output");
    nl_nb101 c;
    memset(&c, 0, sizeof c);
    c.nv = (uint8_t)m;
    for (int i = 0; i < n; i++) {
        if (map[i] < 0) continue;
        unsigned row = 0;
        for (int j = i + 1; j < n; j++)
            if ((adj[i] >> j & 1) && map[j] >= 0) row |= 1u << map[j];
        c.adj[map[i]] = (uint8_t)row;
        c.op[map[i]] = op[i];
    }
    c.op[0] = -1;
    c.op[m - 1] = -2;
    int e = edge_count(&c);
    if (e > MAX_EDGES) return nl_err(NL_EINVAL, "%d edges, at most %d allowed", e, MAX_EDGES);
    *out = c;
    return 0;
}

static int op_index(const char *name)
{
    for (int k = 0; k < 3; k++)
        if (strcmp(name, op_long[k]) == 0 || strcmp(name, op_short[k]) == 0) return k;
    return -1;
}

int nl_nb101_from_spec(int n, const int *matrix, const char *const *ops, nl_nb101 *out)
{
    if (n < 2) return nl_err(NL_EINVAL, "%d vertices, at least 2 needed", n);
    if (n > MAXV) return nl_err(NL_EINVAL, "%d vertices, at most %d allowed", n, MAXV);
    if (!matrix || !ops) return nl_err(NL_EINVAL, "matrix and ops are required");
    uint8_t adj[MAXV] = { 0 };
    int8_t op[MAXV] = { 0 };
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            int v = matrix[i * n + j];
            if (v != 0 && v != 1)
                return nl_err(NL_EINVAL, "matrix entry [%d][%d] is %d, must be 0 or 1", i, j, v);
            if (v && j <= i)
                return nl_err(NL_EINVAL, "matrix is not upper triangular: entry [%d][%d] is 1", i, j);
            if (v) adj[i] |= (uint8_t)(1u << j);
        }
    for (int i = 0; i < n; i++)
        if (!ops[i]) return nl_err(NL_EINVAL, "op %d is missing", i);
    if (strcmp(ops[0], "input") != 0 && strcmp(ops[0], "in") != 0)
        return nl_err(NL_EINVAL, "first op must be 'input', got '%.40s'", ops[0]);
    if (strcmp(ops[n - 1], "output") != 0 && strcmp(ops[n - 1], "out") != 0)
        return nl_err(NL_EINVAL, "last op must be 'output', got '%.40s'", ops[n - 1]);
    /* Every interior label is checked, pruned or not: the API would ignore a
     * typo on a dangling vertex, but a typo is never what the user meant. */
    for (int i = 1; i < n - 1; i++) {
        int k = op_index(ops[i]);
        if (k < 0)
            return nl_err(NL_EINVAL, "op %d '%.40s' is not one of %s, %s, %s", i, ops[i], op_long[0],
                          op_long[1], op_long[2]);
        op[i] = (int8_t)k;
    }
    return make_cell(n, adj, op, out);
}

static int from_spec(int n, const int *matrix, const char *const *ops, nl_arch *out)
{
    nl_nb101 c;
    int rc = nl_nb101_from_spec(n, matrix, ops, &c);
    if (rc) return rc;
    *out = wrap(&c);
    return 0;
}

/* ---------------------------------------------------------------- hash */

/* md5(str((out_degree, in_degree, label))) for every degree pair and label. */
static uint8_t tuple_md5[MAXV][MAXV][5][16];
static pthread_once_t tuple_once = PTHREAD_ONCE_INIT;
/* Two hex digits per byte value, filled by tuple_init. */
static char hex_pairs[256][2];

static void tuple_init(void)
{
    static const char hex[] = "0123456789abcdef";
    for (int b = 0; b < 256; b++) {
        hex_pairs[b][0] = hex[b >> 4];
        hex_pairs[b][1] = hex[b & 15];
    }
    char s[32];
    for (int o = 0; o < MAXV; o++)
        for (int i = 0; i < MAXV; i++)
            for (int l = -2; l <= 2; l++) {
                int n = snprintf(s, sizeof s, "(%d, %d, %d)", o, i, l);
                nl_md5(s, (size_t)n, tuple_md5[o][i][l + 2]);
            }
}

static void hexify(const uint8_t *d, char *out)
{
    for (int i = 0; i < 16; i++) memcpy(out + 2 * i, hex_pairs[d[i]], 2);
}

/* Vertices ordered by digest; digest order is the order of the hex strings
 * Python sorts, because lowercase hex digits sort like their nibble values. */
static uint64_t be64(const uint8_t *p)
{
    uint64_t x = 0;
    for (int i = 0; i < 8; i++) x = x << 8 | p[i];
    return x;
}

static void order_by_digest(int n, uint8_t h[][16], int ord[])
{
    uint64_t hi[MAXV], lo[MAXV];
    for (int v = 0; v < n; v++) {
        hi[v] = be64(h[v]);
        lo[v] = be64(h[v] + 8);
    }
    for (int i = 0; i < n; i++) {
        int j = i;
        while (j > 0 && (hi[ord[j - 1]] > hi[i] || (hi[ord[j - 1]] == hi[i] && lo[ord[j - 1]] > lo[i]))) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = i;
    }
}

/* Message of vertex v in one round: the sorted hex hashes of its in-neighbours,
 * '|', those of its out-neighbours, '|', its own. ord lists the vertices by
 * hash. Returns the length (at most 2 * 6 * 32 + 34 bytes). */
static size_t vertex_message(const nl_nb101 *c, const unsigned *in, char hex[][32], const int *ord, int v,
                             uint8_t *msg)
{
    int n = c->nv;
    size_t len = 0;
    for (int k = 0; k < n; k++)
        if (in[v] >> ord[k] & 1) {
            memcpy(msg + len, hex[ord[k]], 32);
            len += 32;
        }
    msg[len++] = '|';
    for (int k = 0; k < n; k++)
        if (c->adj[v] >> ord[k] & 1) {
            memcpy(msg + len, hex[ord[k]], 32);
            len += 32;
        }
    msg[len++] = '|';
    memcpy(msg + len, hex[v], 32);
    return len + 32;
}

/* str(sorted(hashes)) in Python's list repr: "['h0', 'h1', ...]". */
static size_t final_message(int n, char hex[][32], const int *ord, uint8_t *msg)
{
    size_t len = 0;
    msg[len++] = '[';
    for (int k = 0; k < n; k++) {
        if (k) {
            msg[len++] = ',';
            msg[len++] = ' ';
        }
        msg[len++] = '\'';
        memcpy(msg + len, hex[ord[k]], 32);
        len += 32;
        msg[len++] = '\'';
    }
    msg[len++] = ']';
    return len;
}

/* Round-0 hashes md5(str((out_degree, in_degree, label))) and in-neighbour masks. */
static void hash_start(const nl_nb101 *c, unsigned in[MAXV], uint8_t h[][16])
{
    pthread_once(&tuple_once, tuple_init);
    int n = c->nv;
    memset(in, 0, MAXV * sizeof in[0]);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (c->adj[i] >> j & 1) in[j] |= 1u << i;
    for (int v = 0; v < n; v++) memcpy(h[v], tuple_md5[popc(c->adj[v])][popc(in[v])][c->op[v] + 2], 16);
}

void nl_nb101_hash(const nl_nb101 *c, uint8_t out[16])
{
    int n = c->nv, ord[MAXV];
    uint8_t h[MAXV][16], nh[MAXV][16], msg[512];
    char hex[MAXV][32];
    unsigned in[MAXV];
    hash_start(c, in, h);
    for (int round = 0; round < n; round++) {
        for (int v = 0; v < n; v++) hexify(h[v], hex[v]);
        order_by_digest(n, h, ord);
        for (int v = 0; v < n; v++) nl_md5(msg, vertex_message(c, in, hex, ord, v, msg), nh[v]);
        memcpy(h, nh, sizeof h);
    }
    for (int v = 0; v < n; v++) hexify(h[v], hex[v]);
    order_by_digest(n, h, ord);
    nl_md5(msg, final_message(n, hex, ord, msg), out);
}

/* The same hash for many cells, eight at a time through the multi-buffer
 * nl_md5_compress8: each lane walks one cell's messages in order (so a round
 * always sees the previous one finished) and takes the next cell when done. */
enum { NLANES = 8 };

typedef struct lane {
    int64_t idx; /* cell being hashed, -1 when idle */
    const nl_nb101 *c;
    int round, v, nblocks, blk;
    unsigned in[MAXV];
    uint8_t h[MAXV][16], nh[MAXV][16];
    char hex[MAXV][32];
    int ord[MAXV];
    uint8_t buf[512];
} lane;

static void lane_build(lane *L)
{
    int n = L->c->nv;
    size_t len = L->round < n ? vertex_message(L->c, L->in, L->hex, L->ord, L->v, L->buf)
                              : final_message(n, L->hex, L->ord, L->buf);
    uint64_t bits = (uint64_t)len * 8;
    L->buf[len++] = 0x80;
    size_t pad = (64 + 56 - len % 64) % 64;
    memset(L->buf + len, 0, pad);
    len += pad;
    for (int i = 0; i < 8; i++) L->buf[len++] = (uint8_t)(bits >> (8 * i));
    L->nblocks = (int)(len / 64);
    L->blk = 0;
}

static void lane_round(lane *L)
{
    for (int v = 0; v < L->c->nv; v++) hexify(L->h[v], L->hex[v]);
    order_by_digest(L->c->nv, L->h, L->ord);
}

static void lane_start(lane *L, const nl_nb101 *c, int64_t idx)
{
    L->idx = idx;
    L->c = c;
    L->round = 0;
    L->v = 0;
    hash_start(c, L->in, L->h);
    lane_round(L);
    lane_build(L);
}

static void hash_many(const nl_nb101 *cells, int64_t n, uint8_t (*out)[16])
{
    static const uint8_t idle[64];
    lane L[NLANES];
    uint32_t st[4][NLANES];
    int64_t next = 0;
    int active = 0;
    for (int l = 0; l < NLANES; l++) {
        L[l].idx = -1;
        if (next < n) {
            lane_start(&L[l], &cells[next], next);
            next++;
            active++;
        }
        for (int w = 0; w < 4; w++) st[w][l] = nl_md5_iv[w];
    }
    while (active) {
        const uint8_t *blk[NLANES];
        for (int l = 0; l < NLANES; l++) blk[l] = L[l].idx >= 0 ? L[l].buf + 64 * L[l].blk : idle;
        nl_md5_compress8(st, blk);
        for (int l = 0; l < NLANES; l++) {
            lane *P = &L[l];
            if (P->idx < 0 || ++P->blk < P->nblocks) continue;
            uint8_t d[16];
            for (int w = 0; w < 4; w++)
                for (int j = 0; j < 4; j++) d[4 * w + j] = (uint8_t)(st[w][l] >> (8 * j));
            for (int w = 0; w < 4; w++) st[w][l] = nl_md5_iv[w];
            int nv = P->c->nv;
            if (P->round < nv) {
                memcpy(P->nh[P->v], d, 16);
                if (++P->v == nv) {
                    memcpy(P->h, P->nh, sizeof P->h);
                    P->round++;
                    P->v = 0;
                    lane_round(P);
                }
                lane_build(P);
                continue;
            }
            memcpy(out[P->idx], d, 16);
            P->idx = -1;
            if (next < n) {
                lane_start(P, &cells[next], next);
                next++;
            } else {
                active--;
            }
        }
    }
}

static int hash_hex(const nl_arch *a, char out[33])
{
    uint8_t d[16];
    nl_nb101_hash(&a->u.nb101, d);
    nl_md5_hex(d, out);
    return 0;
}

/* ---------------------------------------------------------------- canonical form */

/* Permutations of the interior positions that keep a sorted label sequence
 * sorted, for every label count (c0, c1, c2): the only relabellings a
 * canonical form has to try once interior vertices are sorted by label. */
typedef struct perm_list {
    int count;
    int first; /* into perm_pool */
} perm_list;

static uint8_t perm_pool[1024][5];
static perm_list perm_lists[6][6][6];
static pthread_once_t perm_once = PTHREAD_ONCE_INIT;

static int next_permutation(uint8_t *p, int k)
{
    int i = k - 2;
    while (i >= 0 && p[i] >= p[i + 1]) i--;
    if (i < 0) return 0;
    int j = k - 1;
    while (p[j] <= p[i]) j--;
    uint8_t t = p[i];
    p[i] = p[j];
    p[j] = t;
    for (int a = i + 1, b = k - 1; a < b; a++, b--) {
        t = p[a];
        p[a] = p[b];
        p[b] = t;
    }
    return 1;
}

static void perm_init(void)
{
    int used = 0;
    for (int c0 = 0; c0 <= 5; c0++)
        for (int c1 = 0; c0 + c1 <= 5; c1++)
            for (int c2 = 0; c0 + c1 + c2 <= 5; c2++) {
                int k = c0 + c1 + c2;
                uint8_t grp[5], p[5];
                for (int i = 0; i < k; i++) {
                    grp[i] = (uint8_t)(i < c0 ? 0 : i < c0 + c1 ? 1 : 2);
                    p[i] = (uint8_t)i;
                }
                perm_list *l = &perm_lists[c0][c1][c2];
                l->first = used;
                do {
                    int ok = 1;
                    for (int i = 0; i < k && ok; i++) ok = grp[p[i]] == grp[i];
                    if (ok) memcpy(perm_pool[used++], p, 5);
                } while (next_permutation(p, k));
                l->count = used - l->first;
            }
}

/* Exact canonical key of a labelled DAG up to isomorphism fixing the input and
 * the output: interior vertices sorted by label, then the smallest adjacency
 * code over the label-preserving relabellings. Bits 0..48 hold row a of the
 * relabelled matrix at 7a, then the counts of label 0 and 1 and n. */
static uint64_t canon_key(int n, const uint8_t *adj, const int8_t *op)
{
    pthread_once(&perm_once, perm_init);
    int k = n - 2, cnt[3] = { 0, 0, 0 }, base[5], b = 0;
    for (int v = 1; v <= k; v++) cnt[op[v]]++;
    for (int l = 0; l < 3; l++)
        for (int v = 1; v <= k; v++)
            if (op[v] == l) base[b++] = v;
    const perm_list *pl = &perm_lists[cnt[0]][cnt[1]][cnt[2]];
    uint64_t best = UINT64_MAX;
    int m[MAXV], inv[MAXV];
    m[0] = 0;
    m[n - 1] = n - 1;
    inv[0] = 0;
    inv[n - 1] = n - 1;
    for (int t = 0; t < pl->count; t++) {
        const uint8_t *p = perm_pool[pl->first + t];
        for (int a = 0; a < k; a++) {
            m[a + 1] = base[p[a]];
            inv[base[p[a]]] = a + 1;
        }
        uint64_t key = 0;
        for (int a = 0; a < n - 1; a++) {
            unsigned row = adj[m[a]], nr = 0;
            for (; row; row &= row - 1) nr |= 1u << inv[__builtin_ctz(row)];
            key |= (uint64_t)nr << (7 * a);
        }
        if (key < best) best = key;
    }
    return best | (uint64_t)cnt[0] << 49 | (uint64_t)cnt[1] << 52 | (uint64_t)n << 55;
}

static uint64_t cell_key(const nl_nb101 *c)
{
    return canon_key(c->nv, c->adj, c->op);
}

/* The upper-triangular cell of a canonical key: its graph renumbered in
 * topological order, smallest vertex first (the input is the only source and
 * the output the only sink, so they stay first and last). */
static void key_to_cell(uint64_t key, nl_nb101 *c)
{
    int n = (int)(key >> 55 & 7), c0 = (int)(key >> 49 & 7), c1 = (int)(key >> 52 & 7);
    unsigned row[MAXV], in[MAXV] = { 0 };
    int8_t lab[MAXV];
    for (int a = 0; a < n; a++) {
        row[a] = (unsigned)(key >> (7 * a) & 0x7f);
        lab[a] = (int8_t)(a == 0 ? -1 : a == n - 1 ? -2 : a - 1 < c0 ? 0 : a - 1 < c0 + c1 ? 1 : 2);
    }
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++)
            if (row[a] >> b & 1) in[b] |= 1u << a;
    int pos[MAXV];
    unsigned done = 0;
    for (int t = 0; t < n; t++) {
        int v = 0;
        while ((done >> v & 1) || (in[v] & ~done)) v++;
        pos[v] = t;
        done |= 1u << v;
    }
    memset(c, 0, sizeof *c);
    c->nv = (uint8_t)n;
    for (int a = 0; a < n; a++) {
        c->op[pos[a]] = lab[a];
        for (int b = 0; b < n; b++)
            if (row[a] >> b & 1) c->adj[pos[a]] |= (uint8_t)(1u << pos[b]);
    }
}

/* Isomorphic cells are one point of the space: they share the module hash. */
static int equal(const nl_arch *a, const nl_arch *b)
{
    return cell_key(&a->u.nb101) == cell_key(&b->u.nb101);
}

/* ---------------------------------------------------------------- packed cells */

/* 31 bits: edge (x, y) at bit x + y(y-1)/2 as generate_graphs.py numbers
 * them, then 2 bits per interior slot 1..5 (3 = no such vertex). */
static uint32_t pack(const nl_nb101 *c)
{
    uint32_t w = 0;
    int n = c->nv;
    for (int y = 1; y < n; y++)
        for (int x = 0; x < y; x++)
            if (c->adj[x] >> y & 1) w |= 1u << (x + y * (y - 1) / 2);
    for (int s = 0; s < 5; s++) w |= (uint32_t)(s + 1 < n - 1 ? c->op[s + 1] : 3) << (21 + 2 * s);
    return w;
}

static void unpack(uint32_t w, nl_nb101 *c)
{
    int n = 2;
    while (n < MAXV && (w >> (21 + 2 * (n - 2)) & 3) != 3) n++;
    memset(c, 0, sizeof *c);
    c->nv = (uint8_t)n;
    for (int y = 1; y < n; y++)
        for (int x = 0; x < y; x++)
            if (w >> (x + y * (y - 1) / 2) & 1) c->adj[x] |= (uint8_t)(1u << y);
    c->op[0] = -1;
    for (int v = 1; v < n - 1; v++) c->op[v] = (int8_t)(w >> (21 + 2 * (v - 1)) & 3);
    c->op[n - 1] = -2;
}

/* ---------------------------------------------------------------- enumeration */

typedef struct entry {
    uint8_t h[16];
    uint32_t cell;
} entry;

struct nl_nb101_set {
    int64_t n;
    entry *e;
};

enum { PATTERN_CHUNK = 4096, HASH_CHUNK = 1024 };

typedef struct enum_ctx {
    int max_v, nthreads;
    nl_progress_fn fn;
    void *ud;
    atomic_int stop;
    int err;            /* set by thread 0 only */
    atomic_llong next;  /* next chunk to take */
    atomic_llong done;  /* work units finished */
    int64_t nchunks, total;
    const char *what;
    int64_t nv_chunks[MAXV + 2]; /* chunks before vertex count V */
    uint64_t *uniq;
    int64_t nuniq;
    entry *ent;
} enum_ctx;

typedef struct enum_worker {
    enum_ctx *ctx;
    int tid;
    int phase;
    uint64_t *keys;
    size_t n, cap;
    int nomem;
} enum_worker;

/* Count finished work; thread 0 reports progress (callbacks run on the
 * caller's thread only). Returns non-zero when the job must stop. */
static int tick(enum_worker *w, int64_t units)
{
    enum_ctx *x = w->ctx;
    int64_t d = atomic_fetch_add(&x->done, units) + units;
    if (atomic_load(&x->stop)) return 1;
    if (w->tid == 0) {
        int rc = nl_progress_report(x->fn, x->ud, x->what, d, x->total);
        if (rc) {
            x->err = rc;
            atomic_store(&x->stop, 1);
            return 1;
        }
    } else if (nl_interrupted()) {
        atomic_store(&x->stop, 1);
        return 1;
    }
    return 0;
}

static int push_key(enum_worker *w, uint64_t key)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 1 << 16;
        uint64_t *k = realloc(w->keys, cap * sizeof *k);
        if (!k) return -1;
        w->keys = k;
        w->cap = cap;
    }
    w->keys[w->n++] = key;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static size_t sort_unique(uint64_t *k, size_t n)
{
    if (!n) return 0;
    qsort(k, n, sizeof *k, cmp_u64);
    size_t m = 1;
    for (size_t i = 1; i < n; i++)
        if (k[i] != k[m - 1]) k[m++] = k[i];
    return m;
}

/* Phase 1: every full DAG with at most 9 edges, every labelling, keyed by its
 * canonical form. Chunks of bit patterns are handed out dynamically. */
static void enum_patterns(enum_worker *w)
{
    enum_ctx *x = w->ctx;
    for (;;) {
        int64_t c = atomic_fetch_add(&x->next, 1);
        if (c >= x->nchunks) break;
        int n = 2;
        while (c >= x->nv_chunks[n + 1]) n++;
        int nbits = n * (n - 1) / 2;
        uint64_t lo = (uint64_t)(c - x->nv_chunks[n]) * PATTERN_CHUNK;
        uint64_t hi = lo + PATTERN_CHUNK;
        if (hi > (1u << nbits)) hi = 1u << nbits;
        int nlab = 1;
        for (int i = 0; i < n - 2; i++) nlab *= 3;
        for (uint64_t bits = lo; bits < hi; bits++) {
            if (popc((unsigned)bits) > MAX_EDGES) continue;
            uint8_t adj[MAXV] = { 0 };
            unsigned incol = 0;
            for (int y = 1; y < n; y++)
                for (int x0 = 0; x0 < y; x0++)
                    if (bits >> (x0 + y * (y - 1) / 2) & 1) {
                        adj[x0] |= (uint8_t)(1u << y);
                        incol |= 1u << y;
                    }
            int full = incol == ((1u << n) - 2);
            for (int v = 0; v < n - 1 && full; v++) full = adj[v] != 0;
            if (!full) continue;
            int8_t op[MAXV];
            op[0] = -1;
            op[n - 1] = -2;
            for (int l = 0; l < nlab; l++) {
                for (int v = 1, t = l; v < n - 1; v++, t /= 3) op[v] = (int8_t)(t % 3);
                if (push_key(w, canon_key(n, adj, op))) {
                    w->nomem = 1;
                    atomic_store(&x->stop, 1);
                    return;
                }
            }
        }
        if (tick(w, (int64_t)(hi - lo))) return;
    }
    w->n = sort_unique(w->keys, w->n);
}

/* Phase 2: the representative cell and official hash of every class. */
static void enum_hashes(enum_worker *w)
{
    enum_ctx *x = w->ctx;
    for (;;) {
        int64_t c = atomic_fetch_add(&x->next, 1);
        int64_t lo = c * HASH_CHUNK;
        if (lo >= x->nuniq) break;
        int64_t hi = lo + HASH_CHUNK < x->nuniq ? lo + HASH_CHUNK : x->nuniq;
        nl_nb101 cells[HASH_CHUNK];
        uint8_t h[HASH_CHUNK][16];
        for (int64_t i = lo; i < hi; i++) {
            key_to_cell(x->uniq[i], &cells[i - lo]);
            x->ent[i].cell = pack(&cells[i - lo]);
        }
        hash_many(cells, hi - lo, h);
        for (int64_t i = lo; i < hi; i++) memcpy(x->ent[i].h, h[i - lo], 16);
        if (tick(w, hi - lo)) return;
    }
}

static void *worker_main(void *arg)
{
    enum_worker *w = arg;
    if (w->phase == 1)
        enum_patterns(w);
    else
        enum_hashes(w);
    return NULL;
}

/* Run one phase on every worker: threads 1.. in the background, thread 0 on
 * the caller's thread (it reports progress). A thread that cannot be started
 * has its share done by the others, since work is handed out in chunks. */
static void run_phase(enum_ctx *x, enum_worker *w, int phase, const char *what, int64_t total)
{
    pthread_t th[16];
    int started[16] = { 0 };
    x->what = what;
    x->total = total;
    atomic_store(&x->next, 0);
    atomic_store(&x->done, 0);
    for (int t = 0; t < x->nthreads; t++) w[t].phase = phase;
    for (int t = 1; t < x->nthreads; t++)
        started[t] = pthread_create(&th[t], NULL, worker_main, &w[t]) == 0;
    worker_main(&w[0]);
    for (int t = 1; t < x->nthreads; t++)
        if (started[t]) pthread_join(th[t], NULL);
}

static int cmp_entry(const void *a, const void *b)
{
    return memcmp(((const entry *)a)->h, ((const entry *)b)->h, 16);
}

/* Merge the workers' sorted unique key lists into x->uniq. */
static int merge_keys(enum_ctx *x, enum_worker *w)
{
    size_t total = 0;
    for (int t = 0; t < x->nthreads; t++) total += w[t].n;
    uint64_t *out = malloc((total ? total : 1) * sizeof *out);
    if (!out) return nl_err(NL_ENOMEM, "out of memory merging %zu nb101 keys", total);
    size_t m = 0;
    size_t pos[16] = { 0 };
    for (;;) {
        int best = -1;
        for (int t = 0; t < x->nthreads; t++)
            if (pos[t] < w[t].n && (best < 0 || w[t].keys[pos[t]] < w[best].keys[pos[best]])) best = t;
        if (best < 0) break;
        uint64_t k = w[best].keys[pos[best]++];
        if (!m || out[m - 1] != k) out[m++] = k;
    }
    x->uniq = out;
    x->nuniq = (int64_t)m;
    return 0;
}

int nl_nb101_enumerate(int max_v, int threads, nl_progress_fn fn, void *ud, nl_nb101_set **out)
{
    *out = NULL;
    if (max_v < 2 || max_v > MAXV)
        return nl_err(NL_EINVAL, "max_v is %d, must be in 2..%d", max_v, MAXV);
    if (threads <= 0) threads = 2;
    if (threads > 16) threads = 16;
    enum_ctx x;
    memset(&x, 0, sizeof x);
    x.max_v = max_v;
    x.nthreads = threads;
    x.fn = fn;
    x.ud = ud;
    atomic_init(&x.stop, 0);
    atomic_init(&x.next, 0);
    atomic_init(&x.done, 0);
    int64_t patterns = 0;
    x.nv_chunks[2] = 0;
    for (int n = 2; n <= MAXV; n++) {
        int64_t np = n <= max_v ? (int64_t)1 << (n * (n - 1) / 2) : 0;
        patterns += np;
        x.nv_chunks[n + 1] = x.nv_chunks[n] + (np + PATTERN_CHUNK - 1) / PATTERN_CHUNK;
    }
    x.nchunks = x.nv_chunks[max_v + 1];

    enum_worker w[16];
    memset(w, 0, sizeof w);
    for (int t = 0; t < threads; t++) {
        w[t].ctx = &x;
        w[t].tid = t;
    }
    int rc = 0;
    run_phase(&x, w, 1, "enumerate nb101 graphs", patterns);
    for (int t = 0; t < threads; t++)
        if (w[t].nomem) rc = nl_err(NL_ENOMEM, "out of memory enumerating nb101 graphs");
    if (!rc && atomic_load(&x.stop)) rc = x.err ? x.err : nl_err(NL_EINTR, "interrupted");
    if (!rc) rc = merge_keys(&x, w);
    for (int t = 0; t < threads; t++) free(w[t].keys);
    if (rc) return rc;

    x.ent = malloc((size_t)(x.nuniq ? x.nuniq : 1) * sizeof *x.ent);
    if (!x.ent) {
        free(x.uniq);
        return nl_err(NL_ENOMEM, "out of memory for %lld nb101 cells", (long long)x.nuniq);
    }
    run_phase(&x, w, 2, "hash nb101 cells", x.nuniq);
    free(x.uniq);
    if (atomic_load(&x.stop)) {
        free(x.ent);
        return x.err ? x.err : nl_err(NL_EINTR, "interrupted");
    }
    qsort(x.ent, (size_t)x.nuniq, sizeof *x.ent, cmp_entry);
    /* Isomorphic cells always share a hash; distinct hashes for distinct
     * classes mean hash buckets and classes coincide, i.e. this set is the
     * one generate_graphs.py builds. */
    for (int64_t i = 1; i < x.nuniq; i++)
        if (memcmp(x.ent[i - 1].h, x.ent[i].h, 16) == 0) {
            char hex[33];
            nl_md5_hex(x.ent[i].h, hex);
            free(x.ent);
            return nl_err(NL_EFORMAT, "two non-isomorphic nb101 cells share the hash %s", hex);
        }
    nl_nb101_set *s = malloc(sizeof *s);
    if (!s) {
        free(x.ent);
        return nl_err(NL_ENOMEM, "out of memory");
    }
    s->n = x.nuniq;
    s->e = x.ent;
    *out = s;
    return 0;
}

int64_t nl_nb101_set_count(const nl_nb101_set *s)
{
    return s->n;
}

void nl_nb101_set_get(const nl_nb101_set *s, int64_t i, nl_nb101 *cell, uint8_t hash[16])
{
    if (cell) unpack(s->e[i].cell, cell);
    if (hash) memcpy(hash, s->e[i].h, 16);
}

int64_t nl_nb101_set_find(const nl_nb101_set *s, const uint8_t hash[16])
{
    int64_t lo = 0, hi = s->n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = memcmp(s->e[mid].h, hash, 16);
        if (c == 0) return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

void nl_nb101_set_free(nl_nb101_set *s)
{
    if (!s) return;
    free(s->e);
    free(s);
}

/* The space's own table, built once by prepare() and kept for the process. */
static _Atomic(nl_nb101_set *) table;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

static int prepare(nl_progress_fn fn, void *ud)
{
    if (atomic_load(&table)) return 0;
    pthread_mutex_lock(&table_lock);
    int rc = 0;
    if (!atomic_load(&table)) {
        nl_nb101_set *s;
        rc = nl_nb101_enumerate(MAXV, 2, fn, ud, &s);
        if (!rc && s->n != NL_NB101_SIZE) {
            rc = nl_err(NL_EFORMAT, "nb101 enumeration found %lld cells, expected %d", (long long)s->n,
                        NL_NB101_SIZE);
            nl_nb101_set_free(s);
        }
        if (!rc) atomic_store(&table, s);
    }
    pthread_mutex_unlock(&table_lock);
    return rc;
}

/* at(i) is the i-th cell in order of hash string (the order of sorted()
 * over the official hashes), in a representative form. */
static int at(int64_t i, nl_arch *out)
{
    if (i < 0 || i >= NL_NB101_SIZE)
        return nl_err(NL_ERANGE, "nb101 index %lld out of range 0..%d", (long long)i, NL_NB101_SIZE - 1);
    int rc = prepare(NULL, NULL);
    if (rc) return rc;
    nl_nb101 c;
    nl_nb101_set_get(atomic_load(&table), i, &c, NULL);
    *out = wrap(&c);
    return 0;
}

static int index_of(const nl_arch *a, int64_t *out)
{
    int rc = prepare(NULL, NULL);
    if (rc) return rc;
    uint8_t h[16];
    nl_nb101_hash(&a->u.nb101, h);
    int64_t i = nl_nb101_set_find(atomic_load(&table), h);
    if (i < 0) {
        char hex[33];
        nl_md5_hex(h, hex);
        return nl_err(NL_ENOTFOUND, "nb101 cell with hash %s is not in the space", hex);
    }
    *out = i;
    return 0;
}

/* ---------------------------------------------------------------- text */

static int perr(const char *s, size_t pos, const char *fmt, const char *what)
{
    char found[24];
    if (!s[pos])
        snprintf(found, sizeof found, "end of string");
    else
        snprintf(found, sizeof found, "'%c'", s[pos]);
    char msg[160];
    snprintf(msg, sizeof msg, fmt, what);
    return nl_err(NL_EPARSE, "bad nb101 cell at character %zu: %s, found %s", pos + 1, msg, found);
}

static size_t skip_ws(const char *s, size_t p)
{
    while (s[p] == ' ' || s[p] == '\t') p++;
    return p;
}

static int parse(const char *s, nl_arch *out)
{
    if (!s) return nl_err(NL_EINVAL, "nb101 cell string is NULL");
    int matrix[MAXV * MAXV] = { 0 };
    char names[MAXV][24];
    const char *ops[MAXV];
    int rows = 0, cols = -1;
    size_t p = skip_ws(s, 0);
    if (strncmp(s + p, "nb101", 5) == 0) {
        p = skip_ws(s, p + 5);
        if (s[p] != ':') return perr(s, p, "expected %s after the prefix", "':'");
        p = skip_ws(s, p + 1);
    }
    for (;;) {
        size_t start = p;
        int len = 0;
        int row[MAXV + 1];
        while (s[p] == '0' || s[p] == '1') {
            if (len < MAXV + 1) row[len] = s[p] - '0';
            len++;
            p++;
        }
        if (len == 0) return perr(s, p, "expected %s", "a matrix row of '0' and '1'");
        if (rows == MAXV) return perr(s, start, "expected %s (a cell has at most 7 vertices)", "':'");
        if (cols < 0) {
            if (len > MAXV) return perr(s, start + MAXV, "expected %s (a cell has at most 7 vertices)", "'/' or ':'");
            cols = len;
        } else if (len != cols) {
            char what[64];
            snprintf(what, sizeof what, "row %d to have %d entries like row 0, it has %d", rows, cols, len);
            return perr(s, len < cols ? p : start + (size_t)cols, "expected %s", what);
        }
        for (int j = 0; j < len; j++) matrix[rows * cols + j] = row[j];
        rows++;
        p = skip_ws(s, p);
        if (s[p] == '/') {
            p = skip_ws(s, p + 1);
            continue;
        }
        if (s[p] == ':') break;
        return perr(s, p, "expected %s", "'0', '1', '/' or ':'");
    }
    if (rows != cols) {
        char what[64];
        snprintf(what, sizeof what, "%d rows for a %d-column matrix", cols, cols);
        return perr(s, p, "expected %s", what);
    }
    p = skip_ws(s, p + 1);
    int nops = 0;
    for (;;) {
        size_t start = p;
        while ((s[p] >= 'a' && s[p] <= 'z') || (s[p] >= '0' && s[p] <= '9') || s[p] == '-') p++;
        if (p == start) return perr(s, p, "expected %s", "an op name (in, c3, c1, mp, out)");
        if (nops == rows) {
            char what[48];
            snprintf(what, sizeof what, "end of string after %d ops", rows);
            return perr(s, start, "expected %s", what);
        }
        size_t len = p - start;
        if (len >= sizeof names[0]) len = sizeof names[0] - 1;
        memcpy(names[nops], s + start, len);
        names[nops][len] = '\0';
        int known = op_index(names[nops]) >= 0 || !strcmp(names[nops], "in") ||
                    !strcmp(names[nops], "input") || !strcmp(names[nops], "out") ||
                    !strcmp(names[nops], "output");
        if (!known)
            return perr(s, start, "expected %s", "an op name (in, c3, c1, mp, out or the full names)");
        ops[nops] = names[nops];
        nops++;
        p = skip_ws(s, p);
        if (s[p] == ',') {
            p = skip_ws(s, p + 1);
            continue;
        }
        if (!s[p]) break;
        return perr(s, p, "expected %s", "',' or end of string");
    }
    if (nops != rows) {
        char what[48];
        snprintf(what, sizeof what, "%d ops, one per row (got %d)", rows, nops);
        return perr(s, p, "expected %s", what);
    }
    nl_nb101 c;
    int rc = nl_nb101_from_spec(rows, matrix, ops, &c);
    if (rc) {
        char why[256];
        snprintf(why, sizeof why, "%s", nl_errmsg());
        return nl_err(NL_EPARSE, "invalid nb101 cell: %s", why);
    }
    *out = wrap(&c);
    return 0;
}

static int format(const nl_arch *a, char *buf, size_t cap)
{
    const nl_nb101 *c = &a->u.nb101;
    char tmp[128];
    size_t len = 0;
    int n = c->nv;
    memcpy(tmp, "nb101:", 6);
    len = 6;
    for (int i = 0; i < n; i++) {
        if (i) tmp[len++] = '/';
        for (int j = 0; j < n; j++) tmp[len++] = (char)('0' + (c->adj[i] >> j & 1));
    }
    tmp[len++] = ':';
    for (int v = 0; v < n; v++) {
        const char *name = v == 0 ? "in" : v == n - 1 ? "out" : op_short[c->op[v]];
        if (v) tmp[len++] = ',';
        size_t l = strlen(name);
        memcpy(tmp + len, name, l);
        len += l;
    }
    tmp[len] = '\0';
    if (len + 1 > cap)
        return nl_err(NL_ERANGE, "buffer of %zu bytes too small for an nb101 cell (%zu needed)", cap, len + 1);
    memcpy(buf, tmp, len + 1);
    return (int)len;
}

/* ---------------------------------------------------------------- random operators */

/* Decision d < 21 of a 7-vertex frame is the edge (x, y) with
 * d = x + y(y-1)/2, the numbering of generate_graphs.py. */
static void edge_of(int d, int *x, int *y)
{
    int yy = 1;
    while ((yy + 1) * yy / 2 <= d) yy++;
    *y = yy;
    *x = d - yy * (yy - 1) / 2;
}

/* Place a pruned cell in the 7-vertex frame that mutation and crossover edit:
 * vertices keep their numbers, the output moves to 6, the unused vertices in
 * between carry `fill` ops and no edges. */
static void embed7(const nl_nb101 *c, const int8_t fill[MAXV], uint8_t adj[MAXV], int8_t op[MAXV])
{
    int n = c->nv, map[MAXV];
    for (int v = 0; v < n; v++) map[v] = v == n - 1 ? MAXV - 1 : v;
    memset(adj, 0, MAXV);
    for (int v = 0; v < MAXV; v++) op[v] = fill[v];
    for (int i = 0; i < n; i++) {
        op[map[i]] = c->op[i];
        for (int j = 0; j < n; j++)
            if (c->adj[i] >> j & 1) adj[map[i]] |= (uint8_t)(1u << map[j]);
    }
    op[0] = -1;
    op[MAXV - 1] = -2;
}

/* Uniform over the 423,624 unique cells: draws an index into the enumerated
 * table, building it first if needed (about 2.5 s once per process), so the
 * same seed gives the same cell whatever ran before. */
static int sample(nl_rng *r, nl_arch *out)
{
    int rc = prepare(NULL, NULL);
    if (rc) return rc;
    nl_nb101_set *s = atomic_load(&table);
    nl_nb101 c;
    nl_nb101_set_get(s, (int64_t)nl_rng_below(r, (uint64_t)s->n), &c, NULL);
    *out = wrap(&c);
    return 0;
}

/* Try the 26 single decisions (21 edge flips, 5 op changes) in random order
 * and keep the first that gives a valid cell of another class. Only the
 * 2-vertex cell has none (a lone new vertex needs two edges); it gains one
 * interior vertex on a new input->vertex->output path instead. */
static int mutate(const nl_arch *a, nl_rng *r, nl_arch *out)
{
    const nl_nb101 *c = &a->u.nb101;
    uint64_t key = cell_key(c);
    static const int8_t zero[MAXV] = { 0 };
    uint8_t adj0[MAXV];
    int8_t op0[MAXV];
    embed7(c, zero, adj0, op0);
    int order[26];
    for (int i = 0; i < 26; i++) order[i] = i;
    nl_rng_shuffle(r, order, 26, sizeof order[0]);
    for (int t = 0; t < 26; t++) {
        uint8_t adj[MAXV];
        int8_t op[MAXV];
        memcpy(adj, adj0, sizeof adj);
        memcpy(op, op0, sizeof op);
        int d = order[t];
        if (d < 21) {
            int x, y;
            edge_of(d, &x, &y);
            adj[x] ^= (uint8_t)(1u << y);
        } else {
            int v = d - 20;
            op[v] = (int8_t)((op[v] + 1 + (int)nl_rng_below(r, 2)) % 3);
        }
        nl_nb101 m;
        if (make_cell(MAXV, adj, op, &m) == 0 && cell_key(&m) != key) {
            *out = wrap(&m);
            return 0;
        }
    }
    nl_nb101 m;
    memset(&m, 0, sizeof m);
    m.nv = 3;
    m.adj[0] = (uint8_t)(0x2 | (c->adj[0] >> 1 & 1) << 2);
    m.adj[1] = 0x4;
    m.op[0] = -1;
    m.op[1] = (int8_t)nl_rng_below(r, 3);
    m.op[2] = -2;
    *out = wrap(&m);
    return 0;
}

/* Uniform crossover in the 7-vertex frame: each edge bit and each op from
 * either parent; up to 100 draws for a valid child, else a copy of parent a. */
static int crossover(const nl_arch *a, const nl_arch *b, nl_rng *r, nl_arch *out)
{
    uint8_t aa[MAXV], ba[MAXV];
    int8_t ao[MAXV], bo[MAXV], fill[MAXV];
    for (int v = 0; v < MAXV; v++) fill[v] = (int8_t)nl_rng_below(r, 3);
    embed7(&a->u.nb101, fill, aa, ao);
    embed7(&b->u.nb101, fill, ba, bo);
    for (int tries = 0; tries < 100; tries++) {
        uint64_t bits = nl_rng_u64(r);
        uint8_t adj[MAXV] = { 0 };
        int8_t op[MAXV];
        for (int d = 0; d < 21; d++) {
            int x, y;
            edge_of(d, &x, &y);
            const uint8_t *src = bits >> d & 1 ? ba : aa;
            adj[x] |= (uint8_t)(src[x] & (1u << y));
        }
        for (int v = 0; v < MAXV; v++) op[v] = bits >> (21 + v) & 1 ? bo[v] : ao[v];
        nl_nb101 c;
        if (make_cell(MAXV, adj, op, &c) == 0) {
            *out = wrap(&c);
            return 0;
        }
    }
    *out = *a;
    return 0;
}

/* ---------------------------------------------------------------- cost */

typedef struct net {
    int64_t stem, n, classes, res;
} net;

static void net_of(const nl_net_opts *o, net *t)
{
    t->stem = o && o->C > 0 ? o->C : 128;
    t->n = o && o->N > 0 ? o->N : 3;
    t->classes = o && o->classes > 0 ? o->classes : 10;
    t->res = o && o->resolution > 0 ? o->resolution : 32;
}

/* compute_vertex_channels of model_builder.py. */
static void vertex_channels(const nl_nb101 *c, int64_t cin, int64_t cout, int64_t vc[MAXV])
{
    int n = c->nv, o = n - 1;
    memset(vc, 0, MAXV * sizeof vc[0]);
    vc[0] = cin;
    vc[o] = cout;
    if (n == 2) return;
    int fan = 0;
    for (int v = 1; v < o; v++) fan += c->adj[v] >> o & 1;
    if (!fan) return;
    int64_t each = cout / fan, extra = cout % fan;
    for (int v = 1; v < o; v++)
        if (c->adj[v] >> o & 1) {
            vc[v] = each + (extra > 0);
            if (extra > 0) extra--;
        }
    for (int v = n - 3; v > 0; v--)
        if (!(c->adj[v] >> o & 1))
            for (int d = v + 1; d < o; d++)
                if ((c->adj[v] >> d & 1) && vc[d] > vc[v]) vc[v] = vc[d];
}

/* Per-vertex FLOPs and params of one module with cin input channels, cout
 * output channels and hw pixels. */
static void module_costs(const nl_nb101 *c, int64_t cin, int64_t cout, int64_t hw, int64_t f[MAXV],
                         int64_t p[MAXV])
{
    int n = c->nv, o = n - 1;
    int64_t vc[MAXV];
    vertex_channels(c, cin, cout, vc);
    memset(f, 0, MAXV * sizeof f[0]);
    memset(p, 0, MAXV * sizeof p[0]);
    for (int v = 1; v < o; v++) {
        int64_t C = vc[v];
        int inputs = 0;
        for (int u = 0; u < v; u++) inputs += c->adj[u] >> v & 1;
        if (c->adj[0] >> v & 1) {
            f[v] += 2 * cin * C * hw;
            p[v] += cin * C + 2 * C;
        }
        if (inputs > 1) f[v] += (inputs - 1) * C * hw;
        switch (c->op[v]) {
        case 0:
            f[v] += 2 * 9 * C * C * hw;
            p[v] += 9 * C * C + 2 * C;
            break;
        case 1:
            f[v] += 2 * C * C * hw;
            p[v] += C * C + 2 * C;
            break;
        default:
            f[v] += 9 * C * hw;
            break;
        }
    }
    if (c->adj[0] >> o & 1) {
        f[o] += 2 * cin * cout * hw;
        p[o] += cin * cout + 2 * cout;
        if (n > 2) f[o] += cout * hw; /* the projection is added to the concatenation */
    }
}

/* Input channels, output channels and pixels of module `m` (stack-major). */
static void module_shape(const net *t, int m, int64_t *cin, int64_t *cout, int64_t *hw)
{
    int s = (int)(m / t->n), k = (int)(m % t->n);
    int64_t h = t->res;
    for (int i = 0; i < s; i++) h = (h + 1) / 2;
    *cout = t->stem << s;
    *cin = k > 0 ? *cout : s == 0 ? t->stem : t->stem << (s - 1);
    *hw = h * h;
}

int nl_nb101_vertex_costs(const nl_nb101 *c, const nl_net_opts *o, int module, int64_t flops[7],
                          int64_t params[7])
{
    net t;
    net_of(o, &t);
    if (module < 0 || module >= 3 * t.n)
        return nl_err(NL_ERANGE, "module %d out of range 0..%lld", module, (long long)(3 * t.n - 1));
    int64_t cin, cout, hw;
    module_shape(&t, module, &cin, &cout, &hw);
    module_costs(c, cin, cout, hw, flops, params);
    return 0;
}

static int cost(const nl_arch *a, const nl_net_opts *o, int64_t *params, int64_t *flops)
{
    const nl_nb101 *c = &a->u.nb101;
    net t;
    net_of(o, &t);
    int64_t h = t.res, P = 0, F = 0;
    F += 2 * 9 * 3 * t.stem * h * h; /* stem conv3x3-BN-ReLU */
    P += 9 * 3 * t.stem + 2 * t.stem;
    int64_t C = t.stem;
    for (int s = 0; s < 3; s++) {
        if (s > 0) {
            h = (h + 1) / 2;
            F += 4 * C * h * h; /* 2x2 max pool, stride 2 */
            C *= 2;
        }
        for (int k = 0; k < t.n; k++) {
            int64_t cin, cout, hw, f[MAXV], p[MAXV];
            module_shape(&t, (int)(s * t.n + k), &cin, &cout, &hw);
            module_costs(c, cin, cout, hw, f, p);
            for (int v = 0; v < c->nv; v++) {
                F += f[v];
                P += p[v];
            }
        }
    }
    F += C * h * h;                           /* global average pool */
    F += 2 * C * t.classes + t.classes;       /* dense */
    P += C * t.classes + t.classes;
    if (params) *params = P;
    if (flops) *flops = F;
    return 0;
}

/* ---------------------------------------------------------------- encodings */

static const char *const encodings[] = { "onehot", "path", "renas", NULL };

static int unknown_kind(const char *kind)
{
    return nl_err(NL_ENOTFOUND, "unknown nb101 encoding '%s' (known: onehot, path, renas)",
                  kind ? kind : "(null)");
}

static int encode_shape(const char *kind, int *ndim, int64_t shape[4])
{
    if (kind && strcmp(kind, "onehot") == 0) {
        *ndim = 1;
        shape[0] = 36;
    } else if (kind && strcmp(kind, "path") == 0) {
        *ndim = 1;
        shape[0] = 364;
    } else if (kind && strcmp(kind, "renas") == 0) {
        *ndim = 3;
        shape[0] = 19;
        shape[1] = 7;
        shape[2] = 7;
    } else {
        return unknown_kind(kind);
    }
    return 0;
}

/* Position of vertex v in the 7-vertex padded layout. */
static int padded(const nl_nb101 *c, int v)
{
    return v == c->nv - 1 ? MAXV - 1 : v;
}

static void mark_paths(const nl_nb101 *c, int v, int code, int depth, float *out)
{
    static const int pow3[6] = { 1, 3, 9, 27, 81, 243 };
    for (int w = v + 1; w < c->nv; w++) {
        if (!(c->adj[v] >> w & 1)) continue;
        if (w == c->nv - 1)
            out[code] = 1.0f;
        else
            mark_paths(c, w, code + pow3[depth] * (c->op[w] + 1), depth + 1, out);
    }
}

static int encode(const nl_arch *a, const char *kind, float *out)
{
    const nl_nb101 *c = &a->u.nb101;
    int n = c->nv;
    if (kind && strcmp(kind, "onehot") == 0) {
        memset(out, 0, 36 * sizeof *out);
        uint8_t adj[MAXV] = { 0 };
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                if (c->adj[i] >> j & 1) adj[padded(c, i)] |= (uint8_t)(1u << padded(c, j));
        int k = 0;
        for (int i = 0; i < MAXV; i++)
            for (int j = i + 1; j < MAXV; j++) out[k++] = (float)(adj[i] >> j & 1);
        for (int v = 1; v < n - 1; v++) out[21 + 3 * (v - 1) + c->op[v]] = 1.0f;
        return 0;
    }
    if (kind && strcmp(kind, "path") == 0) {
        memset(out, 0, 364 * sizeof *out);
        mark_paths(c, 0, 0, 0, out);
        return 0;
    }
    if (kind && strcmp(kind, "renas") == 0) {
        static const float type_of_op[3] = { 3.0f, 2.0f, 4.0f }; /* conv3x3, conv1x1, maxpool */
        memset(out, 0, 19 * 49 * sizeof *out);
        float type[MAXV];
        for (int v = 0; v < n; v++) type[v] = v == 0 ? 1.0f : v == n - 1 ? 5.0f : type_of_op[c->op[v]];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                if (c->adj[i] >> j & 1) out[padded(c, i) * 7 + padded(c, j)] = type[j];
        net t;
        net_of(NULL, &t);
        for (int m = 0; m < 9; m++) {
            int64_t cin, cout, hw, f[MAXV], p[MAXV];
            module_shape(&t, m, &cin, &cout, &hw);
            module_costs(c, cin, cout, hw, f, p);
            float *F = out + (1 + 2 * m) * 49, *P = F + 49;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    if (c->adj[i] >> j & 1) {
                        F[padded(c, i) * 7 + padded(c, j)] = (float)f[j];
                        P[padded(c, i) * 7 + padded(c, j)] = (float)p[j];
                    }
        }
        return 0;
    }
    return unknown_kind(kind);
}

/* ---------------------------------------------------------------- vtable */

const nl_space nl_space_nb101 = {
    .name = "nb101",
    .title = "NAS-Bench-101: 423,624 cells of <= 7 vertices, <= 9 edges, 3 ops",
    .size = NL_NB101_SIZE,
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
    .index = index_of,
    .hash = hash_hex,
    .from_spec = from_spec,
    .canonical = NULL,
};
