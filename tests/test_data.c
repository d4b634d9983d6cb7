/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_data.c - TAP tests of the IDX reader and writer and of image data sets:
 * the hand-made fixtures in tests/data (idx_*, one per kind of damage, each
 * with its exact message), round trips of every element type through
 * nl_idx_write, selection, statistics, splits and batches checked against
 * values computed here independently; the digits loader on small gzipped
 * CSV files written here (every kind of damage with its file:line message,
 * every selection option), upsampling; then, when Debian's
 * dataset-fashion-mnist and python3-sklearn are installed, the real
 * Fashion-MNIST and digits files. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "core/error.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "data/idx.h"
#include "tap.h"

static char datadir[1024];
static char tmpdir[256];

static void find_datadir(void)
{
    const char *top = getenv("top_srcdir");
    if (top) {
        snprintf(datadir, sizeof datadir, "%s/tests/data", top);
        return;
    }
    /* Run by hand: the fixtures sit beside this source file. */
    snprintf(datadir, sizeof datadir, "%s", __FILE__);
    char *slash = strrchr(datadir, '/');
    if (slash) strcpy(slash, "/data");
    else strcpy(datadir, "data");
}

static const char *fixture(const char *name)
{
    static char buf[4][1200];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", datadir, name);
    return buf[k];
}

static const char *tmpfile_(const char *name)
{
    static char buf[4][600];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The message of a load expected to fail with `code`. */
static void load_fails(const char *name, int code, const char *want)
{
    nl_idx *x = (nl_idx *)1;
    const char *path = fixture(name);
    int rc = nl_idx_load(path, &x);
    char full[1400];
    snprintf(full, sizeof full, want, path);
    is_int(rc, code, "%s: error code", name);
    ok(x == NULL, "%s: nothing returned", name);
    is_str(nl_errmsg(), full, "%s: message", name);
}

/* ------------------------------------------------------------ IDX reader */

static void test_idx_fixtures(void)
{
    for (int gz = 0; gz < 2; gz++) {
        nl_idx *x;
        const char *name = gz ? "idx_images.idx.gz" : "idx_images.idx";
        int rc = nl_idx_load(fixture(name), &x);
        is_int(rc, 0, "%s loads", name);
        if (rc < 0) {
            printf("# %s\n", nl_errmsg());
            continue;
        }
        is_int(x->type, NL_IDX_U8, "%s: ubyte", name);
        is_int(x->ndim, 3, "%s: 3 dims", name);
        char ds[64];
        is_str(nl_idx_dims_str(x, ds, sizeof ds), "[6,2,3]", "%s: dims", name);
        is_int(x->count, 36, "%s: count", name);
        int good = 1;
        for (int k = 0; k < 36; k++) good &= ((uint8_t *)x->data)[k] == 7 * k;
        ok(good, "%s: every pixel as written", name);
        nl_idx_free(x);
    }
    nl_idx *l;
    if (nl_idx_load(fixture("idx_labels.idx.gz"), &l) == 0) {
        ok(l->ndim == 1 && l->dims[0] == 6 && nl_idx_get(l, 0) == 2 && nl_idx_get(l, 5) == 1, "labels: gzip 1-d");
        nl_idx_free(l);
    } else {
        ok(0, "labels: gzip 1-d (%s)", nl_errmsg());
    }

    load_fails("idx_missing.idx", NL_EIO, "cannot open '%s': No such file or directory");
    load_fails("idx_bad_magic.idx", NL_EFORMAT, "%s: not an IDX file (magic 0x12340801)");
    load_fails("idx_double.gz", NL_EFORMAT, "%s: not an IDX file (magic 0x1f8b0800)");
    load_fails("idx_bad_type.idx", NL_EFORMAT, "%s: not an IDX file (magic 0x00000701: unknown element type 0x07)");
    load_fails("idx_short_header.idx", NL_EFORMAT, "%s: truncated: header of 3 dimensions needs 16 bytes, got 10");
    load_fails("idx_short_data.idx", NL_EFORMAT, "%s: truncated: expected 36 bytes of data, got 30");
    load_fails("idx_trailing.idx", NL_EFORMAT,
               "%s: header says 3 dimensions of sizes [6,2,3] (36 bytes of data) but the file holds 39");
    load_fails("idx_cut.idx.gz", NL_EFORMAT, "%s: truncated: expected 36 bytes of data, got 34 (gzip stream cut short)");
    load_fails("idx_cut_trailer.idx.gz", NL_EFORMAT, "%s: truncated gzip stream (unexpected end of file after the data)");

    nl_idx *d = (nl_idx *)1;
    is_int(nl_idx_load(datadir, &d), NL_EIO, "a directory: NL_EIO");
    char want[1200];
    snprintf(want, sizeof want, "cannot read '%s': Is a directory", datadir);
    is_str(nl_errmsg(), want, "a directory: message");
}

/* Files written here: every type, plain and gzip, and damage made on the fly. */
static void test_idx_roundtrip(void)
{
    static const int types[] = { NL_IDX_U8, NL_IDX_I8, NL_IDX_I16, NL_IDX_I32, NL_IDX_F32, NL_IDX_F64 };
    int64_t dims[3] = { 3, 2, 5 };
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        unsigned char buf[30 * 8];
        size_t es = nl_idx_type_size(types[t]);
        for (int k = 0; k < 30; k++) {
            double v = types[t] == NL_IDX_U8 ? 8 * k + 3 : k * 37 - 500 + (types[t] >= NL_IDX_F32 ? 0.25 : 0);
            if (types[t] == NL_IDX_I8) v = k * 7 - 100;
            switch (types[t]) {
            case NL_IDX_U8: ((uint8_t *)buf)[k] = (uint8_t)v; break;
            case NL_IDX_I8: ((int8_t *)buf)[k] = (int8_t)v; break;
            case NL_IDX_I16: ((int16_t *)buf)[k] = (int16_t)(v * 60); break;
            case NL_IDX_I32: ((int32_t *)buf)[k] = (int32_t)(v * 100000); break;
            case NL_IDX_F32: ((float *)buf)[k] = (float)v; break;
            case NL_IDX_F64: ((double *)buf)[k] = v / 3; break;
            }
        }
        for (int gz = 0; gz < 2; gz++) {
            const char *path = tmpfile_(gz ? "rt.idx.gz" : "rt.idx");
            int rc = nl_idx_write(path, types[t], 3, dims, buf, gz);
            is_int(rc, 0, "write %s %s", nl_idx_type_name(types[t]), gz ? "gzip" : "plain");
            nl_idx *x;
            rc = nl_idx_load(path, &x);
            is_int(rc, 0, "read back %s %s", nl_idx_type_name(types[t]), gz ? "gzip" : "plain");
            if (rc < 0) continue;
            ok(x->type == (nl_idx_type)types[t] && x->ndim == 3 && x->dims[0] == 3 && x->dims[2] == 5 &&
                   memcmp(x->data, buf, 30 * es) == 0,
               "round trip %s %s: same type, dims and values", nl_idx_type_name(types[t]), gz ? "gzip" : "plain");
            nl_idx_free(x);
            /* The plain file's header is big-endian on disk. */
            if (!gz) {
                FILE *f = fopen(path, "rb");
                unsigned char h[16] = { 0 };
                ok(f && fread(h, 1, 16, f) == 16 && h[2] == types[t] && h[3] == 3 && h[7] == 3 && h[11] == 2 &&
                       h[15] == 5,
                   "%s: big-endian header on disk", nl_idx_type_name(types[t]));
                if (f) fclose(f);
            }
        }
    }
    /* Big-endian elements on disk, independently of the reader. */
    int16_t v16 = 0x0102;
    int64_t one = 1;
    nl_idx_write(tmpfile_("be.idx"), NL_IDX_I16, 1, &one, &v16, 0);
    FILE *f = fopen(tmpfile_("be.idx"), "rb");
    unsigned char b[10] = { 0 };
    ok(f && fread(b, 1, 10, f) == 10 && b[8] == 1 && b[9] == 2, "short element stored big-endian");
    if (f) fclose(f);

    is_int(nl_idx_write(tmpfile_("x.idx"), (nl_idx_type)7, 1, &one, &v16, 0), NL_EINVAL, "write: unknown type");
    is_str(nl_errmsg(), "unknown IDX element type 0x07", "write: unknown type message");
    is_int(nl_idx_write("/nonexistent/dir/x.idx", NL_IDX_U8, 1, &one, &v16, 0), NL_EIO, "write: bad directory");
    is_str(nl_errmsg(), "cannot create '/nonexistent/dir/x.idx': No such file or directory", "write: bad directory message");

    /* A header that claims far more than the file holds allocates nothing
     * like it: 4e9 x 4e9 elements is refused outright, 1e9 bytes is
     * reported as truncated after reading what is there. */
    unsigned char z = 0;
    FILE *h = fopen(tmpfile_("huge.idx"), "wb");
    unsigned char head[12] = { 0, 0, 8, 2, 0xee, 0x6b, 0x28, 0, 0xee, 0x6b, 0x28, 0 };
    fwrite(head, 1, 12, h);
    fwrite(&z, 1, 1, h);
    fclose(h);
    nl_idx *x;
    is_int(nl_idx_load(tmpfile_("huge.idx"), &x), NL_EFORMAT, "huge header: NL_EFORMAT");
    char want[800];
    snprintf(want, sizeof want,
             "%s: header says 2 dimensions of sizes [4000000000,4000000000]: more data than any IDX file holds",
             tmpfile_("huge.idx"));
    is_str(nl_errmsg(), want, "huge header: message");
    h = fopen(tmpfile_("big.idx"), "wb");
    unsigned char head2[8] = { 0, 0, 8, 1, 0x3b, 0x9a, 0xca, 0x00 };
    fwrite(head2, 1, 8, h);
    fwrite(&z, 1, 1, h);
    fclose(h);
    is_int(nl_idx_load(tmpfile_("big.idx"), &x), NL_EFORMAT, "1e9-byte header on a 9-byte file: NL_EFORMAT");
    snprintf(want, sizeof want, "%s: truncated: expected 1000000000 bytes of data, got 1", tmpfile_("big.idx"));
    is_str(nl_errmsg(), want, "1e9-byte header: message");
}

