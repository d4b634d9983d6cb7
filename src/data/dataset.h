/* SPDX-License-Identifier: GPL-3.0-or-later */
/* dataset.h - in-memory image classification data sets: N float32 images
 * (N,C,H,W) in one contiguous nl_tensor, int32 labels 0..k-1, class names, and
 * the normalisation that was applied. Built from a pair of IDX files (images
 * and labels), from Fashion-MNIST as Debian's dataset-fashion-mnist installs
 * it, or from scikit-learn's 8x8 handwritten digits as python3-sklearn
 * installs them; then split, subset by class, shuffled, resized, and gathered
 * into minibatches. Uses core/error, core/rng, core/tensor, data/idx and
 * data/csv.
 *
 * How a load selects its examples, in this order:
 * 1. classes: keep only the examples whose original label is listed, and
 *    relabel them 0..k-1 in the order listed (classes {7, 2} makes 7 -> 0
 *    and 2 -> 1); without a list every class is kept as it is.
 * 2. shuffle: with a seed, the examples are put in the order of a random
 *    permutation drawn from nl_rng seeded with it; without one they keep file
 *    order. Same seed, same order, on every machine.
 * 3. limit: keep the first `limit` examples of that order; with `balanced`,
 *    the first limit/k of each class instead (the first limit % k classes take
 *    one more; a class with too few examples gives all it has).
 * 4. valid: the last `valid` examples of what is left (a fraction in (0,1),
 *    rounded to the nearest count, or a count >= 1) are held out as the
 *    validation set; the rest is the training set. Both parts keep order.
 * 5. statistics: per channel, the mean and (population) standard deviation of
 *    the training part's pixels, scaled to [0,1] (ubyte pixels are divided by
 *    255, digit pixels by 16; other element types are taken as they are),
 *    before any padding. A channel whose deviation is 0 is given 1, so it is
 *    only centred. Given mean/std replace them (a test set should use its
 *    training set's).
 * 6. pixels: x = (raw - mean) / std when normalising, else raw; padding adds
 *    `pad` pixels of raw value 0 (black) on each side, so after normalising
 *    they hold -mean/std: what padding the picture before normalising gives
 *    (torchvision's Pad then Normalize). pad=2 turns 28x28 into the 32x32
 *    that NAS-Bench-201 networks are built for. */
#ifndef NL_DATASET_H
#define NL_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "core/tensor.h"

/* At most this many channels carry their own statistics. */
#define NL_DATASET_MAXCH 64

/* Where Debian's dataset-fashion-mnist puts the files; opts.dir or the
 * environment variable NASLAB_FASHION_MNIST override it. */
#define NL_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* Where Debian's python3-sklearn puts scikit-learn's digits; a path given to
 * nl_dataset_digits or the environment variable NASLAB_DIGITS override it. */
#define NL_DIGITS_PATH "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"

/* A data set. Every field is read-only for users: the functions below build,
 * derive and free data sets and keep the fields consistent. */
typedef struct nl_dataset {
    char *name;           /* "fashion-mnist train", or the images path */
    nl_tensor *images;    /* (n,c,h,w), contiguous, owned */
    int32_t *labels;      /* n labels in 0..nclasses-1 */
    int64_t n, c, h, w;
    int nclasses;
    char **class_names;   /* nclasses names */
    int32_t *class_ids;   /* nclasses original label ids (before relabelling) */
    int normalized;       /* non-zero when (x - mean) / std was applied */
    double mean[NL_DATASET_MAXCH], std[NL_DATASET_MAXCH]; /* per channel, in [0,1] pixel units */
} nl_dataset;

