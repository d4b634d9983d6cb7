/* SPDX-License-Identifier: GPL-3.0-or-later */
/* train.h - the training loop every naslab model goes through: minibatch SGD
 * (or Adam) with a learning-rate schedule over an in-memory data set, events
 * per batch and per epoch, Ctrl-C between batches, evaluation, batch-norm
 * recalibration, and checkpoints from which a stopped run resumes to the
 * same bits as an uninterrupted one.
 *
 * Order of random draws (this is what makes runs and resumes exact): rng 0
 * (seeded with `seed`) draws the order of each epoch's examples, one
 * permutation at the start of every epoch; rng 1 (seed, stream 1) is handed
 * to the `sample` hook before every batch (a supernet draws its path there).
 * Uses nn (model, optim, checkpoint), data (dataset), core. */
#ifndef NL_TRAIN_H
#define NL_TRAIN_H

#include <stdint.h>

#include "core/rng.h"
#include "data/dataset.h"
#include "nn/model.h"
#include "nn/optim.h"

/* What the loop reports. */
typedef struct nl_train_event {
    const char *name;     /* "train.batch" or "train.epoch" */
    int epoch, epochs;    /* the current epoch, 1-based, and the total */
    int64_t step, steps;  /* optimiser steps done so far, and in the whole run */
    double loss, acc;     /* batch: this batch's; epoch: the epoch's mean train loss, accuracy (%) */
    double test_acc;      /* epoch: test accuracy (%) when evaluated this epoch, else NaN */
    double lr;            /* learning rate of the last step */
    double images_per_s;  /* training throughput so far in this call */
    double seconds;       /* training seconds so far (over resumes) */
} nl_train_event;

/* Observer: return 0 to go on, non-zero to stop (nl_train then saves a
 * checkpoint when it has a path, and fails with NL_EINTR). */
typedef int (*nl_train_cb)(void *ud, const nl_train_event *ev);
/* Called before every training batch with rng 1; may change the model's
 * path. Non-zero is an error code that stops the run. */
typedef int (*nl_train_sample_fn)(void *ud, nl_model *m, nl_rng *r);

typedef struct nl_train_opts {
    int epochs;            /* >= 1 */
    int batch;             /* >= 2 */
    uint64_t seed;
    const char *optim;     /* "sgd" (default), "adam", "adamw" */
    double lr;             /* base learning rate (0.1) */
    double lr_min;         /* cosine floor (0) */
    const char *schedule;  /* "cosine" (default), "constant", "step" */
    double momentum;       /* sgd (0.9) */
    int nesterov;          /* sgd (1) */
    double weight_decay;   /* on conv and linear weights only (5e-4) */
    int eval_every;        /* evaluate on `test` every k epochs (0: only after the last) */
    int batch_events;      /* emit "train.batch" every k batches (0: never) */
    const char *checkpoint;/* path, or NULL: no checkpoints */
    int checkpoint_every;  /* batches between checkpoints (0: at the end of each epoch) */
    int resume;            /* start from `checkpoint` when that file exists */
    const char *tag;       /* what the run trains ("nb201 C=16 N=5 |...|"), stored in the
                            * checkpoint and checked on resume; NULL: not checked */
    nl_train_cb on_event;
    void *ud;
    nl_train_sample_fn sample;
    void *sample_ud;
} nl_train_opts;

/* Fill *o with the NAS-Bench-201 recipe: sgd, Nesterov momentum 0.9, lr 0.1
 * cosine to 0, weight decay 5e-4, batch 128, 1 epoch, seed 0. */
void nl_train_defaults(nl_train_opts *o);

typedef struct nl_train_result {
    double test_acc, test_loss;   /* after the last epoch (NaN without test data) */
    double train_acc, train_loss; /* mean over the last epoch */
    double *loss_curve;           /* epochs values: mean train loss per epoch */
    double *acc_curve;            /* epochs values: train accuracy (%) per epoch (both
                                   * rounded to float32, as checkpoints keep them) */
    int epochs;
    int64_t steps;
    double seconds;               /* training time, summed over resumes */
    double images_per_s;          /* training throughput of this call */
    int resumed_epoch;            /* -1, or the epoch (0-based) a resume started in */
    int64_t resumed_batch;        /* and the batch within it */
} nl_train_result;

/* Train m on `train` (test may be NULL) with options o; fills *r (free its
 * curves with nl_train_result_free; *r is valid, curves NULL, on failure).
 * The model's params are updated in place; only active params are stepped.
 * Errors: NL_EINVAL naming the option; NL_ESHAPE when the data do not fit
 * the model; NL_EINTR when stopped; checkpoint errors (nl_ckpt_load/save).
 * With 1 example left over in an epoch, that batch is skipped (batch norm
 * cannot train on one example). */
int nl_train(nl_model *m, nl_nn_ctx *c, const nl_dataset *train, const nl_dataset *test,
             const nl_train_opts *o, nl_train_result *r);
void nl_train_result_free(nl_train_result *r);

/* Accuracy (%) and mean loss of m on d, in evaluation mode, `batch` examples
 * at a time (>= 1). Either output may be NULL. Honours Ctrl-C (NL_EINTR). */
int nl_evaluate(nl_model *m, nl_nn_ctx *c, const nl_dataset *d, int batch, double *acc, double *loss);

/* Recompute every batch-norm running statistic for the model's current path
 * from `batches` training-mode forward passes over random batches of d
 * (`batch` examples each, drawn from r), as the cumulative average of the
 * batch statistics (PyTorch's momentum=None): what a cell evaluated with
 * supernet weights needs, since the shared statistics mix every path. */
int nl_recalibrate_bn(nl_model *m, nl_nn_ctx *c, const nl_dataset *d, int batches, int batch, nl_rng *r);

#endif