/* ------------------------------------------------------------ data sets */

static double fixture_pixel(int i, int k) { return 7.0 * (6 * i + k) / 255.0; }
static const int fixture_label[6] = { 2, 0, 1, 2, 0, 1 };

/* Mean and population deviation of the fixture's pixels of examples ex[0..n). */
static void fixture_stats(const int *ex, int n, double *mean, double *std)
{
    double s = 0, q = 0;
    for (int j = 0; j < n; j++)
        for (int k = 0; k < 6; k++) s += fixture_pixel(ex[j], k);
    *mean = s / (6.0 * n);
    for (int j = 0; j < n; j++)
        for (int k = 0; k < 6; k++) q += (fixture_pixel(ex[j], k) - *mean) * (fixture_pixel(ex[j], k) - *mean);
    *std = sqrt(q / (6.0 * n));
}

/* Which fixture example a data set row holds, from its first raw pixel. */
static int which(const nl_dataset *d, int64_t row)
{
    float v = nl_tensor_data(d->images)[row * d->c * d->h * d->w + (d->h > 2 ? d->w + 1 : 0)];
    double raw = d->normalized ? v * d->std[0] + d->mean[0] : v;
    return (int)lround(raw * 255.0 / 42.0);
}

static void fails_with(int rc, int code, const char *want, const char *what)
{
    is_int(rc, code, "%s: code", what);
    is_str(nl_errmsg(), want, "%s: message", what);
}

