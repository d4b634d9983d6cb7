/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ctx.c - the nl_nn_ctx: a small fixed pool of POSIX threads that run one
 * fork-join job at a time (the caller works as worker 0), and per-worker
 * scratch buffers that grow and are reused across calls. Workers spin briefly
 * before sleeping, because a training step issues hundreds of jobs of a few
 * milliseconds each and a condition-variable wake-up per job would cost more
 * than the spin. */
#include "nn/ctx.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* OpenBLAS's own call (Debian's cblas.h declares it too): with several
 * workers each one runs its GEMMs single-threaded, so BLAS must not start
 * threads of its own on the same cores. */
void openblas_set_num_threads(int);

#define NN_MAX_THREADS 64
#define NN_SPIN 20000

struct nl_nn_ctx {
    int threads;
    pthread_t *tid;
    int started;          /* pool threads actually running */
    pthread_mutex_t mu;
    pthread_cond_t wake;  /* a new job (or stop) was posted */
    pthread_cond_t done;  /* the last worker finished its share */
    unsigned gen;         /* job generation, read atomically by spinners */
    int pending;          /* pool workers still running the current job */
    int stop;
    nl_nn_job fn;
    void *arg;
    float **scratch;
    size_t scratch_n;     /* floats per worker */
    int simd;             /* NL_NN_SIMD_* */
    nl_nn_relu_hook relu_hook;
    void *relu_ud;
};

typedef struct worker_arg {
    nl_nn_ctx *c;
    int id;
} worker_arg;

static void *worker_main(void *p)
{
    worker_arg wa = *(worker_arg *)p;
    nl_nn_ctx *c = wa.c;
    free(p);
    unsigned seen = 0;
    for (;;) {
        unsigned g = 0;
        for (int i = 0; i < NN_SPIN; i++) {
            g = __atomic_load_n(&c->gen, __ATOMIC_ACQUIRE);
            if (g != seen) break;
        }
        if (g == seen) {
            pthread_mutex_lock(&c->mu);
            while ((g = c->gen) == seen && !c->stop) pthread_cond_wait(&c->wake, &c->mu);
            pthread_mutex_unlock(&c->mu);
        }
        if (__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) return NULL;
        seen = g;
        c->fn(c->arg, wa.id, c->threads);
        if (__atomic_sub_fetch(&c->pending, 1, __ATOMIC_ACQ_REL) == 0) {
            pthread_mutex_lock(&c->mu);
            pthread_cond_signal(&c->done);
            pthread_mutex_unlock(&c->mu);
        }
    }
}

void nl_nn_ctx_free(nl_nn_ctx *c)
{
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    __atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
    __atomic_add_fetch(&c->gen, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&c->wake);
    pthread_mutex_unlock(&c->mu);
    for (int i = 0; i < c->started; i++) pthread_join(c->tid[i], NULL);
    pthread_cond_destroy(&c->wake);
    pthread_cond_destroy(&c->done);
    pthread_mutex_destroy(&c->mu);
    if (c->scratch)
        for (int i = 0; i < c->threads; i++) free(c->scratch[i]);
    nl_free(c->scratch);
    nl_free(c->tid);
    nl_free(c);
}

nl_nn_ctx *nl_nn_ctx_new(int threads)
{
    if (threads < 1 || threads > NN_MAX_THREADS) {
        nl_err(NL_EINVAL, "nn ctx: threads must be in 1..%d, not %d", NN_MAX_THREADS, threads);
        return NULL;
    }
    nl_nn_ctx *c = nl_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->threads = threads;
    const char *simd = getenv("NASLAB_NN_SIMD");
    c->simd = simd && !strcmp(simd, "none") ? NL_NN_SIMD_NONE : NL_NN_SIMD_AUTO;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->wake, NULL);
    pthread_cond_init(&c->done, NULL);
    c->scratch = nl_calloc((size_t)threads, sizeof *c->scratch);
    c->tid = nl_calloc((size_t)threads, sizeof *c->tid);
    if (!c->scratch || !c->tid) {
        nl_nn_ctx_free(c);
        return NULL;
    }
    for (int i = 1; i < threads; i++) {
        worker_arg *wa = nl_malloc(sizeof *wa);
        if (!wa) {
            nl_nn_ctx_free(c);
            return NULL;
        }
        wa->c = c;
        wa->id = i;
        if (pthread_create(&c->tid[c->started], NULL, worker_main, wa) != 0) {
            free(wa);
            nl_nn_ctx_free(c);
            nl_err(NL_ENOMEM, "nn ctx: cannot start worker thread %d of %d", i, threads);
            return NULL;
        }
        c->started++;
    }
    /* always: a product's summation order depends on BLAS's thread count,
     * and a ctx of T threads must give the same bits wherever it runs */
    openblas_set_num_threads(1);
    return c;
}

