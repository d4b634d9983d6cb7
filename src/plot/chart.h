/* SPDX-License-Identifier: GPL-3.0-or-later */
/* chart.h - the charts of the workbench as plain data plus renderers: a chart
 * holds named series of (x, y) points and draws itself into a text grid (Unicode
 * braille or ASCII), an SVG file or a CSV file. Four kinds: LINE (several runs,
 * optionally their median), SCATTER, RANK (predicted vs true, with Kendall tau
 * and Spearman rho from core/stats) and PARETO (the front highlighted, its
 * hypervolume from core/pareto). Uses core only: no curses, no Lua; the
 * workbench copies the grid into a curses window.
 *
 * Conventions:
 * - Functions returning int give 0 or a negative NL_E* code with nl_errmsg()
 *   set; frees accept NULL.
 * - Derived values (ranks, statistics, the front, the median) are computed on
 *   first use after a change and kept until the next change, so functions
 *   taking a const chart still update that private cache: do not use one
 *   chart from two threads at once.
 * - Numbers are formatted in the "C" locale whatever setlocale() says, so
 *   files are byte-identical everywhere.
 * - On a log axis, points with a coordinate <= 0 are not drawn; the header
 *   says how many ("hidden=3"). Statistics always use every point. */
#ifndef NL_CHART_H
#define NL_CHART_H

#include <stddef.h>

typedef enum { NL_CHART_LINE, NL_CHART_SCATTER, NL_CHART_RANK, NL_CHART_PARETO } nl_chart_kind;

typedef struct nl_chart nl_chart;

/* Colour indices of grid cells (and SVG colours, nl_chart_color_rgb):
 * 0 the terminal's default (text, axes); series i is drawn in colour
 * nl_chart_series_color(i), cycling through 1..NL_CHART_SERIES_COLORS; the
 * median of a LINE chart in NL_CHART_COLOR_MEDIAN. A PARETO chart ignores
 * series for colour: every point is NL_CHART_COLOR_POINT, the front
 * NL_CHART_COLOR_FRONT. */
enum {
    NL_CHART_COLOR_DEFAULT = 0,
    NL_CHART_COLOR_POINT = 1,
    NL_CHART_COLOR_FRONT = 2,
    NL_CHART_SERIES_COLORS = 6,
    NL_CHART_COLOR_MEDIAN = 7,
    NL_CHART_NCOLORS = 8
};

/* A new empty chart. title, xlabel, ylabel are copied (NULL means ""). The
 * caller owns the result (nl_chart_free). Returns NULL with NL_EINVAL for an
 * unknown kind, NL_ENOMEM without memory. */
nl_chart *nl_chart_new(nl_chart_kind kind, const char *title, const char *xlabel, const char *ylabel);
void nl_chart_free(nl_chart *c);

/* Add the point (x, y) to the series named `series` (NULL means ""), made on
 * first use; series keep the order in which they were made, points the order
 * of addition. Storage grows geometrically (amortised O(1) per point).
 * NL_EINVAL "series 'run1': x is NaN" / "... y is infinite" (nothing added),
 * NL_ENOMEM. For RANK charts x is the true value and y the prediction; for
 * PARETO x and y are the two objectives. */
int nl_chart_add(nl_chart *c, const char *series, double x, double y);

/* Add n points at once (x[i], y[i]); all are checked before any is added:
 * NL_EINVAL "series 'a': y[3] is NaN" (1-based) or for n < 0. */
int nl_chart_add_many(nl_chart *c, const char *series, const double *x, const double *y, long n);

/* Remove every point and series; settings (log axes, sense, reference,
 * median) stay. */
void nl_chart_clear(nl_chart *c);

/* Logarithmic x and/or y axes (non-zero = on) for drawing. For RANK charts
 * they apply to the rank axes. 0, or NL_EINVAL for c == NULL. */
int nl_chart_set_log(nl_chart *c, int logx, int logy);

