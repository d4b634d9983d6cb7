/* SPDX-License-Identifier: GPL-3.0-or-later */
/* nb201net.c - the NAS-Bench-201 network and supernet (see nb201net.h) as a
 * composition of the nn kernels. Activations live in buffers sized for the
 * largest batch seen so far; a smaller batch runs on views of their first
 * rows, so the last short batch of an epoch and evaluation batches allocate
 * nothing. Gradients of activations use scratch buffers shared by all cells
 * of a stage, since backward visits one cell at a time. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/ctx.h"
#include "nn/nb201net.h"

enum { OP_NONE, OP_SKIP, OP_CONV1, OP_CONV3, OP_POOL };

/* Canonical edge order: (1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2). */
static const int edge_src[6] = { 0, 0, 1, 0, 1, 2 };
static const int edge_dst[6] = { 1, 2, 2, 3, 3, 3 };

/* An activation buffer of per-example shape (c, h, w). */
typedef struct act {
    int64_t c, h, w;
    nl_tensor *full; /* (cap, c, h, w) */
    nl_tensor *v;    /* (batch, c, h, w): view of full's first rows */
} act;

/* conv (no bias) followed by an affine BN; p = index of the conv weight in
 * params (gamma p+1, beta p+2), b = index of the running mean in buffers
 * (variance b+1). */
typedef struct unit {
    int p, b;
    int k, stride, pad;
    nl_tensor *smean, *sinv; /* saved batch statistics, (Cout) */
} unit;

typedef struct cell {
    unit *conv[6][2];  /* [edge][0: 1x1, 1: 3x3]; NULL when not allocated */
    act *node[4];      /* node[0] is not used: the input is borrowed */
    act *relu[3];      /* ReLU of nodes 0..2, for conv edges */
    act *cout[6];      /* conv output of each edge (shared by its 1x1 and 3x3) */
} cell;

typedef struct block {
    unit a, b, sc; /* sc: the shortcut's 1x1 conv; it has no BN (sc.b < 0) */
    act *ra, *ca, *ba, *rb, *cb, *sp, *out;
} block;

/* Per-stage gradient scratch. */
typedef struct gstage {
    act *bnd[2];   /* cell boundaries: ping-pong */
    act *dn[3];    /* d node 1, 2 (index 0 unused) */
    act *dr[3];    /* d relu(node j) */
    act *tmp, *dtmp;
} gstage;

typedef struct net {
    nl_model m;
    nl_nb201net_opts o;
    uint8_t cur[6];
    int ncells;
    unit stem;
    act *stem_c, *stem_out;
    cell *cells;
    block blk[2];
    unit hbn;     /* head BN (no conv: p is gamma, k = 0) */
    int fc_w, fc_b;
    act *hb, *hr;
    nl_tensor *feat, *logits, *dfeat; /* (cap, 4C), (cap, classes) */
    nl_tensor *vfeat, *vlogits, *vdfeat;
    act *dhb, *dhr;
    gstage gs[3];
    act *dblk[2][6]; /* block gradient scratch: dsp, -, drb, dba, dca, dra */
    act **acts;
    int nacts, capacts;
    unit **units;
    int nunits, capunits;
    int64_t cap, batch;
    const nl_tensor *input; /* the last training input */
} net;

static const nl_model_vt nb201_vt, nb201_super_vt;

int nl_nb201net_is(const nl_model *m)
{
    return m && (m->vt == &nb201_vt || m->vt == &nb201_super_vt);
}

int nl_nb201net_is_supernet(const nl_model *m)
{
    return m && m->vt == &nb201_super_vt;
}

void nl_nb201net_defaults(nl_nb201net_opts *o)
{
    memset(o, 0, sizeof *o);
    o->C = 16;
    o->N = 5;
    o->classes = 10;
    o->in_ch = 1;
    o->hw = 32;
}

/* ------------------------------------------------------------ building */

static act *new_act(net *n, int64_t c, int64_t h, int64_t w)
{
    if (n->nacts == n->capacts) {
        int cap = n->capacts ? 2 * n->capacts : 64;
        act **a = realloc(n->acts, (size_t)cap * sizeof *a);
        if (!a) return NULL;
        n->acts = a;
        n->capacts = cap;
    }
    act *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->c = c;
    a->h = h;
    a->w = w;
    n->acts[n->nacts++] = a;
    return a;
}

static int add_param(net *n, const char *name, int ndim, const int64_t *shape, int decay, int buffer)
{
    nl_param *arr = buffer ? n->m.buffers : n->m.params;
    int *cnt = buffer ? &n->m.nbuffers : &n->m.nparams;
    nl_param *p = &arr[*cnt];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->w = nl_tensor_new(ndim, shape);
    if (!p->w) return NL_ENOMEM;
    if (!buffer) {
        p->g = nl_tensor_new(ndim, shape);
        if (!p->g) return NL_ENOMEM;
    }
    p->decay = decay;
    return (*cnt)++;
}

static void uniform_fill(nl_tensor *t, double bound, nl_rng *r)
{
    float *d = nl_tensor_data(t);
    int64_t n = nl_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) d[i] = (float)((2.0 * nl_rng_uniform(r) - 1.0) * bound);
}

