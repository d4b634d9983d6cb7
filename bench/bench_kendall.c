/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench_kendall.c - times nl_stats_kendall (tau-b, Knight's O(n log n)) against
 * scipy.stats.kendalltau on the same million tied pairs: the data goes to a
 * temporary file, bench/kendall_scipy.py times scipy on it under Debian's
 * /usr/bin/python3, and both times, both tau values and their ratio are
 * printed side by side. Exits 1 if the two tau values differ by more than 1e-9.
 *
 * Usage: bench_kendall [SCRIPT [N]]   (SCRIPT defaults to the source tree's
 * bench/kendall_scipy.py, N to 1000000) */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/stats.h"

#ifndef NASLAB_SRCDIR
#define NASLAB_SRCDIR "."
#endif

#define PYTHON "/usr/bin/python3"
#define REPEATS 3

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Run the peer on `path` and read its one line into buf; 0 on success. */
static int run_peer(const char *script, const char *path, size_t n, char *buf, size_t size)
{
    char count[32], reps[8];
    snprintf(count, sizeof count, "%zu", n);
    snprintf(reps, sizeof reps, "%d", REPEATS);
    int fd[2];
    if (pipe(fd) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        close(fd[1]);
        execl(PYTHON, PYTHON, script, path, count, reps, (char *)NULL);
        fprintf(stderr, "bench_kendall: cannot run %s: %s\n", PYTHON, strerror(errno));
        _exit(127);
    }
    close(fd[1]);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < size && (r = read(fd[0], buf + got, size - 1 - got)) > 0) got += (size_t)r;
    buf[got] = 0;
    close(fd[0]);
    int status;
    if (waitpid(pid, &status, 0) < 0) return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *script = argc > 1 ? argv[1] : NASLAB_SRCDIR "/bench/kendall_scipy.py";
    size_t n = argc > 2 ? (size_t)strtoull(argv[2], NULL, 10) : 1000000;
    if (n < 2) {
        fprintf(stderr, "usage: bench_kendall [SCRIPT [N >= 2]]\n");
        return 2;
    }

    /* Integers 0..999 with y = x plus uniform noise, clipped: heavy ties in
     * both variables and in the joint, and a tau near 0.6. */
    double *x = malloc(2 * n * sizeof *x);
    if (!x) {
        fprintf(stderr, "bench_kendall: out of memory\n");
        return 1;
    }
    double *y = x + n;
    nl_rng r;
    nl_rng_seed(&r, 1);
    for (size_t i = 0; i < n; i++) {
        int64_t a = nl_rng_int(&r, 0, 999), b = a + nl_rng_int(&r, -300, 300);
        x[i] = (double)a;
        y[i] = (double)(b < 0 ? 0 : b > 999 ? 999 : b);
    }

    char path[] = "/tmp/naslab-kendall-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f || fwrite(x, sizeof *x, 2 * n, f) != 2 * n || fclose(f) != 0) {
        fprintf(stderr, "bench_kendall: cannot write %s: %s\n", path, strerror(errno));
        if (fd >= 0) unlink(path);
        free(x);
        return 1;
    }

    double tau = NAN, best = INFINITY;
    for (int rep = 0; rep < REPEATS; rep++) {
        double t0 = now();
        if (nl_stats_kendall(&tau, x, n, y, n, NL_TAU_B) != 0) {
            fprintf(stderr, "bench_kendall: %s\n", nl_errmsg());
            unlink(path);
            free(x);
            return 1;
        }
        double dt = now() - t0;
        if (dt < best) best = dt;
    }

    char line[512], version[64] = "?";
    int rc = run_peer(script, path, n, line, sizeof line);
    unlink(path);
    free(x);
    double ptau, psec;
    if (rc != 0 || sscanf(line, "tau=%lf seconds=%lf scipy=%63s", &ptau, &psec, version) != 3) {
        fprintf(stderr, "bench_kendall: the scipy peer (%s %s) failed%s%s\n", PYTHON, script, *line ? ": " : "",
                line);
        return 1;
    }

    double diff = fabs(tau - ptau);
    printf("Kendall tau-b, n=%zu pairs, x and y integers in 0..999 (nl_rng seed 1), best of %d\n", n, REPEATS);
    printf("  naslab nl_stats_kendall      %8.4f s   tau=%.17g\n", best, tau);
    printf("  scipy %-8s kendalltau     %8.4f s   tau=%.17g\n", version, psec, ptau);
    printf("  |difference| %.3g (%s 1e-9)\n", diff, diff <= 1e-9 ? "within" : "OUTSIDE");
    printf("  ratio scipy/naslab %.2fx\n", psec / best);
    return diff <= 1e-9 ? 0 : 1;
}