static void test_dataset_fixture(void)
{
    char img[1200], lab[1200];
    snprintf(img, sizeof img, "%s", fixture("idx_images.idx.gz"));
    snprintf(lab, sizeof lab, "%s", fixture("idx_labels.idx"));
    nl_dataset *d, *v;
    int rc = nl_dataset_load_idx(img, lab, NULL, &d, NULL);
    is_int(rc, 0, "load_idx with no options");
    if (rc < 0) {
        printf("# %s\n", nl_errmsg());
        return;
    }
    ok(d->n == 6 && d->c == 1 && d->h == 2 && d->w == 3, "shape (6,1,2,3)");
    ok(d->images->ndim == 4 && d->images->shape[0] == 6 && d->images->shape[3] == 3, "tensor shape [6,1,2,3]");
    is_int(d->nclasses, 3, "3 classes from the largest label");
    ok(!strcmp(d->class_names[0], "0") && !strcmp(d->class_names[2], "2"), "numeric class names");
    int good = 1;
    for (int i = 0; i < 6; i++) {
        good &= d->labels[i] == fixture_label[i];
        for (int k = 0; k < 6; k++) good &= fabs(nl_tensor_data(d->images)[i * 6 + k] - fixture_pixel(i, k)) < 1e-7;
    }
    ok(good, "file order, pixels / 255, labels as stored");
    int all[6] = { 0, 1, 2, 3, 4, 5 };
    double m, s;
    fixture_stats(all, 6, &m, &s);
    is_near(d->mean[0], m, 1e-12, "mean of all pixels");
    is_near(d->std[0], s, 1e-12, "population std of all pixels");
    ok(!d->normalized, "not normalised by default");
    is_str(d->name, img, "named after the images file");
    nl_dataset_free(d);

    /* Normalise and pad. */
    nl_dataset_opts o = { 0 };
    o.normalize = 1;
    o.pad = 1;
    rc = nl_dataset_load_idx(img, lab, &o, &d, NULL);
    is_int(rc, 0, "normalize + pad 1");
    ok(d->h == 4 && d->w == 5, "padded to 4x5");
    float *p = nl_tensor_data(d->images);
    good = 1;
    for (int i = 0; i < 6; i++)
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 5; x++) {
                double want = (y == 0 || y == 3 || x == 0 || x == 4) ? -m / s
                                                                      : (fixture_pixel(i, (y - 1) * 3 + x - 1) - m) / s;
                good &= fabs(p[(i * 4 + y) * 5 + x] - want) < 1e-5;
            }
    ok(good, "interior (x - mean) / std, border -mean/std (black)");
    double tm = 0, tq = 0;
    for (int i = 0; i < 6; i++)
        for (int y = 1; y < 3; y++)
            for (int x = 1; x < 4; x++) tm += p[(i * 4 + y) * 5 + x];
    tm /= 36;
    for (int i = 0; i < 6; i++)
        for (int y = 1; y < 3; y++)
            for (int x = 1; x < 4; x++) tq += (p[(i * 4 + y) * 5 + x] - tm) * (p[(i * 4 + y) * 5 + x] - tm);
    is_near(tm, 0, 1e-6, "normalised pixels: mean 0");
    is_near(sqrt(tq / 36), 1, 1e-6, "normalised pixels: std 1");
    nl_dataset_free(d);

    /* Classes relabelled in the order given. */
    memset(&o, 0, sizeof o);
    int32_t cls[2] = { 2, 0 };
    o.classes = cls;
    o.nkeep = 2;
    rc = nl_dataset_load_idx(img, lab, &o, &d, NULL);
    is_int(rc, 0, "classes {2, 0}");
    ok(d->n == 4 && d->nclasses == 2, "4 examples of 2 classes");
    ok(d->labels[0] == 0 && d->labels[1] == 1 && d->labels[2] == 0 && d->labels[3] == 1, "2 -> 0, 0 -> 1");
    ok(which(d, 0) == 0 && which(d, 1) == 1 && which(d, 2) == 3 && which(d, 3) == 4, "examples 0, 1, 3, 4 in order");
    ok(!strcmp(d->class_names[0], "2") && d->class_ids[0] == 2 && d->class_ids[1] == 0, "names and ids follow");
    nl_dataset_free(d);

    /* Validation split: the last examples; statistics of the training part. */
    memset(&o, 0, sizeof o);
    o.valid = 2;
    o.normalize = 1;
    rc = nl_dataset_load_idx(img, lab, &o, &d, &v);
    is_int(rc, 0, "valid = 2");
    ok(d->n == 4 && v->n == 2 && which(v, 0) == 4 && which(v, 1) == 5, "valid holds the last two");
    int tr[4] = { 0, 1, 2, 3 };
    fixture_stats(tr, 4, &m, &s);
    is_near(d->mean[0], m, 1e-12, "statistics of the training part only");
    is_near(v->std[0], s, 1e-12, "valid part normalised with them");
    is_near(nl_tensor_data(v->images)[0], (fixture_pixel(4, 0) - m) / s, 1e-5, "valid pixel value");
    char vname[1300];
    snprintf(vname, sizeof vname, "%s (valid)", img);
    is_str(v->name, vname, "valid part's name");
    nl_dataset_free(d);
    nl_dataset_free(v);
    o.valid = 0.5;
    rc = nl_dataset_load_idx(img, lab, &o, &d, &v);
    ok(rc == 0 && d->n == 3 && v->n == 3, "valid = 0.5: 3 + 3");
    nl_dataset_free(d);
    nl_dataset_free(v);

    /* Seeded shuffle: the order of nl_rng_shuffle over 0..5. */
    memset(&o, 0, sizeof o);
    o.has_seed = 1;
    o.seed = 42;
    rc = nl_dataset_load_idx(img, lab, &o, &d, NULL);
    nl_rng r;
    nl_rng_seed(&r, 42);
    int64_t perm[6] = { 0, 1, 2, 3, 4, 5 };
    nl_rng_shuffle(&r, perm, 6, sizeof perm[0]);
    good = rc == 0;
    for (int i = 0; i < 6 && good; i++) good &= which(d, i) == perm[i] && d->labels[i] == fixture_label[perm[i]];
    ok(good, "seed 42: the permutation nl_rng_shuffle gives");
    nl_dataset_free(d);

    /* Limits, plain and balanced. */
    memset(&o, 0, sizeof o);
    o.limit = 3;
    rc = nl_dataset_load_idx(img, lab, &o, &d, NULL);
    ok(rc == 0 && d->n == 3 && which(d, 2) == 2, "limit 3: the first three");
    nl_dataset_free(d);
    o.limit = 4;
    o.balanced = 1;
    o.classes = cls;
    o.nkeep = 2;
    rc = nl_dataset_load_idx(img, lab, &o, &d, NULL);
    ok(rc == 0 && d->n == 4, "balanced limit 4 over 2 classes");
    nl_dataset_free(d);
    o.limit = 3;
    o.classes = NULL;
    o.nkeep = 0;
    rc = nl_dataset_load_idx(img, lab, &o, &d, NULL);
    int64_t hist[3];
    if (rc == 0) nl_dataset_histogram(d, hist);
    ok(rc == 0 && d->n == 3 && hist[0] == 1 && hist[1] == 1 && hist[2] == 1, "balanced limit 3: one of each class");
    ok(rc == 0 && which(d, 0) == 0 && which(d, 1) == 1 && which(d, 2) == 2, "balanced: first of each, in order");
    nl_dataset_free(d);

    /* Given statistics and class names. */
    memset(&o, 0, sizeof o);
    double gm = 0.5, gs = 0.25;
    const char *names[3] = { "cat", "dog", "owl" };
    o.mean = &gm;
    o.std = &gs;
    o.normalize = 1;
    o.nclasses = 3;
    o.class_names = names;
    rc = nl_dataset_load_idx(fixture("idx_images.idx"), fixture("idx_labels.idx.gz"), &o, &d, NULL);
    ok(rc == 0 && fabs(nl_tensor_data(d->images)[1] - (fixture_pixel(0, 1) - 0.5) / 0.25) < 1e-6, "given mean/std used");
    ok(rc == 0 && !strcmp(d->class_names[2], "owl"), "given class names");

    /* select, split, subset, shuffle, batch on a loaded set. */
    int64_t pick[3] = { 5, 0, 5 };
    nl_dataset *e, *f;
    rc = nl_dataset_select(d, pick, 3, &e);
    ok(rc == 0 && e->n == 3 && which(e, 0) == 5 && which(e, 1) == 0 && which(e, 2) == 5 && e->labels[0] == 1,
       "select 5, 0, 5");
    ok(rc == 0 && e->mean[0] == 0.5 && e->normalized && !strcmp(e->class_names[1], "dog"), "select keeps stats and names");
    nl_dataset_free(e);
    int64_t badpick[1] = { 6 };
    fails_with(nl_dataset_select(d, badpick, 1, &e), NL_ERANGE, "example index 6 is outside 0..5", "select out of range");
    rc = nl_dataset_split(d, 2, 0, 0, &e, &f);
    ok(rc == 0 && e->n == 4 && f->n == 2 && which(f, 0) == 4, "split 2 without seed: the last two");
    nl_dataset_free(e);
    nl_dataset_free(f);
    fails_with(nl_dataset_split(d, 6, 0, 0, &e, &f), NL_EINVAL, "valid=6 of 6 examples leaves the training part empty",
               "split too large");
    fails_with(nl_dataset_split(d, 0.01, 0, 0, &e, &f), NL_EINVAL,
               "valid=0.01 of 6 examples leaves the validation part empty", "split too small");
    fails_with(nl_dataset_split(d, 1.5, 0, 0, &e, &f), NL_EINVAL,
               "valid must be a fraction in (0,1) or a whole count, got 1.5", "split not whole");
    int32_t sub[2] = { 1, 2 };
    rc = nl_dataset_subset(d, sub, 2, &e);
    ok(rc == 0 && e->n == 4 && e->nclasses == 2 && !strcmp(e->class_names[0], "dog") && e->class_ids[1] == 2,
       "subset {1, 2}: names and ids");
    ok(rc == 0 && which(e, 0) == 0 && e->labels[0] == 1 && which(e, 1) == 2 && e->labels[1] == 0, "subset relabels");
    nl_dataset_free(e);
    int32_t twice[2] = { 1, 1 };
    fails_with(nl_dataset_subset(d, twice, 2, &e), NL_EINVAL, "class 1 is listed twice", "subset duplicate");
    int32_t bad3[1] = { 3 };
    fails_with(nl_dataset_subset(d, bad3, 1, &e), NL_EINVAL, "class 3 is outside 0..2", "subset bad id");

    int64_t shape[4] = { 4, 1, 2, 3 };
    nl_tensor *bt = nl_tensor_new(4, shape);
    int32_t bl[4] = { -1, -1, -1, -1 };
    int64_t bi[2] = { 3, 1 };
    nl_tensor_fill(bt, 99);
    rc = nl_dataset_batch(d, bi, 2, bt, bl);
    ok(rc == 0 && bl[0] == 2 && bl[1] == 0 && bl[2] == -1, "batch labels; rows past n untouched");
    ok(rc == 0 && nl_tensor_data(bt)[0] == nl_tensor_data(d->images)[18] && nl_tensor_data(bt)[6] == nl_tensor_data(d->images)[6] &&
           nl_tensor_data(bt)[12] == 99,
       "batch images gathered");
    int64_t shape2[4] = { 4, 1, 3, 2 };
    nl_tensor *bt2 = nl_tensor_new(4, shape2);
    fails_with(nl_dataset_batch(d, bi, 2, bt2, NULL), NL_ESHAPE,
               "batch of 2 examples of [1,2,3] does not fit a tensor of shape [4,1,3,2]", "batch shape");
    int64_t bi5[5] = { 0, 1, 2, 3, 4 };
    fails_with(nl_dataset_batch(d, bi5, 5, bt, NULL), NL_ESHAPE,
               "batch of 5 examples of [1,2,3] does not fit a tensor of shape [4,1,2,3]", "batch too many");
    nl_tensor_free(bt);
    nl_tensor_free(bt2);

    nl_rng_seed(&r, 3);
    rc = nl_dataset_shuffle(d, &r);
    nl_rng_seed(&r, 3);
    int64_t perm2[6];
    nl_rng_permutation(&r, perm2, 6);
    good = rc == 0;
    for (int i = 0; i < 6 && good; i++) good &= which(d, i) == perm2[i] && d->labels[i] == fixture_label[perm2[i]];
    ok(good, "shuffle: nl_rng_permutation's order, labels follow");
    nl_dataset_free(d);

    /* Files that do not fit together, and bad options. */
    char want[2600];
    rc = nl_dataset_load_idx(img, fixture("idx_labels_five.idx"), NULL, &d, NULL);
    snprintf(want, sizeof want, "%s holds 6 images but %s holds 5 labels", img, fixture("idx_labels_five.idx"));
    fails_with(rc, NL_EFORMAT, want, "count mismatch");
    ok(d == NULL, "count mismatch: nothing returned");
    rc = nl_dataset_load_idx(img, fixture("idx_labels_neg.idx"), NULL, &d, NULL);
    snprintf(want, sizeof want, "%s: label -1 at position 3 is outside 0..65535", fixture("idx_labels_neg.idx"));
    fails_with(rc, NL_EFORMAT, want, "negative label");
    memset(&o, 0, sizeof o);
    o.nclasses = 2;
    rc = nl_dataset_load_idx(img, lab, &o, &d, NULL);
    snprintf(want, sizeof want, "%s: label 2 at position 0 is outside 0..1", lab);
    fails_with(rc, NL_EFORMAT, want, "label beyond nclasses");
    rc = nl_dataset_load_idx(img, fixture("idx_labels_2d.idx"), NULL, &d, NULL);
    snprintf(want, sizeof want, "%s: header says 2 dimensions of sizes [3,2] but labels need 1 dimension",
             fixture("idx_labels_2d.idx"));
    fails_with(rc, NL_EFORMAT, want, "2-d labels");
    rc = nl_dataset_load_idx(lab, lab, NULL, &d, NULL);
    snprintf(want, sizeof want, "%s: header says 1 dimension of sizes [6] but images need 2 to 4 dimensions", lab);
    fails_with(rc, NL_EFORMAT, want, "1-d images");
    rc = nl_dataset_load_idx(fixture("idx_short_data.idx"), lab, NULL, &d, NULL);
    snprintf(want, sizeof want, "%s: truncated: expected 36 bytes of data, got 30", fixture("idx_short_data.idx"));
    fails_with(rc, NL_EFORMAT, want, "truncated images");
    memset(&o, 0, sizeof o);
    int32_t c9[1] = { 9 };
    o.classes = c9;
    o.nkeep = 1;
    fails_with(nl_dataset_load_idx(img, lab, &o, &d, NULL), NL_EINVAL, "class 9 is outside 0..2", "unknown class");
    memset(&o, 0, sizeof o);
    o.limit = -3;
    fails_with(nl_dataset_load_idx(img, lab, &o, &d, NULL), NL_EINVAL, "limit must be a positive integer, got -3",
               "negative limit");
    memset(&o, 0, sizeof o);
    o.valid = 6;
    fails_with(nl_dataset_load_idx(img, lab, &o, &d, &v), NL_EINVAL,
               "valid=6 of 6 examples leaves the training part empty", "valid too large");
    ok(d == NULL && v == NULL, "valid too large: nothing returned");
}

