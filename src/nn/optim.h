/* SPDX-License-Identifier: GPL-3.0-or-later */
/* optim.h - optimisers and learning-rate schedules. An optimiser updates a
 * borrowed array of nl_param from their gradients with the update rules of
 * PyTorch 1.13's torch.optim.SGD (momentum, dampening, Nesterov, L2 weight
 * decay), torch.optim.Adam (bias-corrected, L2 weight decay) and
 * torch.optim.AdamW (decoupled decay), computed in float32 in the same order
 * of operations, so results agree with PyTorch to float rounding. The kinds
 * are const vtables listed in nl_optim_kinds. Schedules are pure functions of
 * the step number, which is what makes a resumed run exact. Uses core
 * (tensor, error). */
#ifndef NL_OPTIM_H
#define NL_OPTIM_H

#include <stdint.h>

#include "core/tensor.h"
#include "nn/param.h"

/* Options of every kind; a kind reads the fields it knows. Fill with
 * nl_optim_defaults() and change what differs. weight_decay applies only to
 * params whose decay flag is 1. */
typedef struct nl_optim_opts {
    double lr;           /* learning rate; schedules change it with nl_optim_set_lr */
    double momentum;     /* sgd: 0 = plain SGD */
    double dampening;    /* sgd */
    int nesterov;        /* sgd: needs momentum > 0 and dampening 0 */
    double weight_decay; /* sgd, adam: wd * w added to the gradient; adamw: w *= 1 - lr wd */
    double beta1, beta2; /* adam, adamw */
    double eps;          /* adam, adamw: added to sqrt(v_hat) */
} nl_optim_opts;

/* One optimiser family. nstate is the number of state tensors each param
 * needs under the given options (each of the param's shape, zero at the
 * start), named state_names[0..nstate); check validates options (NL_EINVAL
 * naming the bad option); update applies one step to n contiguous floats:
 * `step` counts steps including this one (1 on the first), `lr` is the
 * current rate, `wd` is the weight decay for this param (0 when its decay
 * flag is 0), state[j] the param's state tensors' data. */
typedef struct nl_optim_kind {
    const char *name;  /* "sgd" */
    const char *title; /* one line for listings */
    const char *const *state_names;
    int (*nstate)(const nl_optim_opts *o);
    int (*check)(const nl_optim_opts *o);
    void (*update)(const nl_optim_opts *o, double lr, double wd, int64_t step, int64_t n, float *w,
                   const float *g, float *const *state);
} nl_optim_kind;

/* The registry: NULL-terminated ("sgd", "adam", "adamw"). */
extern const nl_optim_kind *const nl_optim_kinds[];
/* Look a kind up by name; NL_ENOTFOUND (message lists the names) if unknown. */
int nl_optim_kind_find(const char *name, const nl_optim_kind **out);

/* Fill *o with the defaults of PyTorch for kind `name`: lr 0.01 (sgd; PyTorch
 * has none) or 0.001 (adam, adamw), momentum 0, dampening 0, nesterov 0,
 * weight_decay 0 (0.01 for adamw), beta1 0.9, beta2 0.999, eps 1e-8.
 * NL_ENOTFOUND for an unknown kind (*o is then filled as for sgd). */
int nl_optim_defaults(const char *name, nl_optim_opts *o);

typedef struct nl_optim nl_optim;

/* *out = a new optimiser of kind `name` over params[0..nparams), which it
 * borrows: they must outlive it and keep their tensors. Every param needs
 * contiguous w and g of the same shape (NL_EINVAL / NL_ESHAPE naming the
 * param otherwise). opts NULL means the kind's defaults; bad options fail
 * with NL_EINVAL naming the option, an unknown kind with NL_ENOTFOUND.
 * Caller owns *out (nl_optim_free); *out is NULL on failure. */
int nl_optim_new(nl_optim **out, const char *name, nl_param *params, int nparams,
                 const nl_optim_opts *opts);
/* Free the optimiser and its state (not the params). NULL is a no-op. */
void nl_optim_free(nl_optim *o);

