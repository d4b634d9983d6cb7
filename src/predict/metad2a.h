/* SPDX-License-Identifier: GPL-3.0-or-later */
/* metad2a.h - MetaD2A (Lee, Hyung and Hwang, ICLR 2021): from a data set to a
 * NAS-Bench-201 cell in seconds. Three learned parts, as in the reference
 * code (ALGORITHMS.md section 2):
 * - set encoders (Set Transformer "sabPF": SAB, SAB, PMA with one seed, then
 *   a linear layer; 4 heads, the attention scaled by the full width): a
 *   SetPool over each class's examples gives a prototype, a second SetPool
 *   over the prototypes gives the dataset code. The generator and the
 *   predictor each have their own pair.
 * - the generator: a variational graph decoder (D-VAE) that emits the 8-node
 *   graph of a cell node by node (START, the six edge ops in NB201 order,
 *   END; node type = op + 2), a GRU state per node, the type first, then an
 *   edge from each earlier node; trained on (task, cell) pairs with the
 *   teacher-forced reconstruction loss + beta KL.
 * - the meta-predictor: a bidirectional D-VAE GRU encoder of the graph and
 *   the dataset code, an MLP to the accuracy, trained with summed MSE on
 *   ((acc - mean) / std) / 100.
 * A task is a set of classes, each a matrix of feature rows; every use draws
 * `nsample` rows per class at random (all of them when a class has fewer),
 * so a model sees a fresh sample of the data set each time. Models are built
 * on the tape (nn/tape.h) and trained with Adam. Uses core, nn. */
#ifndef NL_METAD2A_H
#define NL_METAD2A_H

#include <stdint.h>

#include "core/rng.h"

typedef struct nl_metad2a_opts {
    int feat;        /* width of a feature row (input of the set encoders) */
    int nz;          /* dataset code and latent width: 56 */
    int hs_gen;      /* generator GRU width: 56 */
    int hs_pred;     /* predictor GRU and MLP width: 512 in the paper */
    int heads;       /* attention heads: 4 (must divide nz) */
    int nsample;     /* examples drawn per class: 20 */
    double beta;     /* KL weight: 0.005 */
    double eps_scale; /* z = mu + eps_scale eps sigma in training: 0.01 */
    double lr;       /* Adam learning rate of both parts: 1e-4 */
    uint64_t seed;   /* weights and sampling: 333 */
    int position;    /* 1: the decoder's GRU also reads the node's position
                      * (naslab's default); 0: the type alone, as the reference */
    int threads;     /* workers over a batch's items and a prediction's
                      * samples, 0..16; 0: one per core. Results do not depend
                      * on it beyond float summation order. Not saved. */
} nl_metad2a_opts;

/* One task: ncls classes, class k holding n[k] rows of feat floats at x[k]
 * (row-major). Borrowed for the duration of a call. */
typedef struct nl_md_task {
    int ncls;
    const int *n;
    const float *const *x;
} nl_md_task;

typedef struct nl_metad2a nl_metad2a;

/* The paper's options (feat 512, hs_pred 512), and position 1. */
void nl_metad2a_defaults(nl_metad2a_opts *o);
/* *out = a new model; NL_EINVAL naming the bad option (feat, nz, hs_gen,
 * hs_pred < 1, nz not a multiple of heads, nsample < 1, beta, eps_scale or
 * lr negative or not finite). Caller owns *out (nl_metad2a_free). */
int nl_metad2a_new(nl_metad2a **out, const nl_metad2a_opts *o);
void nl_metad2a_free(nl_metad2a *m);
const nl_metad2a_opts *nl_metad2a_options(const nl_metad2a *m);
/* The model's sampling generator (seeded with opts.seed; reseed to repeat). */
nl_rng *nl_metad2a_rng(nl_metad2a *m);

/* Check a task for this model: NL_EINVAL "task 3: 1 class (a task needs at
 * least 2)", "task 3: class 2 is empty"; `what` names the task in messages. */
int nl_metad2a_check_task(const nl_metad2a *m, const nl_md_task *t, const char *what);

/* The dataset code (nz floats) of one sample of task t: part 0 the
 * generator's set encoder, 1 the predictor's. */
int nl_metad2a_encode(nl_metad2a *m, int part, const nl_md_task *t, float *code);

/* One Adam step of the generator on a batch of n (task, cell) pairs: task
 * tasks[task_of[i]], cell ops[i] (6 op ids 0..4). *loss, *kl (may be NULL)
 * get the batch's summed reconstruction loss and KL. */
int nl_metad2a_gen_step(nl_metad2a *m, const nl_md_task *tasks, const int *task_of, const uint8_t (*ops)[6],
                        int n, double *loss, double *kl);
/* Teacher-forced loss of those pairs without training (z = mu). */
int nl_metad2a_gen_loss(nl_metad2a *m, const nl_md_task *tasks, const int *task_of, const uint8_t (*ops)[6],
                        int n, double *loss);

/* Decode cells for task t: batches of `batch` graphs from z = mu of a fresh
 * sample of the task, with `stochastic` sampling types and edges, otherwise
 * taking the most likely type and the edges with p > 0.5, until `want` valid cells are found
 * (unique when `unique`) or max_graphs graphs were decoded. ops receives the
 * cells (room for want), *got how many, *tried how many graphs were decoded.
 * A graph is valid when its 8 nodes are START, six op types, END and every
 * op node has an incoming edge. */
int nl_metad2a_generate(nl_metad2a *m, const nl_md_task *t, int want, int unique, int stochastic, int batch,
                        int max_graphs, uint8_t (*ops)[6], int *got, int *tried);

/* The predictor's target scale: predictions are mean + 100 std yhat. Set it
 * from the training accuracies before the first predictor step. */
void nl_metad2a_set_target(nl_metad2a *m, double mean, double std);
void nl_metad2a_target(const nl_metad2a *m, double *mean, double *std);
/* One Adam step of the predictor on n (task, cell, accuracy) triples; *loss
 * the summed squared error on the normalised scale. */
int nl_metad2a_pred_step(nl_metad2a *m, const nl_md_task *tasks, const int *task_of, const uint8_t (*ops)[6],
                         const double *acc, int n, double *loss);
/* Predicted accuracies of n cells on task t, the mean over `samples` fresh
 * samples of the task (10 in the paper). */
int nl_metad2a_predict(nl_metad2a *m, const nl_md_task *t, const uint8_t (*ops)[6], int n, int samples,
                       double *out);

/* Learning rates of the two parts (0 generator, 1 predictor); for
 * ReduceLROnPlateau in the recipe. */
double nl_metad2a_lr(const nl_metad2a *m, int part);
int nl_metad2a_set_lr(nl_metad2a *m, int part, double lr);

/* Save the options, target scale and weights (atomic, nn/checkpoint), and
 * load them into a new model. */
int nl_metad2a_save(const nl_metad2a *m, const char *path);
int nl_metad2a_load(nl_metad2a **out, const char *path);

#endif