/* A synthetic set whose every image carries its own index, to check that
 * splits are disjoint and cover everything, and the NHWC layout. */
static void test_dataset_synthetic(void)
{
    enum { N = 1000 };
    static uint8_t px[N * 4 * 4 * 3];
    static uint8_t lb[N];
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < 48; k++) px[i * 48 + k] = (uint8_t)((k % 3) * 50 + (k == 0 ? i % 256 : 0));
        px[i * 48 + 3] = (uint8_t)(i / 256);
        lb[i] = (uint8_t)(i % 7);
    }
    int64_t di[4] = { N, 4, 4, 3 }, dl[1] = { N };
    int rc = nl_idx_write(tmpfile_("syn-img.idx.gz"), NL_IDX_U8, 4, di, px, 1);
    rc |= nl_idx_write(tmpfile_("syn-lab.idx"), NL_IDX_U8, 1, dl, lb, 0);
    is_int(rc, 0, "synthetic files written");
    nl_dataset_opts o = { 0 };
    o.channels_last = 1;
    o.valid = 0.25;
    o.has_seed = 1;
    o.seed = 7;
    nl_dataset *a, *b, *a2, *b2;
    rc = nl_dataset_load_idx(tmpfile_("syn-img.idx.gz"), tmpfile_("syn-lab.idx"), &o, &a, &b);
    is_int(rc, 0, "NHWC load with valid 0.25");
    if (rc < 0) {
        printf("# %s\n", nl_errmsg());
        return;
    }
    ok(a->c == 3 && a->h == 4 && a->w == 4 && a->n == 750 && b->n == 250, "(N,3,4,4), 750 + 250");
    /* Channel 1 and 2 are constant 50 and 100: statistics per channel. */
    is_near(a->mean[1], 50 / 255.0, 1e-12, "channel 1 mean");
    is_near(a->std[1], 1, 0, "channel 1 has std 0, taken as 1");
    is_near(a->mean[2], 100 / 255.0, 1e-12, "channel 2 mean");
    static int seen[N];
    memset(seen, 0, sizeof seen);
    int good = 1;
    for (int part = 0; part < 2; part++) {
        const nl_dataset *d = part ? b : a;
        const float *p = nl_tensor_data(d->images);
        for (int64_t j = 0; j < d->n; j++) {
            const float *im = p + j * 48;
            int i = (int)lround(im[0] * 255) + 256 * (int)lround(im[1] * 255);
            good &= i >= 0 && i < N && d->labels[j] == i % 7 && fabsf(im[16] - 50 / 255.0f) < 1e-6f &&
                    fabsf(im[32 + 5] - 100 / 255.0f) < 1e-6f;
            if (i >= 0 && i < N) seen[i]++;
        }
    }
    int cover = 1;
    for (int i = 0; i < N; i++) cover &= seen[i] == 1;
    ok(good, "NHWC transposed to NCHW, labels follow");
    ok(cover, "train and valid are disjoint and cover all 1000");
    rc = nl_dataset_load_idx(tmpfile_("syn-img.idx.gz"), tmpfile_("syn-lab.idx"), &o, &a2, &b2);
    int same = 0;
    if (rc == 0) nl_tensor_equal(b->images, b2->images, &same);
    ok(same, "same seed, same split");
    nl_dataset_free(a2);
    nl_dataset_free(b2);
    o.seed = 8;
    rc = nl_dataset_load_idx(tmpfile_("syn-img.idx.gz"), tmpfile_("syn-lab.idx"), &o, &a2, &b2);
    same = 1;
    if (rc == 0) nl_tensor_equal(b->images, b2->images, &same);
    ok(!same, "another seed, another split");
    nl_dataset_free(a2);
    nl_dataset_free(b2);

    nl_dataset *c, *e;
    rc = nl_dataset_split(a, 0.2, 1, 5, &c, &e);
    memset(seen, 0, sizeof seen);
    good = rc == 0 && c->n == 600 && e->n == 150;
    for (int part = 0; part < 2 && good; part++) {
        const nl_dataset *d = part ? e : c;
        for (int64_t j = 0; j < d->n; j++) {
            const float *im = nl_tensor_data(d->images) + j * 48;
            seen[lround(im[0] * 255) + 256 * lround(im[1] * 255)]++;
        }
    }
    for (int64_t j = 0; j < a->n && good; j++) {
        const float *im = nl_tensor_data(a->images) + j * 48;
        good &= seen[lround(im[0] * 255) + 256 * lround(im[1] * 255)] == 1;
    }
    ok(good, "nl_dataset_split 0.2 with a seed: 600 + 150, disjoint, covering");
    nl_dataset_free(c);
    nl_dataset_free(e);
    nl_dataset_free(a);
    nl_dataset_free(b);
}

