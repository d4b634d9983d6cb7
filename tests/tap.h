/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tap.h - a minimal Test Anything Protocol emitter for naslab's C tests
 * (automake's tap-driver.sh reads the output). Header-only: each test program
 * includes it once. */
#ifndef NL_TAP_H
#define NL_TAP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static inline int tap_ok(int cond, const char *fmt, ...)
{
    va_list ap;
    printf("%s %d - ", cond ? "ok" : "not ok", ++tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!cond) tap_failed++;
    fflush(stdout);
    return cond;
}

#define ok(cond, ...) tap_ok((cond) != 0, __VA_ARGS__)

/* |got - want| <= tol, printing both on failure. */
#define is_near(got, want, tol, ...)                                                   \
    do {                                                                               \
        double g_ = (got), w_ = (want);                                                \
        if (!tap_ok(fabs(g_ - w_) <= (tol) || (isnan(g_) && isnan(w_)), __VA_ARGS__))  \
            printf("#   got %.17g, want %.17g\n", g_, w_);                             \
    } while (0)

#define is_int(got, want, ...)                                                         \
    do {                                                                               \
        long long g_ = (long long)(got), w_ = (long long)(want);                       \
        if (!tap_ok(g_ == w_, __VA_ARGS__)) printf("#   got %lld, want %lld\n", g_, w_); \
    } while (0)

#define is_str(got, want, ...)                                                         \
    do {                                                                               \
        const char *g_ = (got), *w_ = (want);                                          \
        if (!tap_ok(g_ && w_ && strcmp(g_, w_) == 0, __VA_ARGS__))                     \
            printf("#   got \"%s\"\n#  want \"%s\"\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
    } while (0)

static inline void tap_skip_all(const char *why)
{
    printf("1..0 # SKIP %s\n", why);
}

static inline int done_testing(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

#endif