/* A BN over c channels named "<prefix>.g" etc.; returns the gamma index. */
static int add_bn(net *n, const char *prefix, int64_t c, int *buf)
{
    char name[64];
    snprintf(name, sizeof name, "%s.g", prefix);
    int g = add_param(n, name, 1, &c, 0, 0);
    if (g < 0) return g;
    nl_tensor_fill(n->m.params[g].w, 1.0f);
    snprintf(name, sizeof name, "%s.b", prefix);
    int b = add_param(n, name, 1, &c, 0, 0);
    if (b < 0) return b;
    snprintf(name, sizeof name, "%s.rm", prefix);
    int rm = add_param(n, name, 1, &c, 0, 1);
    if (rm < 0) return rm;
    snprintf(name, sizeof name, "%s.rv", prefix);
    int rv = add_param(n, name, 1, &c, 0, 1);
    if (rv < 0) return rv;
    nl_tensor_fill(n->m.buffers[rv].w, 1.0f);
    *buf = rm;
    return g;
}

/* conv k x k cin -> cout (+ BN when bn), weights drawn from r. */
static int init_unit(net *n, unit *u, const char *prefix, int64_t cin, int64_t cout, int k, int stride,
                     int bn, nl_rng *r)
{
    char name[64];
    u->k = k;
    u->stride = stride;
    u->pad = (k - 1) / 2;
    u->b = -1;
    snprintf(name, sizeof name, "%s.w", prefix);
    int64_t ws[4] = { cout, cin, k, k };
    u->p = add_param(n, name, 4, ws, 1, 0);
    if (u->p < 0) return u->p;
    uniform_fill(n->m.params[u->p].w, 1.0 / sqrt((double)(cin * k * k)), r);
    if (bn) {
        snprintf(name, sizeof name, "%s.bn", prefix);
        int g = add_bn(n, name, cout, &u->b);
        if (g < 0) return g;
        u->smean = nl_tensor_new(1, &cout);
        u->sinv = nl_tensor_new(1, &cout);
        if (!u->smean || !u->sinv) return NL_ENOMEM;
    }
    return 0;
}

static int track_unit(net *n, unit *u)
{
    if (n->nunits == n->capunits) {
        int cap = n->capunits ? 2 * n->capunits : 64;
        unit **a = realloc(n->units, (size_t)cap * sizeof *a);
        if (!a) return NL_ENOMEM;
        n->units = a;
        n->capunits = cap;
    }
    n->units[n->nunits++] = u;
    return 0;
}

static void net_free(nl_model *m)
{
    net *n = (net *)m;
    for (int i = 0; i < n->m.nparams; i++) {
        nl_tensor_free(n->m.params[i].w);
        nl_tensor_free(n->m.params[i].g);
    }
    for (int i = 0; i < n->m.nbuffers; i++) nl_tensor_free(n->m.buffers[i].w);
    free(n->m.params);
    free(n->m.buffers);
    free(n->m.active);
    for (int i = 0; i < n->nacts; i++) {
        nl_tensor_free(n->acts[i]->v);
        nl_tensor_free(n->acts[i]->full);
        free(n->acts[i]);
    }
    free(n->acts);
    for (int i = 0; i < n->nunits; i++) {
        nl_tensor_free(n->units[i]->smean);
        nl_tensor_free(n->units[i]->sinv);
    }
    free(n->units);
    if (n->cells)
        for (int c = 0; c < n->ncells; c++)
            for (int e = 0; e < 6; e++)
                for (int k = 0; k < 2; k++) free(n->cells[c].conv[e][k]);
    free(n->cells);
    nl_tensor_free(n->feat);
    nl_tensor_free(n->logits);
    nl_tensor_free(n->dfeat);
    nl_tensor_free(n->vfeat);
    nl_tensor_free(n->vlogits);
    nl_tensor_free(n->vdfeat);
    free(n);
}

static void fmt_cell(const uint8_t ops[6], char *buf, size_t cap)
{
    static const char *names[5] = { "none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3" };
    snprintf(buf, cap, "|%s~0|+|%s~0|%s~1|+|%s~0|%s~1|%s~2|", names[ops[0]], names[ops[1]], names[ops[2]],
             names[ops[3]], names[ops[4]], names[ops[5]]);
}

static int check_ops(const uint8_t ops[6], const char *what)
{
    for (int e = 0; e < 6; e++)
        if (ops[e] > 4) return nl_err(NL_EINVAL, "%s: op %d of edge %d is outside 0..4", what, ops[e], e + 1);
    return 0;
}