/* ------------------------------------------------------------ upsampling */

static void test_upsample(void)
{
    nl_dataset *d, *u, *b;
    nl_dataset_opts o = { 0 };
    o.normalize = 1;
    int rc = nl_dataset_load_idx(fixture("idx_images.idx.gz"), fixture("idx_labels.idx"), &o, &d, NULL);
    is_int(rc, 0, "upsample: fixture loads");
    if (rc < 0) return;
    rc = nl_dataset_upsample(d, 3, &u);
    is_int(rc, 0, "upsample by 3");
    if (rc < 0) {
        nl_dataset_free(d);
        return;
    }
    ok(u->n == 6 && u->c == 1 && u->h == 6 && u->w == 9, "2x3 images become 6x9");
    const float *p = nl_tensor_data(d->images), *q = nl_tensor_data(u->images);
    int good = 1;
    for (int i = 0; i < 6; i++)
        for (int y = 0; y < 6; y++)
            for (int x = 0; x < 9; x++) good &= q[(i * 6 + y) * 9 + x] == p[(i * 2 + y / 3) * 3 + x / 3];
    ok(good, "every output pixel is its source pixel (nearest neighbour)");
    ok(!memcmp(u->labels, d->labels, 6 * sizeof *d->labels) && u->nclasses == 3 && !strcmp(u->class_names[2], "2") &&
           u->class_ids[1] == 1,
       "labels and classes kept");
    ok(u->normalized && u->mean[0] == d->mean[0] && u->std[0] == d->std[0], "statistics kept");
    rc = nl_dataset_downsample(u, 3, &b);
    int close = 0;
    if (rc == 0) nl_tensor_allclose(b->images, d->images, 1e-6, 1e-6, &close);
    ok(rc == 0 && close && b->h == 2 && b->w == 3, "downsample(upsample(d, 3), 3) gives d back");
    nl_dataset_free(b);
    nl_dataset_free(u);
    rc = nl_dataset_upsample(d, 1, &u);
    int same = 0;
    if (rc == 0) nl_tensor_equal(u->images, d->images, &same);
    ok(rc == 0 && same, "upsample by 1 is a copy");
    nl_dataset_free(u);
    u = (nl_dataset *)1;
    fails_with(nl_dataset_upsample(d, 0, &u), NL_EINVAL, "upsample: factor 0 is outside 1..64", "upsample by 0");
    ok(u == NULL, "upsample by 0: nothing returned");
    fails_with(nl_dataset_upsample(d, 65, &u), NL_EINVAL, "upsample: factor 65 is outside 1..64", "upsample by 65");
    nl_dataset_free(d);
}

/* ------------------------------------------------------------ digits */

/* Write `text` to tmpdir/name gzipped; returns the path. */
static const char *write_gz(const char *name, const char *text)
{
    const char *path = tmpfile_(name);
    gzFile gz = gzopen(path, "wb");
    if (!gz || gzputs(gz, text) < 0 || gzclose(gz) != Z_OK) printf("# cannot write %s\n", path);
    return path;
}

enum { NSYN = 30 };

/* The synthetic digits: pixel k of example i is (i + k) % 17, label i % 10. */
static int syn_pixel(int i, int k) { return (i + k) % 17; }

/* The synthetic file with line `bad` (1-based; 0: none) replaced by `repl`
 * and a blank line after line 5 when blank is set. */
static const char *syn_csv(int bad, const char *repl, int blank)
{
    static char text[NSYN * 200 + 400];
    size_t p = 0;
    int line = 0;
    for (int i = 0; i < NSYN; i++) {
        if (++line == bad) {
            p += (size_t)snprintf(text + p, sizeof text - p, "%s\n", repl);
            continue;
        }
        for (int k = 0; k < 64; k++) p += (size_t)snprintf(text + p, sizeof text - p, "%d,", syn_pixel(i, k));
        p += (size_t)snprintf(text + p, sizeof text - p, "%d\n", i % 10);
        if (blank && line == 5) {
            p += (size_t)snprintf(text + p, sizeof text - p, "\n");
            line++;
        }
    }
    return text;
}

/* Mean and population deviation of the synthetic examples 0..n-1, / 16. */
static void syn_stats(int n, double *mean, double *std)
{
    double s = 0, q = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 64; k++) s += syn_pixel(i, k) / 16.0;
    *mean = s / (n * 64.0);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 64; k++) q += (syn_pixel(i, k) / 16.0 - *mean) * (syn_pixel(i, k) / 16.0 - *mean);
    *std = sqrt(q / (n * 64.0));
}

/* Which synthetic example an unnormalised image is (pixel 0 is i % 17, pixel
 * 1 (i + 1) % 17: with label i % 10 that pins i below 30). */
static int syn_which(const nl_dataset *d, int64_t row, double mean, double std)
{
    const float *im = nl_tensor_data(d->images) + row * d->h * d->w;
    int64_t at = d->h == 8 ? 0 : (d->h - 8) / 2 * d->w + (d->w - 8) / 2;
    double v = d->normalized ? im[at] * std + mean : im[at];
    int p0 = (int)lround(v * 16);
    for (int i = 0; i < NSYN; i++)
        if (i % 17 == p0 && i % 10 == d->class_ids[d->labels[row]]) return i;
    return -1;
}

/* A line of n values "16" with value k (0-based; -1: none) replaced by
 * `val`, then `label` (n = 64 makes the 65 a line needs). */
static const char *bad_line(char *buf, size_t cap, int n, int k, const char *val, const char *label)
{
    size_t p = 0;
    for (int j = 0; j < n; j++) p += (size_t)snprintf(buf + p, cap - p, "%s,", j == k ? val : "16");
    snprintf(buf + p, cap - p, "%s", label);
    return buf;
}

static void digits_fails(const char *name, const char *text, int code, const char *fmt, const char *what)
{
    const char *path = write_gz(name, text);
    nl_dataset *d = (nl_dataset *)1;
    char want[1400];
    snprintf(want, sizeof want, fmt, path);
    fails_with(nl_dataset_digits(path, NULL, &d, NULL), code, want, what);
    ok(d == NULL, "%s: nothing returned", what);
}

