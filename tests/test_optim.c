/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_optim.c - checks src/nn/optim against PyTorch 1.13's torch.optim
 * (constants printed by tests/optim_ref.py), against update rules written out
 * here in double precision from the published formulas, by convergence on a
 * quadratic, and the schedules against their closed forms. Also every error
 * message, exactly. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/optim.h"
#include "tap.h"

/* ---------------------------------------------------------------- problem */

/* The problem of optim_ref.py: param 0 is [3] with weight decay, param 1 is
 * [2,2] without; loss sum_i a_i (w_i - c_i)^2 / 2 over each param's flat
 * index i, so the gradient is a_i (w_i - c_i), computed in float as torch
 * does. */
static const float INIT0[3] = { 0.5f, -1.25f, 2.0f };
static const float INIT1[4] = { 1.5f, -0.75f, 0.25f, -2.0f };

typedef struct problem {
    nl_param p[2];
} problem;

static void problem_init(problem *pb)
{
    int64_t s0[1] = { 3 }, s1[2] = { 2, 2 };
    memset(pb, 0, sizeof *pb);
    strcpy(pb->p[0].name, "a.w");
    strcpy(pb->p[1].name, "b.w");
    nl_tensor_from_data(&pb->p[0].w, 1, s0, INIT0);
    nl_tensor_from_data(&pb->p[1].w, 2, s1, INIT1);
    nl_tensor_zeros(&pb->p[0].g, 1, s0);
    nl_tensor_zeros(&pb->p[1].g, 2, s1);
    pb->p[0].decay = 1;
    pb->p[1].decay = 0;
}

static void problem_free(problem *pb)
{
    for (int i = 0; i < 2; i++) {
        nl_tensor_free(pb->p[i].w);
        nl_tensor_free(pb->p[i].g);
    }
}

static void problem_grad(problem *pb)
{
    for (int k = 0; k < 2; k++) {
        float *w = nl_tensor_data(pb->p[k].w), *g = nl_tensor_data(pb->p[k].g);
        for (int64_t i = 0; i < nl_tensor_numel(pb->p[k].w); i++) {
            float a = (float)(0.5 + 0.75 * (double)i), c = (float)(0.1 * (double)i - 0.3);
            float d = w[i] - c;
            g[i] = a * d;
        }
    }
}

static void problem_flat(const problem *pb, float out[7])
{
    memcpy(out, nl_tensor_data(pb->p[0].w), 3 * sizeof(float));
    memcpy(out + 3, nl_tensor_data(pb->p[1].w), 4 * sizeof(float));
}

/* ---------------------------------------------------------------- torch */

typedef struct config {
    const char *kind;
    double lr, momentum, dampening, wd, beta1, beta2, eps;
    int nesterov, cosine;
} config;

static const config CONFIGS[6] = {
    { "sgd", 0.1, 0, 0, 0, 0.9, 0.999, 1e-8, 0, 0 },
    { "sgd", 0.1, 0.9, 0.1, 0.01, 0.9, 0.999, 1e-8, 0, 0 },
    { "sgd", 0.05, 0.9, 0, 0.001, 0.9, 0.999, 1e-8, 1, 1 },
    { "adam", 0.01, 0, 0, 0, 0.9, 0.999, 1e-8, 0, 0 },
    { "adam", 0.02, 0, 0, 0.1, 0.8, 0.99, 1e-6, 0, 0 },
    { "adamw", 0.01, 0, 0, 0.1, 0.9, 0.999, 1e-8, 0, 1 },
};

/* /usr/bin/python3 tests/optim_ref.py (torch 1.13.0): for each config, the
 * 7 weights after step 1, then after step 20. */
