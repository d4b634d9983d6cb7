/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_bench.c - TAP tests of the CSV reader (memory, FILE*, gzip) and of the
 * tabular-benchmark loader on the hand-made fixtures in tests/data, each
 * malformed case with its exact message; then, when NASLAB_SHARED points at
 * the real tables, the full NAS-Bench-201 and latency files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "core/error.h"
#include "data/bench.h"
#include "data/csv.h"
#include "tap.h"

static char datadir[1024];

static const char *A1 = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|";
static const char *A2 = "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|";
static const char *A3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|";
static const char *A4 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|";
static const char *A5 = "|nor_conv_1x1~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|skip_connect~2|";

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

/* ------------------------------------------------------------ CSV reader */

/* Read all records of `text` and render them as "a|b;c|d;" for comparison. */
static int csv_render(const char *text, size_t len, char *out, size_t cap)
{
    nl_csv *c;
    int rc = nl_csv_from_memory(text, len, "mem", &c);
    if (rc < 0) return rc;
    size_t p = 0;
    out[0] = 0;
    while ((rc = nl_csv_next(c)) == 1) {
        for (int i = 0; i < nl_csv_nfields(c); i++)
            p += (size_t)snprintf(out + p, cap - p, "%s%s", i ? "|" : "", nl_csv_field(c, i, NULL));
        p += (size_t)snprintf(out + p, cap - p, ";");
    }
    nl_csv_close(c);
    return rc;
}

static void csv_ok(const char *text, const char *want, const char *name)
{
    char got[512];
    int rc = csv_render(text, strlen(text), got, sizeof got);
    if (rc < 0) {
        ok(0, "%s (error: %s)", name, nl_errmsg());
        return;
    }
    is_str(got, want, "%s", name);
}

static void csv_fails(const char *text, size_t len, const char *msg, const char *name)
{
    char got[512];
    int rc = csv_render(text, len, got, sizeof got);
    ok(rc == NL_EPARSE, "%s: NL_EPARSE", name);
    is_str(nl_errmsg(), msg, "%s: message", name);
}

