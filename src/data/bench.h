/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench.h - tabular NAS benchmarks: a CSV table of measured metrics, one row
 * per architecture of a search space, loaded into a dense double matrix with an
 * index from architecture to row, and a simulated query cost (training
 * seconds) so searches can report simulated wall-clock time.
 *
 * File format (header line required, RFC 4180, plain or gzip):
 * - architecture: either a column `arch` holding the space's text form (for
 *   nb201 the canonical cell string "|op~0|+|op~0|op~1|+|...|"), or, for
 *   nb101, the two columns `adj49` (49 digits 0/1: the 7x7 adjacency matrix,
 *   row-major) and `ops` (the vertex op names, input first and output last,
 *   separated by '|' or ','; n names use the top-left n x n block of the
 *   matrix, whose other entries must be 0);
 * - `idx` (optional): the benchmark's own integer index of the row, returned
 *   by nl_bench_index (without it a row's index is its 0-based position);
 * - every other column is a metric, each field a number as strtod reads it
 *   (nan marks a missing value; empty fields are errors).
 * Blank lines are allowed only at the end of the file. Uses core/error, data/csv
 * and space/space. */
#ifndef NL_BENCH_H
#define NL_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "data/csv.h"
#include "space/space.h"

typedef struct nl_bench nl_bench;

/* How nl_bench_cost simulates the price of one query. */
typedef enum nl_bench_costmodel {
    NL_BENCH_COST_COLUMN, /* a metric column holds training seconds */
    NL_BENCH_COST_FIXED,  /* the same number of seconds for every query */
    NL_BENCH_COST_FLOPS   /* seconds = 3 * epochs * images * MACs / macs_per_second */
} nl_bench_costmodel;

/* Cost-model constants of the FLOPs model when no time column exists and no
 * fixed cost is given: one training run costs three passes (forward +
 * backward ~ 3 forward) over `images` for `epochs` on a device sustaining
 * NL_BENCH_MACS_PER_SECOND multiply-adds per second (1e12: one modern GPU at
 * realistic utilisation). Epochs and images follow each space's benchmark
 * protocol: nb201 200 x 50,000 (CIFAR-10), nb101 108 x 40,000; others 200 x
 * 50,000. */
#define NL_BENCH_MACS_PER_SECOND 1e12

/* Loading options; zero-initialise and set what you need. */
typedef struct nl_bench_opts {
    const nl_space *space;   /* NULL: infer ('|...' arch strings: nb201; adj49: nb101) */
    const char *cost_column; /* metric holding training seconds (default: the
                              * first of train_seconds, train_time, time) */
    double query_seconds;    /* > 0: fixed cost per query (overrides the
                              * automatic column, not an explicit cost_column) */
    double macs_per_second;  /* > 0: device speed of the FLOPs model */
} nl_bench_opts;

/* The cost model a benchmark ended up with (see nl_bench_costinfo). */
typedef struct nl_bench_cost_info {
    nl_bench_costmodel model;
    const char *column;     /* NL_BENCH_COST_COLUMN: the metric's name */
    double seconds;         /* NL_BENCH_COST_FIXED: seconds per query */
    double epochs, images;  /* NL_BENCH_COST_FLOPS: the formula's constants */
    double macs_per_second;
} nl_bench_cost_info;

/* Load the CSV (or CSV.gz) file at `path`. opts may be NULL. Caller owns *out
 * (nl_bench_free); on failure *out is NULL and nothing is kept. Fails with
 * NL_EIO ("cannot open 'x.csv': No such file or directory"), NL_EPARSE or
 * NL_EFORMAT with a message naming file, line and column ("x.csv:17: column
 * 'c10_test': 'abc' is not a number"), NL_EINVAL for contradictory options,
 * NL_ENOMEM. */
int nl_bench_load(const char *path, const nl_bench_opts *opts, nl_bench **out);

/* The same from an open reader (memory buffers, streams); `path` is what
 * nl_bench_path reports. The reader is left at end of input (or failed); the
 * caller closes it. */
int nl_bench_read(nl_csv *csv, const char *path, const nl_bench_opts *opts, nl_bench **out);

/* Free the benchmark. NULL is a no-op. */
void nl_bench_free(nl_bench *b);

/* Number of rows (architectures), metrics, the search space, the path given
 * at load time, and an estimate of the heap bytes the benchmark holds. */
size_t nl_bench_size(const nl_bench *b);
int nl_bench_nmetrics(const nl_bench *b);
const nl_space *nl_bench_space(const nl_bench *b);
const char *nl_bench_path(const nl_bench *b);
size_t nl_bench_bytes(const nl_bench *b);

/* Name of metric column m (0 <= m < nmetrics), in file order. */
const char *nl_bench_metric_name(const nl_bench *b, int m);

/* Column number of the metric `name` into *m. NL_ENOTFOUND: "unknown metric
 * 'x' (known: a, b, c)". */
int nl_bench_metric(const nl_bench *b, const char *name, int *m);

/* Row of architecture a into *row. NL_ENOTFOUND: "arch '<text>' is not in the
 * benchmark 'path'"; NL_EINVAL if a belongs to another space. */
int nl_bench_find(const nl_bench *b, const nl_arch *a, size_t *row);

/* Row r's architecture, value of metric m, and own index (idx column, or r).
 * r and m must be in range (not checked). */
const nl_arch *nl_bench_arch(const nl_bench *b, size_t r);
double nl_bench_value(const nl_bench *b, size_t r, int m);
int64_t nl_bench_index(const nl_bench *b, size_t r);
/* Non-zero when the file had an idx column. */
int nl_bench_has_index(const nl_bench *b);

/* Metric `name` of arch a into *out: find + metric + value, failing as they do. */
int nl_bench_query(const nl_bench *b, const nl_arch *a, const char *name, double *out);

/* Row holding the largest (maximize != 0) or smallest value of metric m,
 * ignoring NaN; the first such row on ties. NL_ENOTFOUND if every value is NaN. */
int nl_bench_best(const nl_bench *b, int m, int maximize, size_t *row);

/* Simulated training seconds of row r under the benchmark's cost model. Fails
 * only if the space cannot count the arch's FLOPs (message from the space). */
int nl_bench_cost(const nl_bench *b, size_t r, double *seconds);

/* The cost model in use (pointers valid while b lives). */
void nl_bench_costinfo(const nl_bench *b, nl_bench_cost_info *out);

#endif
