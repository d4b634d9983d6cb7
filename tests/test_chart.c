/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_chart.c - TAP tests of src/plot/chart: braille code points against the
 * Unicode dot numbering, where points land in the grid (corners, a single
 * point, equal values, ranks, log axes), grids of every small size with a
 * guard zone after the cells, ASCII output, the Pareto front and
 * hypervolume of a set worked out by hand, RANK headers against core/stats,
 * the step-function median, SVG determinism and well-formedness (a small XML
 * checker written here), a CSV round trip through data/csv, and the errors of
 * bad paths. Render times are printed as diagnostics, not asserted. */
#include <dirent.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/stats.h"
#include "data/csv.h"
#include "tap.h"
#include "plot/chart.h"

static char tmpdir[256];

/* ------------------------------------------------------------- helpers */

/* A code point from UTF-8, written here from the encoding rules; -1 when s
 * is not exactly one well-formed code point. */
static long one_cp(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    if (n == 1 && s[0] < 0x80) return s[0];
    if (n == 2 && (s[0] & 0xE0) == 0xC0 && (s[1] & 0xC0) == 0x80) {
        long v = ((long)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
        return v >= 0x80 ? v : -1;
    }
    if (n == 3 && (s[0] & 0xF0) == 0xE0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80) {
        long v = ((long)(s[0] & 0x0F) << 12) | ((long)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        return v >= 0x800 && (v < 0xD800 || v > 0xDFFF) ? v : -1;
    }
    if (n == 4 && (s[0] & 0xF8) == 0xF0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80) {
        long v = ((long)(s[0] & 0x07) << 18) | ((long)(s[1] & 0x3F) << 12) | ((long)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
        return v >= 0x10000 && v <= 0x10FFFF ? v : -1;
    }
    return -1;
}

static const nl_cell *cell(const nl_grid *g, int r, int c) { return &g->cells[(size_t)r * g->cols + c]; }

static int is_braille(const nl_cell *c)
{
    long cp = one_cp(c->glyph);
    return cp >= 0x2800 && cp <= 0x28FF;
}

static const char *row(const nl_grid *g, int r)
{
    static char buf[4096];
    if (nl_grid_row(g, r, buf, sizeof buf) < 0) return "(row error)";
    return buf;
}

/* The axis corner (U+2514 or '+' at the start of the x axis): gives the row
 * of the x axis and the first plot column. 0 when not found. */
static int find_corner(const nl_grid *g, int utf8, int *axis_row, int *plot_left)
{
    for (int r = g->rows - 1; r >= 0; r--)
        for (int c = 0; c + 1 < g->cols; c++) {
            const char *a = cell(g, r, c)->glyph, *b = cell(g, r, c + 1)->glyph;
            int corner = utf8 ? strcmp(a, "\xE2\x94\x94") == 0
                              : strcmp(a, "+") == 0 && (strcmp(b, "-") == 0 || strcmp(b, "+") == 0);
            if (corner) {
                *axis_row = r;
                *plot_left = c + 1;
                return 1;
            }
        }
    return 0;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (n + 4096 > cap) b = realloc(b, cap *= 2);
        size_t m = fread(b + n, 1, 4096, f);
        n += m;
        if (m < 4096) break;
    }
    fclose(f);
    b[n] = 0;
    if (len) *len = n;
    return b;
}

static int count_str(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static const char *tpath(const char *name)
{
    static char buf[8][1024];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, sizeof buf[0], "%s/%s", tmpdir, name);
    return b;
}

static int tmp_leftovers(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    if (!d) return -1;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

/* A strict-enough XML check: a prolog, a DOCTYPE, then elements with quoted
 * attributes properly nested, character data without raw '<' or bare '&'
 * (only the five predefined entities), and a single root. Returns NULL or
 * what is wrong. */
static const char *xml_check(const char *s)
{
    static char why[128];
    const char *stack[64];
    size_t slen[64];
    int depth = 0, roots = 0;
    const char *p = s;
    if (strncmp(p, "<?xml ", 6) != 0) return "no XML declaration";
    p = strstr(p, "?>");
    if (!p) return "unterminated declaration";
    p += 2;
    while (*p) {
        if (*p == '<') {
            if (strncmp(p, "<!DOCTYPE", 9) == 0) {
                if (depth || roots) return "DOCTYPE inside the document";
                p = strchr(p, '>');
                if (!p) return "unterminated DOCTYPE";
                p++;
                continue;
            }
            int closing = p[1] == '/';
            const char *name = p + 1 + closing, *q = name;
            while (*q && (*q == '-' || *q == ':' || (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                          (*q >= '0' && *q <= '9')))
                q++;
            size_t nl = (size_t)(q - name);
            if (!nl) return "empty tag name";
            if (closing) {
                if (!depth || slen[depth - 1] != nl || strncmp(stack[depth - 1], name, nl)) {
                    snprintf(why, sizeof why, "mismatched </%.*s>", (int)nl, name);
                    return why;
                }
                depth--;
                if (*q != '>') return "junk in closing tag";
                p = q + 1;
                continue;
            }
            /* attributes */
            for (;;) {
                while (*q == ' ' || *q == '\n') q++;
                if (*q == '>' || (q[0] == '/' && q[1] == '>')) break;
                const char *an = q;
                while (*q && *q != '=' && *q != ' ' && *q != '>') q++;
                if (q == an || *q != '=' || q[1] != '"') return "attribute without quoted value";
                q += 2;
                while (*q && *q != '"') {
                    if (*q == '<') return "'<' in attribute";
                    q++;
                }
                if (!*q) return "unterminated attribute";
                q++;
                if (*q != ' ' && *q != '\n' && *q != '>' && *q != '/') return "no space between attributes";
            }
            if (!depth) roots++;
            if (roots > 1) return "more than one root element";
            if (*q == '/') {
                p = q + 2;
            } else {
                if (depth == 64) return "too deep";
                stack[depth] = name;
                slen[depth++] = nl;
                p = q + 1;
            }
        } else if (*p == '&') {
            static const char *ents[] = { "&amp;", "&lt;", "&gt;", "&quot;", "&apos;" };
            int okent = 0;
            for (int i = 0; i < 5; i++)
                if (strncmp(p, ents[i], strlen(ents[i])) == 0) okent = (int)strlen(ents[i]);
            if (!okent) return "bare '&'";
            p += okent;
        } else {
            if (!depth && *p != '\n' && *p != ' ') return "text outside the root";
            if ((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t') return "control character";
            p++;
        }
    }
    if (depth) return "unclosed element";
    if (roots != 1) return "no root element";
    return NULL;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------- braille */

static void test_braille(void)
{
    /* Unicode: dots 1, 2, 3 down the left, 4, 5, 6 down the right, 7 and 8
     * at the bottom left and right; dot k is bit k - 1 of U+2800 + bits. */
    static const struct { int dx, dy, dot; } dots[] = {
        { 0, 0, 1 }, { 0, 1, 2 }, { 0, 2, 3 }, { 1, 0, 4 }, { 1, 1, 5 }, { 1, 2, 6 }, { 0, 3, 7 }, { 1, 3, 8 },
    };
    int bad = 0;
    for (int i = 0; i < 8; i++) {
        char g[5];
        unsigned bit = nl_chart_braille_bit(dots[i].dx, dots[i].dy);
        nl_chart_braille(g, bit);
        if (bit != 1u << (dots[i].dot - 1) || one_cp(g) != 0x2800 + (1L << (dots[i].dot - 1))) bad++;
    }
    is_int(bad, 0, "each braille dot maps to its Unicode bit and code point");
    char g[5];
    nl_chart_braille(g, 0);
    is_str(g, "\xE2\xA0\x80", "empty braille cell is U+2800");
    nl_chart_braille(g, 0xFF);
    is_str(g, "\xE2\xA3\xBF", "full braille cell is U+28FF");
    nl_chart_braille(g, 0x47);
    is_str(g, "\xE2\xA1\x87", "left column (dots 1-2-3-7) is U+2847");
    nl_chart_braille(g, 0xB8);
    is_str(g, "\xE2\xA2\xB8", "right column (dots 4-5-6-8) is U+28B8");
    is_int(nl_chart_braille_bit(2, 0) | nl_chart_braille_bit(0, 4) | nl_chart_braille_bit(-1, 0), 0,
           "dots outside the cell have no bit");

    /* Points at the four corners of the range land on the corner dots of
     * the corner cells of the plot area, and nowhere else. */
    nl_chart *c = nl_chart_new(NL_CHART_SCATTER, "corners", NULL, NULL);
    nl_chart_add(c, "a", 0, 0);
    nl_chart_add(c, "a", 10, 0);
    nl_chart_add(c, "a", 0, 10);
    nl_chart_add(c, "a", 10, 10);
    nl_grid gr;
    nl_grid_init(&gr, 12, 40);
    is_int(nl_chart_render(c, &gr, 1), 0, "render corners");
    int ar = -1, pl = -1;
    ok(find_corner(&gr, 1, &ar, &pl), "axis corner found");
    int top = 1, bottom = ar - 1, right = gr.cols - 1;
    is_str(cell(&gr, top, pl)->glyph, "\xE2\xA0\x81", "top left: dot 1 (U+2801)");
    is_str(cell(&gr, top, right)->glyph, "\xE2\xA0\x88", "top right: dot 4 (U+2808)");
    is_str(cell(&gr, bottom, pl)->glyph, "\xE2\xA1\x80", "bottom left: dot 7 (U+2840)");
    is_str(cell(&gr, bottom, right)->glyph, "\xE2\xA2\x80", "bottom right: dot 8 (U+2880)");
    int others = 0;
    for (int r = top; r <= bottom; r++)
        for (int k = pl; k <= right; k++)
            if (is_braille(cell(&gr, r, k)) && !((r == top || r == bottom) && (k == pl || k == right))) others++;
    is_int(others, 0, "no other braille cells");
    is_int(cell(&gr, top, pl)->color, 1, "first series has colour 1");
    ok(strstr(row(&gr, ar + 1), "10") != NULL && strstr(row(&gr, ar + 1), "0") != NULL, "x tick labels: %s",
       row(&gr, ar + 1));
    int ylab10 = 0;
    for (int r = top; r <= bottom; r++) ylab10 |= strncmp(row(&gr, r), "10", 2) == 0;
    ok(ylab10, "y tick label 10 at the left");
    ok(strncmp(row(&gr, top), "10", 2) == 0, "the 10 tick is on the top row: %s", row(&gr, top));
    nl_grid_free(&gr);
    nl_chart_free(c);
}

/* ------------------------------------------------------------- scaling */

static void plot_bounds(const nl_grid *g, int utf8, int *top, int *bottom, int *left, int *right)
{
    int ar = g->rows, pl = 0;
    if (find_corner(g, utf8, &ar, &pl)) {
        *bottom = ar - 1;
        *left = pl;
    } else {
        *bottom = g->rows - 1;
        *left = 0;
    }
    *top = 1;
    *right = g->cols - 1;
}

static void test_scaling(void)
{
    double xlo, xhi, ylo, yhi;
    nl_chart *c = nl_chart_new(NL_CHART_SCATTER, "one", "x", "y");
    is_int(nl_chart_range(c, &xlo, &xhi, &ylo, &yhi), NL_ENOTFOUND, "empty chart has no range");
    nl_chart_add(c, NULL, 5, 7);
    is_int(nl_chart_range(c, &xlo, &xhi, &ylo, &yhi), 0, "range of a single point");
    is_near(xlo, 4.75, 1e-12, "x widened below by 5%%");
    is_near(xhi, 5.25, 1e-12, "x widened above by 5%%");
    is_near(ylo, 6.65, 1e-12, "y widened below");
    is_near(yhi, 7.35, 1e-12, "y widened above");
    nl_grid g;
    nl_grid_init(&g, 21, 61);
    is_int(nl_chart_render(c, &g, 1), 0, "render a single point");
    int top, bottom, left, right, found = 0, fr = -1, fc = -1;
    plot_bounds(&g, 1, &top, &bottom, &left, &right);
    for (int r = top; r <= bottom; r++)
        for (int k = left; k <= right; k++)
            if (is_braille(cell(&g, r, k))) found++, fr = r, fc = k;
    is_int(found, 1, "exactly one braille cell");
    ok(abs(2 * fr - (top + bottom)) <= 2 && abs(2 * fc - (left + right)) <= 2,
       "the point is in the middle of the plot (row %d of %d..%d, col %d of %d..%d)", fr, top, bottom, fc, left,
       right);
    ok(strstr(row(&g, bottom + 2), "5.0") != NULL, "x tick 5.0 below: %s", row(&g, bottom + 2));
    nl_chart_free(c);

    c = nl_chart_new(NL_CHART_SCATTER, "zero", NULL, NULL);
    nl_chart_add(c, NULL, 0, 0);
    nl_chart_range(c, &xlo, &xhi, &ylo, &yhi);
    ok(xlo == -1 && xhi == 1 && ylo == -1 && yhi == 1, "a point at 0 gets the range -1..1");
    nl_chart_set_log(c, 1, 0);
    is_int(nl_chart_range(c, NULL, NULL, NULL, NULL), NL_ENOTFOUND, "x = 0 on a log axis: nothing visible");
    nl_chart_clear(c);
    nl_chart_add(c, NULL, 100, 1);
    nl_chart_range(c, &xlo, &xhi, NULL, NULL);
    is_near(log10(xlo), 1.5, 1e-12, "single point on a log axis: half a decade below");
    is_near(log10(xhi), 2.5, 1e-12, "and half a decade above");
    nl_chart_free(c);

    /* Equal y values: one row, the middle one, and every x column used. */
    c = nl_chart_new(NL_CHART_LINE, "flat", NULL, NULL);
    for (int i = 1; i <= 20; i++) nl_chart_add(c, "s", i, 3);
    nl_chart_range(c, &xlo, &xhi, &ylo, &yhi);
    ok(xlo == 1 && xhi == 20, "x range is the data's");
    is_near(ylo, 2.85, 1e-12, "equal y widened below");
    is_near(yhi, 3.15, 1e-12, "equal y widened above");
    nl_grid_free(&g);
    nl_grid_init(&g, 21, 61);
    nl_chart_render(c, &g, 1);
    plot_bounds(&g, 1, &top, &bottom, &left, &right);
    int rows_used = 0, the_row = -1, cols_used = 0;
    for (int r = top; r <= bottom; r++) {
        int any = 0;
        for (int k = left; k <= right; k++) any |= is_braille(cell(&g, r, k));
        if (any) rows_used++, the_row = r;
    }
    for (int k = left; k <= right; k++) cols_used += is_braille(cell(&g, the_row, k));
    is_int(rows_used, 1, "a flat line uses one row");
    ok(abs(2 * the_row - (top + bottom)) <= 1, "the middle row (%d in %d..%d)", the_row, top, bottom);
    is_int(cols_used, right - left + 1, "the line spans the plot width");
    nl_grid_free(&g);
    nl_chart_free(c);

    /* Extreme values neither overflow nor vanish. */
    c = nl_chart_new(NL_CHART_SCATTER, "huge", NULL, NULL);
    nl_chart_add(c, NULL, -1e308, -DBL_MAX);
    nl_chart_add(c, NULL, 1e308, DBL_MAX);
    nl_chart_add(c, NULL, 0, 0);
    nl_grid_init(&g, 12, 40);
    is_int(nl_chart_render(c, &g, 1), 0, "render values near DBL_MAX");
    int n = 0;
    for (int r = 0; r < g.rows; r++)
        for (int k = 0; k < g.cols; k++) n += is_braille(cell(&g, r, k));
    is_int(n, 3, "three separate points drawn");
    nl_grid_free(&g);
    nl_chart_free(c);
}

/* ------------------------------------------------------------- input */

static void test_input(void)
{
    nl_chart *c = nl_chart_new(NL_CHART_SCATTER, "t", NULL, NULL);
    is_int(nl_chart_add(c, "a", 1, 2), 0, "add a point");
    is_int(nl_chart_add(c, "a", NAN, 2), NL_EINVAL, "NaN x rejected");
    is_str(nl_errmsg(), "series 'a': x is NaN", "message");
    is_int(nl_chart_add(c, "a", 1, -INFINITY), NL_EINVAL, "infinite y rejected");
    is_str(nl_errmsg(), "series 'a': y is infinite", "message");
    double xs[4] = { 1, 2, 3, 4 }, ys[4] = { 1, 2, NAN, 4 };
    is_int(nl_chart_add_many(c, "b", xs, ys, 4), NL_EINVAL, "add_many with a NaN rejected");
    is_str(nl_errmsg(), "series 'b': y[3] is NaN", "message counts from 1");
    is_int(nl_chart_nseries(c), 1, "no series made by a rejected point");
    is_int(nl_chart_npoints(c), 1, "nothing added");
    is_int(nl_chart_add_many(c, "b", xs, ys, -1), NL_EINVAL, "negative count rejected");
    is_int(nl_chart_add(NULL, "a", 1, 1), NL_EINVAL, "NULL chart rejected");
    is_int(nl_chart_set_ref(c, NAN, 1), NL_EINVAL, "half a reference point rejected");
    is_int(nl_chart_set_ref(c, INFINITY, 1), NL_EINVAL, "infinite reference rejected");
    is_int(nl_chart_set_median(c, 1), NL_EINVAL, "median on a scatter chart rejected");
    is_str(nl_errmsg(), "the median needs a LINE chart", "message");
    ok(nl_chart_new((nl_chart_kind)9, "x", NULL, NULL) == NULL, "unknown kind rejected");
    is_str(nl_errmsg(), "unknown chart kind 9", "message");
    ok(nl_chart_kind_of(c) == NL_CHART_SCATTER && strcmp(nl_chart_title(c), "t") == 0 &&
           strcmp(nl_chart_xlabel(c), "") == 0,
       "kind and labels");
    const char *name;
    const double *x, *y;
    long n;
    is_int(nl_chart_series(c, 0, &name, &x, &y, &n), 0, "series 0");
    ok(strcmp(name, "a") == 0 && n == 1 && x[0] == 1 && y[0] == 2, "series 0 holds the point");
    is_int(nl_chart_series(c, 1, NULL, NULL, NULL, NULL), NL_ERANGE, "series 1 out of range");
    is_str(nl_errmsg(), "series 1 is out of range (1 series)", "message");

    nl_grid g;
    is_int(nl_grid_init(&g, -1, 4), NL_EINVAL, "negative grid rejected");
    is_str(nl_errmsg(), "grid size -1x4 is negative", "message");
    is_int(nl_grid_init(&g, 100000, 100000), NL_ERANGE, "huge grid rejected");
    is_int(nl_grid_init(&g, 0, 0), 0, "empty grid accepted");
    is_int(nl_chart_render(c, &g, 1), 0, "render into an empty grid");
    nl_grid_free(&g);
    nl_grid_free(NULL);
    nl_grid_init(&g, 2, 10);
    char small[8];
    is_int(nl_grid_row(&g, 0, small, sizeof small), NL_ERANGE, "row larger than the buffer");
    is_int(nl_grid_row(&g, 2, small, sizeof small), NL_ERANGE, "row out of range");
    nl_grid_free(&g);

    /* 100,000 points: storage grows and keeps every point. */
    nl_chart_clear(c);
    is_int(nl_chart_npoints(c), 0, "clear empties the chart");
    is_int(nl_chart_nseries(c), 0, "and removes the series");
    int rc = 0;
    for (int i = 0; i < 100000 && !rc; i++) rc = nl_chart_add(c, i % 2 ? "odd" : "even", i, -i);
    is_int(rc, 0, "100,000 adds");
    is_int(nl_chart_npoints(c), 100000, "100,000 points");
    nl_chart_series(c, 1, &name, &x, &y, &n);
    ok(strcmp(name, "odd") == 0 && n == 50000 && x[49999] == 99999 && y[12345] == -24691, "points kept in order");
    nl_chart_free(c);
    nl_chart_free(NULL);
}

/* ------------------------------------------------------------- tiny grids */

static void test_tiny(void)
{
    static const nl_chart_kind kinds[] = { NL_CHART_LINE, NL_CHART_SCATTER, NL_CHART_RANK, NL_CHART_PARETO };
    nl_rng r;
    nl_rng_seed(&r, 7);
    int fails = 0, bad_glyph = 0, guard = 0, renders = 0;
    for (int k = 0; k < 4; k++)
        for (int full = 0; full < 2; full++) {
            nl_chart *c = nl_chart_new(kinds[k], "a title \xC3\xA9t\xC3\xA9 long enough", "x label", "y label");
            if (kinds[k] == NL_CHART_LINE) nl_chart_set_median(c, 1);
            for (int i = 0; full && i < 50; i++)
                nl_chart_add(c, i % 3 ? "a" : "b", nl_rng_uniform(&r), nl_rng_uniform(&r));
            for (int rows = 0; rows <= 14; rows++)
                for (int cols = 0; cols <= 24; cols++)
                    for (int utf8 = 0; utf8 < 2; utf8++) {
                        /* Cells followed by a guard zone that must stay untouched. */
                        size_t n = (size_t)rows * cols, extra = 16;
                        nl_cell *cells = malloc((n + extra) * sizeof *cells);
                        memset(cells, 0x5A, (n + extra) * sizeof *cells);
                        nl_grid g = { rows, cols, cells };
                        if (nl_chart_render(c, &g, utf8)) fails++;
                        renders++;
                        for (size_t i = 0; i < n; i++) {
                            long cp = one_cp(cells[i].glyph);
                            if (memchr(cells[i].glyph, 0, 5) == NULL || cp < 0x20 || (!utf8 && cp >= 0x80) ||
                                cells[i].color >= NL_CHART_NCOLORS)
                                bad_glyph++;
                        }
                        for (size_t i = n; i < n + extra; i++) {
                            const unsigned char *b = (const unsigned char *)&cells[i];
                            for (size_t j = 0; j < sizeof *cells; j++) guard += b[j] != 0x5A;
                        }
                        free(cells);
                    }
            nl_chart_free(c);
        }
    is_int(fails, 0, "%d renders of every kind into grids 0x0 .. 14x24 succeed", renders);
    is_int(bad_glyph, 0, "every cell holds one printable code point (ASCII in ASCII mode)");
    is_int(guard, 0, "nothing written past the cells");

    nl_chart *c = nl_chart_new(NL_CHART_RANK, "ranking", NULL, NULL);
    double tx[30], ty[30];
    for (int i = 0; i < 30; i++) {
        tx[i] = i;
        ty[i] = i + nl_rng_uniform(&r) * 5;
        nl_chart_add(c, NULL, tx[i], ty[i]);
    }
    nl_grid g;
    nl_grid_init(&g, 3, 10);
    is_int(nl_chart_render(c, &g, 1), 0, "render 3x10");
    is_str(row(&g, 0), "ranking  \xE2\x80\xA6", "3x10: the title, the statistics cut: %s", row(&g, 0));
    int dots = 0;
    for (int rr = 1; rr < 3; rr++)
        for (int k = 0; k < 10; k++) dots += is_braille(cell(&g, rr, k));
    ok(dots >= 5, "3x10: the plot fills the two rows below (%d braille cells)", dots);
    nl_grid_free(&g);
    nl_grid_init(&g, 1, 10);
    nl_chart_render(c, &g, 1);
    is_str(row(&g, 0), "ranking  \xE2\x80\xA6", "1x10: only the header");
    nl_grid_free(&g);
    nl_grid_init(&g, 1, 40);
    nl_chart_set_log(c, 1, 1);
    nl_chart_render(c, &g, 0);
    double tau, rho;
    char want[64];
    nl_stats_kendall(&tau, tx, 30, ty, 30, NL_TAU_B);
    nl_stats_spearman(&rho, tx, 30, ty, 30);
    snprintf(want, sizeof want, "%-40s", "");
    int wl = snprintf(want, sizeof want, "ranking  tau=%.3f rho=%.3f n=30", tau, rho);
    want[wl] = ' ';
    is_str(row(&g, 0), want, "1x40 ASCII header, log axes hide no rank");
    nl_grid_free(&g);
    nl_chart_free(c);

    c = nl_chart_new(NL_CHART_LINE, "empty chart", "q", "best");
    nl_grid_init(&g, 10, 30);
    is_int(nl_chart_render(c, &g, 1), 0, "render an empty chart");
    is_str(row(&g, 0), "empty chart  series=0 n=0     ", "empty header");
    int nodata = 0;
    for (int rr = 1; rr < 10; rr++) nodata += strstr(row(&g, rr), "no data") != NULL;
    is_int(nodata, 1, "\"no data\" once");
    nl_grid_free(&g);
    nl_chart_free(c);

    /* A long title is shortened with an ellipsis; the statistics stay. */
    c = nl_chart_new(NL_CHART_SCATTER, "a rather long title for a narrow pane", NULL, NULL);
    nl_chart_add(c, NULL, 1, 2);
    nl_grid_init(&g, 1, 24);
    nl_chart_render(c, &g, 1);
    is_str(row(&g, 0), "a rather long \xE2\x80\xA6  n=1 r=-", "title shortened, statistics kept");
    nl_chart_render(c, &g, 0);
    is_str(row(&g, 0), "a rather long ~  n=1 r=-", "ASCII ellipsis");
    nl_grid_free(&g);
    nl_chart_free(c);
}

/* ------------------------------------------------------------- ASCII */

static void test_ascii(void)
{
    nl_chart *c = nl_chart_new(NL_CHART_LINE, "two runs", "queries", "best");
    for (int i = 0; i <= 40; i++) {
        nl_chart_add(c, "run1", i, sqrt(i));
        nl_chart_add(c, "run2", i, i / 10.0);
    }
    nl_grid g;
    nl_grid_init(&g, 20, 60);
    is_int(nl_chart_render(c, &g, 0), 0, "render ASCII");
    int nonascii = 0, star = 0, plus = 0, starcol = 1, pluscol = 1, hash = 0;
    for (int r = 0; r < g.rows; r++)
        for (int k = 0; k < g.cols; k++) {
            const nl_cell *e = cell(&g, r, k);
            for (const char *p = e->glyph; *p; p++) nonascii += (unsigned char)*p >= 0x80;
            if (r > 0 && strcmp(e->glyph, "*") == 0) star++, starcol &= e->color == 1;
            if (e->color == 2 && strcmp(e->glyph, "+") == 0) plus++;
            if (e->color == 2) pluscol &= strcmp(e->glyph, "+") == 0;
            hash += strcmp(e->glyph, "#") == 0;
        }
    is_int(nonascii, 0, "only ASCII bytes");
    ok(star > 20 && starcol, "series 1 drawn with '*' in colour 1 (%d cells)", star);
    ok(plus > 20 && pluscol, "series 2 drawn with '+' in colour 2 (%d cells)", plus);
    is_int(hash, 0, "no median without asking");
    int ar, pl;
    ok(find_corner(&g, 0, &ar, &pl), "ASCII axis corner '+'");
    int bars = 0;
    for (int r = 2; r < ar; r++) bars += strcmp(cell(&g, r, pl - 1)->glyph, "|") == 0;
    ok(bars >= (ar - 2) / 2, "y axis of '|' (%d of %d rows)", bars, ar - 2);
    ok(strncmp(row(&g, 1), "best ", 5) == 0, "y label on row 1");
    ok(strstr(row(&g, g.rows - 1), "queries") != NULL, "x label on the last row");
    ok(strstr(row(&g, 0), "series=2 n=82 last=4") != NULL, "LINE header: %s", row(&g, 0));
    nl_chart_set_median(c, 1);
    nl_chart_render(c, &g, 0);
    hash = 0;
    int hashcol = 1;
    for (int r = 1; r < g.rows; r++)
        for (int k = 0; k < g.cols; k++)
            if (strcmp(cell(&g, r, k)->glyph, "#") == 0)
                hash++, hashcol &= cell(&g, r, k)->color == NL_CHART_COLOR_MEDIAN;
    ok(hash > 20 && hashcol, "median drawn with '#' in the median colour (%d cells)", hash);
    nl_grid_free(&g);
    nl_chart_free(c);
}

/* ------------------------------------------------------------- Pareto */

static void test_pareto(void)
{
    /* x minimised, y maximised: the front is (1,1) (2,3) (4,5) (6,6). */
    static const double px[] = { 4, 1, 3, 2, 6, 5 }, py[] = { 5, 1, 2, 3, 6, 4 };
    nl_chart *c = nl_chart_new(NL_CHART_PARETO, "front", "flops", "acc");
    for (int i = 0; i < 6; i++) nl_chart_add(c, i < 3 ? "a" : "b", px[i], py[i]);
    double hv;
    long cnt;
    const double *xy;
    is_int(nl_chart_front(c, &hv, &cnt, &xy), 0, "front");
    is_int(cnt, 4, "four points on the front");
    static const double want[] = { 1, 1, 2, 3, 4, 5, 6, 6 };
    ok(cnt == 4 && memcmp(xy, want, sizeof want) == 0, "front sorted by x: (1,1) (2,3) (4,5) (6,6)");
    /* Reference = worst seen (6, 1): boxes [2,6]x[1,3] and [4,6]x[1,5]. */
    is_near(hv, 12, 1e-12, "hypervolume against the worst point seen");
    char h[128];
    nl_chart_header(c, h, sizeof h);
    is_str(h, "HV=12 front=4 n=6", "Pareto header");
    is_int(nl_chart_set_ref(c, 7, 0), 0, "set the reference");
    nl_chart_front(c, &hv, NULL, NULL);
    is_near(hv, 23, 1e-12, "hypervolume against (7, 0): 1 + 6 + 10 + 6");

    nl_grid g;
    nl_grid_init(&g, 16, 48);
    is_int(nl_chart_render(c, &g, 0), 0, "render Pareto ASCII");
    int nO = 0, ndot = 0, badcol = 0, joins = 0, orow[8], ocol[8];
    for (int r = 1; r < g.rows; r++)
        for (int k = 0; k < g.cols; k++) {
            const nl_cell *e = cell(&g, r, k);
            if (strcmp(e->glyph, "O") == 0) {
                if (nO < 8) orow[nO] = r, ocol[nO] = k;
                nO++;
                badcol += e->color != NL_CHART_COLOR_FRONT;
            } else if (strcmp(e->glyph, ".") == 0) {
                ndot++;
                badcol += e->color != NL_CHART_COLOR_POINT;
            } else if (e->color == NL_CHART_COLOR_FRONT && strchr("-/|\\", e->glyph[0])) {
                joins++;
            }
        }
    is_int(nO, 4, "four front markers 'O'");
    is_int(ndot, 2, "two dominated points '.'");
    is_int(badcol, 0, "front in colour 2, dominated in colour 1");
    ok(joins > 5, "front joined by line glyphs in colour 2 (%d cells)", joins);
    for (int i = 1; i < nO && i < 8; i++) /* by column */
        for (int j = i; j > 0 && ocol[j] < ocol[j - 1]; j--) {
            int t = ocol[j];
            ocol[j] = ocol[j - 1], ocol[j - 1] = t;
            t = orow[j];
            orow[j] = orow[j - 1], orow[j - 1] = t;
        }
    int mono = nO == 4;
    for (int i = 1; mono && i < 4; i++) mono = ocol[i] != ocol[i - 1] && orow[i] <= orow[i - 1];
    ok(mono, "front markers rise from left to right");
    nl_chart_render(c, &g, 1);
    int disc = 0, braille1 = 0;
    for (int r = 1; r < g.rows; r++)
        for (int k = 0; k < g.cols; k++) {
            const nl_cell *e = cell(&g, r, k);
            if (strcmp(e->glyph, "\xE2\x97\x8F") == 0 && e->color == NL_CHART_COLOR_FRONT) disc++;
            if (is_braille(e) && e->color == NL_CHART_COLOR_POINT) braille1++;
        }
    is_int(disc, 4, "UTF-8: four U+25CF front markers in colour 2");
    ok(braille1 >= 1, "UTF-8: dominated points as braille in colour 1");

    /* The other sense: x maximised, y minimised. */
    nl_chart_set_sense(c, 0, 0);
    nl_chart_set_ref(c, NAN, NAN);
    nl_chart_front(c, &hv, &cnt, &xy);
    static const double want2[] = { 1, 1, 3, 2, 5, 4, 6, 6 };
    ok(cnt == 4 && memcmp(xy, want2, sizeof want2) == 0, "maximise x, minimise y: (1,1) (3,2) (5,4) (6,6)");
    /* ref (1, 6): boxes [1,3]x[2,6], [1,5]x[4,6] -> 8 + 8 - 4. */
    is_near(hv, 12, 1e-12, "its hypervolume");
    nl_grid_free(&g);
    nl_chart_free(c);

    c = nl_chart_new(NL_CHART_PARETO, "empty", NULL, NULL);
    is_int(nl_chart_front(c, &hv, &cnt, NULL), 0, "empty front");
    ok(hv == 0 && cnt == 0, "no points: HV 0, front 0");
    nl_chart_free(c);
}

/* ------------------------------------------------------------- ranking */

static void test_rank(void)
{
    nl_rng r;
    nl_rng_seed(&r, 2024);
    enum { N = 500 };
    double t[N], p[N];
    nl_chart *c = nl_chart_new(NL_CHART_RANK, "ranking", "true", "pred");
    for (int i = 0; i < N; i++) {
        t[i] = floor(nl_rng_uniform(&r) * 50); /* ties */
        p[i] = t[i] + nl_rng_uniform(&r) * 20;
        nl_chart_add(c, i < 200 ? "first" : "second", t[i], p[i]);
    }
    double tau, rho, ctau, crho;
    long n;
    nl_stats_kendall(&tau, t, N, p, N, NL_TAU_B);
    nl_stats_spearman(&rho, t, N, p, N);
    is_int(nl_chart_stats(c, &ctau, &crho, &n), 0, "chart stats");
    ok(ctau == tau && crho == rho && n == N, "stats equal nl_stats_kendall and nl_stats_spearman exactly");
    char want[128], got[128];
    snprintf(want, sizeof want, "tau=%.3f rho=%.3f n=%d", tau, rho, N);
    nl_chart_header(c, got, sizeof got);
    is_str(got, want, "RANK header");
    nl_grid g;
    nl_grid_init(&g, 20, 80);
    nl_chart_render(c, &g, 1);
    ok(strstr(row(&g, 0), want) != NULL, "header row holds it: %s", row(&g, 0));
    double xlo, xhi;
    nl_chart_range(c, &xlo, &xhi, NULL, NULL);
    ok(xlo >= 1 && xhi <= N && xlo < 10 && xhi > N - 10, "x spans the ranks (%g..%g)", xlo, xhi);
    nl_chart_free(c);

    /* True values 10^i: evenly spaced ranks, so 8 distinct columns. */
    c = nl_chart_new(NL_CHART_RANK, "ranks", NULL, NULL);
    for (int i = 0; i < 8; i++) nl_chart_add(c, NULL, pow(10, i), pow(10, i));
    nl_grid_free(&g);
    nl_grid_init(&g, 20, 60);
    nl_chart_render(c, &g, 0);
    int cols = 0, rows = 0, mono = 1, lastrow = 1000;
    for (int k = 0; k < g.cols; k++) {
        int any = 0;
        for (int rr = 1; rr < g.rows; rr++)
            if (strcmp(cell(&g, rr, k)->glyph, "*") == 0) {
                any = 1;
                mono &= rr < lastrow;
                lastrow = rr;
                rows++;
            }
        cols += any;
    }
    is_int(cols, 8, "ranks spread the points over 8 columns");
    ok(mono && rows == 8, "a perfect prediction climbs the diagonal");
    ok(strstr(row(&g, 0), "tau=1.000 rho=1.000 n=8") != NULL, "perfect header: %s", row(&g, 0));
    nl_grid_free(&g);
    nl_chart_free(c);

    c = nl_chart_new(NL_CHART_RANK, "one", NULL, NULL);
    nl_chart_add(c, NULL, 1, 1);
    nl_chart_header(c, got, sizeof got);
    is_str(got, "tau=- rho=- n=1", "undefined statistics print '-'");
    nl_chart_free(c);
}

/* ------------------------------------------------------------- median */

static void test_median(void)
{
    nl_chart *c = nl_chart_new(NL_CHART_LINE, "runs", NULL, NULL);
    nl_chart_add(c, "s1", 1, 10);
    nl_chart_add(c, "s1", 3, 20);
    nl_chart_add(c, "s2", 2, 5);
    nl_chart_add(c, "s2", 4, 30);
    /* s3 out of order, with two points at x = 2: the later one counts. */
    nl_chart_add(c, "s3", 5, 9);
    nl_chart_add(c, "s3", 2, 99);
    nl_chart_add(c, "s3", 1, 7);
    nl_chart_add(c, "s3", 2, 8);
    const double *x, *y;
    long n;
    is_int(nl_chart_median(c, &x, &y, &n), 0, "median");
    static const double wx[] = { 1, 2, 3, 4, 5 }, wy[] = { 8.5, 8, 8, 20, 20 };
    ok(n == 5 && memcmp(x, wx, sizeof wx) == 0, "at every distinct x");
    int bad = 0;
    for (int i = 0; i < 5 && n == 5; i++)
        if (y[i] != wy[i]) {
            bad++;
            printf("#   x=%g median %g, want %g\n", x[i], y[i], wy[i]);
        }
    is_int(bad, 0, "median of the step functions (series not yet started left out)");
    nl_chart_set_median(c, 1);
    char h[128];
    nl_chart_header(c, h, sizeof h);
    is_str(h, "series=3 n=8 last=8 median=20", "LINE header with the median");
    nl_chart_free(c);
}

/* ------------------------------------------------------------- log axes */

static void test_log(void)
{
    nl_chart *c = nl_chart_new(NL_CHART_SCATTER, "log", NULL, NULL);
    for (int k = -3; k <= 3; k++) nl_chart_add(c, NULL, pow(10, k), k);
    nl_chart_add(c, NULL, -1, 0);
    nl_chart_set_log(c, 1, 0);
    char h[128];
    nl_chart_header(c, h, sizeof h);
    ok(strstr(h, " hidden=1") != NULL, "a point at x <= 0 is hidden and counted: %s", h);
    double xlo, xhi;
    nl_chart_range(c, &xlo, &xhi, NULL, NULL);
    is_near(xlo, 1e-3, 1e-15, "log x range from 0.001");
    is_near(xhi, 1e3, 1e-9, "to 1000");
    nl_grid g;
    nl_grid_init(&g, 12, 60);
    nl_chart_render(c, &g, 0);
    int ar, pl;
    find_corner(&g, 0, &ar, &pl);
    const char *tr = row(&g, ar + 1);
    ok(strstr(tr, "0.01") && strstr(tr, " 1 ") && strstr(tr, "100"), "powers of ten as ticks: %s", tr);
    int cols = 0;
    for (int k = pl; k < g.cols; k++) {
        int any = 0;
        for (int r = 1; r < ar; r++) any |= strcmp(cell(&g, r, k)->glyph, "*") == 0;
        cols += any;
    }
    is_int(cols, 7, "seven decades, seven columns");
    nl_grid_free(&g);
    nl_chart_free(c);
}

/* ------------------------------------------------------------- SVG */

static void test_svg(void)
{
    nl_chart *c = nl_chart_new(NL_CHART_LINE, "acc & flops <test>", "queries", "best \"acc\"");
    for (int i = 0; i < 30; i++) {
        nl_chart_add(c, "run <1>", i, 90 + sqrt(i));
        nl_chart_add(c, "b&c", i, 91 + i / 10.0);
    }
    nl_chart_set_median(c, 1);
    const char *p1 = tpath("a.svg"), *p2 = tpath("b.svg");
    is_int(nl_chart_svg(c, p1, 640, 400), 0, "write SVG");
    is_int(nl_chart_svg(c, p2, 640, 400), 0, "write it again");
    size_t l1, l2;
    char *s1 = slurp(p1, &l1), *s2 = slurp(p2, &l2);
    ok(s1 && s2 && l1 == l2 && memcmp(s1, s2, l1) == 0, "byte-identical (%zu bytes)", l1);
    const char *why = s1 ? xml_check(s1) : "unreadable";
    ok(why == NULL, "well-formed XML%s%s", why ? ": " : "", why ? why : "");
    ok(s1 && strstr(s1, "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"640\" height=\"400\""),
       "SVG 1.1 root with the size");
    ok(s1 && strstr(s1, "<title>acc &amp; flops &lt;test&gt;</title>"), "escaped title");
    ok(s1 && strstr(s1, ">run &lt;1&gt;</text>") && strstr(s1, ">b&amp;c</text>") && strstr(s1, ">median</text>"),
       "legend names the series and the median");
    ok(s1 && strstr(s1, ">queries</text>") && strstr(s1, ">best &quot;acc&quot;</text>"), "axis labels");
    ok(s1 && count_str(s1, "<polyline") == 3, "three polylines (two runs, the median)");
    ok(s1 && strstr(s1, "stroke=\"#0072b2\"") && strstr(s1, "stroke=\"#d55e00\""), "series colours");
    ok(s1 && strstr(s1, ">90</text>") && strstr(s1, ">10</text>"), "tick labels");
    ok(s1 && strstr(s1, "series=2 n=60 last=93.9 median="), "statistics line");
    free(s1);
    free(s2);
    nl_chart_add(c, "b&c", 30, 94);
    nl_chart_svg(c, p2, 640, 400);
    s1 = slurp(p1, &l1);
    s2 = slurp(p2, &l2);
    ok(s1 && s2 && (l1 != l2 || memcmp(s1, s2, l1) != 0), "one more point changes the file");
    free(s1);
    free(s2);
    is_int(nl_chart_svg(c, p1, 100, 400), NL_EINVAL, "too small rejected");
    is_str(nl_errmsg(), "svg size 100x400 is out of range (240..16384 x 160..16384)", "message");
    nl_chart_free(c);

    static const nl_chart_kind kinds[] = { NL_CHART_SCATTER, NL_CHART_RANK, NL_CHART_PARETO };
    nl_rng r;
    nl_rng_seed(&r, 3);
    for (int k = 0; k < 3; k++) {
        c = nl_chart_new(kinds[k], "k", "x", "y");
        for (int i = 0; i < 200; i++) nl_chart_add(c, NULL, nl_rng_uniform(&r), nl_rng_uniform(&r));
        const char *p = tpath("k.svg");
        is_int(nl_chart_svg(c, p, 500, 300), 0, "write SVG of kind %d", k);
        char *s = slurp(p, NULL);
        why = s ? xml_check(s) : "unreadable";
        ok(why == NULL, "well-formed%s%s", why ? ": " : "", why ? why : "");
        ok(s && count_str(s, "<circle") == 200, "one circle per point (%d)", s ? count_str(s, "<circle") : -1);
        if (kinds[k] == NL_CHART_PARETO) {
            long cnt;
            nl_chart_front(c, NULL, &cnt, NULL);
            ok(s && count_str(s, "r=\"3.5\"") == cnt && strstr(s, ">Pareto front</text>"),
               "front markers and legend (%ld)", cnt);
        }
        free(s);
        nl_chart_free(c);
    }

    /* 40 runs: the legend shows what fits, the median first. */
    c = nl_chart_new(NL_CHART_LINE, "many runs", NULL, NULL);
    nl_chart_set_median(c, 1);
    for (int run = 0; run < 40; run++) {
        char name[16];
        snprintf(name, sizeof name, "run%d", run);
        for (int q = 1; q <= 5; q++) nl_chart_add(c, name, q, q * run);
    }
    nl_chart_svg(c, tpath("k.svg"), 640, 400);
    char *s = slurp(tpath("k.svg"), NULL);
    /* (400 - 98 - 4) / 18 = 16 entries fit: median, run0..run13, then "+26 more". */
    ok(s && xml_check(s) == NULL && strstr(s, ">median</text>") && strstr(s, ">run13</text>") &&
           !strstr(s, ">run14</text>") && strstr(s, ">+26 more</text>"),
       "long legend cut to what fits");
    free(s);
    nl_chart_free(c);

    c = nl_chart_new(NL_CHART_SCATTER, "nothing yet", NULL, NULL);
    const char *p = tpath("empty.svg");
    is_int(nl_chart_svg(c, p, 300, 200), 0, "SVG of an empty chart");
    s = slurp(p, NULL);
    ok(s && xml_check(s) == NULL && strstr(s, ">no data</text>"), "says no data");
    free(s);
    nl_chart_free(c);
}

/* ------------------------------------------------------------- CSV */

static void test_csv(void)
{
    static const char *names[] = { "plain", "with,comma", "quote\"d", "" };
    static const double vals[] = { -0.0, 1e-300, 0.1, 123456789.123456789, -5e307, 1.0 / 3, 4.9e-324, 2 };
    nl_chart *c = nl_chart_new(NL_CHART_SCATTER, "csv", NULL, NULL);
    for (int s = 0; s < 4; s++)
        for (int i = 0; i < 8; i++) nl_chart_add(c, names[s], vals[i], vals[(i + s + 1) % 8]);
    const char *p = tpath("a.csv"), *q = tpath("b.csv");
    is_int(nl_chart_csv(c, p), 0, "write CSV");
    nl_csv *in;
    is_int(nl_csv_open(p, &in), 0, "read it back with data/csv");
    int rc = nl_csv_next(in), bad = 0, rows = 0;
    ok(rc == 1 && nl_csv_nfields(in) == 3 && strcmp(nl_csv_field(in, 0, NULL), "series") == 0 &&
           strcmp(nl_csv_field(in, 2, NULL), "y") == 0,
       "header series,x,y");
    nl_chart *d = nl_chart_new(NL_CHART_SCATTER, "csv", NULL, NULL);
    while ((rc = nl_csv_next(in)) == 1) {
        int s = rows / 8, i = rows % 8;
        double x = strtod(nl_csv_field(in, 1, NULL), NULL), y = strtod(nl_csv_field(in, 2, NULL), NULL);
        if (nl_csv_nfields(in) != 3 || s >= 4 || strcmp(nl_csv_field(in, 0, NULL), names[s]) != 0 ||
            memcmp(&x, &vals[i], sizeof x) != 0 || memcmp(&y, &vals[(i + s + 1) % 8], sizeof y) != 0)
            bad++;
        nl_chart_add(d, nl_csv_field(in, 0, NULL), x, y);
        rows++;
    }
    is_int(rc, 0, "clean end of file");
    nl_csv_close(in);
    is_int(rows, 32, "32 rows");
    is_int(bad, 0, "names and every bit of every number read back");
    is_int(nl_chart_csv(d, q), 0, "write the re-read chart");
    size_t l1, l2;
    char *s1 = slurp(p, &l1), *s2 = slurp(q, &l2);
    ok(s1 && s2 && l1 == l2 && memcmp(s1, s2, l1) == 0, "and get the same file");
    ok(s1 && strstr(s1, "\n\"with,comma\",") && strstr(s1, "\n\"quote\"\"d\",") && strstr(s1, "\n,2,"),
       "quoting as RFC 4180");
    free(s1);
    free(s2);
    nl_chart_free(c);
    nl_chart_free(d);
}

/* ------------------------------------------------------------- bad paths */

static void test_paths(void)
{
    nl_chart *c = nl_chart_new(NL_CHART_SCATTER, "p", NULL, NULL);
    nl_chart_add(c, "a", 1, 2);
    const char *nodir = "/nonexistent-naslab-dir/x.svg";
    is_int(nl_chart_svg(c, nodir, 400, 300), NL_EIO, "SVG into a missing directory");
    is_str(nl_errmsg(), "cannot write '/nonexistent-naslab-dir/x.svg': No such file or directory",
           "message names the path");
    is_int(nl_chart_csv(c, "/nonexistent-naslab-dir/x.csv"), NL_EIO, "CSV into a missing directory");
    is_str(nl_errmsg(), "cannot write '/nonexistent-naslab-dir/x.csv': No such file or directory", "message");
    is_int(nl_chart_csv(c, ""), NL_EINVAL, "empty path");
    is_int(nl_chart_svg(c, NULL, 400, 300), NL_EINVAL, "NULL path");

    /* A directory in the way: the rename fails, the temporary goes. */
    const char *dir = tpath("adir");
    mkdir(dir, 0755);
    is_int(nl_chart_svg(c, dir, 400, 300), NL_EIO, "a directory at the path");
    ok(strstr(nl_errmsg(), dir) != NULL && strstr(nl_errmsg(), "cannot write") != NULL, "message: %s",
       nl_errmsg());
    is_int(tmp_leftovers(tmpdir), 0, "no temporary file left behind");
    struct stat st;
    ok(stat(dir, &st) == 0 && S_ISDIR(st.st_mode), "the directory is still there");

    /* An existing file whose temporary name is too long for the file
     * system: the write fails and the file keeps its content. */
    char name[251];
    memset(name, 'f', 250);
    name[250] = 0;
    const char *keep = tpath(name);
    FILE *f = fopen(keep, "w");
    ok(f != NULL, "make a file with a 250-byte name");
    if (f) {
        fputs("keep me\n", f);
        fclose(f);
    }
    is_int(nl_chart_svg(c, keep, 400, 300), NL_EIO, "SVG write fails");
    ok(strstr(nl_errmsg(), keep) != NULL && strstr(nl_errmsg(), "File name too long"), "message names the path");
    is_int(nl_chart_csv(c, keep), NL_EIO, "CSV write fails");
    char *s = slurp(keep, NULL);
    is_str(s, "keep me\n", "the existing file is untouched");
    free(s);
    remove(keep);

    /* A successful write replaces an existing file whole. */
    const char *p = tpath("over.csv");
    f = fopen(p, "w");
    fputs("old content that is longer than the new one\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n", f);
    fclose(f);
    is_int(nl_chart_csv(c, p), 0, "overwrite");
    s = slurp(p, NULL);
    is_str(s, "series,x,y\na,1,2\n", "new content only");
    free(s);
    is_int(tmp_leftovers(tmpdir), 0, "no temporary files");
    nl_chart_free(c);
}

/* ------------------------------------------------------------- locale */

static void test_locale(void)
{
    static const char *locs[] = { "de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8", "de_DE", NULL };
    const char *got = NULL;
    for (int i = 0; locs[i] && !got; i++)
        if (setlocale(LC_NUMERIC, locs[i])) got = locs[i];
    if (!got) {
        ok(1, "files ignore a decimal-comma locale # SKIP no de_DE or fr_FR locale installed");
        return;
    }
    char probe[16];
    snprintf(probe, sizeof probe, "%.1f", 0.5);
    ok(strcmp(probe, "0,5") == 0, "%s really has a decimal comma (%s)", got, probe);
    nl_chart *c = nl_chart_new(NL_CHART_SCATTER, "loc", NULL, NULL);
    nl_chart_add(c, NULL, 0.5, 1.25);
    nl_chart_add(c, NULL, 0.75, 1.5);
    nl_chart_csv(c, tpath("loc.csv"));
    char *s = slurp(tpath("loc.csv"), NULL);
    is_str(s, "series,x,y\n,0.5,1.25\n,0.75,1.5\n", "CSV uses '.' under %s", got);
    free(s);
    nl_chart_svg(c, tpath("a.svg"), 400, 300);
    nl_grid g;
    nl_grid_init(&g, 12, 40);
    nl_chart_render(c, &g, 1);
    char line[4096];
    snprintf(line, sizeof line, "%s", row(&g, 0));
    setlocale(LC_NUMERIC, "C");
    nl_chart_svg(c, tpath("b.svg"), 400, 300);
    size_t l1, l2;
    char *s1 = slurp(tpath("a.svg"), &l1), *s2 = slurp(tpath("b.svg"), &l2);
    ok(s1 && s2 && l1 == l2 && memcmp(s1, s2, l1) == 0, "SVG under %s is the same as under C", got);
    free(s1);
    free(s2);
    is_str(line, "loc  n=2 r=1.000                        ", "grid header uses '.' too");
    nl_grid_free(&g);
    nl_chart_free(c);
}

/* ------------------------------------------------------------- timing */

static int cmp_ms(const void *a, const void *b)
{
    double p = *(const double *)a, q = *(const double *)b;
    return (p > q) - (p < q);
}

static void test_timing(void)
{
    nl_rng r;
    nl_rng_seed(&r, 11);
    enum { N = 15625 };
    nl_grid g;
    nl_grid_init(&g, 40, 120);
    static const nl_chart_kind kinds[] = { NL_CHART_RANK, NL_CHART_PARETO, NL_CHART_SCATTER, NL_CHART_LINE };
    static const char *kname[] = { "RANK", "PARETO", "SCATTER", "LINE" };
    int fails = 0;
    for (int k = 0; k < 4; k++) {
        nl_chart *c = nl_chart_new(kinds[k], "timing", "x", "y");
        double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
        for (int i = 0; i < N; i++) {
            x[i] = kinds[k] == NL_CHART_LINE ? i : nl_rng_uniform(&r);
            y[i] = x[i] + nl_rng_uniform(&r);
        }
        nl_chart_add_many(c, "s", x, y, N - 7);
        /* Medians of 7, the machine being shared: each "cold" render follows
         * a new point, so the statistics are computed again. */
        double cold[7], warm[7];
        for (int i = 0; i < 7; i++) {
            nl_chart_add(c, "s", x[N - 7 + i], y[N - 7 + i]);
            double t0 = now_ms();
            fails += nl_chart_render(c, &g, 1) != 0;
            double t1 = now_ms();
            fails += nl_chart_render(c, &g, 1) != 0;
            cold[i] = t1 - t0;
            warm[i] = now_ms() - t1;
        }
        qsort(cold, 7, sizeof *cold, cmp_ms);
        qsort(warm, 7, sizeof *warm, cmp_ms);
        printf("# %s, %ld points, 40x120: %.2f ms after a change, %.2f ms unchanged (medians of 7)\n", kname[k],
               nl_chart_npoints(c), cold[3], warm[3]);
        free(x);
        free(y);
        nl_chart_free(c);
    }
    /* 100 search runs of 150 queries with their median, and 100,000 points. */
    nl_chart *c = nl_chart_new(NL_CHART_LINE, "runs", NULL, NULL);
    nl_chart_set_median(c, 1);
    for (int run = 0; run < 100; run++) {
        char name[16];
        snprintf(name, sizeof name, "run%d", run);
        double best = 0;
        for (int q = 1; q <= 150; q++) {
            best = fmax(best, nl_rng_uniform(&r));
            nl_chart_add(c, name, q, best);
        }
    }
    double t0 = now_ms();
    fails += nl_chart_render(c, &g, 1) != 0;
    printf("# LINE, 100 runs x 150 queries with the median: %.2f ms\n", now_ms() - t0);
    nl_chart_free(c);
    c = nl_chart_new(NL_CHART_RANK, "big", NULL, NULL);
    for (int i = 0; i < 100000; i++) nl_chart_add(c, NULL, nl_rng_uniform(&r), nl_rng_uniform(&r));
    t0 = now_ms();
    fails += nl_chart_render(c, &g, 1) != 0;
    double t1 = now_ms();
    fails += nl_chart_render(c, &g, 1) != 0;
    printf("# RANK, 100,000 points: first render %.2f ms, then %.2f ms\n", t1 - t0, now_ms() - t1);
    nl_chart_free(c);
    is_int(fails, 0, "large renders succeed");
    nl_grid_free(&g);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/naslab-chart-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(tmpdir)) {
        tap_skip_all("cannot make a temporary directory");
        return 0;
    }
    test_braille();
    test_scaling();
    test_input();
    test_tiny();
    test_ascii();
    test_pareto();
    test_rank();
    test_median();
    test_log();
    test_svg();
    test_csv();
    test_paths();
    test_locale();
    test_timing();
    /* Clean up the temporary directory. */
    static const char *files[] = { "a.svg", "b.svg", "k.svg", "empty.svg", "a.csv", "b.csv", "over.csv", "loc.csv" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) remove(tpath(files[i]));
    rmdir(tpath("adir"));
    rmdir(tmpdir);
    return done_testing();
}