/* One update of every param from its gradient p->g; the step count goes up
 * by one first. Returns 0. */
int nl_optim_step(nl_optim *o);
/* The same, updating only the params i with active[i] != 0 (NULL: all): a
 * weight-sharing supernet trains the params of the sampled path and leaves
 * the others, momentum included, untouched, as PyTorch does for params
 * without a gradient. The step count is global, so Adam's bias correction
 * counts the steps of the optimiser, not of the param. */
int nl_optim_step_masked(nl_optim *o, const uint8_t *active);
/* Set every param's gradient to 0. */
void nl_optim_zero_grad(nl_optim *o);

/* The current learning rate, and a new one (NL_EINVAL when negative or not
 * finite). */
double nl_optim_lr(const nl_optim *o);
int nl_optim_set_lr(nl_optim *o, double lr);

/* Read-only views of the optimiser for checkpoints and listings: its kind, its
 * options (lr is the current rate), the number of steps taken, its params
 * (borrowed), the number of state tensors per param and state tensor j of
 * param i (owned by the optimiser; writing into it changes the state). */
const nl_optim_kind *nl_optim_kind_of(const nl_optim *o);
const nl_optim_opts *nl_optim_options(const nl_optim *o);
int64_t nl_optim_steps(const nl_optim *o);
int nl_optim_nparams(const nl_optim *o);
nl_param *nl_optim_param(const nl_optim *o, int i);
int nl_optim_nstate(const nl_optim *o);
nl_tensor *nl_optim_state(const nl_optim *o, int i, int j);
/* Set the step count (a checkpoint restoring the state); NL_EINVAL when
 * negative. */
int nl_optim_set_steps(nl_optim *o, int64_t steps);

/* ------------------------------------------------------------ schedules */

typedef enum nl_sched_kind { NL_SCHED_CONSTANT, NL_SCHED_COSINE, NL_SCHED_STEP } nl_sched_kind;

/* A learning-rate schedule by step t = 0, 1, ... (the number of optimiser
 * steps taken before the one the rate is for). Warm-up, when warmup > 0,
 * rises linearly as lr (t + 1) / warmup for t < warmup; after it t counts
 * from the end of warm-up. Then:
 * - constant: lr;
 * - cosine: lr_min + (lr - lr_min) (1 + cos(pi t / total)) / 2, the closed
 *   form of torch's CosineAnnealingLR with T_max = total (steps after
 *   warm-up); t beyond total stays at lr_min;
 * - step: lr gamma^floor(t / step_size), as torch's StepLR. */
typedef struct nl_sched_opts {
    nl_sched_kind kind;
    double lr;         /* base rate */
    double lr_min;     /* cosine floor (eta_min) */
    int64_t total;     /* cosine: steps of the annealing after warm-up */
    int64_t warmup;    /* steps of linear warm-up, 0 for none */
    int64_t step_size; /* step decay: steps between decays */
    double gamma;      /* step decay factor */
} nl_sched_opts;

/* Fill *s as constant lr with lr_min 0, total 1, warmup 0, step_size 1,
 * gamma 0.1. */
void nl_sched_defaults(nl_sched_opts *s, nl_sched_kind kind, double lr);
/* NL_EINVAL naming the field when s cannot be evaluated: negative or
 * non-finite rates, an unknown kind, a negative warmup, total < 1 for
 * cosine, step_size < 1 or a gamma not above 0 for step decay. */
int nl_sched_check(const nl_sched_opts *s);
/* The learning rate for step t (t < 0 counts as 0). Pure: the same (s, t)
 * always gives the same rate. s must pass nl_sched_check. */
double nl_sched_lr(const nl_sched_opts *s, int64_t t);
/* The kind of a name ("constant", "cosine", "step"), NL_ENOTFOUND listing the
 * names otherwise; and the name of a kind (NULL if out of range). */
int nl_sched_kind_from_name(const char *name, nl_sched_kind *out);
const char *nl_sched_kind_name(nl_sched_kind k);

#endif