static void test_csv(void)
{
    csv_ok("a,b\n1,2\n", "a|b;1|2;", "plain records");
    csv_ok("a,b\r\n1,2\r\n", "a|b;1|2;", "CRLF line ends");
    csv_ok("a,b\n1,2", "a|b;1|2;", "missing final newline");
    csv_ok("a,\n,\n", "a|;|;", "empty fields");
    csv_ok("a,", "a|;", "empty last field at end of input");
    csv_ok("\"x,y\",\"he said \"\"hi\"\"\"\n", "x,y|he said \"hi\";", "quoted comma and doubled quotes");
    csv_ok("\"two\nlines\",z\nnext\n", "two\nlines|z;next;", "newline inside quotes");
    csv_ok("\"\",b\n", "|b;", "quoted empty field");
    csv_ok("\xEF\xBB\xBFh\n1\n", "h;1;", "byte-order mark skipped");
    csv_ok("\xEF\xBBh\n", "\xEF\xBBh;", "partial byte-order mark kept");
    csv_ok("a\n\nb\n", "a;;b;", "blank line is one empty field");
    csv_ok("", "", "empty input has no record");

    csv_fails("a,\"bc\nd\n", 8, "mem:1:3: unterminated quoted field (the quote opened here is never closed)", "unterminated quote");
    csv_fails("a,\"b\"c\n", 7, "mem:1:6: unexpected character after a closing quote", "text after closing quote");
    csv_fails("x\nab\"c\n", 6, "mem:2:3: quote inside an unquoted field", "bare quote");
    csv_fails("a\rb\n", 4, "mem:1:2: carriage return not followed by a line feed", "lone CR");
    csv_fails("a\r", 2, "mem:1:2: carriage return not followed by a line feed", "CR at end of input");
    csv_fails("ab\nc\0d\n", 7, "mem:2:2: NUL byte in the input", "NUL byte");
    csv_fails("\"a\n\0\"", 5, "mem:2:1: NUL byte in the input", "NUL inside quotes");

    /* Line and column bookkeeping across a multi-line field. */
    nl_csv *c;
    const char *text = "h1,h2\n\"a\nb\",xy\nlast,\"q\"\n";
    nl_csv_from_memory(text, strlen(text), "mem", &c);
    nl_csv_next(c);
    nl_csv_next(c);
    is_int(nl_csv_line(c), 2, "record starts on line 2");
    is_int(nl_csv_column(c, 1), 4, "second field starts at column 4 of line 3");
    size_t len;
    is_str(nl_csv_field(c, 0, &len), "a\nb", "multi-line field");
    is_int(len, 3, "its length");
    ok(nl_csv_field(c, 2, NULL) == NULL, "field out of range is NULL");
    is_int(nl_csv_next(c), 1, "third record");
    is_int(nl_csv_line(c), 4, "on line 4");
    is_int(nl_csv_column(c, 1), 6, "quoted field column");
    is_int(nl_csv_next(c), 0, "end of input");
    is_int(nl_csv_next(c), 0, "end of input again");
    nl_csv_close(c);

    /* Errors are sticky. */
    nl_csv_from_memory("\"x", 2, "mem", &c);
    is_int(nl_csv_next(c), NL_EPARSE, "failed read");
    is_int(nl_csv_next(c), NL_EPARSE, "stays failed");
    nl_csv_close(c);
    nl_csv_close(NULL);

    /* A record longer than the reader's 64 KiB window, through FILE*. */
    FILE *f = tmpfile();
    fputs("k,v\n", f);
    for (int i = 0; i < 100000; i++) fputc('a' + i % 26, f);
    fputs(",\"q\"\"\"\n", f);
    rewind(f);
    nl_csv_from_file(f, "stream", &c);
    is_int(nl_csv_next(c), 1, "FILE*: header");
    is_int(nl_csv_next(c), 1, "FILE*: long record");
    nl_csv_field(c, 0, &len);
    is_int(len, 100000, "FILE*: 100,000-byte field across windows");
    is_str(nl_csv_field(c, 1, NULL), "q\"", "FILE*: quoted field after it");
    is_str(nl_csv_name(c), "stream", "name kept");
    is_int(nl_csv_next(c), 0, "FILE*: end");
    nl_csv_close(c);
    fclose(f);

    /* Missing file and directory. */
    int rc = nl_csv_open("/nonexistent/x.csv", &c);
    is_int(rc, NL_EIO, "missing file: NL_EIO");
    is_str(nl_errmsg(), "cannot open '/nonexistent/x.csv': No such file or directory", "missing file message");
    ok(c == NULL, "missing file: no reader");
    rc = nl_csv_open(datadir, &c);
    is_int(rc, NL_EIO, "directory: NL_EIO");
    char want[1200];
    snprintf(want, sizeof want, "cannot read '%s': Is a directory", datadir);
    is_str(nl_errmsg(), want, "directory message");
}

/* ------------------------------------------------------------ gzip */

static int write_gz(const char *path, const char *src)
{
    FILE *in = fopen(src, "rb");
    gzFile gz = gzopen(path, "wb");
    if (!in || !gz) return -1;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) gzwrite(gz, buf, (unsigned)n);
    fclose(in);
    return gzclose(gz) == Z_OK ? 0 : -1;
}