static int build(net *n, nl_rng *r)
{
    const nl_nb201net_opts *o = &n->o;
    int rc;
    int64_t C = o->C, hw = o->hw;
    n->ncells = 3 * o->N;
    int maxp = 3 + n->ncells * 6 * 2 * 3 + 2 * 9 + 4, maxb = 2 + n->ncells * 6 * 2 * 2 + 2 * 4 + 2;
    n->m.params = calloc((size_t)maxp, sizeof *n->m.params);
    n->m.buffers = calloc((size_t)maxb, sizeof *n->m.buffers);
    n->cells = calloc((size_t)n->ncells, sizeof *n->cells);
    if (!n->m.params || !n->m.buffers || !n->cells) return NL_ENOMEM;

    if ((rc = init_unit(n, &n->stem, "stem", o->in_ch, C, 3, 1, 1, r))) return rc;
    if ((rc = track_unit(n, &n->stem))) return rc;
    if (!(n->stem_c = new_act(n, C, hw, hw)) || !(n->stem_out = new_act(n, C, hw, hw)))
        return NL_ENOMEM;

    int64_t c = C, h = hw;
    for (int s = 0; s < 3; s++) {
        if (s > 0) {
            block *b = &n->blk[s - 1];
            char name[64];
            int64_t co = 2 * c, ho = h / 2;
            snprintf(name, sizeof name, "block%d.a.conv", s - 1);
            if ((rc = init_unit(n, &b->a, name, c, co, 3, 2, 1, r))) return rc;
            snprintf(name, sizeof name, "block%d.b.conv", s - 1);
            if ((rc = init_unit(n, &b->b, name, co, co, 3, 1, 1, r))) return rc;
            snprintf(name, sizeof name, "block%d.shortcut.conv", s - 1);
            if ((rc = init_unit(n, &b->sc, name, c, co, 1, 1, 0, r))) return rc;
            if ((rc = track_unit(n, &b->a)) || (rc = track_unit(n, &b->b)) || (rc = track_unit(n, &b->sc)))
                return rc;
            if (!(b->ra = new_act(n, c, h, h)) || !(b->ca = new_act(n, co, ho, ho)) ||
                !(b->ba = new_act(n, co, ho, ho)) || !(b->rb = new_act(n, co, ho, ho)) ||
                !(b->cb = new_act(n, co, ho, ho)) || !(b->sp = new_act(n, c, ho, ho)) ||
                !(b->out = new_act(n, co, ho, ho)))
                return NL_ENOMEM;
            act **d = n->dblk[s - 1];
            if (!(d[0] = new_act(n, c, ho, ho)) || !(d[2] = new_act(n, co, ho, ho)) || !(d[3] = new_act(n, co, ho, ho)) ||
                !(d[4] = new_act(n, co, ho, ho)) || !(d[5] = new_act(n, c, h, h)))
                return NL_ENOMEM;
            c = co;
            h = ho;
        }
        gstage *g = &n->gs[s];
        for (int i = 0; i < 2; i++)
            if (!(g->bnd[i] = new_act(n, c, h, h))) return NL_ENOMEM;
        for (int i = 0; i < 3; i++) {
            if (i > 0 && !(g->dn[i] = new_act(n, c, h, h))) return NL_ENOMEM;
            if (!(g->dr[i] = new_act(n, c, h, h))) return NL_ENOMEM;
        }
        if (!(g->tmp = new_act(n, c, h, h)) || !(g->dtmp = new_act(n, c, h, h))) return NL_ENOMEM;
        for (int k = 0; k < o->N; k++) {
            int ci = s * o->N + k;
            cell *ce = &n->cells[ci];
            for (int i = 1; i < 4; i++)
                if (!(ce->node[i] = new_act(n, c, h, h))) return NL_ENOMEM;
            for (int j = 0; j < 3; j++)
                if (!(ce->relu[j] = new_act(n, c, h, h))) return NL_ENOMEM;
            for (int e = 0; e < 6; e++) {
                int want1 = o->supernet || o->ops[e] == OP_CONV1, want3 = o->supernet || o->ops[e] == OP_CONV3;
                if (want1 || want3)
                    if (!(ce->cout[e] = new_act(n, c, h, h))) return NL_ENOMEM;
                for (int kk = 0; kk < 2; kk++) {
                    if (!(kk ? want3 : want1)) continue;
                    unit *u = calloc(1, sizeof *u);
                    if (!u) return NL_ENOMEM;
                    ce->conv[e][kk] = u;
                    char name[64];
                    snprintf(name, sizeof name, "cell%d.e%d.conv%s", ci, e, kk ? "3x3" : "1x1");
                    if ((rc = init_unit(n, u, name, c, c, kk ? 3 : 1, 1, 1, r))) return rc;
                    if ((rc = track_unit(n, u))) return rc;
                }
            }
        }
    }
    /* head */
    n->hbn.k = 0;
    n->hbn.p = add_bn(n, "head.bn", c, &n->hbn.b);
    if (n->hbn.p < 0) return n->hbn.p;
    n->hbn.smean = nl_tensor_new(1, &c);
    n->hbn.sinv = nl_tensor_new(1, &c);
    if (!n->hbn.smean || !n->hbn.sinv) return NL_ENOMEM;
    if ((rc = track_unit(n, &n->hbn))) return rc;
    int64_t fs[2] = { o->classes, c };
    n->fc_w = add_param(n, "head.fc.w", 2, fs, 1, 0);
    if (n->fc_w < 0) return n->fc_w;
    int64_t nc = o->classes;
    n->fc_b = add_param(n, "head.fc.b", 1, &nc, 0, 0);
    if (n->fc_b < 0) return n->fc_b;
    uniform_fill(n->m.params[n->fc_w].w, 1.0 / sqrt((double)c), r);
    uniform_fill(n->m.params[n->fc_b].w, 1.0 / sqrt((double)c), r);
    if (!(n->hb = new_act(n, c, h, h)) || !(n->hr = new_act(n, c, h, h)) || !(n->dhb = new_act(n, c, h, h)) ||
        !(n->dhr = new_act(n, c, h, h)))
        return NL_ENOMEM;
    n->m.active = calloc((size_t)n->m.nparams, 1);
    if (!n->m.active) return NL_ENOMEM;
    return 0;
}

