/* SPDX-License-Identifier: GPL-3.0-or-later */
/* metad2a.c - see metad2a.h. Layer names follow the reference code, so a
 * reader can hold the two side by side. */
#include "predict/metad2a.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/tensor.h"
#include "nn/checkpoint.h"
#include "nn/optim.h"
#include "nn/tape.h"

enum {
    NV = 8,        /* nodes of a cell graph */
    NVT = 7,       /* node types: START, END, five ops */
    T_START = 0,
    T_END = 1,
    MAXP = 160,    /* params of a model, with room */
    MAXW = 16      /* workers */
};

/* The NAS-Bench-201 cell as an 8-node graph: node 1 + e holds the op of edge
 * e (edges 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2); an op node feeds the op nodes
 * that read the cell node it writes; nodes that write cell node 3 feed END. */
static const uint8_t ADJ[NV][NV] = {
    { 0, 1, 1, 0, 1, 0, 0, 0 }, { 0, 0, 0, 1, 0, 1, 0, 0 }, { 0, 0, 0, 0, 0, 0, 1, 0 },
    { 0, 0, 0, 0, 0, 0, 1, 0 }, { 0, 0, 0, 0, 0, 0, 0, 1 }, { 0, 0, 0, 0, 0, 0, 0, 1 },
    { 0, 0, 0, 0, 0, 0, 0, 1 }, { 0 },
};

typedef struct lin {
    int W, b; /* param indices; b -1 for none */
} lin;
typedef struct mab {
    lin q, k, v, o;
} mab;
typedef struct setpool {
    mab sab1, sab2, pma;
    int seed; /* PMA's seed vector */
    lin dec;
} setpool;
typedef struct gru {
    lin ih, hh;
    int hid;
} gru;

/* One worker: a tape, its own view of the params (worker 0 the model's;
 * the others share the values and keep their own gradients, which are
 * added to the model's after a step) and its own generator, seeded per item
 * from the model's, so results do not depend on which worker takes an item. */
typedef struct wk {
    nl_tape *t;
    nl_param *p;
    int bound[MAXP];
    nl_rng rng;
    int *idx; /* scratch: row indices of a class */
    size_t idxcap;
} wk;

struct nl_metad2a {
    nl_metad2a_opts o;
    nl_param p[MAXP];
    int np;
    int ngen;     /* params 0..ngen-1 belong to the generator, the rest to the predictor */
    wk w[MAXW];
    int nw;       /* workers: threads over the items of a batch, the samples of a prediction */
    nl_rng rng;
    nl_optim *opt[2];
    double y_mean, y_std;
    /* generator */
    setpool g_intra, g_inter;
    lin g_mu, g_logvar, g_h0, g_vert1, g_vert2, g_edge1, g_edge2, g_gate, g_map;
    gru g_gru;
    /* predictor */
    setpool p_intra, p_inter;
    gru p_fwd, p_bwd;
    lin p_gate_f, p_map_f, p_gate_b, p_map_b, p_unify, p_fc1, p_out1, p_out2;
};

/* ------------------------------------------------------------ params */

static int add_param(nl_metad2a *m, const char *name, int64_t rows, int64_t cols, double bound)
{
    if (m->np >= MAXP) return nl_err(NL_EINVAL, "metad2a: too many params");
    nl_param *p = &m->p[m->np];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    int64_t shape[2] = { rows, cols };
    p->w = nl_tensor_new(2, shape);
    p->g = nl_tensor_new(2, shape);
    if (!p->w || !p->g) return NL_ENOMEM;
    float *w = nl_tensor_data(p->w);
    for (int64_t i = 0; i < rows * cols; i++) w[i] = (float)((2 * nl_rng_uniform(&m->rng) - 1) * bound);
    p->decay = 0;
    return m->np++;
}

/* torch.nn.Linear(in, out[, bias]): weight and bias uniform in +-1/sqrt(in). */
static int new_lin(nl_metad2a *m, lin *l, const char *name, int in, int out, int bias)
{
    char buf[64];
    double b = 1.0 / sqrt((double)in);
    snprintf(buf, sizeof buf, "%s.weight", name);
    if ((l->W = add_param(m, buf, out, in, b)) < 0) return l->W;
    l->b = -1;
    if (bias) {
        snprintf(buf, sizeof buf, "%s.bias", name);
        if ((l->b = add_param(m, buf, 1, out, b)) < 0) return l->b;
    }
    return 0;
}

static int new_mab(nl_metad2a *m, mab *a, const char *name, int dq, int dk, int dv)
{
    char buf[64];
    int rc;
    snprintf(buf, sizeof buf, "%s.fc_q", name);
    if ((rc = new_lin(m, &a->q, buf, dq, dv, 1))) return rc;
    snprintf(buf, sizeof buf, "%s.fc_k", name);
    if ((rc = new_lin(m, &a->k, buf, dk, dv, 1))) return rc;
    snprintf(buf, sizeof buf, "%s.fc_v", name);
    if ((rc = new_lin(m, &a->v, buf, dk, dv, 1))) return rc;
    snprintf(buf, sizeof buf, "%s.fc_o", name);
    return new_lin(m, &a->o, buf, dv, dv, 1);
}

/* SetPool 'sabPF': SAB(din -> d), SAB(d -> d), PMA(1 seed), Linear(d -> d). */
static int new_setpool(nl_metad2a *m, setpool *s, const char *name, int din, int d)
{
    char buf[64];
    int rc;
    snprintf(buf, sizeof buf, "%s.enc.0", name);
    if ((rc = new_mab(m, &s->sab1, buf, din, din, d))) return rc;
    snprintf(buf, sizeof buf, "%s.enc.1", name);
    if ((rc = new_mab(m, &s->sab2, buf, d, d, d))) return rc;
    snprintf(buf, sizeof buf, "%s.dec.0.S", name);
    /* Xavier-uniform of a (1, 1, d) tensor: fan in = fan out = d */
    if ((s->seed = add_param(m, buf, 1, d, sqrt(3.0 / d))) < 0) return s->seed;
    snprintf(buf, sizeof buf, "%s.dec.0.mab", name);
    if ((rc = new_mab(m, &s->pma, buf, d, d, d))) return rc;
    snprintf(buf, sizeof buf, "%s.dec.1", name);
    return new_lin(m, &s->dec, buf, d, d, 1);
}

