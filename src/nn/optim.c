/* SPDX-License-Identifier: GPL-3.0-or-later */
/* optim.c - SGD, Adam and AdamW as const vtables over one driver, and the
 * learning-rate schedules (see optim.h). The update loops follow PyTorch
 * 1.13's single-tensor code operation by operation: every tensor operation
 * there rounds to float32, so each is one float expression here, and Python
 * scalars are rounded to float where PyTorch converts them (1 - beta1 in
 * double first, then to float). Written by hand: no C library offers these
 * update rules. */
#include "nn/optim.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"

struct nl_optim {
    const nl_optim_kind *kind;
    nl_optim_opts opts;
    nl_param *params; /* borrowed */
    int n;
    int nstate;
    nl_tensor **state; /* n * nstate, param-major */
    int64_t steps;
};

static int finite_nonneg(double v) { return isfinite(v) && v >= 0; }

/* ------------------------------------------------------------ sgd */

static const char *const sgd_state_names[] = { "momentum_buffer", NULL };

static int sgd_nstate(const nl_optim_opts *o) { return o->momentum != 0 ? 1 : 0; }

static int check_common(const char *kind, const nl_optim_opts *o)
{
    if (!finite_nonneg(o->lr)) return nl_err(NL_EINVAL, "%s: lr must be >= 0 (got %g)", kind, o->lr);
    if (!finite_nonneg(o->weight_decay))
        return nl_err(NL_EINVAL, "%s: weight_decay must be >= 0 (got %g)", kind, o->weight_decay);
    return 0;
}

static int sgd_check(const nl_optim_opts *o)
{
    int rc = check_common("sgd", o);
    if (rc) return rc;
    if (!finite_nonneg(o->momentum))
        return nl_err(NL_EINVAL, "sgd: momentum must be >= 0 (got %g)", o->momentum);
    if (!isfinite(o->dampening))
        return nl_err(NL_EINVAL, "sgd: dampening must be finite (got %g)", o->dampening);
    if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
        return nl_err(NL_EINVAL, "sgd: nesterov momentum requires a momentum and zero dampening");
    return 0;
}

/* torch.optim.SGD: d = g + wd w; buf = d on the first step, else
 * buf = momentum buf + (1 - dampening) d; d = nesterov ? d + momentum buf : buf;
 * w -= lr d. */
static void sgd_update(const nl_optim_opts *o, double lr, double wd, int64_t step, int64_t n,
                       float *w, const float *g, float *const *state)
{
    const float wdf = (float)wd, mom = (float)o->momentum, keep = (float)(1.0 - o->dampening);
    const float neglr = (float)-lr;
    float *buf = o->momentum != 0 ? state[0] : NULL;
    for (int64_t i = 0; i < n; i++) {
        float d = g[i];
        if (wd != 0) d = d + wdf * w[i];
        if (buf) {
            if (step == 1)
                buf[i] = d;
            else {
                float b = buf[i] * mom;
                buf[i] = b + keep * d;
            }
            d = o->nesterov ? d + mom * buf[i] : buf[i];
        }
        w[i] = w[i] + neglr * d;
    }
}

static const nl_optim_kind sgd_kind = {
    .name = "sgd",
    .title = "stochastic gradient descent with momentum, Nesterov and L2 weight decay",
    .state_names = sgd_state_names,
    .nstate = sgd_nstate,
    .check = sgd_check,
    .update = sgd_update,
};

/* ------------------------------------------------------------ adam, adamw */

static const char *const adam_state_names[] = { "exp_avg", "exp_avg_sq", NULL };

static int adam_nstate(const nl_optim_opts *o)
{
    (void)o;
    return 2;
}

static int adam_check_named(const char *kind, const nl_optim_opts *o)
{
    int rc = check_common(kind, o);
    if (rc) return rc;
    if (!(o->beta1 >= 0 && o->beta1 < 1))
        return nl_err(NL_EINVAL, "%s: beta1 must be in [0, 1) (got %g)", kind, o->beta1);
    if (!(o->beta2 >= 0 && o->beta2 < 1))
        return nl_err(NL_EINVAL, "%s: beta2 must be in [0, 1) (got %g)", kind, o->beta2);
    if (!finite_nonneg(o->eps)) return nl_err(NL_EINVAL, "%s: eps must be >= 0 (got %g)", kind, o->eps);
    return 0;
}