static const float TORCH[12][7] = {
    {0.460000008f, -1.11874998f, 1.58000004f, 1.40999997f, -0.681249976f, 0.180000007f, -1.45000005f},
    {-0.0132112503f, -0.272669196f, -0.0757886469f, 0.345274597f, -0.23806484f, -0.0959647819f, -0.00321951276f},
    {0.459499985f, -1.11749995f, 1.57800007f, 1.40999997f, -0.681249976f, 0.180000007f, -1.45000005f},
    {-0.437704384f, -0.491985053f, -0.735999703f, -0.651594222f, -0.35689345f, -0.204586491f, 0.347233802f},
    {0.461952507f, -1.12519372f, 1.60081005f, 1.4145f, -0.684687495f, 0.183500007f, -1.47749996f},
    {-0.268381059f, 0.0311950985f, -0.26803726f, -0.228302956f, -0.078958258f, -0.128090754f, -0.0897502825f},
    {0.49000001f, -1.24000001f, 1.99000001f, 1.49000001f, -0.74000001f, 0.239999995f, -1.99000001f},
    {0.303435862f, -1.05252504f, 1.80119288f, 1.30140448f, -0.555361569f, 0.0596172772f, -1.8012557f},
    {0.480000049f, -1.23000002f, 1.98000002f, 1.48000002f, -0.730000019f, 0.230000034f, -1.98000002f},
    {0.128708139f, -0.86880064f, 1.60878503f, 1.11037135f, -0.392813176f, -0.0693554729f, -1.60924065f},
    {0.489500016f, -1.23874998f, 1.98800004f, 1.49000001f, -0.74000001f, 0.239999995f, -1.99000001f},
    {0.381265879f, -1.12255299f, 1.86367905f, 1.38583815f, -0.636741459f, 0.137651399f, -1.8858031f},
};

static nl_optim *make(problem *pb, const config *c)
{
    nl_optim_opts o;
    nl_optim_defaults(c->kind, &o);
    o.lr = c->lr;
    o.momentum = c->momentum;
    o.dampening = c->dampening;
    o.weight_decay = c->wd;
    o.beta1 = c->beta1;
    o.beta2 = c->beta2;
    o.eps = c->eps;
    o.nesterov = c->nesterov;
    nl_optim *opt = NULL;
    if (nl_optim_new(&opt, c->kind, pb->p, 2, &o)) printf("# %s\n", nl_errmsg());
    return opt;
}

static double max_rel(const float *got, const float *want, int n)
{
    double m = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]) / fmax(1.0, fabs(want[i]));
        if (d > m || isnan(got[i])) m = isnan(got[i]) ? INFINITY : d;
    }
    return m;
}

static void test_torch(void)
{
    for (int k = 0; k < 6; k++) {
        const config *c = &CONFIGS[k];
        problem pb;
        problem_init(&pb);
        nl_optim *opt = make(&pb, c);
        nl_sched_opts s;
        nl_sched_defaults(&s, c->cosine ? NL_SCHED_COSINE : NL_SCHED_CONSTANT, c->lr);
        s.lr_min = c->lr * 0.1;
        s.total = 20;
        float w[7];
        for (int t = 0; t < 20; t++) {
            nl_optim_set_lr(opt, nl_sched_lr(&s, t));
            problem_grad(&pb);
            nl_optim_step(opt);
            if (t == 0) {
                problem_flat(&pb, w);
                double e = max_rel(w, TORCH[2 * k], 7);
                ok(e <= 1e-6, "config %d (%s): step 1 matches torch (max rel err %.2g)", k, c->kind, e);
            }
        }
        problem_flat(&pb, w);
        double e = max_rel(w, TORCH[2 * k + 1], 7);
        ok(e <= 2e-6, "config %d (%s): step 20 matches torch (max rel err %.2g)", k, c->kind, e);
        is_int(nl_optim_steps(opt), 20, "config %d: 20 steps counted", k);
        nl_optim_free(opt);
        problem_free(&pb);
    }
}

/* ---------------------------------------------------------------- formulas */

/* The update rules as the PyTorch documentation writes them, in double, for
 * one scalar param with gradient a (w - c). */