/* torch.nn.GRUCell(in, hid): every weight and bias uniform in +-1/sqrt(hid). */
static int new_gru(nl_metad2a *m, gru *g, const char *name, int in, int hid)
{
    char buf[64];
    double b = 1.0 / sqrt((double)hid);
    g->hid = hid;
    snprintf(buf, sizeof buf, "%s.weight_ih", name);
    if ((g->ih.W = add_param(m, buf, 3 * hid, in, b)) < 0) return g->ih.W;
    snprintf(buf, sizeof buf, "%s.bias_ih", name);
    if ((g->ih.b = add_param(m, buf, 1, 3 * hid, b)) < 0) return g->ih.b;
    snprintf(buf, sizeof buf, "%s.weight_hh", name);
    if ((g->hh.W = add_param(m, buf, 3 * hid, hid, b)) < 0) return g->hh.W;
    snprintf(buf, sizeof buf, "%s.bias_hh", name);
    if ((g->hh.b = add_param(m, buf, 1, 3 * hid, b)) < 0) return g->hh.b;
    return 0;
}

static int build(nl_metad2a *m)
{
    const nl_metad2a_opts *o = &m->o;
    int rc, nz = o->nz, hg = o->hs_gen, hp = o->hs_pred;
    if ((rc = new_setpool(m, &m->g_intra, "gen.intra_setpool", o->feat, nz)) ||
        (rc = new_setpool(m, &m->g_inter, "gen.inter_setpool", nz, nz)) ||
        (rc = new_lin(m, &m->g_mu, "gen.fc1", nz, nz, 1)) || (rc = new_lin(m, &m->g_logvar, "gen.fc2", nz, nz, 1)) ||
        (rc = new_lin(m, &m->g_h0, "gen.fc3", nz, hg, 1)) || (rc = new_gru(m, &m->g_gru, "gen.grud", NVT + (o->position ? NV : 0), hg)) ||
        (rc = new_lin(m, &m->g_vert1, "gen.add_vertex.0", hg, 2 * hg, 1)) ||
        (rc = new_lin(m, &m->g_vert2, "gen.add_vertex.2", 2 * hg, NVT, 1)) ||
        (rc = new_lin(m, &m->g_edge1, "gen.add_edge.0", 2 * hg, 4 * hg, 1)) ||
        (rc = new_lin(m, &m->g_edge2, "gen.add_edge.2", 4 * hg, 1, 1)) ||
        (rc = new_lin(m, &m->g_gate, "gen.gate", hg + NV, hg, 1)) ||
        (rc = new_lin(m, &m->g_map, "gen.mapper", hg + NV, hg, 0)))
        return rc;
    m->ngen = m->np;
    if ((rc = new_setpool(m, &m->p_intra, "pred.intra_setpool", o->feat, nz)) ||
        (rc = new_setpool(m, &m->p_inter, "pred.inter_setpool", nz, nz)) ||
        (rc = new_gru(m, &m->p_fwd, "pred.grue_forward", NVT, hp)) ||
        (rc = new_gru(m, &m->p_bwd, "pred.grue_backward", NVT, hp)) ||
        (rc = new_lin(m, &m->p_gate_f, "pred.gate_forward", hp + NV, hp, 1)) ||
        (rc = new_lin(m, &m->p_map_f, "pred.mapper_forward", hp + NV, hp, 0)) ||
        (rc = new_lin(m, &m->p_gate_b, "pred.gate_backward", hp + NV, hp, 1)) ||
        (rc = new_lin(m, &m->p_map_b, "pred.mapper_backward", hp + NV, hp, 0)) ||
        (rc = new_lin(m, &m->p_unify, "pred.hg_unify", 2 * hp, hp, 1)) ||
        (rc = new_lin(m, &m->p_fc1, "pred.fc1", hp, nz, 1)) ||
        (rc = new_lin(m, &m->p_out1, "pred.pred_fc1", 2 * nz, hp, 1)) ||
        (rc = new_lin(m, &m->p_out2, "pred.pred_fc2", hp, 1, 1)))
        return rc;
    return 0;
}

/* ------------------------------------------------------------ the tape side */

static void begin(const nl_metad2a *m, wk *w)
{
    nl_tape_reset(w->t);
    for (int i = 0; i < m->np; i++) w->bound[i] = -1;
}

/* Param i as a tape node, bound once per forward. */
static int P(const nl_metad2a *m, wk *w, int i)
{
    (void)m;
    if (w->bound[i] < 0) w->bound[i] = nl_tape_param(w->t, &w->p[i]);
    return w->bound[i];
}

static int LIN(const nl_metad2a *m, wk *w, int x, const lin *l) { return nl_tape_linear(w->t, x, P(m, w, l->W), l->b >= 0 ? P(m, w, l->b) : -1); }

/* MAB(Q, K): heads split the width; scores scaled by sqrt of the full width
 * as the reference does; O = Q' + A V' per head, then O + ReLU(fc_o O). */
static int MAB(const nl_metad2a *m, wk *w, const mab *a, int Q, int K)
{
    nl_tape *t = w->t;
    int dv = m->o.nz, h = m->o.heads, dh = dv / h;
    int q = LIN(m, w, Q, &a->q), k = LIN(m, w, K, &a->k), v = LIN(m, w, K, &a->v), out = -1;
    float s = 1.0f / sqrtf((float)dv);
    for (int i = 0; i < h; i++) {
        int qh = nl_tape_cols(t, q, i * dh, (i + 1) * dh), kh = nl_tape_cols(t, k, i * dh, (i + 1) * dh),
            vh = nl_tape_cols(t, v, i * dh, (i + 1) * dh);
        int A = nl_tape_softmax(t, nl_tape_scale(t, nl_tape_matmul(t, qh, kh, 1), s));
        int oh = nl_tape_add(t, qh, nl_tape_matmul(t, A, vh, 0));
        out = i == 0 ? oh : nl_tape_concat(t, out, oh);
    }
    return nl_tape_add(t, out, nl_tape_relu(t, LIN(m, w, out, &a->o)));
}

static int SETPOOL(const nl_metad2a *m, wk *w, const setpool *s, int X)
{
    int e = MAB(m, w, &s->sab1, X, X);
    e = MAB(m, w, &s->sab2, e, e);
    return LIN(m, w, MAB(m, w, &s->pma, P(m, w, s->seed), e), &s->dec);
}

int nl_metad2a_check_task(const nl_metad2a *m, const nl_md_task *t, const char *what)
{
    (void)m;
    if (!t || t->ncls < 2)
        return nl_err(NL_EINVAL, "%s: %d class%s (a task needs at least 2)", what, t ? t->ncls : 0,
                      t && t->ncls == 1 ? "" : "es");
    for (int k = 0; k < t->ncls; k++)
        if (t->n[k] < 1 || !t->x[k]) return nl_err(NL_EINVAL, "%s: class %d is empty", what, k + 1);
    return 0;
}

/* Dataset code (1, nz) of a fresh sample of task tk, through the intra and
 * inter SetPools of one part. */