int nl_nb201net_new(nl_model **out, const nl_nb201net_opts *o, nl_rng *r)
{
    *out = NULL;
    if (o->C < 1) return nl_err(NL_EINVAL, "nb201 network: C must be >= 1 (got %d)", o->C);
    if (o->N < 1) return nl_err(NL_EINVAL, "nb201 network: N must be >= 1 (got %d)", o->N);
    if (o->classes < 2) return nl_err(NL_EINVAL, "nb201 network: classes must be >= 2 (got %d)", o->classes);
    if (o->in_ch < 1) return nl_err(NL_EINVAL, "nb201 network: in_ch must be >= 1 (got %d)", o->in_ch);
    if (o->hw < 4 || o->hw % 4)
        return nl_err(NL_EINVAL, "nb201 network: input size must be a multiple of 4, at least 4 (got %d)", o->hw);
    int rc = check_ops(o->ops, "nb201 network");
    if (rc) return rc;
    net *n = calloc(1, sizeof *n);
    if (!n) return nl_err(NL_ENOMEM, "nb201 network: out of memory");
    n->o = *o;
    n->m.vt = o->supernet ? &nb201_super_vt : &nb201_vt;
    n->m.classes = o->classes;
    n->m.bn_momentum = 0.1;
    if ((rc = build(n, r)) < 0) {
        net_free(&n->m);
        return nl_err(NL_ENOMEM, "nb201 network: out of memory");
    }
    if ((rc = nl_nb201net_set_cell(&n->m, o->ops))) {
        net_free(&n->m);
        return rc;
    }
    *out = &n->m;
    return 0;
}

static void mark_unit(net *n, const unit *u, int on)
{
    n->m.active[u->p] = (uint8_t)on;
    if (u->b >= 0) n->m.active[u->p + 1] = n->m.active[u->p + 2] = (uint8_t)on;
}

int nl_nb201net_set_cell(nl_model *m, const uint8_t ops[6])
{
    if (!nl_nb201net_is(m)) return nl_err(NL_EINVAL, "set_cell: not an nb201 network");
    net *n = (net *)m;
    int rc = check_ops(ops, "set_cell");
    if (rc) return rc;
    if (!n->o.supernet) {
        for (int e = 0; e < 6; e++) {
            int k = ops[e] == OP_CONV1 ? 0 : ops[e] == OP_CONV3 ? 1 : -1;
            if (k >= 0 && !n->cells[0].conv[e][k]) {
                char want[160], have[160];
                fmt_cell(ops, want, sizeof want);
                fmt_cell(n->o.ops, have, sizeof have);
                return nl_err(NL_EINVAL, "set_cell: network was built for cell %s and has no weights for %s",
                              have, want);
            }
        }
    }
    memcpy(n->cur, ops, 6);
    memset(m->active, 1, (size_t)m->nparams);
    for (int c = 0; c < n->ncells; c++)
        for (int e = 0; e < 6; e++)
            for (int k = 0; k < 2; k++)
                if (n->cells[c].conv[e][k])
                    mark_unit(n, n->cells[c].conv[e][k], ops[e] == (k ? OP_CONV3 : OP_CONV1));
    return 0;
}

void nl_nb201net_cell(const nl_model *m, uint8_t ops[6])
{
    memcpy(ops, ((const net *)m)->cur, 6);
}

int nl_nb201net_layers(const nl_model *m, const nl_tensor **out)
{
    if (!nl_nb201net_is(m)) return nl_err(NL_EINVAL, "layers: not an nb201 network");
    const net *n = (const net *)m;
    if (!out) return 3 * n->o.N + 2;
    if (n->batch < 1) return nl_err(NL_EINVAL, "layers: the network has run no forward yet");
    int L = 0;
    for (int s = 0; s < 3; s++) {
        if (s > 0) out[L++] = n->blk[s - 1].out->v;
        for (int k = 0; k < n->o.N; k++) out[L++] = n->cells[s * n->o.N + k].node[3]->v;
    }
    return L;
}

int nl_nb201net_features(const nl_model *m, const nl_tensor **out)
{
    if (!out) return nl_err(NL_EINVAL, "features: no place for the result");
    *out = NULL;
    if (!nl_nb201net_is(m)) return nl_err(NL_EINVAL, "features: not an nb201 network");
    const net *n = (const net *)m;
    if (n->batch < 1) return nl_err(NL_EINVAL, "features: the network has run no forward yet");
    *out = n->vfeat;
    return 0;
}

int64_t nl_nb201net_macs(const nl_model *m)
{
    const net *n = (const net *)m;
    int64_t C = n->o.C, hw = n->o.hw, macs = 9 * n->o.in_ch * C * hw * hw;
    int64_t c = C, h = hw;
    for (int s = 0; s < 3; s++) {
        if (s > 0) {
            int64_t co = 2 * c, ho = h / 2;
            macs += 9 * c * co * ho * ho + 9 * co * co * ho * ho + c * co * ho * ho;
            c = co;
            h = ho;
        }
        for (int e = 0; e < 6; e++) {
            if (n->cur[e] == OP_CONV1) macs += n->o.N * c * c * h * h;
            if (n->cur[e] == OP_CONV3) macs += n->o.N * 9 * c * c * h * h;
        }
    }
    return macs + c * n->o.classes + n->o.classes; /* the classifier, with its bias as the benchmark counts it */
}

/* ------------------------------------------------------------ masks */