static void test_digits_synthetic(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s", write_gz("digits.csv.gz", syn_csv(0, NULL, 0)));
    nl_dataset *d, *v;
    int rc = nl_dataset_digits(path, NULL, &d, NULL);
    is_int(rc, 0, "digits: the synthetic file loads");
    if (rc < 0) {
        printf("# %s\n", nl_errmsg());
        return;
    }
    ok(d->n == NSYN && d->c == 1 && d->h == 8 && d->w == 8, "30 images of 1x8x8");
    ok(d->nclasses == 10 && !strcmp(d->class_names[0], "0") && !strcmp(d->class_names[9], "9") && d->class_ids[9] == 9,
       "classes \"0\"..\"9\"");
    is_str(d->name, "digits train", "name");
    const float *p = nl_tensor_data(d->images);
    int good = !d->normalized;
    for (int i = 0; i < NSYN; i++) {
        good &= d->labels[i] == i % 10;
        for (int k = 0; k < 64; k++) good &= p[i * 64 + k] == syn_pixel(i, k) / 16.0f;
    }
    ok(good, "pixels are value / 16, row by row, in file order with their labels");
    double m, sd;
    syn_stats(NSYN, &m, &sd);
    is_near(d->mean[0], m, 1e-12, "mean of all the pixels");
    is_near(d->std[0], sd, 1e-12, "their population deviation");
    nl_dataset_free(d);

    /* Blank lines are skipped; a plain (not gzipped) file reads the same. */
    rc = nl_dataset_digits(write_gz("blank.csv.gz", syn_csv(0, NULL, 1)), NULL, &d, NULL);
    ok(rc == 0 && d->n == NSYN, "a blank line is skipped");
    nl_dataset_free(d);
    FILE *f = fopen(tmpfile_("plain.csv"), "w");
    if (f) {
        fputs(syn_csv(0, NULL, 0), f);
        fclose(f);
    }
    rc = nl_dataset_digits(tmpfile_("plain.csv"), NULL, &d, NULL);
    ok(rc == 0 && d->n == NSYN, "a plain CSV file reads too");
    nl_dataset_free(d);

    /* The selection options, as for IDX files. */
    nl_dataset_opts o = { 0 };
    int32_t cls[2] = { 7, 2 };
    o.classes = cls;
    o.nkeep = 2;
    rc = nl_dataset_digits(path, &o, &d, NULL);
    good = rc == 0 && d->n == 6 && d->nclasses == 2 && !strcmp(d->class_names[0], "7") && d->class_ids[1] == 2;
    static const int want_order[6] = { 2, 7, 12, 17, 22, 27 };
    for (int j = 0; j < 6 && good; j++)
        good &= syn_which(d, j, 0, 1) == want_order[j] && d->labels[j] == (want_order[j] % 10 == 7 ? 0 : 1);
    ok(good, "classes {7, 2}: six examples in file order, 7 -> 0 and 2 -> 1");
    nl_dataset_free(d);

    memset(&o, 0, sizeof o);
    o.limit = 7;
    rc = nl_dataset_digits(path, &o, &d, NULL);
    good = rc == 0 && d->n == 7;
    for (int j = 0; j < 7 && good; j++) good &= syn_which(d, j, 0, 1) == j;
    ok(good, "limit 7: the first seven");
    nl_dataset_free(d);

    o.limit = 10;
    o.balanced = 1;
    o.has_seed = 1;
    o.seed = 4;
    rc = nl_dataset_digits(path, &o, &d, NULL);
    int64_t hist[10];
    if (rc == 0) nl_dataset_histogram(d, hist);
    good = rc == 0 && d->n == 10;
    for (int k = 0; k < 10 && good; k++) good &= hist[k] == 1;
    ok(good, "balanced limit 10 with a seed: one of each class");
    nl_dataset_free(d);

    memset(&o, 0, sizeof o);
    o.has_seed = 1;
    o.seed = 3;
    nl_dataset *d2;
    rc = nl_dataset_digits(path, &o, &d, NULL);
    rc |= nl_dataset_digits(path, &o, &d2, NULL);
    int same = 0;
    if (rc == 0) nl_tensor_equal(d->images, d2->images, &same);
    ok(rc == 0 && same && !memcmp(d->labels, d2->labels, NSYN * sizeof *d->labels), "same seed, same order");
    int seen[NSYN] = { 0 }, moved = 0;
    for (int j = 0; rc == 0 && j < NSYN; j++) {
        int i = syn_which(d, j, 0, 1);
        if (i >= 0) seen[i]++;
        moved |= i != j;
    }
    good = moved;
    for (int i = 0; i < NSYN; i++) good &= seen[i] == 1;
    ok(good, "seed 3: a permutation of all 30");
    nl_dataset_free(d);
    nl_dataset_free(d2);

    memset(&o, 0, sizeof o);
    o.valid = 0.2;
    o.normalize = 1;
    o.pad = 2;
    rc = nl_dataset_digits(path, &o, &d, &v);
    is_int(rc, 0, "valid 0.2, normalize, pad 2");
    if (rc == 0) {
        syn_stats(24, &m, &sd);
        ok(d->n == 24 && v->n == 6 && d->h == 12 && v->w == 12, "24 + 6 images of 12x12");
        is_near(d->mean[0], m, 1e-12, "statistics of the 24 training examples");
        is_near(v->std[0], sd, 1e-12, "the validation part has them too");
        is_str(v->name, "digits valid", "validation name");
        is_near(nl_tensor_data(v->images)[0], -m / sd, 1e-6, "padding is black, normalised");
        good = 1;
        for (int j = 0; j < 6; j++) good &= syn_which(v, j, m, sd) == 24 + j;
        ok(good, "valid holds the last six, in order");
        const float *q = nl_tensor_data(d->images);
        is_near(q[2 * 12 + 2 + 12 * 12], (syn_pixel(1, 0) / 16.0 - m) / sd, 1e-6, "interior: (x - mean) / std");
        nl_dataset_free(d);
        nl_dataset_free(v);
    }

    /* Where the file comes from. */
    char *saved = getenv("NASLAB_DIGITS") ? strdup(getenv("NASLAB_DIGITS")) : NULL;
    setenv("NASLAB_DIGITS", path, 1);
    is_str(nl_dataset_digits_path(NULL), path, "NASLAB_DIGITS overrides the default");
    is_str(nl_dataset_digits_path("/given"), "/given", "a given path overrides the environment");
    rc = nl_dataset_digits(NULL, NULL, &d, NULL);
    ok(rc == 0 && d->n == NSYN, "no path: $NASLAB_DIGITS is read");
    nl_dataset_free(d);
    unsetenv("NASLAB_DIGITS");
    is_str(nl_dataset_digits_path(NULL), NL_DIGITS_PATH, "default path");
    is_str(nl_dataset_digits_path(""), NL_DIGITS_PATH, "an empty path is no path");
    if (saved) setenv("NASLAB_DIGITS", saved, 1);
    free(saved);

    /* Damage, each with the file and line. */
    char line[1024];
    digits_fails("short.csv.gz", syn_csv(12, bad_line(line, sizeof line, 63, -1, NULL, "3"), 0), NL_EFORMAT,
                 "%s:12: expected 65 values (64 pixels and a label), found 64", "64 values");
    digits_fails("long.csv.gz", syn_csv(2, bad_line(line, sizeof line, 65, -1, NULL, "3"), 0), NL_EFORMAT,
                 "%s:2: expected 65 values (64 pixels and a label), found 66", "66 values");
    digits_fails("blankline.csv.gz", syn_csv(9, line, 1), NL_EFORMAT,
                 "%s:9: expected 65 values (64 pixels and a label), found 66",
                 "a blank line counts: the eighth example is on line 9");
    digits_fails("pixel.csv.gz", syn_csv(3, bad_line(line, sizeof line, 64, 4, "17", "3"), 0), NL_EFORMAT,
                 "%s:3: pixel 5 is 17, outside 0..16", "pixel 17");
    digits_fails("negative.csv.gz", syn_csv(3, bad_line(line, sizeof line, 64, 63, "-1", "3"), 0), NL_EFORMAT,
                 "%s:3: pixel 64 is -1, outside 0..16", "pixel -1");
    digits_fails("label.csv.gz", syn_csv(4, bad_line(line, sizeof line, 64, -1, NULL, "10"), 0), NL_EFORMAT,
                 "%s:4: label 10 is outside 0..9", "label 10");
    digits_fails("labelneg.csv.gz", syn_csv(30, bad_line(line, sizeof line, 64, -1, NULL, "-2"), 0), NL_EFORMAT,
                 "%s:30: label -2 is outside 0..9", "label -2 on the last line");
    digits_fails("real.csv.gz", syn_csv(6, bad_line(line, sizeof line, 64, -1, NULL, "7.0"), 0), NL_EFORMAT,
                 "%s:6: value 65 ('7.0') is not an integer", "label 7.0");
    digits_fails("word.csv.gz", syn_csv(2, bad_line(line, sizeof line, 64, 1, "1x", "7"), 0), NL_EFORMAT,
                 "%s:2: value 2 ('1x') is not an integer", "pixel 1x");
    digits_fails("empty.csv.gz", syn_csv(2, bad_line(line, sizeof line, 64, 1, "", "7"), 0), NL_EFORMAT,
                 "%s:2: value 2 ('') is not an integer", "an empty value");
    digits_fails("quote.csv.gz", syn_csv(5, "1,2\"3", 0), NL_EPARSE, "%s:5:4: quote inside an unquoted field",
                 "CSV syntax: the reader's message");
    digits_fails("nothing.csv.gz", "", NL_EFORMAT, "%s: no digits in the file", "an empty file");
    digits_fails("blanks.csv.gz", "\n\n", NL_EFORMAT, "%s: no digits in the file", "only blank lines");

    d = (nl_dataset *)1;
    rc = nl_dataset_digits(tmpfile_("absent.csv.gz"), NULL, &d, NULL);
    char want[700];
    snprintf(want, sizeof want, "%s: not found (Debian: apt-get install python3-sklearn)", tmpfile_("absent.csv.gz"));
    fails_with(rc, NL_ENOTFOUND, want, "missing file");
    ok(d == NULL, "missing file: nothing returned");
    memset(&o, 0, sizeof o);
    o.valid = 30;
    fails_with(nl_dataset_digits(path, &o, &d, &v), NL_EINVAL, "valid=30 of 30 examples leaves the training part empty",
               "valid 30 of 30");
    memset(&o, 0, sizeof o);
    int32_t ten[1] = { 10 };
    o.classes = ten;
    o.nkeep = 1;
    fails_with(nl_dataset_digits(path, &o, &d, NULL), NL_EINVAL, "class 10 is outside 0..9", "class 10");

    /* Unnormalised digits survive upsample then downsample exactly. */
    rc = nl_dataset_digits(path, NULL, &d, NULL);
    nl_dataset *u = NULL, *b = NULL;
    if (rc == 0) rc = nl_dataset_upsample(d, 2, &u);
    if (rc == 0) rc = nl_dataset_downsample(u, 2, &b);
    same = 0;
    if (rc == 0) nl_tensor_equal(b->images, d->images, &same);
    ok(rc == 0 && same && u->h == 16 && u->w == 16, "digits: 8x8 -> 16x16 -> 8x8 gives the same images");
    nl_dataset_free(b);
    nl_dataset_free(u);
    nl_dataset_free(d);
}