static int ENCODE(const nl_metad2a *m, wk *w, const setpool *intra, const setpool *inter, const nl_md_task *tk)
{
    nl_tape *t = w->t;
    int feat = m->o.feat, protos = -1;
    for (int k = 0; k < tk->ncls; k++) {
        int n = tk->n[k], s = n < m->o.nsample ? n : m->o.nsample;
        if ((size_t)n > w->idxcap) {
            int *p = realloc(w->idx, (size_t)n * sizeof(int));
            if (!p) return nl_err(NL_ENOMEM, "metad2a: out of memory");
            w->idx = p;
            w->idxcap = (size_t)n;
        }
        for (int i = 0; i < n; i++) w->idx[i] = i;
        for (int i = 0; i < s; i++) { /* partial Fisher-Yates: s distinct rows */
            int j = i + (int)nl_rng_below(&w->rng, (uint64_t)(n - i)), tmp = w->idx[i];
            w->idx[i] = w->idx[j];
            w->idx[j] = tmp;
        }
        int X = nl_tape_const(t, s, feat, NULL);
        if (X < 0) return X;
        float *x = (float *)nl_tape_value(t, X);
        for (int i = 0; i < s; i++)
            memcpy(x + (size_t)i * feat, tk->x[k] + (size_t)w->idx[i] * feat, (size_t)feat * sizeof(float));
        int pr = SETPOOL(m, w, intra, X);
        protos = k == 0 ? pr : nl_tape_vconcat(t, protos, pr);
    }
    return SETPOOL(m, w, inter, protos);
}

/* Codes of a batch, one row per item; item i's sample drawn with seeds[i]. */
static int ENCODE_BATCH(const nl_metad2a *m, wk *w, int part, const nl_md_task *tasks, const int *task_of, int n,
                        const uint64_t *seeds)
{
    const setpool *a = part ? &m->p_intra : &m->g_intra, *b = part ? &m->p_inter : &m->g_inter;
    int codes = -1;
    for (int i = 0; i < n; i++) {
        nl_rng_seed(&w->rng, seeds[i]);
        int c = ENCODE(m, w, a, b, &tasks[task_of[i]]);
        codes = i == 0 ? c : nl_tape_vconcat(w->t, codes, c);
    }
    return codes;
}

/* torch.nn.GRUCell, gates in PyTorch's order r, z, n. */
static int GRU(const nl_metad2a *m, wk *w, const gru *g, int x, int h)
{
    nl_tape *t = w->t;
    int H = g->hid;
    int gi = LIN(m, w, x, &g->ih), gh = LIN(m, w, h, &g->hh);
    int r = nl_tape_sigmoid(t, nl_tape_add(t, nl_tape_cols(t, gi, 0, H), nl_tape_cols(t, gh, 0, H)));
    int z = nl_tape_sigmoid(t, nl_tape_add(t, nl_tape_cols(t, gi, H, 2 * H), nl_tape_cols(t, gh, H, 2 * H)));
    int nn = nl_tape_tanh(t, nl_tape_add(t, nl_tape_cols(t, gi, 2 * H, 3 * H), nl_tape_mul(t, r, nl_tape_cols(t, gh, 2 * H, 3 * H))));
    return nl_tape_add(t, nn, nl_tape_mul(t, z, nl_tape_sub(t, h, nn)));
}

/* D-VAE's gated message of node `vid` with state h: sigmoid(gate([h; id])) *
 * mapper([h; id]), id the one-hot of the node's position. */
static int MSG(const nl_metad2a *m, wk *w, const lin *gate, const lin *map, int h, int vid)
{
    nl_tape *t = w->t;
    int hv = nl_tape_concat(t, h, nl_tape_onehot(t, nl_tape_rows_of(t, h), NV, NULL, vid));
    return nl_tape_mul(t, nl_tape_sigmoid(t, LIN(m, w, hv, gate)), LIN(m, w, hv, map));
}

static int TYPES(const nl_metad2a *m, wk *w, int B, const int *types)
{
    (void)m;
    return nl_tape_onehot(w->t, B, NVT, types, 0);
}

/* The decoder's GRU input for node v: the one-hot type, and with
 * opts.position the one-hot position too. Without it (the reference), nodes
 * 1, 2 and 4 of a cell - all fed by START alone - get the same state whenever
 * their ops agree, and a decoder that reads the graph state off the last node
 * cannot tell where in the cell it is. */
static int XIN(const nl_metad2a *m, wk *w, int B, const int *types, int v)
{
    int x = TYPES(m, w, B, types);
    return m->o.position ? nl_tape_concat(w->t, x, nl_tape_onehot(w->t, B, NV, NULL, v)) : x;
}

static void cell_types(const uint8_t ops[6], int types[NV])
{
    types[0] = T_START;
    for (int e = 0; e < 6; e++) types[1 + e] = ops[e] + 2;
    types[7] = T_END;
}

/* ------------------------------------------------------------ generator */

/* Teacher-forced negative log-likelihood of the true graphs (types and the
 * NB201 edges) given z; returns the loss node. */
static int DECODE_LOSS(const nl_metad2a *m, wk *w, int z, int B, const uint8_t (*ops)[6])
{
    nl_tape *t = w->t;
    int H = m->o.hs_gen;
    int(*ty)[NV] = malloc((size_t)B * sizeof *ty);
    int *col = malloc((size_t)B * sizeof(int));
    float *truth = malloc((size_t)B * NV * sizeof(float));
    if (!ty || !col || !truth) {
        free(ty), free(col), free(truth);
        return nl_err(NL_ENOMEM, "metad2a: out of memory");
    }
    for (int b = 0; b < B; b++) cell_types(ops[b], ty[b]);
    int h[NV], msg[NV];
    int H0 = nl_tape_tanh(t, LIN(m, w, z, &m->g_h0));
    for (int b = 0; b < B; b++) col[b] = T_START;
    h[0] = GRU(m, w, &m->g_gru, XIN(m, w, B, col, 0), H0);
    msg[0] = MSG(m, w, &m->g_gate, &m->g_map, h[0], 0);
    int loss = -1;
    for (int v = 1; v < NV; v++) {
        for (int b = 0; b < B; b++) col[b] = ty[b][v];
        int logits = LIN(m, w, nl_tape_relu(t, LIN(m, w, h[v - 1], &m->g_vert1)), &m->g_vert2);
        int tl = nl_tape_ce(t, logits, col);
        loss = loss < 0 ? tl : nl_tape_add(t, loss, tl);
        int x = XIN(m, w, B, col, v), Hin = nl_tape_fill(t, B, H, 0.0f);
        h[v] = GRU(m, w, &m->g_gru, x, Hin);
        for (int vi = v - 1; vi >= 0; vi--) {
            int p = nl_tape_sigmoid(
                t, LIN(m, w, nl_tape_relu(t, LIN(m, w, nl_tape_concat(t, h[vi], h[v]), &m->g_edge1)), &m->g_edge2));
            for (int b = 0; b < B; b++) truth[b] = ADJ[vi][v];
            loss = nl_tape_add(t, loss, nl_tape_bce(t, p, truth));
            if (ADJ[vi][v]) {
                Hin = nl_tape_add(t, Hin, msg[vi]);
                h[v] = GRU(m, w, &m->g_gru, x, Hin);
            }
        }
        if (v < NV - 1) msg[v] = MSG(m, w, &m->g_gate, &m->g_map, h[v], v);
    }
    free(ty), free(col), free(truth);
    return loss;
}

