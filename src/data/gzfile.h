/* SPDX-License-Identifier: GPL-3.0-or-later */
/* gzfile.h - opening an input file, plain or gzip, through zlib, with the
 * error messages every reader of the data layer shares. */
#ifndef NL_GZFILE_H
#define NL_GZFILE_H

#include <zlib.h>

/* Open `path` for reading through zlib (gzip is detected, plain files pass
 * through) with a read buffer of `bufsize` bytes. On success *out is the
 * handle (the caller gzclose()s it). Fails with NL_EIO and the exact errno
 * text ("cannot open 'x.csv': No such file or directory"; a directory is
 * refused up front, as zlib would only notice at the first read), or
 * NL_ENOMEM. */
int nl_gzfile_open(const char *path, unsigned bufsize, gzFile *out);

#endif