int nl_nb201net_check_mask(const uint8_t mask[6])
{
    for (int e = 0; e < 6; e++)
        if (mask[e] == 0 || mask[e] > 31)
            return nl_err(NL_EINVAL, "mask: edge %d allows %s (a set of ops must be in 1..31)", e + 1,
                          mask[e] ? "ops outside 0..4" : "no op");
    return 0;
}

int nl_nb201net_sample_masked(const uint8_t mask[6], nl_rng *r, uint8_t ops[6])
{
    int rc = nl_nb201net_check_mask(mask);
    if (rc) return rc;
    for (int e = 0; e < 6; e++) {
        int cnt = 0;
        for (int k = 0; k < 5; k++) cnt += (mask[e] >> k) & 1;
        int pick = (int)nl_rng_below(r, (uint64_t)cnt);
        for (int k = 0; k < 5; k++)
            if ((mask[e] >> k) & 1 && pick-- == 0) {
                ops[e] = (uint8_t)k;
                break;
            }
    }
    return 0;
}

int nl_nb201net_mask_has(const uint8_t mask[6], const uint8_t ops[6])
{
    for (int e = 0; e < 6; e++)
        if (ops[e] >= 5 || !((mask[e] >> ops[e]) & 1)) return 0;
    return 1;
}

/* ------------------------------------------------------------ batch size */

static int set_batch(net *n, int64_t b)
{
    if (b == n->batch) return 0;
    if (b > n->cap) {
        for (int i = 0; i < n->nacts; i++) {
            act *a = n->acts[i];
            nl_tensor_free(a->v);
            nl_tensor_free(a->full);
            a->v = NULL;
            int64_t s[4] = { b, a->c, a->h, a->w };
            if (!(a->full = nl_tensor_new(4, s))) return nl_err(NL_ENOMEM, "nb201 network: out of memory for batch %lld", (long long)b);
        }
        nl_tensor_free(n->feat);
        nl_tensor_free(n->logits);
        nl_tensor_free(n->dfeat);
        int64_t fs[2] = { b, n->hb->c }, ls[2] = { b, n->o.classes };
        n->feat = nl_tensor_new(2, fs);
        n->dfeat = nl_tensor_new(2, fs);
        n->logits = nl_tensor_new(2, ls);
        if (!n->feat || !n->dfeat || !n->logits) return nl_err(NL_ENOMEM, "nb201 network: out of memory");
        n->cap = b;
    }
    for (int i = 0; i < n->nacts; i++) {
        act *a = n->acts[i];
        nl_tensor_free(a->v);
        a->v = NULL;
        if (nl_tensor_slice(&a->v, a->full, 0, 0, b, 1)) return nl_err(NL_ENOMEM, "nb201 network: out of memory");
    }
    nl_tensor_free(n->vfeat);
    nl_tensor_free(n->vlogits);
    nl_tensor_free(n->vdfeat);
    n->vfeat = n->vlogits = n->vdfeat = NULL;
    if (nl_tensor_slice(&n->vfeat, n->feat, 0, 0, b, 1) || nl_tensor_slice(&n->vlogits, n->logits, 0, 0, b, 1) ||
        nl_tensor_slice(&n->vdfeat, n->dfeat, 0, 0, b, 1))
        return nl_err(NL_ENOMEM, "nb201 network: out of memory");
    n->batch = b;
    return 0;
}

/* ------------------------------------------------------------ forward */

/* ------------------------------------------------------------ elementwise
 * The element-wise kernels (ReLU, pooling, sums, fills) are single-threaded;
 * at NB201 sizes they take a third of a step, so the network splits them over
 * the ctx workers by examples: each worker runs the kernel on views of its
 * rows [lo, hi) of the batch. */

enum { EW_FILL0, EW_ACC, EW_COPY, EW_RELU_F, EW_RELU_B, EW_POOL_F, EW_POOL_B };

typedef struct ewjob {
    int kind;
    nl_tensor *y;
    const nl_tensor *x, *z;
    int k, stride, pad;
    int rc[64];
} ewjob;

static void ew_run(void *arg, int w, int workers)
{
    ewjob *j = arg;
    int64_t lo, hi, n = j->y->shape[0];
    nl_nn_split(n, w, workers, &lo, &hi);
    j->rc[w] = 0;
    if (lo >= hi) return;
    int64_t per = nl_tensor_numel(j->y) / (n ? n : 1);
    float *y = nl_tensor_data(j->y) + lo * per;
    if (j->kind == EW_FILL0) {
        memset(y, 0, (size_t)((hi - lo) * per) * sizeof *y);
        return;
    }
    if (j->kind == EW_ACC || j->kind == EW_COPY) {
        const float *x = nl_tensor_data(j->x) + lo * per;
        if (j->kind == EW_ACC) nl_nn_acc(y, x, (hi - lo) * per);
        else memcpy(y, x, (size_t)((hi - lo) * per) * sizeof *y);
        return;
    }
    nl_tensor *vy = NULL, *vx = NULL, *vz = NULL;
    int rc = nl_tensor_slice(&vy, j->y, 0, lo, hi, 1);
    if (!rc) rc = nl_tensor_slice(&vx, j->x, 0, lo, hi, 1);
    if (!rc && j->z) rc = nl_tensor_slice(&vz, j->z, 0, lo, hi, 1);
    if (!rc) switch (j->kind) {
        case EW_RELU_F: rc = nl_relu_forward(vy, vx); break;
        case EW_RELU_B: rc = nl_relu_backward(vy, vx, vz); break;
        case EW_POOL_F: rc = nl_avgpool_forward(vy, vx, j->k, j->stride, j->pad, 0); break;
        default: rc = nl_avgpool_backward(vy, vx, vz, j->k, j->stride, j->pad, 0); break;
        }
    nl_tensor_free(vy);
    nl_tensor_free(vx);
    nl_tensor_free(vz);
    j->rc[w] = rc;
}