static void test_digits_real(void)
{
    const char *path = nl_dataset_digits_path(NULL);
    struct stat st;
    if (stat(path, &st) != 0) {
        printf("# skipping: %s absent (Debian: apt-get install python3-sklearn)\n", path);
        return;
    }
    /* Reference figures from Python over the same file (gzip, int, / 16,
     * population std): 1,797 digits, mean 0.30526028624095713, std
     * 0.3760492217921994; per class 178 182 177 183 181 182 181 179 174
     * 180; the first ten labels 0..9; the first row of the first image 0 0 5
     * 13 9 1 0 0. */
    nl_dataset *d;
    double t0 = now();
    int rc = nl_dataset_digits(NULL, NULL, &d, NULL);
    double t1 = now();
    is_int(rc, 0, "the real digits load");
    if (rc < 0) {
        printf("# %s\n", nl_errmsg());
        return;
    }
    printf("# nl_dataset_digits %s: %.3f s\n", path, t1 - t0);
    ok(d->n == 1797 && d->c == 1 && d->h == 8 && d->w == 8, "1,797 images of 1x8x8");
    is_near(d->mean[0], 0.30526028624095713, 1e-12, "pixel mean (Python: 0.30526028624095713)");
    is_near(d->std[0], 0.3760492217921994, 1e-12, "pixel std (Python: 0.3760492217921994)");
    int64_t hist[10];
    static const int64_t want[10] = { 178, 182, 177, 183, 181, 182, 181, 179, 174, 180 };
    nl_dataset_histogram(d, hist);
    ok(!memcmp(hist, want, sizeof want), "examples per class");
    int good = 1;
    for (int i = 0; i < 10; i++) good &= d->labels[i] == i;
    ok(good, "the first ten labels are 0..9");
    static const float row0[8] = { 0, 0, 5, 13, 9, 1, 0, 0 };
    good = 1;
    for (int x = 0; x < 8; x++) good &= nl_tensor_data(d->images)[x] == row0[x] / 16;
    ok(good, "the first row of the first image");
    nl_dataset_free(d);
}

/* ------------------------------------------------------------ Fashion-MNIST */