int nl_nn_ctx_threads(const nl_nn_ctx *c)
{
    return c->threads;
}

void nl_nn_ctx_run(nl_nn_ctx *c, nl_nn_job fn, void *arg)
{
    if (c->threads == 1) {
        fn(arg, 0, 1);
        return;
    }
    c->fn = fn;
    c->arg = arg;
    __atomic_store_n(&c->pending, c->threads - 1, __ATOMIC_RELEASE);
    pthread_mutex_lock(&c->mu);
    __atomic_add_fetch(&c->gen, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&c->wake);
    pthread_mutex_unlock(&c->mu);
    fn(arg, 0, c->threads);
    for (int i = 0; i < NN_SPIN; i++)
        if (__atomic_load_n(&c->pending, __ATOMIC_ACQUIRE) == 0) return;
    pthread_mutex_lock(&c->mu);
    while (__atomic_load_n(&c->pending, __ATOMIC_ACQUIRE) != 0) pthread_cond_wait(&c->done, &c->mu);
    pthread_mutex_unlock(&c->mu);
}

int nl_nn_ctx_reserve(nl_nn_ctx *c, size_t nfloats)
{
    if (nfloats <= c->scratch_n) return 0;
    /* Grow by half again so a slowly increasing demand does not reallocate
     * on every call; round to whole cache lines for aligned_alloc. */
    size_t want = nfloats + nfloats / 2;
    size_t bytes = (want * sizeof(float) + 63) / 64 * 64;
    for (int i = 0; i < c->threads; i++) {
        float *p = aligned_alloc(64, bytes);
        if (!p) return nl_err(NL_ENOMEM, "nn ctx: out of memory for %zu bytes of scratch", bytes);
        free(c->scratch[i]);
        c->scratch[i] = p;
    }
    c->scratch_n = bytes / sizeof(float);
    return 0;
}

float *nl_nn_ctx_scratch(nl_nn_ctx *c, int worker)
{
    return c->scratch[worker];
}

void nl_nn_ctx_set_simd(nl_nn_ctx *c, int mode)
{
    c->simd = mode == NL_NN_SIMD_NONE ? NL_NN_SIMD_NONE : NL_NN_SIMD_AUTO;
}

int nl_nn_ctx_simd(const nl_nn_ctx *c)
{
    return c->simd;
}

int nl_nn_ctx_avx512(const nl_nn_ctx *c)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    return c->simd == NL_NN_SIMD_AUTO && __builtin_cpu_supports("avx512f");
#else
    (void)c;
    return 0;
#endif
}

void nl_nn_ctx_set_relu_hook(nl_nn_ctx *c, nl_nn_relu_hook fn, void *ud)
{
    c->relu_hook = fn;
    c->relu_ud = fn ? ud : NULL;
}

int nl_nn_ctx_relu_input(nl_nn_ctx *c, const nl_tensor *x)
{
    return c->relu_hook ? c->relu_hook(c->relu_ud, x) : 0;
}

char *nl_nn_shape_str(int ndim, const int64_t *shape, char *buf, size_t n)
{
    nl_tensor tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.ndim = ndim;
    memcpy(tmp.shape, shape, (size_t)ndim * sizeof *shape);
    return nl_tensor_shape_str(&tmp, buf, n);
}

int nl_nn_contig(const char *op, const char *name, const nl_tensor *t)
{
    char s[NL_NN_SHAPEBUF];
    if (!nl_tensor_is_contiguous(t))
        return nl_err(NL_EINVAL, "%s: %s %s is not contiguous", op, name, nl_tensor_shape_str(t, s, sizeof s));
    return 0;
}

int nl_nn_check(const char *op, const char *name, const nl_tensor *t, int ndim, const int64_t *shape)
{
    if (!t) return nl_err(NL_EINVAL, "%s: %s is missing", op, name);
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char a[NL_NN_SHAPEBUF], b[NL_NN_SHAPEBUF];
        return nl_err(NL_ESHAPE, "%s: %s has shape %s, expected %s", op, name, nl_tensor_shape_str(t, a, sizeof a),
                      nl_nn_shape_str(ndim, shape, b, sizeof b));
    }
    return nl_nn_contig(op, name, t);
}