/* Loading options; zero-initialise and set what you need. */
typedef struct nl_dataset_opts {
    const char *dir;         /* fashion_mnist: directory of the IDX files */
    int test;                /* fashion_mnist: non-zero for the t10k files */
    const int32_t *classes;  /* original ids to keep, in their new order */
    int nkeep;               /* length of classes; 0 keeps every class */
    int64_t limit;           /* > 0: keep at most this many examples */
    int balanced;            /* limit per class rather than overall */
    int has_seed;            /* shuffle with `seed` */
    uint64_t seed;
    double valid;            /* 0, a fraction in (0,1), or a count >= 1 */
    int pad;                 /* zero pixels added on each side, 0..64 */
    int normalize;           /* apply (x - mean) / std */
    const double *mean, *std; /* NULL, or c values each: use these statistics */
    int nclasses;            /* idx: number of classes (0: largest label + 1) */
    int channels_last;       /* idx: 4-d images are (N,H,W,C), not (N,C,H,W) */
    const char *const *class_names; /* idx: nclasses names (NULL: "0", "1", ...) */
} nl_dataset_opts;

/* The Fashion-MNIST class names, index = label. */
extern const char *const nl_fashion_mnist_classes[10];

/* Load images and labels from two IDX files (plain or gzip) and select as the
 * header comment says. Images: 2-d (N,D) is read as (N,1,1,D), 3-d (N,H,W) as
 * (N,1,H,W), 4-d as (N,C,H,W) or with channels_last (N,H,W,C); labels: a 1-d
 * array of an integer type. *train gets the training part; *valid the
 * validation part when opts->valid > 0 (valid may be NULL otherwise). opts may
 * be NULL. Caller owns the results (nl_dataset_free); both are NULL on failure.
 * Fails with the errors of nl_idx_load; NL_EFORMAT when the files do not fit
 * together ("a.idx holds 100 images but b.idx holds 99 labels", "b.idx: label
 * 12 at position 5 is outside 0..9", "a.idx: header says 1 dimension of sizes
 * [5] but images need 2 to 4 dimensions"); NL_EINVAL for bad options (a class
 * id that no label has, a class listed twice, a split that leaves a part
 * empty); NL_ENOMEM. */
int nl_dataset_load_idx(const char *images, const char *labels, const nl_dataset_opts *opts, nl_dataset **train,
                        nl_dataset **valid);

/* Fashion-MNIST from opts->dir, else $NASLAB_FASHION_MNIST, else
 * NL_FASHION_MNIST_DIR: the train or t10k files, gzipped or not, 10 named
 * classes. For the test split with normalize and no given mean/std, the
 * statistics come from the training files (same classes, no limit), so test
 * images are normalised as training images are. Returns like
 * nl_dataset_load_idx; NL_ENOTFOUND "Fashion-MNIST not found in <dir>
 * (Debian: apt-get install dataset-fashion-mnist)" when the directory has
 * neither form of the images file. */
int nl_dataset_fashion_mnist(const nl_dataset_opts *opts, nl_dataset **train, nl_dataset **valid);

/* The directory nl_dataset_fashion_mnist would read with opts->dir = dir. */
const char *nl_dataset_fashion_mnist_dir(const char *dir);

/* The file nl_dataset_digits would read with path: path when not NULL or
 * empty, else $NASLAB_DIGITS, else NL_DIGITS_PATH. */
const char *nl_dataset_digits_path(const char *path);

/* scikit-learn's handwritten digits (1,797 in the real file) from
 * nl_dataset_digits_path(path): a CSV file, gzipped or not, one example per
 * line, 64 integer pixels 0..16 (an 8x8 image, row by row) then the label
 * 0..9; blank lines are skipped. Pixels become value / 16 in [0,1]; images
 * are (1,8,8), classes "0".."9", and the selection is the header comment's,
 * with opts (may be NULL) as for nl_dataset_load_idx (dir, test, nclasses,
 * channels_last and class_names are ignored). Returns like
 * nl_dataset_load_idx; NL_ENOTFOUND "<path>: not found (Debian: apt-get
 * install python3-sklearn)"; the errors of nl_csv_open and nl_csv_next (read
 * errors, NL_EPARSE "<path>:line:col: ..."); NL_EFORMAT naming file and line:
 * "<path>:12: expected 65 values (64 pixels and a label), found 64",
 * "<path>:3: pixel 5 is 17, outside 0..16", "<path>:4: label 10 is outside
 * 0..9", "<path>:2: value 7 ('x') is not an integer", "<path>: no digits in
 * the file". */
