/* SPDX-License-Identifier: GPL-3.0-or-later */
/* error.c - thread-local error messages and checked allocation (see error.h). */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char errbuf[1024];

int nl_err(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    return code;
}

int nl_err_context(int code, const char *fmt, ...)
{
    char tmp[sizeof errbuf];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return code;
    size_t p = strlen(tmp);
    if (p + 3 < sizeof tmp) {
        tmp[p++] = ':';
        tmp[p++] = ' ';
        size_t m = strlen(errbuf), room = sizeof tmp - p - 1;
        if (m > room) m = room;
        memcpy(tmp + p, errbuf, m);
        tmp[p + m] = 0;
    }
    memcpy(errbuf, tmp, sizeof tmp);
    return code;
}

const char *nl_errmsg(void) { return errbuf; }

const char *nl_errname(int code)
{
    switch (code) {
    case NL_OK: return "NL_OK";
    case NL_ENOMEM: return "NL_ENOMEM";
    case NL_EINVAL: return "NL_EINVAL";
    case NL_ERANGE: return "NL_ERANGE";
    case NL_EPARSE: return "NL_EPARSE";
    case NL_EIO: return "NL_EIO";
    case NL_EFORMAT: return "NL_EFORMAT";
    case NL_EINTR: return "NL_EINTR";
    case NL_ESHAPE: return "NL_ESHAPE";
    case NL_ENOTFOUND: return "NL_ENOTFOUND";
    default: return "NL_E?";
    }
}

void *nl_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) nl_err(NL_ENOMEM, "out of memory (%zu bytes)", n);
    return p;
}

void *nl_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) nl_err(NL_ENOMEM, "out of memory (%zu x %zu bytes)", count, size);
    return p;
}

void *nl_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) nl_err(NL_ENOMEM, "out of memory (%zu bytes)", n);
    return q;
}

void nl_free(void *p) { free(p); }