static void test_gzip(void)
{
    char gzpath[64];
    snprintf(gzpath, sizeof gzpath, "/tmp/naslab-test-bench-%ld.csv.gz", (long)getpid());
    if (write_gz(gzpath, fixture("good.csv")) < 0) {
        ok(0, "writing %s", gzpath);
        return;
    }
    nl_bench *b;
    int rc = nl_bench_load(gzpath, NULL, &b);
    ok(rc == 0, "gzip: loads (%s)", rc ? nl_errmsg() : "ok");
    if (rc == 0) {
        is_int(nl_bench_size(b), 5, "gzip: 5 rows");
        is_near(nl_bench_value(b, 2, 0), 93.25, 0, "gzip: a value");
        nl_bench_free(b);
    }
    /* Cut the stream short: zlib reports it and nothing is returned. */
    struct stat st;
    stat(gzpath, &st);
    if (truncate(gzpath, st.st_size / 2) == 0) {
        rc = nl_bench_load(gzpath, NULL, &b);
        is_int(rc, NL_EIO, "truncated gzip: NL_EIO");
        char want[128];
        snprintf(want, sizeof want, "%s:", gzpath);
        ok(strncmp(nl_errmsg(), want, strlen(want)) == 0 && strstr(nl_errmsg(), "read error: "),
           "truncated gzip message: %s", nl_errmsg());
        ok(b == NULL, "truncated gzip: nothing returned");
    }
    remove(gzpath);
}

/* ------------------------------------------------------------ loader */

static void load_fails(const char *file, int code, const char *tail, const char *name)
{
    nl_bench *b = (nl_bench *)&b; /* must be reset to NULL */
    int rc = nl_bench_load(fixture(file), NULL, &b);
    char want[1200];
    snprintf(want, sizeof want, "%s%s", fixture(file), tail);
    is_int(rc, code, "%s: %s", name, nl_errname(code));
    is_str(nl_errmsg(), want, "%s: message", name);
    ok(b == NULL, "%s: nothing returned", name);
}

static const nl_space *space_or_skip(const char *name)
{
    const nl_space *sp = NULL;
    if (nl_space_find(name, &sp) < 0) return NULL;
    return sp;
}