static void test_fashion_mnist(void)
{
    nl_dataset_opts o = { 0 };
    nl_dataset *d = (nl_dataset *)1;
    o.dir = "/nonexistent/fmnist";
    fails_with(nl_dataset_fashion_mnist(&o, &d, NULL), NL_ENOTFOUND,
               "Fashion-MNIST not found in /nonexistent/fmnist (Debian: apt-get install dataset-fashion-mnist)",
               "missing directory");
    ok(d == NULL, "missing directory: nothing returned");
    setenv("NASLAB_FASHION_MNIST", "/elsewhere", 1);
    is_str(nl_dataset_fashion_mnist_dir(NULL), "/elsewhere", "NASLAB_FASHION_MNIST overrides the default");
    is_str(nl_dataset_fashion_mnist_dir("/given"), "/given", "opts.dir overrides the environment");
    unsetenv("NASLAB_FASHION_MNIST");
    is_str(nl_dataset_fashion_mnist_dir(NULL), NL_FASHION_MNIST_DIR, "default directory");

    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", NL_FASHION_MNIST_DIR);
    if (stat(path, &st) != 0) {
        printf("# skipping the real Fashion-MNIST checks: %s absent (Debian: apt-get install dataset-fashion-mnist)\n",
               path);
        return;
    }

    /* The reference figures were computed with numpy from the same files
     * (gzip.open, pixels / 255, population std): mean 0.2860405969887955,
     * std 0.35302424451492237; first labels 9 (train) and 9 (t10k), read
     * from the raw bytes with zcat | xxd. */
    double t0 = now();
    nl_idx *raw;
    int rc = nl_idx_load(path, &raw);
    double t1 = now();
    is_int(rc, 0, "train images load");
    if (rc == 0) {
        char ds[64];
        is_str(nl_idx_dims_str(raw, ds, sizeof ds), "[60000,28,28]", "train images are [60000,28,28]");
        nl_idx_free(raw);
    }
    printf("# nl_idx_load train-images-idx3-ubyte.gz (47,040,000 bytes): %.3f s\n", t1 - t0);

    memset(&o, 0, sizeof o);
    t0 = now();
    rc = nl_dataset_fashion_mnist(&o, &d, NULL);
    t1 = now();
    is_int(rc, 0, "fashion_mnist train");
    if (rc < 0) {
        printf("# %s\n", nl_errmsg());
        return;
    }
    printf("# nl_dataset_fashion_mnist train (60,000 images, gzip, to float32): %.3f s\n", t1 - t0);
    ok(d->n == 60000 && d->c == 1 && d->h == 28 && d->w == 28, "60,000 train images of 1x28x28");
    int64_t hist[10];
    nl_dataset_histogram(d, hist);
    int good = 1;
    for (int k = 0; k < 10; k++) good &= hist[k] == 6000;
    ok(good, "6,000 of each class in train");
    is_int(d->labels[0], 9, "first training label is 9");
    is_str(d->class_names[d->labels[0]], "Ankle boot", "... Ankle boot");
    is_str(d->class_names[0], "T-shirt/top", "class 0 is T-shirt/top");
    is_near(d->mean[0], 0.2860405969887955, 1e-12, "train pixel mean (numpy: 0.2860405969887955)");
    is_near(d->std[0], 0.35302424451492237, 1e-12, "train pixel std (numpy: 0.35302424451492237)");
    double tm;
    nl_tensor_mean(d->images, &tm);
    is_near(tm, 0.2860405969887955, 1e-7, "mean of the unnormalised float32 tensor agrees");
    is_str(d->name, "fashion-mnist train", "name");
    nl_dataset_free(d);

    o.test = 1;
    o.normalize = 1;
    o.pad = 2;
    t0 = now();
    rc = nl_dataset_fashion_mnist(&o, &d, NULL);
    t1 = now();
    is_int(rc, 0, "fashion_mnist test, normalised, padded");
    if (rc == 0) {
        printf("# nl_dataset_fashion_mnist test normalised with train statistics, pad 2: %.3f s\n", t1 - t0);
        ok(d->n == 10000 && d->h == 32 && d->w == 32, "10,000 test images of 32x32");
        is_near(d->mean[0], 0.2860405969887955, 1e-12, "test normalised with the training mean");
        is_int(d->labels[0], 9, "first test label is 9");
        nl_dataset_histogram(d, hist);
        good = 1;
        for (int k = 0; k < 10; k++) good &= hist[k] == 1000;
        ok(good, "1,000 of each class in test");
        is_near(nl_tensor_data(d->images)[0], -0.2860405969887955 / 0.35302424451492237, 1e-6, "border pixel is black");
        nl_dataset_free(d);
    }

    memset(&o, 0, sizeof o);
    o.normalize = 1;
    o.pad = 2;
    o.valid = 0.1;
    o.has_seed = 1;
    o.seed = 1;
    nl_dataset *v;
    t0 = now();
    rc = nl_dataset_fashion_mnist(&o, &d, &v);
    t1 = now();
    is_int(rc, 0, "train with valid 0.1, seed 1, normalise, pad 2");
    if (rc == 0) {
        printf("# nl_dataset_fashion_mnist train + valid, shuffled, normalised, pad 2: %.3f s\n", t1 - t0);
        ok(d->n == 54000 && v->n == 6000 && d->h == 32, "54,000 + 6,000 at 32x32");
        /* The normalised interior of the training part: mean 0, std 1. */
        double s = 0, q = 0;
        const float *p = nl_tensor_data(d->images);
        for (int64_t i = 0; i < d->n; i++)
            for (int y = 2; y < 30; y++)
                for (int x = 2; x < 30; x++) s += p[(i * 32 + y) * 32 + x];
        double mm = s / (54000.0 * 784);
        for (int64_t i = 0; i < d->n; i++)
            for (int y = 2; y < 30; y++)
                for (int x = 2; x < 30; x++) q += (p[(i * 32 + y) * 32 + x] - mm) * (p[(i * 32 + y) * 32 + x] - mm);
        is_near(mm, 0, 1e-5, "normalised training pixels: mean 0");
        is_near(sqrt(q / (54000.0 * 784)), 1, 1e-5, "normalised training pixels: std 1");
        ok(fabs(d->mean[0] - 0.2860405969887955) < 0.002 && d->mean[0] != 0.2860405969887955,
           "statistics from the 54,000 training examples, not all 60,000");
        nl_dataset_free(d);
        nl_dataset_free(v);
    }

    /* Class subsets and limits, deterministic by seed. */
    memset(&o, 0, sizeof o);
    int32_t cls[2] = { 9, 0 };
    o.classes = cls;
    o.nkeep = 2;
    o.has_seed = 1;
    o.seed = 5;
    o.limit = 500;
    nl_dataset *d2;
    rc = nl_dataset_fashion_mnist(&o, &d, NULL);
    rc |= nl_dataset_fashion_mnist(&o, &d2, NULL);
    is_int(rc, 0, "classes {9, 0}, limit 500, seed 5 (twice)");
    if (rc == 0) {
        int same = 0;
        nl_tensor_equal(d->images, d2->images, &same);
        ok(same && !memcmp(d->labels, d2->labels, 500 * sizeof *d->labels), "same seed: same examples");
        ok(d->nclasses == 2 && !strcmp(d->class_names[0], "Ankle boot") && !strcmp(d->class_names[1], "T-shirt/top"),
           "relabelled: 0 = Ankle boot, 1 = T-shirt/top");
        int64_t h2[2];
        nl_dataset_histogram(d, h2);
        ok(h2[0] + h2[1] == 500 && h2[0] > 200 && h2[1] > 200, "both classes present (%lld + %lld)", (long long)h2[0],
           (long long)h2[1]);
        nl_dataset_free(d2);
        o.seed = 6;
        rc = nl_dataset_fashion_mnist(&o, &d2, NULL);
        same = 1;
        if (rc == 0) nl_tensor_equal(d->images, d2->images, &same);
        ok(!same, "another seed: other examples");
        nl_dataset_free(d2);
        nl_dataset_free(d);
    }
    o.balanced = 1;
    o.limit = 101;
    rc = nl_dataset_fashion_mnist(&o, &d, NULL);
    if (rc == 0) nl_dataset_histogram(d, hist);
    ok(rc == 0 && hist[0] == 51 && hist[1] == 50, "balanced limit 101: 51 + 50");
    if (rc == 0) nl_dataset_free(d);
}

int main(void)
{
    find_datadir();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/naslab-test-data-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        printf("Bail out! cannot make a temporary directory\n");
        return 1;
    }
    test_idx_fixtures();
    test_idx_roundtrip();
    test_dataset_fixture();
    test_dataset_synthetic();
    test_upsample();
    test_digits_synthetic();
    test_digits_real();
    test_fashion_mnist();
    static const char *const made[] = { "rt.idx", "rt.idx.gz", "be.idx", "huge.idx", "big.idx", "syn-img.idx.gz",
                                        "syn-lab.idx", "x.idx", "digits.csv.gz", "blank.csv.gz", "plain.csv",
                                        "short.csv.gz", "long.csv.gz", "blankline.csv.gz", "pixel.csv.gz",
                                        "negative.csv.gz", "label.csv.gz", "labelneg.csv.gz", "real.csv.gz",
                                        "word.csv.gz", "empty.csv.gz", "quote.csv.gz", "nothing.csv.gz",
                                        "blanks.csv.gz" };
    for (size_t i = 0; i < sizeof made / sizeof made[0]; i++) unlink(tmpfile_(made[i]));
    rmdir(tmpdir);
    return done_testing();
}