static int adam_check(const nl_optim_opts *o) { return adam_check_named("adam", o); }
static int adamw_check(const nl_optim_opts *o) { return adam_check_named("adamw", o); }

/* torch.optim.Adam without amsgrad: g += wd w (L2, Adam only); m = b1 m +
 * (1 - b1) g; v = b2 v + (1 - b2) g g; w += -(lr / bc1) m / (sqrt(v) / sqrt(bc2)
 * + eps) with bc_k = 1 - b_k^step. The bias corrections are Python doubles
 * there, rounded to float when they meet a tensor. */
static void adam_core(const nl_optim_opts *o, double lr, double l2, int64_t step, int64_t n,
                      float *w, const float *g, float *const *state)
{
    float *m = state[0], *v = state[1];
    const float wdf = (float)l2, b1 = (float)o->beta1, b2 = (float)o->beta2;
    const float omb1 = (float)(1.0 - o->beta1), omb2 = (float)(1.0 - o->beta2);
    double bc1 = 1.0 - pow(o->beta1, (double)step), bc2 = 1.0 - pow(o->beta2, (double)step);
    const float negss = (float)-(lr / bc1), bc2s = (float)sqrt(bc2), eps = (float)o->eps;
    for (int64_t i = 0; i < n; i++) {
        float d = g[i];
        if (l2 != 0) d = d + wdf * w[i];
        float mi = m[i] * b1;
        mi = mi + omb1 * d;
        float vi = v[i] * b2;
        vi = vi + omb2 * d * d;
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) / bc2s;
        denom = denom + eps;
        w[i] = w[i] + negss * mi / denom;
    }
}

static void adam_update(const nl_optim_opts *o, double lr, double wd, int64_t step, int64_t n,
                        float *w, const float *g, float *const *state)
{
    adam_core(o, lr, wd, step, n, w, g, state);
}

/* torch.optim.AdamW: w *= 1 - lr wd first, then Adam without L2. */
static void adamw_update(const nl_optim_opts *o, double lr, double wd, int64_t step, int64_t n,
                         float *w, const float *g, float *const *state)
{
    if (wd != 0) {
        const float shrink = (float)(1.0 - lr * wd);
        for (int64_t i = 0; i < n; i++) w[i] = w[i] * shrink;
    }
    adam_core(o, lr, 0, step, n, w, g, state);
}

static const nl_optim_kind adam_kind = {
    .name = "adam",
    .title = "Adam with bias correction and L2 weight decay (torch.optim.Adam)",
    .state_names = adam_state_names,
    .nstate = adam_nstate,
    .check = adam_check,
    .update = adam_update,
};

static const nl_optim_kind adamw_kind = {
    .name = "adamw",
    .title = "Adam with decoupled weight decay (torch.optim.AdamW)",
    .state_names = adam_state_names,
    .nstate = adam_nstate,
    .check = adamw_check,
    .update = adamw_update,
};

const nl_optim_kind *const nl_optim_kinds[] = { &sgd_kind, &adam_kind, &adamw_kind, NULL };

int nl_optim_kind_find(const char *name, const nl_optim_kind **out)
{
    char known[128] = "";
    size_t used = 0;
    for (int i = 0; nl_optim_kinds[i]; i++) {
        if (name && strcmp(nl_optim_kinds[i]->name, name) == 0) {
            *out = nl_optim_kinds[i];
            return 0;
        }
        int k = snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "",
                         nl_optim_kinds[i]->name);
        if (k > 0 && (size_t)k < sizeof known - used) used += (size_t)k;
    }
    *out = NULL;
    return nl_err(NL_ENOTFOUND, "unknown optimiser '%s' (known: %s)", name ? name : "(null)", known);
}