static int ew(nl_nn_ctx *c, int kind, nl_tensor *y, const nl_tensor *x, const nl_tensor *z, int k, int stride,
              int pad)
{
    ewjob j = { .kind = kind, .y = y, .x = x, .z = z, .k = k, .stride = stride, .pad = pad };
    nl_nn_ctx_run(c, ew_run, &j);
    for (int w = 0; w < nl_nn_ctx_threads(c); w++)
        if (j.rc[w]) return j.rc[w];
    return 0;
}

static void zero(nl_nn_ctx *c, nl_tensor *t) { ew(c, EW_FILL0, t, NULL, NULL, 0, 0, 0); }
static void add_into(nl_nn_ctx *c, nl_tensor *y, const nl_tensor *x) { ew(c, EW_ACC, y, x, NULL, 0, 0, 0); }
static int relu_f(nl_nn_ctx *c, nl_tensor *y, const nl_tensor *x) { return ew(c, EW_RELU_F, y, x, NULL, 0, 0, 0); }
/* dx += dy where x > 0 */
static int relu_b(nl_nn_ctx *c, nl_tensor *dx, const nl_tensor *dy, const nl_tensor *x)
{
    return ew(c, EW_RELU_B, dx, dy, x, 0, 0, 0);
}
static int pool_f(nl_nn_ctx *c, nl_tensor *y, const nl_tensor *x, int k, int s, int p)
{
    return ew(c, EW_POOL_F, y, x, NULL, k, s, p);
}
/* dx += d avgpool */
static int pool_b(nl_nn_ctx *c, nl_tensor *dx, const nl_tensor *dy, const nl_tensor *x, int k, int s, int p)
{
    return ew(c, EW_POOL_B, dx, dy, x, k, s, p);
}

#define W(i) (n->m.params[(i)].w)
#define G(i) (n->m.params[(i)].g)
#define BUF(i) (n->m.buffers[(i)].w)

static int unit_fwd(net *n, nl_nn_ctx *c, const unit *u, nl_tensor *conv_out, nl_tensor *y, const nl_tensor *x,
                    int training)
{
    int rc = nl_conv2d_forward(c, conv_out, x, W(u->p), NULL, u->stride, u->pad, 1);
    if (rc || u->b < 0) return rc;
    return nl_bn_forward(c, y, conv_out, W(u->p + 1), W(u->p + 2), BUF(u->b), BUF(u->b + 1), u->smean, u->sinv,
                         training, n->m.bn_momentum, 1e-5);
}

/* d conv_out from dy through the BN (into dconv, zeroed here), then dx += and
 * dw += through the conv. */
static int unit_bwd(net *n, nl_nn_ctx *c, const unit *u, nl_tensor *dx, nl_tensor *dconv, const nl_tensor *dy,
                    const nl_tensor *conv_out, const nl_tensor *x)
{
    int rc;
    const nl_tensor *dc = dy;
    if (u->b >= 0) {
        zero(c, dconv);
        if ((rc = nl_bn_backward(c, dconv, G(u->p + 1), G(u->p + 2), dy, conv_out, W(u->p + 1), u->smean, u->sinv)))
            return rc;
        dc = dconv;
    }
    return nl_conv2d_backward(c, dx, G(u->p), NULL, dc, x, W(u->p), u->stride, u->pad, 1);
}

static int cell_fwd(net *n, nl_nn_ctx *c, cell *ce, gstage *g, const nl_tensor *x, int training)
{
    int rc;
    const uint8_t *ops = n->cur;
    const nl_tensor *node[4] = { x, ce->node[1]->v, ce->node[2]->v, ce->node[3]->v };
    for (int i = 1; i < 4; i++) {
        nl_tensor *ni = ce->node[i]->v;
        int j = i - 1; /* node j is complete now: its ReLU, if a conv reads it */
        for (int e = 0; e < 6; e++)
            if (edge_src[e] == j && (ops[e] == OP_CONV1 || ops[e] == OP_CONV3)) {
                if ((rc = relu_f(c, ce->relu[j]->v, node[j]))) return rc;
                break;
            }
        /* the first operation writes node i, the others are added to it */
        int first = 1;
        for (int e = 0; e < 6; e++) {
            if (edge_dst[e] != i || ops[e] == OP_NONE) continue;
            int s = edge_src[e];
            nl_tensor *out = first ? ni : g->tmp->v;
            switch (ops[e]) {
            case OP_SKIP:
                if (first) ew(c, EW_COPY, ni, node[s], NULL, 0, 0, 0);
                else add_into(c, ni, node[s]);
                out = ni;
                break;
            case OP_POOL:
                if ((rc = pool_f(c, out, node[s], 3, 1, 1))) return rc;
                break;
            default:
                /* each ReLU-conv-BN op of the reference has its own ReLU */
                if ((rc = nl_nn_ctx_relu_input(c, node[s]))) return rc;
                if ((rc = unit_fwd(n, c, ce->conv[e][ops[e] == OP_CONV3], ce->cout[e]->v, out, ce->relu[s]->v,
                                   training)))
                    return rc;
            }
            if (out != ni) add_into(c, ni, out);
            first = 0;
        }
        if (first) zero(c, ni);
    }
    return 0;
}

