/* SPDX-License-Identifier: GPL-3.0-or-later */
/* predictor.h - performance predictors as const vtables listed in one
 * registry: fit on (architecture, accuracy) pairs, predict scores for many
 * architectures at once, save and load. A predictor only promises that a
 * higher score means a better architecture (ranking predictors such as ReNAS
 * do not predict accuracy itself). Uses space (archs, encodings), nn
 * (kernels, optimisers, checkpoints), core. */
#ifndef NL_PREDICTOR_H
#define NL_PREDICTOR_H

#include <stdint.h>

#include "core/progress.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "nn/model.h"
#include "nn/nn.h"
#include "space/space.h"

enum { NL_PRED_MAXMEMBERS = 8 }; /* ensemble: most member kinds */

/* Options of every kind; a kind reads the fields it knows. Fill with
 * nl_pred_defaults(kind, &o) and change what differs. */
typedef struct nl_pred_opts {
    uint64_t seed;
    int threads;          /* nn ctx workers (1..64), read once by create */
    const char *encoding; /* "onehot", "path", "renas" (kind default when NULL) */
    const char *loss;     /* "mse" or "pairwise" (kind default when NULL) */
    int canonical;        /* neural kinds: 1 = fit and predict on each arch's canonical form
                           * (nl_space.canonical), so equivalent archs score the same */
    int epochs;
    int batch;            /* examples per step; 0 = the whole training set */
    double lr, weight_decay;
    int hidden;           /* mlp: width of each hidden layer */
    int layers;           /* mlp: number of hidden layers */
    int trees;            /* gbdt: boosting rounds */
    int depth;            /* gbdt: largest tree depth (1: stumps) */
    int min_leaf;         /* gbdt: fewest sampled training rows in a leaf */
    double subsample;     /* gbdt: fraction of the rows drawn for each tree, in (0, 1] */
    /* ensemble: member kinds, NULL-terminated (all NULL: renas, mlp, gbdt);
     * create resolves them to the registry's static names. */
    const char *members[NL_PRED_MAXMEMBERS + 1];
    nl_progress_fn progress; /* called once per epoch (what "fit", done, total) */
    void *progress_ud;
} nl_pred_opts;

typedef struct nl_predictor nl_predictor;

typedef struct nl_predictor_kind {
    const char *name;  /* "renas" */
    const char *title; /* one line for listings */
    void (*defaults)(nl_pred_opts *o);
    /* A new, unfitted predictor for archs of space sp (NL_EINVAL naming the
     * option, or when the kind does not support the space). The encoding and
     * loss strings are resolved to static names, so the caller's strings
     * need not outlive the call. */
    int (*create)(nl_predictor **out, const nl_space *sp, const nl_pred_opts *o);
    /* Fit on archs[0..n) with targets y[0..n) (replacing any earlier fit).
     * NL_EINVAL for n < 2, a NaN/inf target, an arch of another space: these
     * are checked first and leave an earlier fit in place. A fit that fails
     * later (NL_EINTR from Ctrl-C or the progress callback, NL_ENOMEM, a
     * diverging run) leaves the predictor unfitted. */
    int (*fit)(nl_predictor *p, const nl_arch *archs, const double *y, int64_t n);
    /* Scores of archs[0..n) into out[0..n); NL_EINVAL before any fit. */
    int (*predict)(nl_predictor *p, const nl_arch *archs, int64_t n, double *out);
    /* Atomic save (tmp + rename) and load of a fitted predictor: the kind,
     * space, options and weights; a loaded predictor with the same thread
     * count predicts bit-identically (the kernels' rounding depends on how
     * work is split among threads). Load needs a predictor of the same kind,
     * space, encoding and shape, adopts the file's other options, and
     * changes nothing when it fails. Errors name the file. */
    int (*save)(const nl_predictor *p, const char *path);
    int (*load)(nl_predictor *p, const char *path);
    void (*free)(nl_predictor *p);
} nl_predictor_kind;

/* Every predictor starts with this head. */
struct nl_predictor {
    const nl_predictor_kind *kind;
    const nl_space *space;
    nl_pred_opts opts;
    int fitted;
};

/* The registry: NULL-terminated ("renas", "mlp", "gbdt", "ensemble"). */
extern const nl_predictor_kind *const nl_predictor_kinds[];
/* Look a kind up by name into *out: NL_ENOTFOUND "unknown predictor 'x'
 * (known: renas, mlp, gbdt, ensemble)" when unknown (*out is then NULL). */
int nl_predictor_kind_find(const char *name, const nl_predictor_kind **out);
/* Fill *o with the defaults of kind `name`; NL_ENOTFOUND as
 * nl_predictor_kind_find for an unknown kind (*o is then zeroed). */
int nl_pred_defaults(const char *name, nl_pred_opts *o);
/* Convenience: find + defaults + create. opts NULL = the kind's defaults;
 * otherwise opts is used as given (NULL encoding or loss: the kind's).
 * Caller owns *out (nl_predictor_free); *out is NULL on failure, which is
 * NL_ENOTFOUND for an unknown kind or create's error. */
int nl_predictor_new(nl_predictor **out, const char *kind, const nl_space *sp, const nl_pred_opts *opts);
/* Free a predictor through its kind. NULL is a no-op. */
void nl_predictor_free(nl_predictor *p);

/* ReNAS's pairwise ranking loss over a batch of n scores s with targets y:
 * L = 1/(n(n-1)) sum_{i != j} log(1 + exp(-(s_i - s_j) sign(y_i - y_j))),
 * pairs with equal targets contributing log 2 and no gradient. Writes *loss
 * and, when ds is not NULL, OVERWRITES ds[0..n) with dL/ds. Computed stably
 * (log1p(exp(-|z|)) + max(-z, 0)) in double, over the n(n-1)/2 unordered
 * pairs (each stands for two equal terms), so it costs O(n^2). NL_EINVAL
 * for n < 2. */