static void test_loader(void)
{
    const nl_space *nb201 = space_or_skip("nb201");
    ok(nb201 != NULL, "nb201 space registered");
    if (!nb201) return;

    nl_bench *b;
    int rc = nl_bench_load(fixture("good.csv"), NULL, &b);
    ok(rc == 0, "good.csv loads (%s)", rc ? nl_errmsg() : "ok");
    if (rc) return;
    is_int(nl_bench_size(b), 5, "5 rows");
    is_int(nl_bench_nmetrics(b), 3, "3 metrics");
    is_str(nl_bench_metric_name(b, 0), "acc", "metric 0");
    is_str(nl_bench_metric_name(b, 2), "params_m", "metric 2");
    ok(nl_bench_space(b) == nb201, "space inferred as nb201");
    is_str(nl_bench_path(b), fixture("good.csv"), "path kept");
    ok(nl_bench_has_index(b), "idx column kept");
    ok(nl_bench_bytes(b) > 0, "bytes estimate");

    const char *archs[5] = { A1, A2, A3, A4, A5 };
    const double acc[5] = { 10.0, 42.5, 93.25, 85.5, NAN };
    const double loss[5] = { 2.30, 1.50, 0.21, 0.45, 0.60 };
    for (int i = 0; i < 5; i++) {
        nl_arch a;
        nb201->parse(archs[i], &a);
        size_t r = 99;
        ok(nl_bench_find(b, &a, &r) == 0 && r == (size_t)i, "arch %d found at row %d", i, i);
        is_int(nl_bench_index(b, r), 10 + i, "arch %d has idx %d", i, 10 + i);
        double v;
        ok(nl_bench_query(b, &a, "acc", &v) == 0, "query acc %d", i);
        is_near(v, acc[i], 0, "acc of arch %d", i);
        nl_bench_query(b, &a, "loss", &v);
        is_near(v, loss[i], 0, "loss of arch %d", i);
        ok(nb201->equal(nl_bench_arch(b, r), &a), "row %d holds arch %d", i, i);
    }
    nl_arch other;
    nb201->parse("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", &other);
    size_t r;
    double v;
    is_int(nl_bench_find(b, &other, &r), NL_ENOTFOUND, "absent arch: NL_ENOTFOUND");
    char want[1200];
    snprintf(want, sizeof want, "arch '|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|' is not in the benchmark '%s'",
             fixture("good.csv"));
    is_str(nl_errmsg(), want, "absent arch message");
    is_int(nl_bench_query(b, &other, "nope", &v), NL_ENOTFOUND, "unknown metric first");
    is_str(nl_errmsg(), "unknown metric 'nope' (known: acc, loss, params_m)", "unknown metric message");

    is_int(nl_bench_best(b, 0, 1, &r), 0, "best acc");
    is_int(r, 2, "max acc is row 2 (NaN ignored)");
    nl_bench_best(b, 0, 0, &r);
    is_int(r, 0, "min acc is row 0");
    nl_bench_best(b, 1, 0, &r);
    is_int(r, 2, "min loss is row 2");
    nl_bench_best(b, 2, 0, &r);
    is_int(r, 0, "tie: first row wins");

    /* FLOPs cost model: three passes over 50,000 images for 200 epochs. */
    nl_bench_cost_info ci;
    nl_bench_costinfo(b, &ci);
    is_int(ci.model, NL_BENCH_COST_FLOPS, "no time column: FLOPs model");
    is_near(ci.epochs, 200, 0, "200 epochs");
    is_near(ci.images, 50000, 0, "50,000 images");
    is_near(ci.macs_per_second, 1e12, 0, "1e12 MAC/s");
    double c0, c2;
    int64_t macs0 = 0, macs2 = 0;
    nl_net_opts no = { 0 };
    nb201->cost(nl_bench_arch(b, 0), &no, NULL, &macs0);
    nb201->cost(nl_bench_arch(b, 2), &no, NULL, &macs2);
    ok(nl_bench_cost(b, 0, &c0) == 0 && nl_bench_cost(b, 2, &c2) == 0, "cost computes");
    is_near(c2, 3.0 * 200 * 50000 * (double)macs2 / 1e12, 1e-9, "cost of the all-conv3x3 cell");
    ok(c2 > c0 && c0 > 0, "conv cell costs more than the empty cell (%.1f s > %.1f s)", c2, c0);
    nl_bench_free(b);
    nl_bench_free(NULL);

    /* Quoted fields, CRLF, BOM, no idx, no final newline, a time column. */
    rc = nl_bench_load(fixture("quoted_crlf.csv"), NULL, &b);
    ok(rc == 0, "quoted_crlf.csv loads (%s)", rc ? nl_errmsg() : "ok");
    if (rc == 0) {
        is_int(nl_bench_size(b), 3, "3 rows");
        ok(!nl_bench_has_index(b), "no idx column");
        is_int(nl_bench_index(b, 2), 2, "index falls back to the row");
        is_near(nl_bench_value(b, 1, 0), 80.25, 0, "quoted number");
        nl_bench_costinfo(b, &ci);
        is_int(ci.model, NL_BENCH_COST_COLUMN, "train_seconds column found");
        is_str(ci.column, "train_seconds", "its name");
        nl_bench_cost(b, 1, &v);
        is_near(v, 3600.5, 0, "cost from the column");
        nl_bench_cost(b, 2, &v);
        is_near(v, 60, 0, "cost of the unterminated last line");
        nl_bench_free(b);
    }
    nl_bench_opts o = { .query_seconds = 7.5 };
    rc = nl_bench_load(fixture("quoted_crlf.csv"), &o, &b);
    nl_bench_costinfo(b, &ci);
    ok(rc == 0 && ci.model == NL_BENCH_COST_FIXED && nl_bench_cost(b, 0, &v) == 0 && v == 7.5,
       "query_seconds overrides the automatic column");
    nl_bench_free(b);
    o = (nl_bench_opts){ .cost_column = "top1" };
    rc = nl_bench_load(fixture("quoted_crlf.csv"), &o, &b);
    ok(rc == 0 && nl_bench_cost(b, 0, &v) == 0 && v == 71.5, "explicit cost_column");
    nl_bench_free(b);
    o = (nl_bench_opts){ .cost_column = "nope" };
    is_int(nl_bench_load(fixture("quoted_crlf.csv"), &o, &b), NL_EFORMAT, "unknown cost column");
    snprintf(want, sizeof want, "%s: cost column: unknown metric 'nope' (known: top1, train_seconds)", fixture("quoted_crlf.csv"));
    is_str(nl_errmsg(), want, "unknown cost column message");
    o = (nl_bench_opts){ .cost_column = "top1", .query_seconds = 1 };
    is_int(nl_bench_load(fixture("quoted_crlf.csv"), &o, &b), NL_EINVAL, "both cost options");
    is_str(nl_errmsg(), "give either a cost column or a fixed query cost, not both", "both cost options message");

    rc = nl_bench_load(fixture("trailing_blank.csv"), NULL, &b);
    ok(rc == 0 && nl_bench_size(b) == 2, "blank lines at the end are fine");
    nl_bench_free(b);

    /* Malformed files: exact messages, nothing returned. */
    load_fails("bad_number.csv", NL_EFORMAT, ":3: column 'acc': 'abc' is not a number", "bad number");
    load_fails("missing_column.csv", NL_EFORMAT, ":1: missing column 'arch' (or 'adj49' and 'ops')", "missing column");
    load_fails("short_line.csv", NL_EFORMAT, ":3: column 'loss': missing (the line has 3 of 4 fields)", "short line");
    load_fails("long_line.csv", NL_EFORMAT, ":3: field 5: more fields than the header's 4 columns", "long line");
    load_fails("unterminated_quote.csv", NL_EPARSE,
               ":3:3: unterminated quoted field (the quote opened here is never closed)", "unterminated quote");
    load_fails("stray_quote.csv", NL_EPARSE, ":3:68: quote inside an unquoted field", "stray quote");
    load_fails("duplicate_arch.csv", NL_EFORMAT,
               ":4: column 'arch': duplicate arch '|none~0|+|none~0|none~1|+|none~0|none~1|none~2|' (first on line 2)",
               "duplicate arch");
    load_fails("empty.csv", NL_EFORMAT, ": empty file (expected a header line)", "empty file");
    load_fails("header_only.csv", NL_EFORMAT, ": no data rows after the header", "header only");
    load_fails("blank_inside.csv", NL_EFORMAT, ":3: blank line inside the table", "blank line inside");
    load_fails("unknown_space.csv", NL_EFORMAT,
               ":2: column 'arch': cannot tell the search space from 'resnet18' (give the space in the options)",
               "unknown space");
    load_fails("duplicate_header.csv", NL_EFORMAT, ":1: column 4: duplicate column name 'acc'", "duplicate header");
    load_fails("empty_value.csv", NL_EFORMAT, ":2: column 'acc': empty value (write nan for a missing one)", "empty value");
    load_fails("bad_idx.csv", NL_EFORMAT, ":2: column 'idx': 'zero' is not an integer", "bad idx");
    /* The arch parser's own message follows the prefix; check the prefix here
     * and the whole text below. */
    rc = nl_bench_load(fixture("unknown_arch.csv"), NULL, &b);
    snprintf(want, sizeof want, "%s:3: column 'arch': '|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|' is not an nb201 arch: ",
             fixture("unknown_arch.csv"));
    is_int(rc, NL_EFORMAT, "unknown arch: NL_EFORMAT");
    ok(strncmp(nl_errmsg(), want, strlen(want)) == 0, "unknown arch message: %s", nl_errmsg());
    char parsemsg[512];
    nl_arch bad;
    nb201->parse("|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", &bad);
    snprintf(parsemsg, sizeof parsemsg, "%s", nl_errmsg());
    nl_bench_load(fixture("unknown_arch.csv"), NULL, &b);
    is_str(nl_errmsg() + strlen(want), parsemsg, "unknown arch: the parser's message follows");

    rc = nl_bench_load(fixture("nope.csv"), NULL, &b);
    is_int(rc, NL_EIO, "missing file: NL_EIO");
    snprintf(want, sizeof want, "cannot open '%s': No such file or directory", fixture("nope.csv"));
    is_str(nl_errmsg(), want, "missing file message");

    /* A named space that does not fit the text. */
    const nl_space *nb101 = space_or_skip("nb101");
    if (nb101 && nb101->parse) {
        o = (nl_bench_opts){ .space = nb101 };
        rc = nl_bench_load(fixture("good.csv"), &o, &b);
        ok(rc == NL_EFORMAT && strstr(nl_errmsg(), ":2: column 'arch': '|none~0|") != NULL,
           "nb201 text read as nb101 fails on line 2: %s", nl_errmsg());
        o = (nl_bench_opts){ .space = nb201 };
        rc = nl_bench_load(fixture("nb101_small.csv"), &o, &b);
        snprintf(want, sizeof want,
                 "%s:1: columns 'adj49' and 'ops' need a space built from a matrix and ops (nb101), not nb201",
                 fixture("nb101_small.csv"));
        is_str(nl_errmsg(), want, "adj49 with nb201 refused");
    }
}

