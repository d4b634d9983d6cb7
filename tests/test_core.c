/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_core.c - errors, the random generator and progress/interrupt. Expected
 * generator outputs were computed independently with a Python transcription
 * of the xoshiro256** and splitmix64 reference algorithms. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/progress.h"
#include "core/rng.h"
#include "tap.h"

static int stop_after_3(void *ud, const nl_progress *p)
{
    (void)ud;
    return p->done >= 3;
}

int main(void)
{
    /* errors */
    is_int(nl_err(NL_EINVAL, "k=%d exceeds n=%d", 5, 3), NL_EINVAL, "nl_err returns its code");
    is_str(nl_errmsg(), "k=5 exceeds n=3", "nl_err formats the message");
    nl_err_context(NL_EIO, "file.csv:%d", 7);
    is_str(nl_errmsg(), "file.csv:7: k=5 exceeds n=3", "nl_err_context prefixes");
    is_str(nl_errname(NL_EPARSE), "NL_EPARSE", "error names");
    is_str(nl_errname(12345), "NL_E?", "unknown error name");
    nl_free(NULL);
    ok(1, "nl_free(NULL) is a no-op");

    /* rng: the raw xoshiro256** step against the reference sequence for s = {1,2,3,4} */
    nl_rng r;
    r.s[0] = 1, r.s[1] = 2, r.s[2] = 3, r.s[3] = 4;
    const uint64_t want[4] = { 11520u, 0u, 1509978240u, 1215971899390074240u };
    int same = 1;
    for (int i = 0; i < 4; i++) same &= nl_rng_u64(&r) == want[i];
    ok(same, "xoshiro256** matches the reference sequence");
    nl_rng_seed(&r, 42);
    ok(r.s[0] == 0xbdd732262feb6e95ULL, "splitmix64 seeding matches the reference");
    ok(nl_rng_u64(&r) == 0x15780b2e0c2ec716ULL && nl_rng_u64(&r) == 0x6104d9866d113a7eULL,
       "seeded sequence matches the reference");

    /* determinism and streams */
    nl_rng a, b;
    nl_rng_seed(&a, 7);
    nl_rng_seed(&b, 7);
    same = 1;
    for (int i = 0; i < 1000; i++) same &= nl_rng_u64(&a) == nl_rng_u64(&b);
    ok(same, "same seed, same sequence");
    nl_rng_seed_stream(&a, 7, 0);
    nl_rng_seed_stream(&b, 7, 1);
    int collide = 0;
    for (int i = 0; i < 1000; i++) collide += nl_rng_u64(&a) == nl_rng_u64(&b);
    is_int(collide, 0, "streams 0 and 1 differ");

    /* uniform and normal moments over 1e6 draws (tolerances are > 5 standard errors) */
    nl_rng_seed(&r, 1);
    double s1 = 0, s2 = 0, mn = 1, mx = 0;
    const int N = 1000000;
    for (int i = 0; i < N; i++) {
        double u = nl_rng_uniform(&r);
        s1 += u, s2 += u * u;
        if (u < mn) mn = u;
        if (u > mx) mx = u;
    }
    is_near(s1 / N, 0.5, 0.0015, "uniform mean");
    is_near(s2 / N - (s1 / N) * (s1 / N), 1.0 / 12, 0.0005, "uniform variance");
    ok(mn >= 0 && mx < 1, "uniform in [0,1)");
    s1 = s2 = 0;
    double s4 = 0;
    for (int i = 0; i < N; i++) {
        double z = nl_rng_normal(&r);
        s1 += z, s2 += z * z, s4 += z * z * z * z;
    }
    is_near(s1 / N, 0.0, 0.005, "normal mean");
    is_near(s2 / N, 1.0, 0.01, "normal variance");
    is_near(s4 / N, 3.0, 0.05, "normal fourth moment (Gaussian tails)");

    /* bounded integers: chi-square over 7 bins */
    long cnt[7] = { 0 };
    for (int i = 0; i < 700000; i++) cnt[nl_rng_below(&r, 7)]++;
    double chi = 0;
    for (int i = 0; i < 7; i++) chi += (cnt[i] - 100000.0) * (cnt[i] - 100000.0) / 100000.0;
    ok(chi < 22.46, "below(7) is uniform (chi2 = %.2f < 22.46, p = 0.001 at 6 dof)", chi);
    int inrange = 1;
    for (int i = 0; i < 10000; i++) {
        int64_t v = nl_rng_int(&r, -3, 3);
        inrange &= v >= -3 && v <= 3;
    }
    ok(inrange, "int(-3, 3) stays in range");
    is_int(nl_rng_below(&r, 1), 0, "below(1) is 0");

    /* permutations: valid, and every position uniform */
    int64_t p[10];
    long pos0[10] = { 0 };
    int valid = 1;
    for (int t = 0; t < 100000; t++) {
        nl_rng_permutation(&r, p, 10);
        int seen[10] = { 0 };
        for (int i = 0; i < 10; i++) seen[p[i]]++;
        for (int i = 0; i < 10; i++) valid &= seen[i] == 1;
        pos0[p[0]]++;
    }
    ok(valid, "permutation is a permutation");
    chi = 0;
    for (int i = 0; i < 10; i++) chi += (pos0[i] - 10000.0) * (pos0[i] - 10000.0) / 10000.0;
    ok(chi < 27.88, "first element uniform (chi2 = %.2f < 27.88, p = 0.001 at 9 dof)", chi);

    /* progress and interrupt */
    nl_interrupt_clear();
    int rc = 0, i;
    for (i = 0; i < 10 && rc == 0; i++) rc = nl_progress_report(stop_after_3, NULL, "loop", i, 10);
    is_int(rc, NL_EINTR, "callback stops a loop");
    is_int(i, 4, "at the step it said so");
    ok(nl_progress_report(NULL, NULL, "x", 0, 0) == 0, "no callback, no interrupt: continue");
    nl_interrupt_request();
    ok(nl_interrupted(), "interrupt flag set");
    is_int(nl_progress_report(NULL, NULL, "x", 0, 0), NL_EINTR, "interrupt stops a loop");
    is_str(nl_errmsg(), "interrupted", "interrupt message");
    nl_interrupt_clear();
    ok(!nl_interrupted(), "interrupt flag cleared");
    return done_testing();
}