/* PARETO: which way each objective is better: x minimised when xmin != 0
 * (else maximised), y maximised when ymax != 0 (else minimised). The default
 * is xmin = 1, ymax = 1 (e.g. FLOPs vs accuracy). */
int nl_chart_set_sense(nl_chart *c, int xmin, int ymax);

/* PARETO: the hypervolume's reference point. Both NaN: back to the default,
 * the worst x and the worst y seen. NL_EINVAL when only one is NaN or either
 * is infinite. */
int nl_chart_set_ref(nl_chart *c, double x, double y);

/* LINE: also draw the median over series (on != 0). Each series is read as a
 * step function of x (its value at x is the y of its last point with x' <= x,
 * as a best-so-far curve; a series counts from its first x on), and the
 * median of the series defined there is taken at every x where some series
 * has a point. NL_EINVAL "the median needs a LINE chart" for other kinds. */
int nl_chart_set_median(nl_chart *c, int on);

/* Accessors. Strings stay owned by the chart; a NULL chart reads as empty. */
nl_chart_kind nl_chart_kind_of(const nl_chart *c);
const char *nl_chart_title(const nl_chart *c);
const char *nl_chart_xlabel(const nl_chart *c);
const char *nl_chart_ylabel(const nl_chart *c);
long nl_chart_npoints(const nl_chart *c);
int nl_chart_nseries(const nl_chart *c);

/* Series i (0-based, in order of creation): its name, its points as arrays
 * x[0..n), y[0..n) owned by the chart and valid until the next change. Any
 * out pointer may be NULL. NL_ERANGE "series 3 is out of range (2 series)". */
int nl_chart_series(const nl_chart *c, int i, const char **name, const double **x, const double **y,
                    long *n);

/* The colour index of series i (1..NL_CHART_SERIES_COLORS), and the SVG
 * colour ("#0072b2") of a colour index (0 gives "#000000"; out of range gives
 * the default too). */
int nl_chart_series_color(int i);
const char *nl_chart_color_rgb(int color);

/* Kendall tau-b and Spearman rho of x against y over every point (for a RANK
 * chart: true against predicted), via core/stats, and the number of points.
 * With fewer than 2 points, or a constant x or y, tau and rho are NaN. Any
 * out pointer may be NULL. NL_EINVAL for c == NULL, NL_ENOMEM. */
int nl_chart_stats(const nl_chart *c, double *tau, double *rho, long *n);

/* PARETO (works for any kind): the hypervolume of the points against the
 * reference point (nl_chart_set_ref, else the worst x and y seen), the
 * number of non-dominated points, and optionally (xy != NULL) those points
 * as pairs x0, y0, x1, y1, ... sorted by x then y, owned by the chart and
 * valid until the next change. No points: hv 0, count 0. Fails with
 * NL_ENOMEM, or NL_EINTR while an interrupt is pending (core/pareto checks
 * the flag on large sets); the next call tries again. */
int nl_chart_front(const nl_chart *c, double *hv, long *count, const double **xy);

/* LINE: the median curve (see nl_chart_set_median; computed even when not
 * drawn): n distinct x values ascending and the median there, arrays owned
 * by the chart, valid until the next change. Cost O(U * S) for U distinct x
 * and S series. NL_ENOMEM. */
int nl_chart_median(const nl_chart *c, const double **x, const double **y, long *n);

/* The live statistics of the header, without the title, into buf (always
 * NUL-terminated when size > 0, truncated if need be):
 *   RANK    "tau=0.712 rho=0.880 n=15469"   (undefined values print "-")
 *   PARETO  "HV=12 front=4 n=6"             (%.4g)
 *   LINE    "series=3 n=450 last=94.37"     (+ " median=93.1" when drawn;
 *                                            last = y of the newest point)
 *   SCATTER "n=200 r=0.954"                 (Pearson r)
 * plus " hidden=K" when log axes hide K points. Fails like the statistics. */
int nl_chart_header(const nl_chart *c, char *buf, size_t size);