/* Every op id of cells ops[0..n) in 0..4; `what` ("item", "cell") names
 * the offender. */
static int check_cells(const uint8_t (*ops)[6], int n, const char *what)
{
    for (int i = 0; i < n; i++)
        for (int e = 0; e < 6; e++)
            if (ops[i][e] > 4)
                return nl_err(NL_EINVAL, "metad2a: %s %d: op %d on edge %d", what, i + 1, ops[i][e], e + 1);
    return 0;
}

static int check_batch(const nl_metad2a *m, const nl_md_task *tasks, const int *task_of, const uint8_t (*ops)[6],
                       int n)
{
    if (n < 1 || !tasks || !task_of || !ops) return nl_err(NL_EINVAL, "metad2a: empty batch");
    for (int i = 0; i < n; i++) {
        char what[32];
        snprintf(what, sizeof what, "task %d", task_of[i] + 1);
        int rc = nl_metad2a_check_task(m, &tasks[task_of[i]], what);
        if (rc) return rc;
    }
    return check_cells(ops, n, "item");
}

/* The generator's loss nodes on n items: reconstruction (teacher-forced) and
 * KL; z = mu + eps_scale eps sigma in training, mu otherwise, eps of item i
 * drawn after its sample, from seeds[i]. */
static int gen_forward(const nl_metad2a *m, wk *w, const nl_md_task *tasks, const int *task_of,
                       const uint8_t (*ops)[6], int n, const uint64_t *seeds, int train, int *rec, int *kl)
{
    nl_tape *t = w->t;
    int codes = ENCODE_BATCH(m, w, 0, tasks, task_of, n, seeds);
    int mu = LIN(m, w, codes, &m->g_mu), logvar = LIN(m, w, codes, &m->g_logvar);
    if (logvar < 0) return logvar;
    int z = mu;
    if (train) {
        int nz = m->o.nz;
        float *eps = malloc((size_t)n * nz * sizeof(float));
        if (!eps) return nl_err(NL_ENOMEM, "metad2a: out of memory");
        nl_rng r;
        for (int i = 0; i < n; i++) {
            nl_rng_seed_stream(&r, seeds[i], 1);
            for (int j = 0; j < nz; j++) eps[(size_t)i * nz + j] = (float)(m->o.eps_scale * nl_rng_normal(&r));
        }
        int e = nl_tape_const(t, n, nz, eps);
        free(eps);
        z = nl_tape_add(t, mu, nl_tape_mul(t, e, nl_tape_exp(t, nl_tape_scale(t, logvar, 0.5f))));
    }
    *rec = DECODE_LOSS(m, w, z, n, ops);
    *kl = nl_tape_kl(t, mu, logvar);
    return *kl < 0 ? *kl : *rec < 0 ? *rec : 0;
}

/* ------------------------------------------------------------ workers */

static int PREDICT(const nl_metad2a *m, wk *w, int codes, int n, const uint8_t (*ops)[6]);

enum { J_GEN_STEP, J_GEN_LOSS, J_PRED_STEP, J_PREDICT };

/* One worker's share of a call: items (or samples) lo..hi-1. */
typedef struct job {
    nl_metad2a *m;
    wk *w;
    int kind, lo, hi, rc;
    const nl_md_task *tasks;
    const int *task_of;
    const uint8_t (*ops)[6];
    const float *y;        /* J_PRED_STEP: normalised targets */
    const uint64_t *seeds; /* one per item (or sample) */
    int n;                 /* J_PREDICT: cells */
    double loss, kl;
    double *out;           /* J_PREDICT: n sums over this job's samples */
} job;

/* Zero this worker's gradients of params lo..hi-1 (worker 0's are the
 * model's, zeroed by the optimiser). */
static void zero_own(const nl_metad2a *m, wk *w, int lo, int hi)
{
    if (w == &m->w[0]) return;
    for (int i = lo; i < hi; i++) memset(nl_tensor_data(w->p[i].g), 0, (size_t)nl_tensor_numel(w->p[i].g) * sizeof(float));
}

static int run_job(job *j)
{
    const nl_metad2a *m = j->m;
    wk *w = j->w;
    int n = j->hi - j->lo, rc;
    if (n < 1) return 0;
    begin(m, w);
    nl_tape *t = w->t;
    switch (j->kind) {
    case J_GEN_STEP:
    case J_GEN_LOSS: {
        int rec = -1, kl = -1;
        if ((rc = gen_forward(m, w, j->tasks, j->task_of + j->lo, j->ops + j->lo, n, j->seeds + j->lo,
                              j->kind == J_GEN_STEP, &rec, &kl)))
            return rc;
        j->loss = nl_tape_value(t, rec)[0];
        j->kl = nl_tape_value(t, kl)[0];
        if (j->kind == J_GEN_LOSS) return 0;
        int total = nl_tape_add(t, rec, nl_tape_scale(t, kl, (float)m->o.beta));
        if (total < 0) return total;
        zero_own(m, w, 0, m->ngen);
        return nl_tape_backward(t, total, 1.0f);
    }
    case J_PRED_STEP: {
        int codes = ENCODE_BATCH(m, w, 1, j->tasks, j->task_of + j->lo, n, j->seeds + j->lo);
        int l = nl_tape_mse(t, PREDICT(m, w, codes, n, j->ops + j->lo), j->y + j->lo);
        if (l < 0) return l;
        j->loss = nl_tape_value(t, l)[0];
        zero_own(m, w, m->ngen, m->np);
        return nl_tape_backward(t, l, 1.0f);
    }
    default: /* J_PREDICT: samples lo..hi-1 of one task, every cell */
        for (int i = 0; i < j->n; i++) j->out[i] = 0;
        for (int s = j->lo; s < j->hi; s++) {
            begin(m, w);
            int codes = ENCODE_BATCH(m, w, 1, j->tasks, j->task_of, 1, j->seeds + s);
            codes = nl_tape_matmul(t, nl_tape_fill(t, j->n, 1, 1.0f), codes, 0); /* one row per cell */
            int y = PREDICT(m, w, codes, j->n, j->ops);
            if (y < 0) return y;
            const float *v = nl_tape_value(t, y);
            for (int i = 0; i < j->n; i++) j->out[i] += v[i];
        }
        return 0;
    }
}

static void *job_main(void *arg)
{
    job *j = arg;
    j->rc = run_job(j);
    return NULL;
}