int nl_pairwise_loss(double *loss, double *ds, const double *s, const double *y, int64_t n);

/* The tree and ensemble kinds (gbdt.c, ensemble.c; their headers' opening
 * comments say what they compute). */
extern const nl_predictor_kind nl_pred_gbdt, nl_pred_ensemble;

/* Gradient and diagonal Hessian of the pairwise ranking loss summed over
 * the n(n-1)/2 unordered pairs, i.e. of L * n(n-1)/2 for nl_pairwise_loss's
 * L: g[i] * 2/(n(n-1)) is its ds[i]. Overwrites g[0..n) and h[0..n); O(n^2),
 * checking for Ctrl-C every 256 rows (NL_EINTR). gbdt's pairwise boosting
 * takes its Newton steps on these. NL_EINVAL for n < 2. */
int nl_pairwise_grad_hess(double *g, double *h, const double *s, const double *y, int64_t n);

/* ================================================================
 * For predictor kinds only (renas.c, mlp.c): the shared body of the neural
 * predictors. A neural kind supplies its scorer network as an nl_model with
 * one output, and fills an nl_pred_nn; predictor.c does the rest: option
 * checks, encoding, feature and target normalisation, the training loop
 * (Adam, shuffled batches, pairwise or MSE loss, optional model selection by
 * training Kendall tau), batched prediction, save and load. Callers of the
 * predictor API above do not need this part. */

typedef struct nl_pred_nn nl_pred_nn;

struct nl_pred_nn {
    nl_predictor head;
    nl_nn_ctx *ctx;            /* opts.threads workers, owned */
    nl_model *net;             /* the scorer (N, ...) -> (N, 1); NULL before fit or load */
    int64_t numel;             /* floats per encoded arch */
    int ndim;                  /* the net's input is (N, shape[0..ndim)) */
    int64_t shape[4];
    nl_tensor *mean, *scale;   /* feature z-score (numel values): x' = (x - mean) / scale */
    int zscore_binary;         /* 1: z-score every feature; 0: leave 0/1 features as they are */
    int minmax;                /* targets normalised by min-max (1) or z-score (0) */
    int select_best;           /* keep the weights of the epoch with the best training tau */
    int pairwise;              /* loss: 1 pairwise, 0 mse */
    double y_shift, y_scale;   /* target normalisation t = (y - y_shift) / y_scale */
    int64_t predict_rows;      /* archs per forward in predict */
    /* A new scorer with freshly initialised weights drawn from r. */
    int (*new_net)(const nl_pred_nn *q, nl_rng *r, nl_model **out);
    /* What the last fit did (also saved and loaded): the epoch whose
     * weights were kept and its training tau (select_best), the last
     * epoch's mean training loss (not saved). */
    int best_epoch;
    double best_tau, last_loss;
    /* Scratch of fit and predict (owned, reused): input rows, d loss / d scores. */
    nl_tensor *xfull, *xv, *dfull, *dv;
};

/* The neural kinds of the registry. */
extern const nl_predictor_kind nl_pred_renas, nl_pred_mlp;

/* Check the options every neural kind shares and fill q's head, encoding
 * shape and ctx: kind k, space sp, options o copied with a NULL encoding or
 * loss replaced by def_encoding / def_loss and both resolved to static
 * strings. NL_EINVAL naming the option ("mlp: epochs must be >= 1 (got 0)",
 * "mlp: unknown nb201 encoding 'x' (known: onehot, path, renas, renas_onehot)", "mlp:
 * unknown loss 'x' (known: mse, pairwise)", "mlp: batch must be 0 (the whole
 * training set) or >= 2 (got 1)", "mlp: lr must be finite and >= 0 (got
 * -1)", "mlp: weight_decay must be finite and >= 0 (got -1)", "mlp: threads
 * must be in 1..64 (got 0)", "renas: no space given"); NL_ENOMEM. q must be
 * zeroed by the caller; on failure it holds what nl_pred_nn_free releases. */
int nl_pred_nn_init(nl_pred_nn *q, const nl_predictor_kind *k, const nl_space *sp, const nl_pred_opts *o,
                    const char *def_encoding, const char *def_loss);

/* The vtable entries of a neural kind (see nl_predictor_kind). */
int nl_pred_nn_fit(nl_predictor *p, const nl_arch *archs, const double *y, int64_t n);
int nl_pred_nn_predict(nl_predictor *p, const nl_arch *archs, int64_t n, double *out);
int nl_pred_nn_save(const nl_predictor *p, const char *path);
int nl_pred_nn_load(nl_predictor *p, const char *path);
/* Free everything q holds, then q itself (allocated with nl_calloc). */
void nl_pred_nn_free(nl_predictor *p);

/* Make *v a contiguous view of shape (shape[0..ndim)) over the first floats
 * of the 1-d buffer *full, growing *full (contents lost) when it is too
 * small; *v is replaced only when its shape or storage changed, so calling
 * this every batch allocates nothing in the steady state. Several views may
 * share one buffer. 0 or NL_ENOMEM. */
int nl_pred_view(nl_tensor **full, nl_tensor **v, int ndim, const int64_t *shape);

/* Fill t with uniform values in [-bound, bound] drawn from r in order
 * (PyTorch's default init uses bound = 1/sqrt(fan_in)). */
void nl_pred_uniform(nl_tensor *t, double bound, nl_rng *r);

#endif
