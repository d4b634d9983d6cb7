/* SPDX-License-Identifier: GPL-3.0-or-later */
/* csv.c - the strict RFC 4180 reader of csv.h. Written by hand because the
 * format is small and no packaged C library reports line and column of every
 * error the way a benchmark loader needs; zlib does the gzip part. Input goes
 * through one 64 KiB buffer whatever the source, so memory stays flat for any
 * file size. */
#include "data/csv.h"

#include <errno.h>
#include <string.h>

#include <zlib.h>

#include "core/error.h"
#include "data/gzfile.h"

enum { SRC_MEM, SRC_FILE, SRC_GZ };
enum { CHUNK = 1 << 16 };

struct nl_csv {
    char *name;
    int src;
    FILE *fp;
    gzFile gz;

    /* Input window: buf[pos..len) is unread. For SRC_MEM it is the caller's
     * buffer, for the streams our own chunk. */
    const unsigned char *buf;
    unsigned char *chunk;
    size_t pos, len;
    int eof;
    int failed;    /* sticky error code */
    int started;   /* BOM check done */

    long line, col; /* position of the last byte read */

    /* Current record: field bytes, each NUL-terminated, packed in rec. */
    char *rec;
    size_t reclen, reccap;
    size_t *off;
    long *fcol;
    int nf, fcap;
    long rec_line;
};

static int csv_new(const char *name, int src, nl_csv **out)
{
    *out = NULL;
    nl_csv *c = nl_calloc(1, sizeof *c);
    if (!c) return NL_ENOMEM;
    size_t n = strlen(name) + 1;
    c->name = nl_malloc(n);
    if (!c->name) {
        nl_free(c);
        return NL_ENOMEM;
    }
    memcpy(c->name, name, n);
    c->src = src;
    c->line = 1;
    if (src != SRC_MEM) {
        c->chunk = nl_malloc(CHUNK);
        if (!c->chunk) {
            nl_free(c->name);
            nl_free(c);
            return NL_ENOMEM;
        }
        c->buf = c->chunk;
    }
    *out = c;
    return 0;
}

int nl_csv_open(const char *path, nl_csv **out)
{
    *out = NULL;
    gzFile gz;
    int rc = nl_gzfile_open(path, CHUNK, &gz);
    if (rc < 0) return rc;
    nl_csv *c;
    rc = csv_new(path, SRC_GZ, &c);
    if (rc < 0) {
        gzclose(gz);
        return rc;
    }
    c->gz = gz;
    *out = c;
    return 0;
}

int nl_csv_from_file(FILE *f, const char *name, nl_csv **out)
{
    int rc = csv_new(name, SRC_FILE, out);
    if (rc == 0) (*out)->fp = f;
    return rc;
}

int nl_csv_from_memory(const char *buf, size_t len, const char *name, nl_csv **out)
{
    int rc = csv_new(name, SRC_MEM, out);
    if (rc == 0) {
        (*out)->buf = (const unsigned char *)buf;
        (*out)->len = len;
    }
    return rc;
}

void nl_csv_close(nl_csv *c)
{
    if (!c) return;
    if (c->gz) gzclose(c->gz);
    nl_free(c->chunk);
    nl_free(c->rec);
    nl_free(c->off);
    nl_free(c->fcol);
    nl_free(c->name);
    nl_free(c);
}

const char *nl_csv_name(const nl_csv *c) { return c->name; }
int nl_csv_nfields(const nl_csv *c) { return c->nf; }
long nl_csv_line(const nl_csv *c) { return c->rec_line; }

long nl_csv_column(const nl_csv *c, int i) { return i >= 0 && i < c->nf ? c->fcol[i] : 0; }

const char *nl_csv_field(const nl_csv *c, int i, size_t *len)
{
    if (i < 0 || i >= c->nf) return NULL;
    size_t end = i + 1 < c->nf ? c->off[i + 1] - 1 : c->reclen - 1;
    if (len) *len = end - c->off[i];
    return c->rec + c->off[i];
}

/* Refill the window; returns 0 on end of input, 1 when bytes are available. */
static int refill(nl_csv *c)
{
    if (c->eof || c->src == SRC_MEM) {
        c->eof = 1;
        return 0;
    }
    size_t n;
    if (c->src == SRC_FILE) {
        n = fread(c->chunk, 1, CHUNK, c->fp);
        if (n == 0 && ferror(c->fp)) {
            c->failed = nl_err(NL_EIO, "%s:%ld: read error: %s", c->name, c->line, strerror(errno));
            return -1;
        }
    } else {
        int got = gzread(c->gz, c->chunk, CHUNK);
        int zerr;
        const char *zmsg = gzerror(c->gz, &zerr);
        /* zlib prefixes its message with the stream's name, "<fd:3>" here. */
        const char *colon = strstr(zmsg, ": ");
        if (strncmp(zmsg, "<fd:", 4) == 0 && colon) zmsg = colon + 2;
        if (got < 0 || (zerr != Z_OK && zerr != Z_BUF_ERROR) || (got == 0 && zerr == Z_BUF_ERROR)) {
            c->failed = nl_err(NL_EIO, "%s:%ld: read error: %s", c->name, c->line,
                               zerr == Z_ERRNO ? strerror(errno) : zmsg);
            return -1;
        }
        n = (size_t)got;
    }
    c->pos = 0;
    c->len = n;
    if (n == 0) c->eof = 1;
    return n > 0;
}

/* Next byte, -1 at end of input, -2 on a read error. */
static inline int getb(nl_csv *c)
{
    if (c->pos >= c->len) {
        int r = refill(c);
        if (r <= 0) return r < 0 ? -2 : -1;
    }
    c->col++;
    return c->buf[c->pos++];
}