int nl_optim_defaults(const char *name, nl_optim_opts *o)
{
    const nl_optim_kind *k;
    int rc = nl_optim_kind_find(name, &k);
    memset(o, 0, sizeof *o);
    o->lr = 0.01;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    if (rc) return rc;
    if (k != &sgd_kind) o->lr = 0.001;
    if (k == &adamw_kind) o->weight_decay = 0.01;
    return 0;
}

/* ------------------------------------------------------------ driver */

void nl_optim_free(nl_optim *o)
{
    if (!o) return;
    if (o->state)
        for (int i = 0; i < o->n * o->nstate; i++) nl_tensor_free(o->state[i]);
    nl_free(o->state);
    nl_free(o);
}

int nl_optim_new(nl_optim **out, const char *name, nl_param *params, int nparams,
                 const nl_optim_opts *opts)
{
    *out = NULL;
    const nl_optim_kind *k;
    int rc = nl_optim_kind_find(name, &k);
    if (rc) return rc;
    nl_optim_opts def;
    nl_optim_defaults(name, &def);
    if (!opts) opts = &def;
    if ((rc = k->check(opts))) return rc;
    if (nparams < 0 || (nparams > 0 && !params))
        return nl_err(NL_EINVAL, "%s: bad param array (%d params)", k->name, nparams);
    for (int i = 0; i < nparams; i++) {
        const nl_param *p = &params[i];
        if (!p->w || !p->g)
            return nl_err(NL_EINVAL, "%s: param '%s' has no %s tensor", k->name, p->name,
                          p->w ? "gradient" : "value");
        if (!nl_tensor_is_contiguous(p->w) || !nl_tensor_is_contiguous(p->g))
            return nl_err(NL_EINVAL, "%s: param '%s' is not contiguous", k->name, p->name);
        if (!nl_tensor_same_shape(p->w, p->g)) {
            char a[96], b[96];
            return nl_err(NL_ESHAPE, "%s: param '%s' has shape %s but its gradient %s", k->name,
                          p->name, nl_tensor_shape_str(p->w, a, sizeof a),
                          nl_tensor_shape_str(p->g, b, sizeof b));
        }
    }
    nl_optim *o = nl_calloc(1, sizeof *o);
    if (!o) return NL_ENOMEM;
    o->kind = k;
    o->opts = *opts;
    o->params = params;
    o->n = nparams;
    o->nstate = k->nstate(opts);
    if (nparams > 0 && o->nstate > 0) {
        o->state = nl_calloc((size_t)nparams * (size_t)o->nstate, sizeof *o->state);
        if (!o->state) {
            nl_optim_free(o);
            return NL_ENOMEM;
        }
        for (int i = 0; i < nparams; i++)
            for (int j = 0; j < o->nstate; j++) {
                const nl_tensor *w = params[i].w;
                o->state[i * o->nstate + j] = nl_tensor_new(w->ndim, w->shape);
                if (!o->state[i * o->nstate + j]) {
                    nl_optim_free(o);
                    return NL_ENOMEM;
                }
            }
    }
    *out = o;
    return 0;
}

int nl_optim_step(nl_optim *o)
{
    return nl_optim_step_masked(o, NULL);
}

int nl_optim_step_masked(nl_optim *o, const uint8_t *active)
{
    float *st[4];
    o->steps++;
    for (int i = 0; i < o->n; i++) {
        if (active && !active[i]) continue;
        nl_param *p = &o->params[i];
        for (int j = 0; j < o->nstate; j++) st[j] = nl_tensor_data(o->state[i * o->nstate + j]);
        double wd = p->decay ? o->opts.weight_decay : 0;
        o->kind->update(&o->opts, o->opts.lr, wd, o->steps, nl_tensor_numel(p->w),
                        nl_tensor_data(p->w), nl_tensor_data(p->g), st);
    }
    return 0;
}

void nl_optim_zero_grad(nl_optim *o)
{
    for (int i = 0; i < o->n; i++) nl_tensor_fill(o->params[i].g, 0.0f);
}

double nl_optim_lr(const nl_optim *o) { return o->opts.lr; }