/* Split items 0..n-1 over the workers (contiguous ranges), run the jobs -
 * the first on this thread - and return the first error. With outs, job i
 * sums into outs + i nout. */
static int run_jobs(nl_metad2a *m, const job *proto, int n, job *jobs, int *nj, double *outs, int nout)
{
    int k = m->nw < n ? m->nw : n;
    pthread_t tid[MAXW];
    int started[MAXW] = { 0 };
    for (int i = 0; i < k; i++) {
        jobs[i] = *proto;
        jobs[i].w = &m->w[i];
        jobs[i].lo = (int)((int64_t)n * i / k);
        jobs[i].hi = (int)((int64_t)n * (i + 1) / k);
        jobs[i].rc = 0;
        if (outs) jobs[i].out = outs + (size_t)i * nout;
    }
    for (int i = 1; i < k; i++) started[i] = pthread_create(&tid[i], NULL, job_main, &jobs[i]) == 0;
    jobs[0].rc = run_job(&jobs[0]);
    for (int i = 1; i < k; i++) {
        if (started[i])
            pthread_join(tid[i], NULL);
        else
            jobs[i].rc = run_job(&jobs[i]); /* no thread to be had: do it here */
    }
    *nj = k;
    for (int i = 0; i < k; i++)
        if (jobs[i].rc) return jobs[i].rc;
    return 0;
}

/* Add the other workers' gradients of params lo..hi-1 to the model's. */
static void gather_grads(nl_metad2a *m, int nj, int lo, int hi)
{
    for (int k = 1; k < nj; k++)
        for (int i = lo; i < hi; i++) {
            float *g = nl_tensor_data(m->p[i].g);
            const float *h = nl_tensor_data(m->w[k].p[i].g);
            int64_t n = nl_tensor_numel(m->p[i].g);
            for (int64_t e = 0; e < n; e++) g[e] += h[e];
        }
}

/* n seeds from the model's generator, in item order. */
static uint64_t *draw_seeds(nl_metad2a *m, int n)
{
    uint64_t *s = malloc((size_t)n * sizeof *s);
    if (!s) {
        nl_err(NL_ENOMEM, "metad2a: out of memory");
        return NULL;
    }
    for (int i = 0; i < n; i++) s[i] = nl_rng_u64(&m->rng);
    return s;
}

static int gen_run(nl_metad2a *m, const nl_md_task *tasks, const int *task_of, const uint8_t (*ops)[6], int n,
                   int train, double *loss, double *kl)
{
    int rc = check_batch(m, tasks, task_of, ops, n), nj = 0;
    if (rc) return rc;
    uint64_t *seeds = draw_seeds(m, n);
    if (!seeds) return NL_ENOMEM;
    job proto = { .m = m, .kind = train ? J_GEN_STEP : J_GEN_LOSS, .tasks = tasks, .task_of = task_of, .ops = ops,
                  .seeds = seeds },
        jobs[MAXW];
    if (train) nl_optim_zero_grad(m->opt[0]);
    rc = run_jobs(m, &proto, n, jobs, &nj, NULL, 0);
    free(seeds);
    if (rc) return rc;
    double l = 0, k = 0;
    for (int i = 0; i < nj; i++) l += jobs[i].loss, k += jobs[i].kl;
    if (loss) *loss = l;
    if (kl) *kl = k;
    if (!train) return 0;
    gather_grads(m, nj, 0, m->ngen);
    return nl_optim_step(m->opt[0]);
}

int nl_metad2a_gen_step(nl_metad2a *m, const nl_md_task *tasks, const int *task_of, const uint8_t (*ops)[6], int n,
                        double *loss, double *kl)
{
    return gen_run(m, tasks, task_of, ops, n, 1, loss, kl);
}

int nl_metad2a_gen_loss(nl_metad2a *m, const nl_md_task *tasks, const int *task_of, const uint8_t (*ops)[6], int n,
                        double *loss)
{
    return gen_run(m, tasks, task_of, ops, n, 0, loss, NULL);
}

static int sample_row(const float *p, int c, nl_rng *r)
{
    double u = nl_rng_uniform(r), acc = 0;
    for (int j = 0; j < c; j++)
        if ((acc += p[j]) > u) return j;
    return c - 1;
}

/* Decode B graphs from z (B, nz) into types/edges; valid[b] says whether
 * graph b is an NB201 cell. */
static int decode(const nl_metad2a *m, wk *w, int z, int B, int stochastic, int (*ty)[NV], uint8_t (*adj)[NV][NV], int *valid)
{
    nl_tape *t = w->t;
    int H = m->o.hs_gen;
    int *col = malloc((size_t)B * sizeof(int));
    float *mask = malloc((size_t)B * sizeof(float));
    if (!col || !mask) {
        free(col), free(mask);
        return nl_err(NL_ENOMEM, "metad2a: out of memory");
    }
    memset(adj, 0, (size_t)B * sizeof *adj);
    int h[NV], msg[NV], rc = 0;
    int H0 = nl_tape_tanh(t, LIN(m, w, z, &m->g_h0));
    for (int b = 0; b < B; b++) col[b] = ty[b][0] = T_START, valid[b] = 1;
    h[0] = GRU(m, w, &m->g_gru, XIN(m, w, B, col, 0), H0);
    msg[0] = MSG(m, w, &m->g_gate, &m->g_map, h[0], 0);
    for (int v = 1; v < NV && rc >= 0; v++) {
        if (v == NV - 1) {
            for (int b = 0; b < B; b++) col[b] = T_END;
        } else {
            int logits = LIN(m, w, nl_tape_relu(t, LIN(m, w, h[v - 1], &m->g_vert1)), &m->g_vert2);
            int pr = nl_tape_softmax(t, logits);
            if (pr < 0) {
                rc = pr;
                break;
            }
            const float *p = nl_tape_value(t, pr);
            for (int b = 0; b < B; b++) {
                const float *pb = p + (size_t)b * NVT;
                int k = 0;
                if (stochastic)
                    k = sample_row(pb, NVT, &w->rng);
                else
                    for (int j = 1; j < NVT; j++) k = pb[j] > pb[k] ? j : k;
                col[b] = k;
            }
        }
        for (int b = 0; b < B; b++) {
            ty[b][v] = col[b];
            /* an END before the last node ends the graph early, a START
             * inside it is a second source: neither is an NB201 cell */
            if (v < NV - 1 && (col[b] == T_END || col[b] == T_START)) valid[b] = 0;
        }
        int x = XIN(m, w, B, col, v), Hin = nl_tape_fill(t, B, H, 0.0f);
        h[v] = GRU(m, w, &m->g_gru, x, Hin);
        if (v == NV - 1) { /* END: connect every loose end */
            for (int b = 0; b < B; b++)
                for (int u = 0; u < v; u++) {
                    int out = 0;
                    for (int x2 = u + 1; x2 < v; x2++) out |= adj[b][u][x2];
                    if (!out) adj[b][u][v] = 1;
                }
            break;
        }
        for (int vi = v - 1; vi >= 0; vi--) {
            int p = nl_tape_sigmoid(
                t, LIN(m, w, nl_tape_relu(t, LIN(m, w, nl_tape_concat(t, h[vi], h[v]), &m->g_edge1)), &m->g_edge2));
            if (p < 0) {
                rc = p;
                break;
            }
            const float *pv = nl_tape_value(t, p);
            int any = 0;
            for (int b = 0; b < B; b++) {
                int e = stochastic ? nl_rng_uniform(&w->rng) < pv[b] : pv[b] > 0.5f;
                mask[b] = (float)e;
                adj[b][vi][v] = (uint8_t)e;
                any |= e;
            }
            if (any) {
                Hin = nl_tape_add(t, Hin, nl_tape_mul(t, msg[vi], nl_tape_const(t, B, 1, mask)));
                h[v] = GRU(m, w, &m->g_gru, x, Hin);
            }
        }
        msg[v] = MSG(m, w, &m->g_gate, &m->g_map, h[v], v);
    }
    if (rc >= 0 && (rc = h[NV - 1]) >= 0) rc = 0;
    for (int b = 0; b < B && rc == 0; b++)
        for (int v = 1; v < NV - 1; v++) {
            int in = 0;
            for (int u = 0; u < v; u++) in |= adj[b][u][v];
            if (!in) valid[b] = 0;
        }
    free(col), free(mask);
    return rc;
}