/* dy = d node 3 (not modified); dx (zeroed by the caller) += d node 0. */
static int cell_bwd(net *n, nl_nn_ctx *c, cell *ce, gstage *g, const nl_tensor *x, const nl_tensor *dy,
                    nl_tensor *dx)
{
    int rc;
    const uint8_t *ops = n->cur;
    const nl_tensor *node[4] = { x, ce->node[1]->v, ce->node[2]->v, ce->node[3]->v };
    nl_tensor *dn[4] = { dx, g->dn[1]->v, g->dn[2]->v, NULL };
    int userelu[3] = { 0, 0, 0 };
    for (int e = 0; e < 6; e++)
        if (ops[e] == OP_CONV1 || ops[e] == OP_CONV3) userelu[edge_src[e]] = 1;
    zero(c, dn[1]);
    zero(c, dn[2]);
    for (int j = 0; j < 3; j++)
        if (userelu[j]) zero(c, g->dr[j]->v);
    for (int i = 3; i >= 1; i--) {
        const nl_tensor *dni = i == 3 ? dy : dn[i];
        if (i < 3 && userelu[i] && (rc = relu_b(c, dn[i], g->dr[i]->v, node[i]))) return rc;
        for (int e = 5; e >= 0; e--) {
            if (edge_dst[e] != i) continue;
            int s = edge_src[e];
            switch (ops[e]) {
            case OP_NONE: break;
            case OP_SKIP: add_into(c, dn[s], dni); break;
            case OP_POOL:
                if ((rc = pool_b(c, dn[s], dni, node[s], 3, 1, 1))) return rc;
                break;
            default:
                if ((rc = unit_bwd(n, c, ce->conv[e][ops[e] == OP_CONV3], g->dr[s]->v, g->dtmp->v, dni,
                                   ce->cout[e]->v, ce->relu[s]->v)))
                    return rc;
            }
        }
    }
    if (userelu[0]) return relu_b(c, dx, g->dr[0]->v, x);
    return 0;
}

static int block_fwd(net *n, nl_nn_ctx *c, block *b, const nl_tensor *x, int training)
{
    int rc;
    if ((rc = nl_nn_ctx_relu_input(c, x)) || (rc = relu_f(c, b->ra->v, x))) return rc;
    if ((rc = unit_fwd(n, c, &b->a, b->ca->v, b->ba->v, b->ra->v, training))) return rc;
    if ((rc = nl_nn_ctx_relu_input(c, b->ba->v)) || (rc = relu_f(c, b->rb->v, b->ba->v))) return rc;
    if ((rc = unit_fwd(n, c, &b->b, b->cb->v, b->out->v, b->rb->v, training))) return rc;
    if ((rc = pool_f(c, b->sp->v, x, 2, 2, 0))) return rc;
    /* the shortcut conv's output is needed only for the sum: the stage's tmp */
    nl_tensor *t = n->gs[b == &n->blk[0] ? 1 : 2].tmp->v;
    if ((rc = nl_conv2d_forward(c, t, b->sp->v, W(b->sc.p), NULL, 1, 0, 1))) return rc;
    add_into(c, b->out->v, t);
    return 0;
}

static int block_bwd(net *n, nl_nn_ctx *c, block *b, act **d, const nl_tensor *x, const nl_tensor *dy, nl_tensor *dx)
{
    int rc;
    nl_tensor *dtmp = n->gs[b == &n->blk[0] ? 1 : 2].dtmp->v;
    /* shortcut */
    zero(c, d[0]->v);
    if ((rc = nl_conv2d_backward(c, d[0]->v, G(b->sc.p), NULL, dy, b->sp->v, W(b->sc.p), 1, 0, 1))) return rc;
    if ((rc = pool_b(c, dx, d[0]->v, x, 2, 2, 0))) return rc;
    /* main branch */
    zero(c, d[2]->v);
    if ((rc = unit_bwd(n, c, &b->b, d[2]->v, dtmp, dy, b->cb->v, b->rb->v))) return rc;
    zero(c, d[3]->v);
    if ((rc = relu_b(c, d[3]->v, d[2]->v, b->ba->v))) return rc;
    zero(c, d[5]->v);
    if ((rc = unit_bwd(n, c, &b->a, d[5]->v, d[4]->v, d[3]->v, b->ca->v, b->ra->v))) return rc;
    return relu_b(c, dx, d[5]->v, x);
}