static double ref_sgd(double w, double a, double c, double lr, double mom, double damp, double wd,
                      int nesterov, int steps)
{
    double b = 0;
    for (int t = 1; t <= steps; t++) {
        double g = a * (w - c) + wd * w;
        b = t == 1 ? g : mom * b + (1 - damp) * g;
        w -= lr * (nesterov ? g + mom * b : b);
    }
    return w;
}

static double ref_adam(double w, double a, double c, double lr, double b1, double b2, double eps,
                       double wd, int decoupled, int steps)
{
    double m = 0, v = 0;
    for (int t = 1; t <= steps; t++) {
        double g = a * (w - c) + (decoupled ? 0 : wd * w);
        if (decoupled) w *= 1 - lr * wd;
        m = b1 * m + (1 - b1) * g;
        v = b2 * v + (1 - b2) * g * g;
        double mh = m / (1 - pow(b1, t)), vh = v / (1 - pow(b2, t));
        w -= lr * mh / (sqrt(vh) + eps);
    }
    return w;
}

/* One decayed scalar param, a = 0.5, c = -0.3 (flat index 0 of param 0). */
static double run_scalar(const char *kind, const nl_optim_opts *o, int steps)
{
    problem pb;
    problem_init(&pb);
    nl_optim *opt = NULL;
    nl_optim_new(&opt, kind, pb.p, 1, o);
    for (int t = 0; t < steps; t++) {
        problem_grad(&pb);
        nl_optim_step(opt);
    }
    double w = nl_tensor_data(pb.p[0].w)[0];
    nl_optim_free(opt);
    problem_free(&pb);
    return w;
}

static void test_formulas(void)
{
    const double a = 0.5, c = (float)-0.3, w0 = 0.5;
    nl_optim_opts o;
    nl_optim_defaults("sgd", &o);
    o.lr = 0.2;
    o.momentum = 0.8;
    o.dampening = 0.25;
    o.weight_decay = 0.05;
    for (int steps = 1; steps <= 30; steps += 29)
        is_near(run_scalar("sgd", &o, steps), ref_sgd(w0, a, c, 0.2, 0.8, 0.25, 0.05, 0, steps), 1e-5,
                "sgd momentum+dampening+wd after %d steps = textbook formula", steps);
    o.dampening = 0;
    o.nesterov = 1;
    for (int steps = 1; steps <= 30; steps += 29)
        is_near(run_scalar("sgd", &o, steps), ref_sgd(w0, a, c, 0.2, 0.8, 0, 0.05, 1, steps), 1e-5,
                "sgd nesterov+wd after %d steps = textbook formula", steps);
    nl_optim_defaults("adam", &o);
    o.lr = 0.05;
    o.weight_decay = 0.1;
    for (int steps = 1; steps <= 30; steps += 29)
        is_near(run_scalar("adam", &o, steps), ref_adam(w0, a, c, 0.05, 0.9, 0.999, 1e-8, 0.1, 0, steps),
                1e-5, "adam+L2 after %d steps = textbook formula", steps);
    nl_optim_defaults("adamw", &o);
    o.lr = 0.05;
    o.weight_decay = 0.1;
    for (int steps = 1; steps <= 30; steps += 29)
        is_near(run_scalar("adamw", &o, steps), ref_adam(w0, a, c, 0.05, 0.9, 0.999, 1e-8, 0.1, 1, steps),
                1e-5, "adamw after %d steps = textbook formula", steps);
    /* Adam's first step moves every weight by lr against the gradient's sign:
     * m_hat = g, v_hat = g^2. */
    problem pb;
    problem_init(&pb);
    nl_optim *opt = NULL;
    nl_optim_defaults("adam", &o);
    o.lr = 0.125;
    nl_optim_new(&opt, "adam", pb.p, 2, &o);
    problem_grad(&pb);
    nl_optim_step(opt);
    float w[7];
    problem_flat(&pb, w);
    const float *init[2] = { INIT0, INIT1 };
    int good = 1;
    for (int k = 0, f = 0; k < 2; k++)
        for (int i = 0; i < (k ? 4 : 3); i++, f++) {
            float g = nl_tensor_data(pb.p[k].g)[i];
            double want = init[k][i] - 0.125 * (g > 0 ? 1 : -1);
            if (fabs(w[f] - want) > 1e-6) good = 0;
        }
    ok(good, "adam step 1 moves each weight by lr against its gradient's sign");
    nl_optim_free(opt);
    problem_free(&pb);
}

