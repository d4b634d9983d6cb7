/* SPDX-License-Identifier: GPL-3.0-or-later */
/* error.h - naslab's error model: every library function returns 0 or a negative
 * NL_E* code and leaves a human-readable message in a thread-local buffer that
 * nl_errmsg() returns. No library code exits or longjmps. Uses only libc. */
#ifndef NL_ERROR_H
#define NL_ERROR_H

#include <stddef.h>

enum {
    NL_OK = 0,
    NL_ENOMEM = -1,   /* allocation failed */
    NL_EINVAL = -2,   /* bad argument (caller's mistake) */
    NL_ERANGE = -3,   /* index or value out of range */
    NL_EPARSE = -4,   /* malformed text input (message names where) */
    NL_EIO = -5,      /* file could not be read or written */
    NL_EFORMAT = -6,  /* file read, but its content is corrupt or unexpected */
    NL_EINTR = -7,    /* interrupted by the user (Ctrl-C) */
    NL_ESHAPE = -8,   /* tensor shapes do not agree */
    NL_ENOTFOUND = -9 /* a named thing (metric, arch, file) does not exist */
};

/* Set the message for the current thread and return `code`, so a failing
 * function can write `return nl_err(NL_EINVAL, "k=%d exceeds n=%d", k, n);`.
 * The message is formatted like printf and truncated at 1023 bytes. */
int nl_err(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prefix the current message with "prefix: " (for adding context such as a
 * file name while an error propagates up). Returns `code` unchanged. */
int nl_err_context(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The message of the last nl_err() on this thread ("" if none). The pointer
 * stays valid until the next nl_err() on this thread; copy it to keep it. */
const char *nl_errmsg(void);

/* A short constant name for a code ("NL_EINVAL"); "NL_E?" for unknown codes. */
const char *nl_errname(int code);

/* Allocation wrappers that set NL_ENOMEM's message on failure and return NULL.
 * nl_free(NULL) is a no-op, as for free(). */
void *nl_malloc(size_t n);
void *nl_calloc(size_t count, size_t size);
void *nl_realloc(void *p, size_t n);
void nl_free(void *p);

#endif