static int net_forward(nl_model *m, nl_nn_ctx *c, const nl_tensor *x, int training, const nl_tensor **logits)
{
    net *n = (net *)m;
    int rc;
    char a[NL_TENSOR_MAXDIM * 24];
    if (x->ndim != 4 || x->shape[1] != n->o.in_ch || x->shape[2] != n->o.hw || x->shape[3] != n->o.hw)
        return nl_err(NL_ESHAPE, "nb201 network: input has shape %s, expected [N,%d,%d,%d]",
                      nl_tensor_shape_str(x, a, sizeof a), n->o.in_ch, n->o.hw, n->o.hw);
    if (!nl_tensor_is_contiguous(x)) return nl_err(NL_EINVAL, "nb201 network: input is not contiguous");
    if (x->shape[0] < 1) return nl_err(NL_EINVAL, "nb201 network: empty batch");
    if (training && x->shape[0] < 2)
        return nl_err(NL_EINVAL, "nb201 network: a training batch needs at least 2 examples (batch norm)");
    if ((rc = set_batch(n, x->shape[0]))) return rc;
    n->input = x;
    if ((rc = unit_fwd(n, c, &n->stem, n->stem_c->v, n->stem_out->v, x, training))) return rc;
    const nl_tensor *h = n->stem_out->v;
    for (int s = 0; s < 3; s++) {
        if (s > 0) {
            if ((rc = block_fwd(n, c, &n->blk[s - 1], h, training))) return rc;
            h = n->blk[s - 1].out->v;
        }
        for (int k = 0; k < n->o.N; k++) {
            cell *ce = &n->cells[s * n->o.N + k];
            if ((rc = cell_fwd(n, c, ce, &n->gs[s], h, training))) return rc;
            h = ce->node[3]->v;
        }
    }
    if ((rc = nl_bn_forward(c, n->hb->v, h, W(n->hbn.p), W(n->hbn.p + 1), BUF(n->hbn.b), BUF(n->hbn.b + 1),
                            n->hbn.smean, n->hbn.sinv, training, m->bn_momentum, 1e-5)))
        return rc;
    if ((rc = nl_nn_ctx_relu_input(c, n->hb->v)) || (rc = relu_f(c, n->hr->v, n->hb->v))) return rc;
    if ((rc = nl_gap_forward(n->vfeat, n->hr->v))) return rc;
    if ((rc = nl_linear_forward(c, n->vlogits, n->vfeat, W(n->fc_w), W(n->fc_b)))) return rc;
    *logits = n->vlogits;
    return 0;
}

static int net_backward(nl_model *m, nl_nn_ctx *c, const nl_tensor *dlogits)
{
    net *n = (net *)m;
    int rc;
    if (!n->input) return nl_err(NL_EINVAL, "nb201 network: backward without a training forward");
    nl_tensor_fill(n->vdfeat, 0.0f);
    if ((rc = nl_linear_backward(c, n->vdfeat, G(n->fc_w), G(n->fc_b), dlogits, n->vfeat, W(n->fc_w)))) return rc;
    zero(c, n->dhr->v);
    if ((rc = nl_gap_backward(n->dhr->v, n->vdfeat))) return rc;
    zero(c, n->dhb->v);
    if ((rc = relu_b(c, n->dhb->v, n->dhr->v, n->hb->v))) return rc;
    const nl_tensor *last = n->cells[n->ncells - 1].node[3]->v;
    gstage *g = &n->gs[2];
    int p = 0;
    zero(c, g->bnd[p]->v);
    if ((rc = nl_bn_backward(c, g->bnd[p]->v, G(n->hbn.p), G(n->hbn.p + 1), n->dhb->v, last, W(n->hbn.p),
                             n->hbn.smean, n->hbn.sinv)))
        return rc;
    /* dy lives in gs[s].bnd[p]; each cell writes its input's gradient into the other */
    for (int s = 2; s >= 0; s--) {
        g = &n->gs[s];
        for (int k = n->o.N - 1; k >= 0; k--) {
            int ci = s * n->o.N + k;
            const nl_tensor *x = ci > 0 && k > 0 ? n->cells[ci - 1].node[3]->v
                                 : s > 0         ? n->blk[s - 1].out->v
                                                 : n->stem_out->v;
            zero(c, g->bnd[1 - p]->v);
            if ((rc = cell_bwd(n, c, &n->cells[ci], g, x, g->bnd[p]->v, g->bnd[1 - p]->v))) return rc;
            p = 1 - p;
        }
        if (s > 0) {
            gstage *gp = &n->gs[s - 1];
            const nl_tensor *x = n->cells[s * n->o.N - 1].node[3]->v;
            zero(c, gp->bnd[0]->v);
            if ((rc = block_bwd(n, c, &n->blk[s - 1], n->dblk[s - 1], x, g->bnd[p]->v, gp->bnd[0]->v))) return rc;
            p = 0;
        }
    }
    /* the stem needs no input gradient */
    return unit_bwd(n, c, &n->stem, NULL, n->gs[0].dtmp->v, n->gs[0].bnd[p]->v, n->stem_c->v, n->input);
}

static void net_reset_bn(nl_model *m)
{
    for (int i = 0; i < m->nbuffers; i++) {
        const char *s = strrchr(m->buffers[i].name, '.');
        nl_tensor_fill(m->buffers[i].w, s && !strcmp(s, ".rv") ? 1.0f : 0.0f);
    }
}

static const nl_model_vt nb201_vt = {
    .name = "nb201",
    .forward = net_forward,
    .backward = net_backward,
    .reset_bn = net_reset_bn,
    .free = net_free,
};

static const nl_model_vt nb201_super_vt = {
    .name = "nb201-supernet",
    .forward = net_forward,
    .backward = net_backward,
    .reset_bn = net_reset_bn,
    .free = net_free,
};

void nl_model_free(nl_model *m)
{
    if (m) m->vt->free(m);
}

int64_t nl_model_numel(const nl_model *m)
{
    int64_t s = 0;
    for (int i = 0; i < m->nparams; i++) s += nl_tensor_numel(m->params[i].w);
    return s;
}