/* ---------------------------------------------------------------- convergence */

static void test_convergence(void)
{
    const char *kinds[3] = { "sgd", "adam", "adamw" };
    for (int k = 0; k < 3; k++) {
        problem pb;
        problem_init(&pb);
        nl_optim_opts o;
        nl_optim_defaults(kinds[k], &o);
        o.weight_decay = 0;
        if (k == 0) {
            o.lr = 0.1;
            o.momentum = 0.9;
            o.nesterov = 1;
        } else
            o.lr = 0.05;
        nl_optim *opt = NULL;
        nl_optim_new(&opt, kinds[k], pb.p, 2, &o);
        nl_sched_opts s;
        nl_sched_defaults(&s, NL_SCHED_COSINE, o.lr);
        s.total = 2000;
        for (int t = 0; t < 2000; t++) {
            nl_optim_set_lr(opt, nl_sched_lr(&s, t));
            nl_optim_zero_grad(opt);
            problem_grad(&pb);
            nl_optim_step(opt);
        }
        double err = 0;
        for (int p = 0; p < 2; p++)
            for (int64_t i = 0; i < nl_tensor_numel(pb.p[p].w); i++)
                err = fmax(err, fabs(nl_tensor_data(pb.p[p].w)[i] - (0.1 * (double)i - 0.3)));
        ok(err < 1e-4, "%s converges to the minimum of the quadratic (max err %.2g)", kinds[k], err);
        nl_optim_free(opt);
        problem_free(&pb);
    }
}

/* ---------------------------------------------------------------- api */

