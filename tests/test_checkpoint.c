/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_checkpoint.c - checks src/nn/checkpoint: a bit-identical round trip of
 * params, optimiser state, rng states and user values; a small MLP trained
 * for 2000 steps in one go and in two halves with a save, fresh objects and
 * a load in between, ending with the same bits; atomic saves that fail
 * without touching the old file or leaving a temporary behind; and every
 * truncation and every flipped byte of a file refused without changing the
 * live objects, with exact messages. */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/rng.h"
#include "nn/checkpoint.h"
#include "nn/optim.h"
#include "tap.h"

static char dir[256];

static const char *at(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(sz > 0 ? (size_t)sz : 1);
    *n = fread(b, 1, (size_t)sz, f);
    fclose(f);
    return b;
}

static void spit(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

/* Number of entries of dir whose name contains ".tmp.". */
static int temp_files(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

/* ---------------------------------------------------------------- a tiny MLP */

enum { NS = 64, D = 3, H = 8, B = 5, SPE = NS / B, TOTAL = 2000 };

typedef struct net {
    nl_param p[4]; /* fc1.w [H,D], fc1.b [H], fc2.w [1,H], fc2.b [1] */
} net;

static void net_init(net *n, uint64_t seed)
{
    static const char *names[4] = { "fc1.w", "fc1.b", "fc2.w", "fc2.b" };
    int64_t shapes[4][2] = { { H, D }, { H, 0 }, { 1, H }, { 1, 0 } };
    int nd[4] = { 2, 1, 2, 1 };
    nl_rng r;
    nl_rng_seed(&r, seed);
    memset(n, 0, sizeof *n);
    for (int i = 0; i < 4; i++) {
        strcpy(n->p[i].name, names[i]);
        nl_tensor_zeros(&n->p[i].w, nd[i], shapes[i]);
        nl_tensor_zeros(&n->p[i].g, nd[i], shapes[i]);
        n->p[i].decay = nd[i] == 2;
        float *w = nl_tensor_data(n->p[i].w);
        for (int64_t j = 0; j < nl_tensor_numel(n->p[i].w); j++) w[j] = (float)(0.5 * nl_rng_normal(&r));
    }
}

static void net_free(net *n)
{
    for (int i = 0; i < 4; i++) {
        nl_tensor_free(n->p[i].w);
        nl_tensor_free(n->p[i].g);
    }
}

typedef struct data {
    float x[NS][D], y[NS];
} data;

static void data_init(data *d)
{
    nl_rng r;
    nl_rng_seed(&r, 7);
    for (int i = 0; i < NS; i++) {
        for (int j = 0; j < D; j++) d->x[i][j] = (float)(2 * nl_rng_uniform(&r) - 1);
        d->y[i] = sinf(d->x[i][0]) + d->x[i][1] * d->x[i][2];
    }
}

/* Mean squared error over samples idx[0..nb) with inputs jittered by
 * 0.01 N(0,1) from `noise` (15 normals a step, an odd count, so the polar
 * method's spare is live between steps). Accumulates gradients. */
static double net_loss(net *n, const data *d, const int64_t *idx, int nb, nl_rng *noise)
{
    const float *w1 = nl_tensor_data(n->p[0].w), *b1 = nl_tensor_data(n->p[1].w);
    const float *w2 = nl_tensor_data(n->p[2].w), *b2 = nl_tensor_data(n->p[3].w);
    float *gw1 = nl_tensor_data(n->p[0].g), *gb1 = nl_tensor_data(n->p[1].g);
    float *gw2 = nl_tensor_data(n->p[2].g), *gb2 = nl_tensor_data(n->p[3].g);
    double loss = 0;
    for (int s = 0; s < nb; s++) {
        float x[D], h[H], out = b2[0];
        for (int j = 0; j < D; j++)
            x[j] = d->x[idx[s]][j] + (float)(0.01 * (noise ? nl_rng_normal(noise) : 0));
        for (int k = 0; k < H; k++) {
            float a = b1[k];
            for (int j = 0; j < D; j++) a += w1[k * D + j] * x[j];
            h[k] = tanhf(a);
            out += w2[k] * h[k];
        }
        float e = out - d->y[idx[s]];
        loss += (double)e * e / nb;
        float dout = 2 * e / (float)nb;
        gb2[0] += dout;
        for (int k = 0; k < H; k++) {
            gw2[k] += dout * h[k];
            float da = dout * w2[k] * (1 - h[k] * h[k]);
            gb1[k] += da;
            for (int j = 0; j < D; j++) gw1[k * D + j] += da * x[j];
        }
    }
    return loss;
}

typedef struct run {
    net n;
    nl_optim *opt;
    nl_sched_opts sched;
    nl_rng order;       /* draws each epoch's permutation */
    nl_rng rngs[2];     /* saved: [0] the order rng at the start of the epoch, [1] noise */
    int64_t perm[NS];
} run;

static void run_init(run *r, uint64_t seed)
{
    net_init(&r->n, seed);
    nl_optim_opts o;
    nl_optim_defaults("sgd", &o);
    o.lr = 0.05;
    o.momentum = 0.9;
    o.nesterov = 1;
    o.weight_decay = 5e-4;
    if (nl_optim_new(&r->opt, "sgd", r->n.p, 4, &o)) printf("# %s\n", nl_errmsg());
    nl_sched_defaults(&r->sched, NL_SCHED_COSINE, 0.05);
    r->sched.warmup = 100;
    r->sched.total = TOTAL - 100;
    nl_rng_seed(&r->order, seed + 1);
    nl_rng_seed(&r->rngs[1], seed + 2);
}

static void run_free(run *r)
{
    nl_optim_free(r->opt);
    net_free(&r->n);
}

/* Train until the optimiser has taken `until` steps; the step count alone
 * says where in the data order we are. A run resumed mid-epoch redraws the
 * epoch's permutation from the saved epoch-start state. */
static double train(run *r, const data *d, int64_t until, int resumed)
{
    double loss = 0;
    for (int64_t t = nl_optim_steps(r->opt); t < until; t++) {
        int64_t b = t % SPE;
        if (b == 0 || resumed) {
            if (b == 0) r->rngs[0] = r->order;
            r->order = r->rngs[0];
            nl_rng_permutation(&r->order, r->perm, NS);
            resumed = 0;
        }
        nl_optim_set_lr(r->opt, nl_sched_lr(&r->sched, t));
        nl_optim_zero_grad(r->opt);
        loss = net_loss(&r->n, d, r->perm + b * B, B, &r->rngs[1]);
        nl_optim_step(r->opt);
    }
    return loss;
}

static double full_loss(net *n, const data *d)
{
    int64_t idx[NS];
    for (int i = 0; i < NS; i++) idx[i] = i;
    return net_loss(n, d, idx, NS, NULL);
}

static int same_run(const run *a, const run *b)
{
    for (int i = 0; i < 4; i++) {
        size_t bytes = (size_t)nl_tensor_numel(a->n.p[i].w) * sizeof(float);
        if (memcmp(nl_tensor_data(a->n.p[i].w), nl_tensor_data(b->n.p[i].w), bytes)) return 0;
        if (memcmp(nl_tensor_data(nl_optim_state(a->opt, i, 0)),
                   nl_tensor_data(nl_optim_state(b->opt, i, 0)), bytes))
            return 0;
    }
    return nl_optim_steps(a->opt) == nl_optim_steps(b->opt) &&
           memcmp(a->rngs[1].s, b->rngs[1].s, sizeof a->rngs[1].s) == 0;
}

static void test_resume(void)
{
    data d;
    data_init(&d);
    run whole, half;
    run_init(&whole, 11);
    double before = full_loss(&whole.n, &d);
    train(&whole, &d, TOTAL, 0);
    double after = full_loss(&whole.n, &d);
    ok(after < 0.2 * before, "training works: loss %.4f -> %.4f", before, after);

    const int64_t split = 1003; /* mid-epoch: 1003 % 12 = 7 */
    run_init(&half, 11);
    train(&half, &d, split, 0);
    nl_ckpt_extra ex;
    memset(&ex, 0, sizeof ex);
    nl_ckpt_extra_set_int(&ex, "epoch", split / SPE);
    nl_ckpt_extra_set_int(&ex, "batch", split % SPE);
    nl_ckpt_extra_set_int(&ex, "seed", 11);
    int rc = nl_ckpt_save(at("run.ckpt"), half.n.p, 4, half.opt, half.rngs, 2, &ex);
    if (rc) printf("# %s\n", nl_errmsg());
    is_int(rc, 0, "save mid-epoch at step %lld", (long long)split);
    run_free(&half);

    run_init(&half, 999); /* different init and rng seeds: the load must overwrite all */
    memset(&ex, 0, sizeof ex);
    rc = nl_ckpt_load(at("run.ckpt"), half.n.p, 4, half.opt, half.rngs, 2, &ex);
    if (rc) printf("# %s\n", nl_errmsg());
    is_int(rc, 0, "load into fresh objects");
    is_int(nl_optim_steps(half.opt), split, "step count restored");
    int64_t batch = -1;
    nl_ckpt_extra_get_int(&ex, "batch", &batch);
    is_int(batch, split % SPE, "user value 'batch' restored");
    train(&half, &d, TOTAL, 1);
    ok(same_run(&whole, &half),
       "2000 steps in one go == 1003 + save/load + 997: weights, momentum, rng bit-identical");

    /* A control: the same resume without the optimiser state diverges, so
     * the comparison above can fail. */
    run ctl;
    run_init(&ctl, 999);
    nl_ckpt_load(at("run.ckpt"), ctl.n.p, 4, NULL, ctl.rngs, 2, NULL);
    nl_optim_set_steps(ctl.opt, split);
    train(&ctl, &d, TOTAL, 1);
    ok(!same_run(&whole, &ctl), "control: dropping the momentum buffers changes the result");
    run_free(&ctl);
    run_free(&whole);
    run_free(&half);
}

/* ---------------------------------------------------------------- round trip */

typedef struct world {
    net n;
    nl_optim *opt;
    nl_rng rng[2];
} world;

static void world_init(world *w, uint64_t seed, const char *kind)
{
    net_init(&w->n, seed);
    nl_optim_new(&w->opt, kind, w->n.p, 4, NULL);
    nl_rng_seed(&w->rng[0], seed);
    nl_rng_seed_stream(&w->rng[1], seed, 1);
}

static void world_free(world *w)
{
    nl_optim_free(w->opt);
    net_free(&w->n);
}

/* A byte image of everything a load may change. */
static size_t world_image(const world *w, unsigned char *out)
{
    size_t k = 0;
    for (int i = 0; i < 4; i++) {
        size_t bytes = (size_t)nl_tensor_numel(w->n.p[i].w) * sizeof(float);
        memcpy(out + k, nl_tensor_data(w->n.p[i].w), bytes);
        k += bytes;
        for (int j = 0; j < nl_optim_nstate(w->opt); j++) {
            memcpy(out + k, nl_tensor_data(nl_optim_state(w->opt, i, j)), bytes);
            k += bytes;
        }
    }
    int64_t steps = nl_optim_steps(w->opt);
    double lr = nl_optim_lr(w->opt);
    memcpy(out + k, &steps, 8);
    memcpy(out + k + 8, &lr, 8);
    k += 16;
    memcpy(out + k, w->rng, sizeof w->rng);
    return k + sizeof w->rng;
}

static void test_roundtrip(void)
{
    data d;
    data_init(&d);
    world a, b;
    world_init(&a, 3, "adam");
    int64_t idx[B] = { 0, 1, 2, 3, 4 };
    for (int t = 0; t < 7; t++) {
        nl_optim_zero_grad(a.opt);
        net_loss(&a.n, &d, idx, B, &a.rng[1]);
        nl_optim_step(a.opt);
    }
    nl_optim_set_lr(a.opt, 0.00123);
    nl_rng_normal(&a.rng[0]); /* leaves a spare */
    nl_ckpt_extra ex;
    memset(&ex, 0, sizeof ex);
    nl_ckpt_extra_set_int(&ex, "epoch", -42);
    nl_ckpt_extra_set_real(&ex, "best", 0.1);
    nl_ckpt_extra_set_str(&ex, "arch", "|nor_conv_3x3~0|+|skip_connect~0|none~1|");
    is_int(nl_ckpt_save(at("a.ckpt"), a.n.p, 4, a.opt, a.rng, 2, &ex), 0, "save");
    is_int(temp_files(), 0, "no temporary file left after a save");

    size_t n;
    unsigned char *f = slurp(at("a.ckpt"), &n);
    ok(n > 28 && memcmp(f, "NLCKPT\0\0\1\0\0\0", 12) == 0, "file starts with NLCKPT, version 1 little-endian");
    /* 4 params + optimiser + 4 x 2 states + 2 rngs + 3 values */
    ok(f[12] == 18 && f[13] == 0, "record count is 18");
    ok(f[16] == 1 && f[20] == 5 && memcmp(f + 24, "fc1.w", 5) == 0, "record 1 is param 'fc1.w'");
    ok(memcmp(f + n - 12, "NLCKEND\0", 8) == 0, "file ends with NLCKEND and the CRC");
    free(f);

    world_init(&b, 77, "adam");
    nl_ckpt_extra got;
    memset(&got, 0xab, sizeof got);
    is_int(nl_ckpt_load(at("a.ckpt"), b.n.p, 4, b.opt, b.rng, 2, &got), 0, "load");
    unsigned char ia[4096], ib[4096];
    size_t la = world_image(&a, ia), lb = world_image(&b, ib);
    ok(la == lb && memcmp(ia, ib, la) == 0, "params, adam state, steps, lr and rngs are bit-identical");
    ok(nl_rng_normal(&a.rng[0]) == nl_rng_normal(&b.rng[0]), "rng spare restored");
    ok(nl_rng_u64(&a.rng[1]) == nl_rng_u64(&b.rng[1]), "second rng continues the same stream");
    int64_t e = 0;
    double best = 0;
    const char *s = NULL;
    is_int(got.n, 3, "three user values");
    nl_ckpt_extra_get_int(&got, "epoch", &e);
    is_int(e, -42, "int value");
    nl_ckpt_extra_get_real(&got, "best", &best);
    ok(best == 0.1, "real value bit-exact");
    nl_ckpt_extra_get_str(&got, "arch", &s);
    is_str(s, "|nor_conv_3x3~0|+|skip_connect~0|none~1|", "string value");
    is_int(nl_ckpt_extra_get_str(&got, "epoch", &s), NL_EINVAL, "type mismatch");
    is_str(nl_errmsg(), "value 'epoch' is an integer, not a string", "message");
    is_int(nl_ckpt_extra_get_int(&got, "lr", &e), NL_ENOTFOUND, "absent value");
    is_str(nl_errmsg(), "no value 'lr'", "message");
    ok(nl_ckpt_extra_get_real(&got, "epoch", &best) == 0 && best == -42, "an int reads as a real");

    /* Without optimiser or values: params only. */
    is_int(nl_ckpt_save(at("p.ckpt"), a.n.p, 4, NULL, NULL, 0, NULL), 0, "save params only");
    world_free(&b);
    world_init(&b, 78, "adam");
    is_int(nl_ckpt_load(at("p.ckpt"), b.n.p, 4, NULL, NULL, 0, NULL), 0, "load params only");
    ok(memcmp(nl_tensor_data(a.n.p[0].w), nl_tensor_data(b.n.p[0].w), H * D * 4) == 0, "params restored");
    ok(nl_optim_steps(b.opt) == 0, "optimiser untouched");
    is_int(nl_ckpt_load(at("p.ckpt"), b.n.p, 4, b.opt, NULL, 0, NULL), NL_ENOTFOUND,
           "optimiser state asked of a params-only file");
    char want[600];
    snprintf(want, sizeof want, "checkpoint %s: no optimiser state", at("p.ckpt"));
    is_str(nl_errmsg(), want, "message");

    nl_ckpt_extra full;
    memset(&full, 0, sizeof full);
    for (int i = 0; i < NL_CKPT_MAXEXTRA; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "v%d", i);
        nl_ckpt_extra_set_int(&full, nm, i);
    }
    is_int(nl_ckpt_extra_set_int(&full, "v3", 33), 0, "replacing a value needs no room");
    is_int(nl_ckpt_extra_set_int(&full, "more", 1), NL_ERANGE, "value set full");
    is_str(nl_errmsg(), "checkpoint values: no room for 'more' (at most 32 values)", "message");
    is_int(nl_ckpt_extra_set_int(&full, "", 1), NL_EINVAL, "empty name");
    world_free(&a);
    world_free(&b);
}

/* ---------------------------------------------------------------- failures */

static void expect_load_error(world *w, const char *path, int code, const char *msg, const char *what)
{
    unsigned char before[4096], after[4096];
    size_t n = world_image(w, before);
    char want[700];
    snprintf(want, sizeof want, "checkpoint %s: %s", path, msg);
    is_int(nl_ckpt_load(path, w->n.p, 4, w->opt, w->rng, 2, NULL), code, "%s", what);
    is_str(nl_errmsg(), want, "%s: message", what);
    world_image(w, after);
    ok(memcmp(before, after, n) == 0, "%s: live objects unchanged", what);
}

static void test_corrupt(void)
{
    world a, w;
    world_init(&a, 5, "sgd");
    nl_optim_free(a.opt);
    nl_optim_opts o;
    nl_optim_defaults("sgd", &o);
    o.momentum = 0.9;
    nl_optim_new(&a.opt, "sgd", a.n.p, 4, &o);
    nl_optim_step(a.opt);
    nl_ckpt_save(at("c.ckpt"), a.n.p, 4, a.opt, a.rng, 2, NULL);
    world_init(&w, 6, "sgd");
    nl_optim_free(w.opt);
    nl_optim_new(&w.opt, "sgd", w.n.p, 4, &o);

    size_t n;
    unsigned char *f = slurp(at("c.ckpt"), &n);
    expect_load_error(&w, at("none.ckpt"), NL_EIO, "cannot open: No such file or directory", "missing file");

    /* Every truncation. */
    unsigned char before[4096], after[4096];
    size_t ni = world_image(&w, before);
    int all_truncated = 1, unchanged = 1;
    char want[700];
    snprintf(want, sizeof want, "checkpoint %s: truncated", at("t.ckpt"));
    for (size_t cut = 0; cut < n; cut++) {
        spit(at("t.ckpt"), f, cut);
        int rc = nl_ckpt_load(at("t.ckpt"), w.n.p, 4, w.opt, w.rng, 2, NULL);
        if (rc != NL_EFORMAT || strcmp(nl_errmsg(), want) != 0) {
            if (all_truncated) printf("# cut %zu: %s\n", cut, nl_errmsg());
            all_truncated = 0;
        }
        world_image(&w, after);
        if (memcmp(before, after, ni)) unchanged = 0;
    }
    ok(all_truncated, "each of the %zu truncations fails with 'truncated'", n);
    ok(unchanged, "no truncation changes the live objects");

    /* Every single flipped byte is refused. */
    int all_refused = 1;
    unchanged = 1;
    for (size_t i = 0; i < n; i++) {
        f[i] ^= 0x5a;
        spit(at("t.ckpt"), f, n);
        f[i] ^= 0x5a;
        int rc = nl_ckpt_load(at("t.ckpt"), w.n.p, 4, w.opt, w.rng, 2, NULL);
        if (rc == 0) {
            if (all_refused) printf("# flipped byte %zu accepted\n", i);
            all_refused = 0;
        }
        world_image(&w, after);
        if (memcmp(before, after, ni)) unchanged = 0;
    }
    ok(all_refused, "each of the %zu single-byte corruptions is refused", n);
    ok(unchanged, "no corruption changes the live objects");

    /* Exact messages for a few. Record 3 is fc2.w: 16 header bytes, then
     * fc1.w (8 + 5 + 8 + 4 + 16 + 96 + 4 = 141 bytes) and fc1.b (8 + 5 + 8 +
     * 4 + 8 + 32 + 4 = 69 bytes); its values start 41 bytes in. */
    size_t r3 = 16 + 141 + 69;
    f[r3 + 43] ^= 1;
    spit(at("t.ckpt"), f, n);
    f[r3 + 43] ^= 1;
    expect_load_error(&w, at("t.ckpt"), NL_EFORMAT, "corrupt record 3 (CRC mismatch)", "flipped weight bit");
    f[r3 + 20] ^= 0x40; /* top byte of record 3's payload length */
    spit(at("t.ckpt"), f, n);
    f[r3 + 20] ^= 0x40;
    expect_load_error(&w, at("t.ckpt"), NL_EFORMAT, "corrupt record 3 (bad length)", "bad record length");
    f[n - 1] ^= 1;
    spit(at("t.ckpt"), f, n);
    f[n - 1] ^= 1;
    expect_load_error(&w, at("t.ckpt"), NL_EFORMAT, "corrupt file (CRC mismatch)", "file CRC");
    f[8] = 2;
    spit(at("t.ckpt"), f, n);
    f[8] = 1;
    expect_load_error(&w, at("t.ckpt"), NL_EFORMAT,
                      "version 2 is not supported (this naslab reads version 1)", "future version");
    spit(at("t.ckpt"), (const unsigned char *)"hello, world\n", 13);
    expect_load_error(&w, at("t.ckpt"), NL_EFORMAT, "not a naslab checkpoint", "text file");
    free(f);

    /* The file does not fit the network. */
    nl_param saved = w.n.p[0];
    int64_t big[2] = { 16, D };
    nl_tensor *w16, *g16;
    nl_tensor_zeros(&w16, 2, big);
    nl_tensor_zeros(&g16, 2, big);
    w.n.p[0].w = w16;
    w.n.p[0].g = g16;
    nl_optim *o16 = NULL, *keep = w.opt;
    nl_optim_new(&o16, "sgd", w.n.p, 4, &o);
    w.opt = o16;
    expect_load_error(&w, at("c.ckpt"), NL_ESHAPE, "param 'fc1.w' has shape [8,3], network expects [16,3]",
                      "shape mismatch");
    w.opt = keep;
    w.n.p[0] = saved;
    nl_optim_free(o16);
    nl_tensor_free(w16);
    nl_tensor_free(g16);

    strcpy(w.n.p[3].name, "fc.b");
    expect_load_error(&w, at("c.ckpt"), NL_ENOTFOUND, "missing param 'fc.b'", "renamed param");
    strcpy(w.n.p[3].name, "fc2.b");
    unsigned char img[4096], img2[4096];
    size_t li = world_image(&w, img);
    is_int(nl_ckpt_load(at("c.ckpt"), w.n.p, 3, NULL, w.rng, 2, NULL), NL_ENOTFOUND, "network lacks a param");
    snprintf(want, sizeof want, "checkpoint %s: param 'fc2.b' is not in the network", at("c.ckpt"));
    is_str(nl_errmsg(), want, "message");
    world_image(&w, img2);
    ok(memcmp(img, img2, li) == 0, "network lacks a param: live objects unchanged");

    nl_optim *adam = NULL;
    nl_optim_new(&adam, "adam", w.n.p, 4, NULL);
    is_int(nl_ckpt_load(at("c.ckpt"), w.n.p, 4, adam, w.rng, 2, NULL), NL_EINVAL, "optimiser kind differs");
    snprintf(want, sizeof want, "checkpoint %s: optimiser is adam, checkpoint holds sgd", at("c.ckpt"));
    is_str(nl_errmsg(), want, "message");
    nl_optim_free(adam);
    expect_load_error(&w, at("p.ckpt"), NL_ENOTFOUND, "no optimiser state", "no optimiser in file");
    is_int(nl_ckpt_load(at("c.ckpt"), w.n.p, 4, w.opt, w.rng, 1, NULL), NL_EINVAL, "rng count differs");
    snprintf(want, sizeof want, "checkpoint %s: holds 2 rng states, caller expects 1", at("c.ckpt"));
    is_str(nl_errmsg(), want, "message");
    world_image(&w, img2);
    ok(memcmp(img, img2, li) == 0, "after every refused load the live objects are unchanged");
    is_int(nl_ckpt_load(at("c.ckpt"), w.n.p, 4, w.opt, w.rng, 2, NULL), 0, "the good file still loads");
    world_free(&a);
    world_free(&w);
}

static void test_atomic(void)
{
    world a;
    world_init(&a, 9, "adam");
    is_int(nl_ckpt_save(at("old.ckpt"), a.n.p, 2, NULL, NULL, 0, NULL), 0, "write a small old checkpoint");
    size_t n0, n1;
    unsigned char *old = slurp(at("old.ckpt"), &n0);

    char want[700];
    is_int(nl_ckpt_save(at("nodir/x.ckpt"), a.n.p, 4, a.opt, a.rng, 2, NULL), NL_EIO, "missing directory");
    snprintf(want, sizeof want, "checkpoint %s: cannot write: No such file or directory", at("nodir/x.ckpt"));
    is_str(nl_errmsg(), want, "message");

    /* A write that fails half-way: the file size limit stops it with EFBIG
     * after the first 4 KiB. */
    struct rlimit rl, small;
    getrlimit(RLIMIT_FSIZE, &rl);
    small = rl;
    small.rlim_cur = 4096;
    signal(SIGXFSZ, SIG_IGN);
    nl_optim_free(a.opt);
    int64_t sh[1] = { 4096 };
    nl_param bigp[5];
    memcpy(bigp, a.n.p, sizeof a.n.p);
    strcpy(bigp[4].name, "big");
    nl_tensor_zeros(&bigp[4].w, 1, sh);
    bigp[4].g = NULL;
    setrlimit(RLIMIT_FSIZE, &small);
    int rc = nl_ckpt_save(at("old.ckpt"), bigp, 5, NULL, NULL, 0, NULL);
    setrlimit(RLIMIT_FSIZE, &rl);
    is_int(rc, NL_EIO, "save past the file size limit fails");
    snprintf(want, sizeof want, "checkpoint %s: cannot write: File too large", at("old.ckpt"));
    is_str(nl_errmsg(), want, "message");
    unsigned char *now = slurp(at("old.ckpt"), &n1);
    ok(n0 == n1 && memcmp(old, now, n0) == 0, "the old checkpoint is untouched");
    is_int(temp_files(), 0, "no temporary file left behind");
    free(now);

    /* The rename fails: the target is a directory. */
    mkdir(at("adir"), 0755);
    is_int(nl_ckpt_save(at("adir"), bigp, 5, NULL, NULL, 0, NULL), NL_EIO, "rename over a directory fails");
    snprintf(want, sizeof want, "checkpoint %s: cannot write: Is a directory", at("adir"));
    is_str(nl_errmsg(), want, "message");
    is_int(temp_files(), 0, "no temporary file left behind");
    rmdir(at("adir"));

    strcpy(bigp[4].name, "fc1.b");
    is_int(nl_ckpt_save(at("old.ckpt"), bigp, 5, NULL, NULL, 0, NULL), NL_EINVAL, "duplicate names refused");
    snprintf(want, sizeof want, "checkpoint %s: duplicate param 'fc1.b'", at("old.ckpt"));
    is_str(nl_errmsg(), want, "message");

    if (geteuid() == 0) {
        ok(1, "# SKIP read-only directory: running as root, permissions do not bind");
    } else {
        mkdir(at("ro"), 0755);
        nl_ckpt_save(at("ro/x.ckpt"), a.n.p, 2, NULL, NULL, 0, NULL);
        chmod(at("ro"), 0555);
        rc = nl_ckpt_save(at("ro/x.ckpt"), bigp, 4, NULL, NULL, 0, NULL);
        chmod(at("ro"), 0755);
        is_int(rc, NL_EIO, "save into a read-only directory fails");
        now = slurp(at("ro/x.ckpt"), &n1);
        ok(now && n1 == n0 && memcmp(old, now, n0) == 0, "the old checkpoint there is untouched");
        free(now);
        remove(at("ro/x.ckpt"));
        rmdir(at("ro"));
    }
    nl_tensor_free(bigp[4].w);
    a.opt = NULL;
    free(old);
    world_free(&a);
}

static void cleanup(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') remove(at(e->d_name));
    closedir(d);
    rmdir(dir);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/naslab-ckpt-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        tap_skip_all("cannot create a temporary directory");
        return 0;
    }
    test_roundtrip();
    test_resume();
    test_corrupt();
    test_atomic();
    cleanup();
    return done_testing();
}
