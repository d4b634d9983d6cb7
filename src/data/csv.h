/* SPDX-License-Identifier: GPL-3.0-or-later */
/* csv.h - a small, strict, streaming CSV reader (RFC 4180): comma-separated
 * fields, double-quoted fields with "" for a quote, CRLF or LF line ends, the
 * last line's end optional. It reads a named file (plain or gzip, through
 * zlib), an open FILE* or a memory buffer, one record at a time, and every
 * syntax error names the source, line and column ("x.csv:17:5: ..."). Uses
 * core/error and zlib. */
#ifndef NL_CSV_H
#define NL_CSV_H

#include <stddef.h>
#include <stdio.h>

typedef struct nl_csv nl_csv;

/* Open the file `path` for reading; gzip-compressed files (e.g. .csv.gz) are
 * decompressed transparently, whatever their name. The reader calls itself
 * `path` in messages. Caller owns *out (nl_csv_close). Fails with NL_EIO and
 * "cannot open 'path': <reason>" (or "cannot read ...: Is a directory"). */
int nl_csv_open(const char *path, nl_csv **out);

/* Read from an open stream (not gzip); `name` is used in messages. The caller
 * keeps ownership of f and closes it after nl_csv_close. NL_ENOMEM only. */
int nl_csv_from_file(FILE *f, const char *name, nl_csv **out);

/* Read the `len` bytes at `buf`, which must stay valid and unchanged until
 * nl_csv_close; `name` is used in messages. NL_ENOMEM only. */
int nl_csv_from_memory(const char *buf, size_t len, const char *name, nl_csv **out);

/* Read the next record. Returns 1 with the record's fields available through
 * nl_csv_nfields/nl_csv_field, 0 at end of input, or a negative code:
 * NL_EPARSE for a syntax error ("name:line:col: what"), NL_EIO for a read
 * error, NL_ENOMEM. A UTF-8 byte-order mark at the very start is skipped. A
 * blank line is a record of one empty field (as RFC 4180 says). NUL bytes and
 * a carriage return not followed by a line feed (outside quotes) are errors.
 * After an error the reader stays failed and returns the same code. */
int nl_csv_next(nl_csv *c);

/* Number of fields of the current record (>= 1). */
int nl_csv_nfields(const nl_csv *c);

/* Field i (0-based) of the current record, NUL-terminated, with quotes
 * removed; *len (may be NULL) gets its length. The pointer is valid until the
 * next nl_csv_next. NULL when i is out of range. */
const char *nl_csv_field(const nl_csv *c, int i, size_t *len);

/* 1-based line on which the current record starts (a quoted field may span
 * lines), and the 1-based byte column at which field i starts. */
long nl_csv_line(const nl_csv *c);
long nl_csv_column(const nl_csv *c, int i);

/* The name used in messages (the path or the name given). */
const char *nl_csv_name(const nl_csv *c);

/* Close the reader (and the file it opened). NULL is a no-op. */
void nl_csv_close(nl_csv *c);

#endif