static void test_nb101(void)
{
    const nl_space *nb101 = space_or_skip("nb101");
    if (!nb101 || !nb101->from_spec) {
        ok(1, "# SKIP nb101 space not in this build");
        return;
    }
    nl_bench *b;
    int rc = nl_bench_load(fixture("nb101_small.csv"), NULL, &b);
    ok(rc == 0, "nb101_small.csv loads (%s)", rc ? nl_errmsg() : "ok");
    if (rc) return;
    ok(nl_bench_space(b) == nb101, "space inferred as nb101");
    is_int(nl_bench_size(b), 2, "2 rows");
    /* The same 4-vertex cell with its two interior vertices listed in the
     * other order is the same model: found through the official hash. */
    int m[16] = { 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0 };
    const char *ops[4] = { "input", "maxpool3x3", "conv3x3-bn-relu", "output" };
    nl_arch a;
    ok(nb101->from_spec(4, m, ops, &a) == 0, "isomorphic spec built");
    double v;
    ok(nl_bench_query(b, &a, "acc", &v) == 0 && v == 91.0, "isomorphic spec finds row 2");
    nl_bench_free(b);
    rc = nl_bench_load(fixture("nb101_iso.csv"), NULL, &b);
    char want[1200];
    snprintf(want, sizeof want, "%s:3: column 'ops': duplicate arch '", fixture("nb101_iso.csv"));
    ok(rc == NL_EFORMAT && strncmp(nl_errmsg(), want, strlen(want)) == 0 && strstr(nl_errmsg(), "(first on line 2)"),
       "isomorphic duplicate refused: %s", nl_errmsg());
}