int nl_metad2a_generate(nl_metad2a *m, const nl_md_task *tk, int want, int unique, int stochastic, int batch,
                        int max_graphs, uint8_t (*ops)[6], int *got, int *tried)
{
    int rc = nl_metad2a_check_task(m, tk, "task");
    if (rc) return rc;
    if (want < 1 || batch < 1 || max_graphs < 1 || !ops)
        return nl_err(NL_EINVAL, "metad2a: generate needs want, batch and max_graphs >= 1");
    int(*ty)[NV] = malloc((size_t)batch * sizeof *ty);
    uint8_t(*adj)[NV][NV] = malloc((size_t)batch * sizeof *adj);
    int *valid = malloc((size_t)batch * sizeof(int));
    if (!ty || !adj || !valid) {
        rc = nl_err(NL_ENOMEM, "metad2a: out of memory");
        goto out;
    }
    *got = *tried = 0;
    wk *w = &m->w[0]; /* decoding is quick: one worker */
    while (*got < want && *tried < max_graphs) {
        int B = batch < max_graphs - *tried ? batch : max_graphs - *tried;
        nl_rng_seed(&w->rng, nl_rng_u64(&m->rng));
        begin(m, w);
        nl_tape *t = w->t;
        /* a fresh sample of the data set for every batch, as the reference */
        int code = ENCODE(m, w, &m->g_intra, &m->g_inter, tk);
        int mu = LIN(m, w, code, &m->g_mu);
        if (mu < 0) {
            rc = mu;
            goto out;
        }
        int nz = m->o.nz;
        float *zb = malloc((size_t)B * nz * sizeof(float));
        if (!zb) {
            rc = nl_err(NL_ENOMEM, "metad2a: out of memory");
            goto out;
        }
        /* z = mu, as the reference decodes at meta-test: the variety comes
         * from sampling types and edges and from the data set's sample */
        const float *mv = nl_tape_value(t, mu);
        for (int b = 0; b < B; b++) memcpy(zb + (size_t)b * nz, mv, (size_t)nz * sizeof(float));
        int z = nl_tape_const(t, B, nz, zb);
        free(zb);
        if ((rc = decode(m, w, z, B, stochastic, ty, adj, valid))) goto out;
        *tried += B;
        for (int b = 0; b < B && *got < want; b++) {
            if (!valid[b]) continue;
            uint8_t c[6];
            for (int e = 0; e < 6; e++) c[e] = (uint8_t)(ty[b][1 + e] - 2);
            int dup = 0;
            for (int i = 0; unique && i < *got && !dup; i++) dup = memcmp(ops[i], c, 6) == 0;
            if (!dup) memcpy(ops[(*got)++], c, 6);
        }
    }
out:
    free(ty), free(adj), free(valid);
    return rc;
}

/* ------------------------------------------------------------ predictor */

/* Predictions (n, 1) on the normalised scale for n cells and their codes. */
static int PREDICT(const nl_metad2a *m, wk *w, int codes, int n, const uint8_t (*ops)[6])
{
    nl_tape *t = w->t;
    int Hp = m->o.hs_pred;
    int(*ty)[NV] = malloc((size_t)n * sizeof *ty);
    int *col = malloc((size_t)n * sizeof(int));
    if (!ty || !col) {
        free(ty), free(col);
        return nl_err(NL_ENOMEM, "metad2a: out of memory");
    }
    for (int i = 0; i < n; i++) cell_types(ops[i], ty[i]);
    int hf[NV], hb[NV], x[NV];
    for (int v = 0; v < NV; v++) {
        for (int i = 0; i < n; i++) col[i] = ty[i][v];
        x[v] = TYPES(m, w, n, col);
    }
    for (int v = 0; v < NV; v++) { /* forward: in topological order, messages from predecessors */
        int Hin = -1;
        for (int u = 0; u < v; u++)
            if (ADJ[u][v]) {
                int g = MSG(m, w, &m->p_gate_f, &m->p_map_f, hf[u], u);
                Hin = Hin < 0 ? g : nl_tape_add(t, Hin, g);
            }
        if (Hin < 0) Hin = nl_tape_fill(t, n, Hp, 0.0f);
        hf[v] = GRU(m, w, &m->p_fwd, x[v], Hin);
    }
    for (int v = NV - 1; v >= 0; v--) { /* backward: reverse order, messages from successors */
        int Hin = -1;
        for (int sv = v + 1; sv < NV; sv++)
            if (ADJ[v][sv]) {
                int g = MSG(m, w, &m->p_gate_b, &m->p_map_b, hb[sv], sv);
                Hin = Hin < 0 ? g : nl_tape_add(t, Hin, g);
            }
        if (Hin < 0) Hin = nl_tape_fill(t, n, Hp, 0.0f);
        hb[v] = GRU(m, w, &m->p_bwd, x[v], Hin);
    }
    free(ty), free(col);
    int hg = LIN(m, w, nl_tape_concat(t, hf[NV - 1], hb[0]), &m->p_unify);
    int gcode = LIN(m, w, hg, &m->p_fc1);
    return LIN(m, w, nl_tape_tanh(t, LIN(m, w, nl_tape_concat(t, gcode, codes), &m->p_out1)), &m->p_out2);
}