int nl_dataset_digits(const char *path, const nl_dataset_opts *opts, nl_dataset **train, nl_dataset **valid);

/* *out = a data set of n zeroed examples (c, h, w) with classes 0..nclasses-1
 * named "0", "1", ...; the caller fills images and labels (labels start at 0).
 * NL_EINVAL for a bad size, NL_ENOMEM. Caller owns *out. */
int nl_dataset_new(const char *name, int64_t n, int64_t c, int64_t h, int64_t w, int nclasses, nl_dataset **out);

/* *out = ds with every image shrunk by an integer factor f: each output pixel
 * is the mean of an f x f block (after ds's normalisation and padding, so
 * 28x28 padded by 2 to 32x32 becomes 16x16). NL_EINVAL when f does not divide
 * the image size, NL_ENOMEM. Caller owns *out. */
int nl_dataset_downsample(const nl_dataset *ds, int f, nl_dataset **out);

/* *out = ds with every image enlarged by an integer factor f in 1..64,
 * nearest neighbour: each pixel becomes an f x f block of its value (8x8
 * becomes 16x16 with f = 2), so nl_dataset_downsample by f gives ds back
 * (up to the float rounding of its block sums; exactly for pixels such as
 * unnormalised digits, whose sums need no rounding). Labels, classes and statistics are ds's. NL_EINVAL for f outside
 * 1..64, NL_ENOMEM. Caller owns *out. */
int nl_dataset_upsample(const nl_dataset *ds, int f, nl_dataset **out);

/* Free a data set; NULL is a no-op. */
void nl_dataset_free(nl_dataset *ds);

/* *out = a new data set of the examples idx[0..n) of ds, in that order (an
 * index may repeat), with ds's classes and statistics. Caller owns *out.
 * NL_ERANGE for an index outside 0..n-1 (naming it), NL_ENOMEM. */
int nl_dataset_select(const nl_dataset *ds, const int64_t *idx, int64_t n, nl_dataset **out);

/* Split ds into *a (the rest) and *b (`valid` examples: a fraction in (0,1)
 * or a count >= 1), shuffled by `seed` first when has_seed, else in order: b
 * takes the last examples. Caller owns both. NL_EINVAL when either part would
 * be empty, NL_ENOMEM; both NULL on failure. */
int nl_dataset_split(const nl_dataset *ds, double valid, int has_seed, uint64_t seed, nl_dataset **a, nl_dataset **b);

/* *out = the examples of ds whose label is one of classes[0..k), relabelled
 * 0..k-1 in that order, keeping ds's order. Ids are ds's current labels.
 * NL_EINVAL for an id outside 0..nclasses-1 or listed twice, NL_ENOMEM. */
int nl_dataset_subset(const nl_dataset *ds, const int32_t *classes, int k, nl_dataset **out);

/* Put ds's examples in a random order drawn from r (in place). NL_ENOMEM. */
int nl_dataset_shuffle(nl_dataset *ds, nl_rng *r);

/* Gather the examples idx[0..n) of ds into the first n rows of `images`, a
 * contiguous tensor of shape (m,c,h,w) with m >= n (rows past n are left
 * alone, so one buffer serves a last, shorter batch), and their labels into
 * labels[0..n) when labels is not NULL. NL_ESHAPE naming the shapes,
 * NL_EINVAL for a non-contiguous tensor, NL_ERANGE for a bad index. */
int nl_dataset_batch(const nl_dataset *ds, const int64_t *idx, int64_t n, nl_tensor *images, int32_t *labels);

/* Per-class example counts into counts[0..nclasses). */
void nl_dataset_histogram(const nl_dataset *ds, int64_t *counts);

#endif