static void test_api(void)
{
    const nl_optim_kind *k;
    nl_optim_opts o;
    int n = 0;
    while (nl_optim_kinds[n]) n++;
    is_int(n, 3, "three optimiser kinds");
    is_int(nl_optim_kind_find("adam", &k), 0, "find adam");
    is_str(k->state_names[1], "exp_avg_sq", "adam's second state is exp_avg_sq");
    is_int(nl_optim_kind_find("rmsprop", &k), NL_ENOTFOUND, "unknown kind");
    is_str(nl_errmsg(), "unknown optimiser 'rmsprop' (known: sgd, adam, adamw)", "message lists kinds");
    is_int(nl_optim_defaults("adamw", &o), 0, "adamw defaults");
    ok(o.lr == 0.001 && o.weight_decay == 0.01 && o.beta1 == 0.9 && o.beta2 == 0.999 && o.eps == 1e-8,
       "adamw defaults are torch's");
    nl_optim_defaults("sgd", &o);
    ok(o.lr == 0.01 && o.momentum == 0 && o.weight_decay == 0 && !o.nesterov, "sgd defaults");

    problem pb;
    problem_init(&pb);
    nl_optim *opt = (nl_optim *)&pb;
    o.nesterov = 1;
    is_int(nl_optim_new(&opt, "sgd", pb.p, 2, &o), NL_EINVAL, "nesterov without momentum");
    is_str(nl_errmsg(), "sgd: nesterov momentum requires a momentum and zero dampening", "message");
    ok(opt == NULL, "*out is NULL on failure");
    o.nesterov = 0;
    o.momentum = -0.5;
    nl_optim_new(&opt, "sgd", pb.p, 2, &o);
    is_str(nl_errmsg(), "sgd: momentum must be >= 0 (got -0.5)", "negative momentum");
    nl_optim_defaults("adam", &o);
    o.beta2 = 1;
    is_int(nl_optim_new(&opt, "adam", pb.p, 2, &o), NL_EINVAL, "beta2 = 1");
    is_str(nl_errmsg(), "adam: beta2 must be in [0, 1) (got 1)", "message");
    o.beta2 = 0.999;
    o.lr = NAN;
    nl_optim_new(&opt, "adam", pb.p, 2, &o);
    is_str(nl_errmsg(), "adam: lr must be >= 0 (got nan)", "NaN lr");

    /* A gradient of the wrong shape, and a transposed (non-contiguous) value. */
    nl_tensor *g1 = pb.p[1].g, *bad;
    int64_t s4[1] = { 4 };
    nl_tensor_zeros(&bad, 1, s4);
    pb.p[1].g = bad;
    is_int(nl_optim_new(&opt, "adam", pb.p, 2, NULL), NL_ESHAPE, "gradient shape differs");
    is_str(nl_errmsg(), "adam: param 'b.w' has shape [2,2] but its gradient [4]", "message");
    pb.p[1].g = g1;
    nl_tensor_free(bad);
    nl_tensor *w1 = pb.p[1].w;
    nl_tensor_transpose(&pb.p[1].w, w1, 0, 1);
    is_int(nl_optim_new(&opt, "sgd", pb.p, 2, NULL), NL_EINVAL, "non-contiguous value");
    is_str(nl_errmsg(), "sgd: param 'b.w' is not contiguous", "message");
    nl_tensor_free(pb.p[1].w);
    pb.p[1].w = w1;

    is_int(nl_optim_new(&opt, "sgd", pb.p, 2, NULL), 0, "sgd with defaults");
    is_int(nl_optim_nstate(opt), 0, "plain sgd keeps no state");
    ok(nl_optim_lr(opt) == 0.01, "lr is the default");
    is_int(nl_optim_set_lr(opt, -1), NL_EINVAL, "negative lr refused");
    is_str(nl_errmsg(), "sgd: lr must be >= 0 (got -1)", "message");
    ok(nl_optim_lr(opt) == 0.01, "lr unchanged by a refused set");
    problem_grad(&pb);
    nl_optim_zero_grad(opt);
    double sum = 0;
    for (int p = 0; p < 2; p++)
        for (int64_t i = 0; i < nl_tensor_numel(pb.p[p].g); i++) sum += fabs(nl_tensor_data(pb.p[p].g)[i]);
    ok(sum == 0, "zero_grad zeroes every gradient");
    nl_optim_step(opt);
    ok(memcmp(nl_tensor_data(pb.p[0].w), INIT0, sizeof INIT0) == 0, "a step on zero gradients changes nothing");
    is_int(nl_optim_set_steps(opt, -3), NL_EINVAL, "negative step count refused");
    nl_optim_free(opt);
    nl_optim_free(NULL);

    nl_optim_defaults("sgd", &o);
    o.momentum = 0.9;
    nl_optim_new(&opt, "sgd", pb.p, 2, &o);
    is_int(nl_optim_nstate(opt), 1, "sgd with momentum keeps one buffer per param");
    ok(nl_tensor_same_shape(nl_optim_state(opt, 1, 0), pb.p[1].w), "buffer has the param's shape");
    ok(nl_optim_param(opt, 1) == &pb.p[1], "params are borrowed, not copied");
    nl_optim_free(opt);
    problem_free(&pb);
}

/* ---------------------------------------------------------------- schedules */