/* The drawn ranges (what the axes span) in data units (ranks for RANK):
 * the extent of the visible points; equal values are widened (by 5% of the
 * value, or 1 around 0; half a decade each way on log axes). NL_ENOTFOUND
 * "no data" when nothing is visible. */
int nl_chart_range(const nl_chart *c, double *xlo, double *xhi, double *ylo, double *yhi);

/* ---- text grids ---- */

/* One cell: a UTF-8 glyph (one code point, <= 4 bytes + NUL) and a colour
 * index (see above). */
typedef struct {
    char glyph[5];
    unsigned char color;
} nl_cell;

/* rows x cols cells, row-major: cell (r, c) is cells[r * cols + c]. */
typedef struct {
    int rows, cols;
    nl_cell *cells;
} nl_grid;

/* Allocate a grid of blank cells (" ", colour 0); rows or cols may be 0.
 * NL_EINVAL for negative sizes, NL_ERANGE beyond 2^24 cells, NL_ENOMEM.
 * nl_grid_free releases the cells and zeroes the struct (NULL: no-op). */
int nl_grid_init(nl_grid *g, int rows, int cols);
void nl_grid_free(nl_grid *g);

/* Row r of the grid as one UTF-8 string (the glyphs concatenated) into buf.
 * Returns its length, NL_ERANGE for a bad row or a too small buffer. */
int nl_grid_row(const nl_grid *g, int r, char *buf, size_t size);

/* Braille: the bit of the dot at column dx (0..1) and row dy (0..3) of a
 * cell (dots 1-2-3-7 down the left, 4-5-6-8 down the right), and the glyph
 * U+2800 + mask as UTF-8 into out (4 bytes with the NUL). */
unsigned nl_chart_braille_bit(int dx, int dy);
void nl_chart_braille(char out[5], unsigned mask);

/* Draw the chart over the whole grid: row 0 the header (title, then the
 * statistics of nl_chart_header; the title is shortened, down to a third of the width, to keep the
 * statistics whole; in a narrower grid the statistics are cut), the
 * plot with a y axis and tick labels on the left, an x axis and tick labels
 * at the bottom, the y label above and the x label below the plot when the
 * grid has at least 11 rows. Axes need 5 rows and 16 columns; a smaller grid
 * gets the plot alone, one row only the header. An empty chart says
 * "no data". utf8 != 0: points and lines in braille dots (2 x 4 per cell),
 * Pareto front points as U+25CF; utf8 == 0: ASCII only, series markers
 * '*', '+', 'o', 'x', '%', '@', the median '#', Pareto points '.', the
 * front 'O' joined by '-', '/', '\\', '|'. LINE joins each series' points
 * in order of addition and the median as steps; RANK plots the average rank
 * of the prediction (y) against that of the true value (x). Text is drawn
 * one code point per cell (wide characters are not measured). Fails with
 * NL_EINVAL for a NULL argument or a grid whose cells are missing; when the
 * statistics fail (NL_ENOMEM, NL_EINTR) the header shows the message, the
 * plot stays empty and the code is returned. */
int nl_chart_render(const nl_chart *c, nl_grid *g, int utf8);

/* Write the chart as a standalone SVG 1.1 file of width x height pixels
 * (240..16384 by 160..16384): title and statistics, axes with ticks and tick
 * labels, axis labels, the points and lines in the colours of
 * nl_chart_color_rgb, a legend. The same chart gives a byte-identical file.
 * Written atomically: to "<path>.tmp.<pid>", flushed, synced, renamed over
 * path; on failure the temporary file is removed and an existing file is left
 * as it was. NL_EINVAL for a bad size, NL_EIO "cannot write 'PATH': <reason>". */
int nl_chart_svg(const nl_chart *c, const char *path, int width, int height);

/* Write the points as CSV: a header "series,x,y", then one row per point,
 * series after series in order of creation, numbers with 17 significant
 * digits (they read back exactly), names quoted as RFC 4180 says when they
 * hold a comma, quote or line break. Atomic and failing like nl_chart_svg. */
int nl_chart_csv(const nl_chart *c, const char *path);

#endif