/* ------------------------------------------------------------ real data */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void test_real(void)
{
    const char *shared = getenv("NASLAB_SHARED");
    char path[1024], lpath[1024];
    snprintf(path, sizeof path, "%s/data/nb201.csv", shared ? shared : "");
    snprintf(lpath, sizeof lpath, "%s/data/nb201_latency.csv", shared ? shared : "");
    if (!shared) {
        printf("# skipping the real NAS-Bench-201 table: NASLAB_SHARED is not set\n");
        return;
    }
    if (access(path, R_OK) != 0) {
        printf("# skipping the real NAS-Bench-201 table: %s is not readable\n", path);
        return;
    }
    const nl_space *nb201 = space_or_skip("nb201");
    if (!nb201) return;
    nl_bench *b;
    double t0 = now();
    int rc = nl_bench_load(path, NULL, &b);
    double dt = now() - t0;
    ok(rc == 0, "nb201.csv loads (%s)", rc ? nl_errmsg() : "ok");
    if (rc) return;
    printf("# loaded in %.1f ms, %zu bytes\n", dt * 1e3, nl_bench_bytes(b));
    is_int(nl_bench_size(b), 15625, "15,625 rows");
    is_int(nl_bench_nmetrics(b), 8, "8 metrics");
    int m10, m100, mp;
    nl_bench_metric(b, "c10_test", &m10);
    nl_bench_metric(b, "c100_test", &m100);
    nl_bench_metric(b, "params_m", &mp);
    size_t r;
    nl_bench_best(b, m10, 1, &r);
    is_int(nl_bench_index(b, r), 6111, "best c10_test at idx 6111");
    is_near(nl_bench_value(b, r, m10), 94.3733, 5e-5, "best c10_test 94.3733");
    nl_bench_best(b, m100, 1, &r);
    is_int(nl_bench_index(b, r), 9930, "best c100_test at idx 9930");
    is_near(nl_bench_value(b, r, m100), 73.5133, 5e-5, "best c100_test 73.5133");
    int rows_in_order = 1;
    for (size_t i = 0; i < nl_bench_size(b); i++) rows_in_order &= nl_bench_index(b, i) == (int64_t)i;
    ok(rows_in_order, "official idx equals the row number throughout");

    /* Every stored value equals what strtod makes of the field (the loader
     * has its own fast path for plain decimals). */
    nl_csv *c;
    int same = 1;
    long checked = 0;
    if (nl_csv_open(path, &c) == 0) {
        nl_csv_next(c);
        for (size_t row = 0; nl_csv_next(c) == 1; row++)
            for (int m = 0; m < 8; m++) {
                double want = strtod(nl_csv_field(c, m + 2, NULL), NULL);
                same &= nl_bench_value(b, row, m) == want;
                checked++;
            }
        nl_csv_close(c);
    }
    ok(same && checked == 15625 * 8, "all %ld values equal strtod's", checked);

    /* Known rows, queried through parsed arch strings. */
    nl_arch a;
    double v;
    nb201->parse("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|", &a);
    nl_bench_query(b, &a, "c10_test", &v);
    is_near(v, 85.863333, 0, "idx 0 c10_test");
    nl_bench_find(b, &a, &r);
    is_int(nl_bench_index(b, r), 0, "idx 0 found");
    nb201->parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|", &a);
    nl_bench_query(b, &a, "c100_test", &v);
    is_near(v, 70.293333, 0, "idx 1 c100_test");
    nb201->parse("|nor_conv_1x1~0|+|none~0|nor_conv_1x1~1|+|none~0|nor_conv_1x1~1|nor_conv_1x1~2|", &a);
    nl_bench_query(b, &a, "params_m", &v);
    is_near(v, 0.185306, 0, "idx 15624 params_m");
    nl_bench_find(b, &a, &r);
    is_int(nl_bench_index(b, r), 15624, "idx 15624 found");
    /* The space's own index covers every cell exactly once. */
    int all = 1;
    for (int64_t i = 0; i < 15625 && all; i++) {
        nb201->at(i, &a);
        all = nl_bench_find(b, &a, &r) == 0;
    }
    ok(all, "every one of the 15,625 cells is in the table");
    nl_bench_free(b);

    rc = nl_bench_load(lpath, NULL, &b);
    ok(rc == 0, "nb201_latency.csv loads (%s)", rc ? nl_errmsg() : "ok");
    if (rc) return;
    is_int(nl_bench_size(b), 15625, "latency: 15,625 rows");
    is_int(nl_bench_nmetrics(b), 4, "latency: 4 metrics");
    nb201->parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|", &a);
    nl_bench_query(b, &a, "lat_raspi4_ms", &v);
    is_near(v, 54.7774, 0, "latency idx 1 raspi4");
    nl_bench_free(b);
}

int main(void)
{
    find_datadir();
    test_csv();
    test_gzip();
    test_loader();
    test_nb101();
    test_real();
    return done_testing();
}