/* Look at the next byte without consuming it; same returns as getb. */
static inline int peekb(nl_csv *c)
{
    if (c->pos >= c->len) {
        int r = refill(c);
        if (r <= 0) return r < 0 ? -2 : -1;
    }
    return c->buf[c->pos];
}

static int put(nl_csv *c, int ch)
{
    if (c->reclen == c->reccap) {
        size_t cap = c->reccap ? 2 * c->reccap : 256;
        char *p = nl_realloc(c->rec, cap);
        if (!p) return c->failed = NL_ENOMEM;
        c->rec = p;
        c->reccap = cap;
    }
    c->rec[c->reclen++] = (char)ch;
    return 0;
}

/* Copy the run of ordinary bytes at the read position into the record in
 * one go; the byte-at-a-time loop then handles whatever stops the run. This
 * is where nearly all input goes, so it avoids per-byte bookkeeping. */
static int copy_plain(nl_csv *c)
{
    const unsigned char *p = c->buf + c->pos, *e = c->buf + c->len, *q = p;
    while (q < e && *q != ',' && *q != '\n' && *q != '\r' && *q != '"' && *q != 0) q++;
    size_t n = (size_t)(q - p);
    if (c->reclen + n > c->reccap) {
        size_t cap = c->reccap ? c->reccap : 256;
        while (cap < c->reclen + n) cap *= 2;
        char *r = nl_realloc(c->rec, cap);
        if (!r) return c->failed = NL_ENOMEM;
        c->rec = r;
        c->reccap = cap;
    }
    memcpy(c->rec + c->reclen, p, n);
    c->reclen += n;
    c->pos += n;
    c->col += (long)n;
    return 0;
}

static int begin_field(nl_csv *c, long col)
{
    if (c->nf == c->fcap) {
        int cap = c->fcap ? 2 * c->fcap : 16;
        size_t *o = nl_realloc(c->off, (size_t)cap * sizeof *o);
        if (!o) return c->failed = NL_ENOMEM;
        c->off = o;
        long *fc = nl_realloc(c->fcol, (size_t)cap * sizeof *fc);
        if (!fc) return c->failed = NL_ENOMEM;
        c->fcol = fc;
        c->fcap = cap;
    }
    c->off[c->nf] = c->reclen;
    c->fcol[c->nf] = col;
    c->nf++;
    return 0;
}

static int fail(nl_csv *c, long line, long col, const char *what)
{
    return c->failed = nl_err(NL_EPARSE, "%s:%ld:%ld: %s", c->name, line, col, what);
}

/* End of a physical line inside the parser: count it. */
static void newline(nl_csv *c)
{
    c->line++;
    c->col = 0;
}

int nl_csv_next(nl_csv *c)
{
    if (c->failed) return c->failed;
    if (!c->started) {
        c->started = 1;
        static const unsigned char bom[3] = { 0xEF, 0xBB, 0xBF };
        int i = 0;
        while (i < 3 && peekb(c) == bom[i]) {
            /* A window always holds the whole BOM unless the input is shorter. */
            c->pos++;
            i++;
        }
        if (i != 0 && i != 3) c->pos -= (size_t)i;
        if (c->failed) return c->failed;
    }
    c->nf = 0;
    c->reclen = 0;
    int ch = getb(c);
    if (ch == -2) return c->failed;
    if (ch == -1) return 0;
    c->rec_line = c->line;
    if (begin_field(c, c->col) < 0) return c->failed;

    for (;;) {
        if (ch == '"') {
            long qline = c->line, qcol = c->col;
            for (;;) {
                ch = getb(c);
                if (ch == -2) return c->failed;
                if (ch == -1) return fail(c, qline, qcol, "unterminated quoted field (the quote opened here is never closed)");
                if (ch == 0) return fail(c, c->line, c->col, "NUL byte in the input");
                if (ch == '"') {
                    int nx = peekb(c);
                    if (nx == -2) return c->failed;
                    if (nx == '"') {
                        getb(c);
                        if (put(c, '"') < 0) return c->failed;
                        continue;
                    }
                    break;
                }
                if (ch == '\n') {
                    if (put(c, ch) < 0) return c->failed;
                    newline(c);
                    continue;
                }
                if (put(c, ch) < 0) return c->failed;
            }
            /* After the closing quote only a separator or the end of the
             * record may follow. */
            ch = getb(c);
            if (ch == -2) return c->failed;
            if (ch != ',' && ch != '\n' && ch != '\r' && ch != -1)
                return fail(c, c->line, c->col, "unexpected character after a closing quote");
        } else {
            while (ch != ',' && ch != '\n' && ch != '\r' && ch != -1) {
                if (ch == '"') return fail(c, c->line, c->col, "quote inside an unquoted field");
                if (ch == 0) return fail(c, c->line, c->col, "NUL byte in the input");
                if (put(c, ch) < 0 || copy_plain(c) < 0) return c->failed;
                ch = getb(c);
                if (ch == -2) return c->failed;
            }
        }
        if (put(c, 0) < 0) return c->failed;
        if (ch == ',') {
            ch = getb(c);
            if (ch == -2) return c->failed;
            if (begin_field(c, ch == -1 ? c->col + 1 : c->col) < 0) return c->failed;
            continue;
        }
        if (ch == '\r') {
            int nx = getb(c);
            if (nx == -2) return c->failed;
            if (nx != '\n') return fail(c, c->line, c->col - (nx != -1), "carriage return not followed by a line feed");
        }
        if (ch != -1) newline(c);
        return 1;
    }
}