void nl_metad2a_set_target(nl_metad2a *m, double mean, double std)
{
    m->y_mean = mean;
    m->y_std = std > 0 && isfinite(std) ? std : 1.0;
}

void nl_metad2a_target(const nl_metad2a *m, double *mean, double *std)
{
    *mean = m->y_mean;
    *std = m->y_std;
}

int nl_metad2a_pred_step(nl_metad2a *m, const nl_md_task *tasks, const int *task_of, const uint8_t (*ops)[6],
                         const double *acc, int n, double *loss)
{
    int rc = check_batch(m, tasks, task_of, ops, n), nj = 0;
    if (rc) return rc;
    float *y = malloc((size_t)n * sizeof(float));
    uint64_t *seeds = y ? draw_seeds(m, n) : NULL;
    if (!seeds) {
        free(y);
        return nl_err(NL_ENOMEM, "metad2a: out of memory");
    }
    for (int i = 0; i < n; i++) {
        if (!isfinite(acc[i])) {
            free(y), free(seeds);
            return nl_err(NL_EINVAL, "metad2a: item %d: accuracy is not a number", i + 1);
        }
        y[i] = (float)((acc[i] - m->y_mean) / m->y_std / 100.0);
    }
    job proto = { .m = m, .kind = J_PRED_STEP, .tasks = tasks, .task_of = task_of, .ops = ops, .y = y,
                  .seeds = seeds },
        jobs[MAXW];
    nl_optim_zero_grad(m->opt[1]);
    rc = run_jobs(m, &proto, n, jobs, &nj, NULL, 0);
    free(y), free(seeds);
    if (rc) return rc;
    double l = 0;
    for (int i = 0; i < nj; i++) l += jobs[i].loss;
    if (loss) *loss = l;
    gather_grads(m, nj, m->ngen, m->np);
    return nl_optim_step(m->opt[1]);
}

int nl_metad2a_predict(nl_metad2a *m, const nl_md_task *tk, const uint8_t (*ops)[6], int n, int samples, double *out)
{
    int rc = nl_metad2a_check_task(m, tk, "task"), nj = 0;
    if (rc) return rc;
    if (n < 1 || samples < 1) return nl_err(NL_EINVAL, "metad2a: predict needs n and samples >= 1");
    if ((rc = check_cells(ops, n, "cell"))) return rc;
    uint64_t *seeds = draw_seeds(m, samples);
    double *sums = malloc((size_t)m->nw * n * sizeof(double)); /* one row of sums per worker */
    if (!seeds || !sums) {
        free(seeds), free(sums);
        return nl_err(NL_ENOMEM, "metad2a: out of memory");
    }
    int zero = 0;
    job proto = { .m = m, .kind = J_PREDICT, .tasks = tk, .task_of = &zero, .ops = ops, .n = n, .seeds = seeds },
        jobs[MAXW];
    rc = run_jobs(m, &proto, samples, jobs, &nj, sums, n);
    if (!rc)
        for (int i = 0; i < n; i++) {
            double v = 0;
            for (int j = 0; j < nj; j++) v += sums[(size_t)j * n + i]; /* job order: the same sum on any run */
            out[i] = m->y_mean + 100.0 * m->y_std * v / samples;
        }
    free(seeds), free(sums);
    return rc;
}

int nl_metad2a_encode(nl_metad2a *m, int part, const nl_md_task *tk, float *code)
{
    int rc = nl_metad2a_check_task(m, tk, "task");
    if (rc) return rc;
    wk *w = &m->w[0];
    nl_rng_seed(&w->rng, nl_rng_u64(&m->rng));
    begin(m, w);
    int c = part ? ENCODE(m, w, &m->p_intra, &m->p_inter, tk) : ENCODE(m, w, &m->g_intra, &m->g_inter, tk);
    if (c < 0) return c;
    memcpy(code, nl_tape_value(w->t, c), (size_t)m->o.nz * sizeof(float));
    return 0;
}

/* ------------------------------------------------------------ life cycle */

void nl_metad2a_defaults(nl_metad2a_opts *o)
{
    memset(o, 0, sizeof *o);
    o->feat = 512;
    o->nz = 56;
    o->hs_gen = 56;
    o->hs_pred = 512;
    o->heads = 4;
    o->nsample = 20;
    o->beta = 0.005;
    o->eps_scale = 0.01;
    o->lr = 1e-4;
    o->seed = 333;
    o->position = 1;
    o->threads = 0;
}

static int check_opts(const nl_metad2a_opts *o)
{
    if (o->feat < 1 || o->feat > 65536) return nl_err(NL_EINVAL, "metad2a: feat %d outside 1..65536", o->feat);
    if (o->nz < 1 || o->nz > 4096) return nl_err(NL_EINVAL, "metad2a: nz %d outside 1..4096", o->nz);
    if (o->hs_gen < 1 || o->hs_gen > 4096) return nl_err(NL_EINVAL, "metad2a: hs_gen %d outside 1..4096", o->hs_gen);
    if (o->hs_pred < 1 || o->hs_pred > 4096)
        return nl_err(NL_EINVAL, "metad2a: hs_pred %d outside 1..4096", o->hs_pred);
    if (o->heads < 1 || o->nz % o->heads)
        return nl_err(NL_EINVAL, "metad2a: heads %d does not divide nz %d", o->heads, o->nz);
    if (o->nsample < 1) return nl_err(NL_EINVAL, "metad2a: nsample %d is below 1", o->nsample);
    if (!(o->beta >= 0) || !isfinite(o->beta)) return nl_err(NL_EINVAL, "metad2a: beta must be >= 0");
    if (!(o->eps_scale >= 0) || !isfinite(o->eps_scale)) return nl_err(NL_EINVAL, "metad2a: eps_scale must be >= 0");
    if (!(o->lr > 0) || !isfinite(o->lr)) return nl_err(NL_EINVAL, "metad2a: lr must be > 0");
    if (o->threads < 0 || o->threads > MAXW)
        return nl_err(NL_EINVAL, "metad2a: threads %d outside 0..%d", o->threads, MAXW);
    return 0;
}

/* The workers: opts.threads of them (0: one per core). Worker 0 binds the
 * model's params; the others share their values and own their gradients. */
static int add_workers(nl_metad2a *m)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int n = m->o.threads > 0 ? m->o.threads : cores > 0 ? (int)cores : 1;
    m->nw = n < MAXW ? n : MAXW;
    for (int k = 0; k < m->nw; k++) {
        wk *w = &m->w[k];
        if (!(w->t = nl_tape_new())) return NL_ENOMEM;
        if (k == 0) {
            w->p = m->p;
            continue;
        }
        if (!(w->p = nl_calloc((size_t)m->np, sizeof *w->p))) return NL_ENOMEM;
        for (int i = 0; i < m->np; i++) {
            w->p[i] = m->p[i]; /* name, the value tensor (shared, not owned) */
            if (!(w->p[i].g = nl_tensor_new(m->p[i].g->ndim, m->p[i].g->shape))) return NL_ENOMEM;
        }
    }
    return 0;
}