static void test_sched(void)
{
    nl_sched_opts s;
    nl_sched_defaults(&s, NL_SCHED_COSINE, 0.1);
    s.lr_min = 0.001;
    s.total = 100;
    is_int(nl_sched_check(&s), 0, "cosine schedule checks");
    is_near(nl_sched_lr(&s, 0), 0.1, 1e-15, "cosine t=0 is lr");
    is_near(nl_sched_lr(&s, 50), (0.1 + 0.001) / 2, 1e-15, "cosine t=T/2 is the midpoint");
    is_near(nl_sched_lr(&s, 100), 0.001, 1e-15, "cosine t=T is lr_min");
    is_near(nl_sched_lr(&s, 250), 0.001, 1e-15, "cosine stays at lr_min after T");
    is_near(nl_sched_lr(&s, 25), 0.001 + 0.099 * (1 + sqrt(0.5)) / 2, 1e-15, "cosine t=T/4");
    /* torch's CosineAnnealingLR recursion with eta_min, T_max = 100, run in
     * double: it agrees with the closed form. */
    double lr = 0.1;
    int agree = 1;
    for (int t = 1; t <= 100; t++) {
        lr = 0.001 + (lr - 0.001) * (1 + cos(M_PI * t / 100)) / (1 + cos(M_PI * (t - 1) / 100));
        if (fabs(lr - nl_sched_lr(&s, t)) > 1e-12) agree = 0;
    }
    ok(agree, "closed form equals torch's recursive CosineAnnealingLR");
    s.warmup = 10;
    is_near(nl_sched_lr(&s, 0), 0.01, 1e-15, "warm-up step 0 is lr/warmup");
    is_near(nl_sched_lr(&s, 9), 0.1, 1e-15, "warm-up reaches lr at its last step");
    is_near(nl_sched_lr(&s, 10), 0.1, 1e-15, "cosine starts after warm-up");
    is_near(nl_sched_lr(&s, 110), 0.001, 1e-15, "cosine ends total steps after warm-up");
    is_near(nl_sched_lr(&s, -5), 0.01, 1e-15, "negative t counts as 0");

    nl_sched_defaults(&s, NL_SCHED_STEP, 0.1);
    s.step_size = 30;
    s.gamma = 0.5;
    is_near(nl_sched_lr(&s, 29), 0.1, 1e-15, "step decay before the first step");
    is_near(nl_sched_lr(&s, 30), 0.05, 1e-15, "step decay halves at 30");
    is_near(nl_sched_lr(&s, 95), 0.0125, 1e-15, "step decay at 95 = lr gamma^3");
    nl_sched_defaults(&s, NL_SCHED_CONSTANT, 0.3);
    is_near(nl_sched_lr(&s, 12345), 0.3, 0, "constant");

    nl_sched_defaults(&s, NL_SCHED_COSINE, 0.1);
    s.total = 0;
    is_int(nl_sched_check(&s), NL_EINVAL, "cosine with total 0");
    is_str(nl_errmsg(), "schedule: total must be >= 1 (got 0)", "message");
    nl_sched_defaults(&s, NL_SCHED_STEP, 0.1);
    s.gamma = 0;
    is_int(nl_sched_check(&s), NL_EINVAL, "gamma 0");
    is_str(nl_errmsg(), "schedule: gamma must be > 0 (got 0)", "message");
    nl_sched_defaults(&s, NL_SCHED_CONSTANT, 0.1);
    s.warmup = -1;
    is_int(nl_sched_check(&s), NL_EINVAL, "negative warm-up");
    is_str(nl_errmsg(), "schedule: warmup must be >= 0 (got -1)", "message");

    nl_sched_kind kind;
    is_int(nl_sched_kind_from_name("cosine", &kind), 0, "cosine by name");
    ok(kind == NL_SCHED_COSINE, "kind is cosine");
    is_str(nl_sched_kind_name(NL_SCHED_STEP), "step", "name of step");
    is_int(nl_sched_kind_from_name("linear", &kind), NL_ENOTFOUND, "unknown schedule");
    is_str(nl_errmsg(), "unknown schedule 'linear' (known: constant, cosine, step)", "message");
}

int main(void)
{
    test_torch();
    test_formulas();
    test_convergence();
    test_api();
    test_sched();
    return done_testing();
}