int nl_optim_set_lr(nl_optim *o, double lr)
{
    if (!finite_nonneg(lr)) return nl_err(NL_EINVAL, "%s: lr must be >= 0 (got %g)", o->kind->name, lr);
    o->opts.lr = lr;
    return 0;
}

const nl_optim_kind *nl_optim_kind_of(const nl_optim *o) { return o->kind; }
const nl_optim_opts *nl_optim_options(const nl_optim *o) { return &o->opts; }
int64_t nl_optim_steps(const nl_optim *o) { return o->steps; }
int nl_optim_nparams(const nl_optim *o) { return o->n; }
nl_param *nl_optim_param(const nl_optim *o, int i) { return &o->params[i]; }
int nl_optim_nstate(const nl_optim *o) { return o->nstate; }
nl_tensor *nl_optim_state(const nl_optim *o, int i, int j) { return o->state[i * o->nstate + j]; }

int nl_optim_set_steps(nl_optim *o, int64_t steps)
{
    if (steps < 0)
        return nl_err(NL_EINVAL, "%s: step count must be >= 0 (got %lld)", o->kind->name,
                      (long long)steps);
    o->steps = steps;
    return 0;
}

/* ------------------------------------------------------------ schedules */

static const char *const sched_names[] = { "constant", "cosine", "step" };

const char *nl_sched_kind_name(nl_sched_kind k)
{
    return (unsigned)k < sizeof sched_names / sizeof *sched_names ? sched_names[k] : NULL;
}

int nl_sched_kind_from_name(const char *name, nl_sched_kind *out)
{
    for (unsigned i = 0; i < sizeof sched_names / sizeof *sched_names; i++)
        if (name && strcmp(name, sched_names[i]) == 0) {
            *out = (nl_sched_kind)i;
            return 0;
        }
    return nl_err(NL_ENOTFOUND, "unknown schedule '%s' (known: constant, cosine, step)",
                  name ? name : "(null)");
}

void nl_sched_defaults(nl_sched_opts *s, nl_sched_kind kind, double lr)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->lr = lr;
    s->total = 1;
    s->step_size = 1;
    s->gamma = 0.1;
}

int nl_sched_check(const nl_sched_opts *s)
{
    if (!nl_sched_kind_name(s->kind)) return nl_err(NL_EINVAL, "schedule: unknown kind %d", (int)s->kind);
    if (!finite_nonneg(s->lr)) return nl_err(NL_EINVAL, "schedule: lr must be >= 0 (got %g)", s->lr);
    if (s->warmup < 0)
        return nl_err(NL_EINVAL, "schedule: warmup must be >= 0 (got %lld)", (long long)s->warmup);
    if (s->kind == NL_SCHED_COSINE) {
        if (!finite_nonneg(s->lr_min))
            return nl_err(NL_EINVAL, "schedule: lr_min must be >= 0 (got %g)", s->lr_min);
        if (s->total < 1)
            return nl_err(NL_EINVAL, "schedule: total must be >= 1 (got %lld)", (long long)s->total);
    }
    if (s->kind == NL_SCHED_STEP) {
        if (s->step_size < 1)
            return nl_err(NL_EINVAL, "schedule: step_size must be >= 1 (got %lld)",
                          (long long)s->step_size);
        if (!(isfinite(s->gamma) && s->gamma > 0))
            return nl_err(NL_EINVAL, "schedule: gamma must be > 0 (got %g)", s->gamma);
    }
    return 0;
}

double nl_sched_lr(const nl_sched_opts *s, int64_t t)
{
    if (t < 0) t = 0;
    if (t < s->warmup) return s->lr * (double)(t + 1) / (double)s->warmup;
    t -= s->warmup;
    switch (s->kind) {
    case NL_SCHED_COSINE:
        if (t >= s->total) return s->lr_min;
        return s->lr_min + (s->lr - s->lr_min) * (1 + cos(M_PI * (double)t / (double)s->total)) / 2;
    case NL_SCHED_STEP:
        return s->lr * pow(s->gamma, (double)(t / s->step_size));
    case NL_SCHED_CONSTANT:
    default:
        return s->lr;
    }
}