int nl_metad2a_new(nl_metad2a **out, const nl_metad2a_opts *o)
{
    *out = NULL;
    nl_metad2a_opts d;
    if (!o) nl_metad2a_defaults(&d), o = &d;
    int rc = check_opts(o);
    if (rc) return rc;
    nl_metad2a *m = nl_calloc(1, sizeof *m);
    if (!m) return NL_ENOMEM;
    m->o = *o;
    m->y_std = 1.0;
    nl_rng_seed(&m->rng, o->seed);
    if ((rc = build(m)) || (rc = add_workers(m))) goto fail;
    nl_optim_opts oo;
    nl_optim_defaults("adam", &oo);
    oo.lr = o->lr;
    if ((rc = nl_optim_new(&m->opt[0], "adam", m->p, m->ngen, &oo)) ||
        (rc = nl_optim_new(&m->opt[1], "adam", m->p + m->ngen, m->np - m->ngen, &oo)))
        goto fail;
    *out = m;
    return 0;
fail:
    nl_metad2a_free(m);
    return rc ? rc : NL_ENOMEM;
}

void nl_metad2a_free(nl_metad2a *m)
{
    if (!m) return;
    nl_optim_free(m->opt[0]);
    nl_optim_free(m->opt[1]);
    for (int i = 0; i < m->np; i++) {
        nl_tensor_free(m->p[i].w);
        nl_tensor_free(m->p[i].g);
    }
    for (int k = 0; k < MAXW; k++) {
        wk *w = &m->w[k];
        nl_tape_free(w->t);
        free(w->idx);
        if (k > 0 && w->p) {
            for (int i = 0; i < m->np; i++) nl_tensor_free(w->p[i].g);
            free(w->p);
        }
    }
    free(m);
}

const nl_metad2a_opts *nl_metad2a_options(const nl_metad2a *m) { return &m->o; }
nl_rng *nl_metad2a_rng(nl_metad2a *m) { return &m->rng; }

double nl_metad2a_lr(const nl_metad2a *m, int part) { return nl_optim_lr(m->opt[part ? 1 : 0]); }
int nl_metad2a_set_lr(nl_metad2a *m, int part, double lr) { return nl_optim_set_lr(m->opt[part ? 1 : 0], lr); }

int nl_metad2a_save(const nl_metad2a *m, const char *path)
{
    nl_ckpt_extra e;
    memset(&e, 0, sizeof e);
    const nl_metad2a_opts *o = &m->o;
    int rc;
    if ((rc = nl_ckpt_extra_set_str(&e, "model", "metad2a")) || (rc = nl_ckpt_extra_set_int(&e, "feat", o->feat)) ||
        (rc = nl_ckpt_extra_set_int(&e, "nz", o->nz)) || (rc = nl_ckpt_extra_set_int(&e, "hs_gen", o->hs_gen)) ||
        (rc = nl_ckpt_extra_set_int(&e, "hs_pred", o->hs_pred)) ||
        (rc = nl_ckpt_extra_set_int(&e, "heads", o->heads)) ||
        (rc = nl_ckpt_extra_set_int(&e, "nsample", o->nsample)) ||
        (rc = nl_ckpt_extra_set_real(&e, "beta", o->beta)) ||
        (rc = nl_ckpt_extra_set_real(&e, "eps_scale", o->eps_scale)) ||
        (rc = nl_ckpt_extra_set_real(&e, "lr", o->lr)) ||
        (rc = nl_ckpt_extra_set_int(&e, "seed", (int64_t)o->seed)) ||
        (rc = nl_ckpt_extra_set_int(&e, "position", o->position)) ||
        (rc = nl_ckpt_extra_set_real(&e, "y_mean", m->y_mean)) ||
        (rc = nl_ckpt_extra_set_real(&e, "y_std", m->y_std)))
        return rc;
    return nl_ckpt_save(path, m->p, m->np, NULL, &m->rng, 1, &e);
}

int nl_metad2a_load(nl_metad2a **out, const char *path)
{
    *out = NULL;
    nl_ckpt_extra e;
    int rc = nl_ckpt_read_extra(path, &e);
    if (rc) return rc;
    const char *kind;
    if (nl_ckpt_extra_get_str(&e, "model", &kind) || strcmp(kind, "metad2a") != 0)
        return nl_err(NL_EFORMAT, "%s: not a MetaD2A model", path);
    nl_metad2a_opts o;
    nl_metad2a_defaults(&o);
    int64_t feat, nz, hg, hp, heads, ns, seed, pos;
    double ym, ys;
    if (nl_ckpt_extra_get_int(&e, "feat", &feat) || nl_ckpt_extra_get_int(&e, "nz", &nz) ||
        nl_ckpt_extra_get_int(&e, "hs_gen", &hg) || nl_ckpt_extra_get_int(&e, "hs_pred", &hp) ||
        nl_ckpt_extra_get_int(&e, "heads", &heads) || nl_ckpt_extra_get_int(&e, "nsample", &ns) ||
        nl_ckpt_extra_get_real(&e, "beta", &o.beta) || nl_ckpt_extra_get_real(&e, "eps_scale", &o.eps_scale) ||
        nl_ckpt_extra_get_real(&e, "lr", &o.lr) || nl_ckpt_extra_get_int(&e, "seed", &seed) || nl_ckpt_extra_get_int(&e, "position", &pos) ||
        nl_ckpt_extra_get_real(&e, "y_mean", &ym) || nl_ckpt_extra_get_real(&e, "y_std", &ys))
        return nl_err(NL_EFORMAT, "%s: MetaD2A model without its options (%s)", path, nl_errmsg());
    if (feat < 1 || feat > 65536 || nz < 1 || nz > 4096 || hg < 1 || hg > 4096 || hp < 1 || hp > 4096 ||
        heads < 1 || heads > 4096 || ns < 1 || ns > INT32_MAX)
        return nl_err(NL_EFORMAT, "%s: MetaD2A options out of range", path);
    o.feat = (int)feat, o.nz = (int)nz, o.hs_gen = (int)hg, o.hs_pred = (int)hp, o.heads = (int)heads,
    o.nsample = (int)ns, o.seed = (uint64_t)seed, o.position = pos != 0;
    nl_metad2a *m;
    if ((rc = nl_metad2a_new(&m, &o))) return nl_err(NL_EFORMAT, "%s: %s", path, nl_errmsg());
    if ((rc = nl_ckpt_load(path, m->p, m->np, NULL, &m->rng, 1, NULL))) {
        nl_metad2a_free(m);
        return rc;
    }
    nl_metad2a_set_target(m, ym, ys);
    *out = m;
    return 0;
}
