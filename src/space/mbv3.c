/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mbv3.c - the once-for-all MobileNetV3 space: text form, sampling, mutation,
 * crossover, MAdds/params of the subnet and OFA's predictor encodings (the
 * conventions are stated in mbv3.h). Uses core (error, rng). */
#include "space/mbv3.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"

#define NRES ((NL_MBV3_RES_MAX - NL_MBV3_RES_MIN) / NL_MBV3_RES_STEP + 1)

static const int kernels[3] = { 3, 5, 7 };
static const int expands[3] = { 3, 4, 6 };
static const int depths[3] = { 2, 3, 4 };

/* OFA's base widths: first conv, first block, the 5 stages, final expand, last. */
static const int base_width[9] = { 16, 16, 24, 40, 80, 112, 160, 960, 1280 };
static const int stage_stride[5] = { 2, 2, 2, 1, 2 };
static const int stage_se[5] = { 0, 1, 0, 1, 1 };

static int choice_index(const int *set, int v)
{
    for (int i = 0; i < 3; i++)
        if (set[i] == v) return i;
    return -1;
}

static int valid_res(int r)
{
    return r >= NL_MBV3_RES_MIN && r <= NL_MBV3_RES_MAX && (r - NL_MBV3_RES_MIN) % NL_MBV3_RES_STEP == 0;
}

static int check(const nl_arch *a)
{
    const nl_mbv3 *m = &a->u.mbv3;
    if (!valid_res(m->res))
        return nl_err(NL_EINVAL, "mbv3 resolution %d is not in %d..%d step %d", m->res, NL_MBV3_RES_MIN,
                      NL_MBV3_RES_MAX, NL_MBV3_RES_STEP);
    for (int s = 0; s < 5; s++) {
        if (choice_index(depths, m->depth[s]) < 0)
            return nl_err(NL_EINVAL, "mbv3 stage %d has depth %d (expected 2, 3 or 4)", s + 1, m->depth[s]);
        for (int i = 0; i < m->depth[s]; i++)
            if (choice_index(kernels, m->ks[4 * s + i]) < 0 || choice_index(expands, m->e[4 * s + i]) < 0)
                return nl_err(NL_EINVAL, "mbv3 layer %d has kernel %d and expand %d", 4 * s + i, m->ks[4 * s + i],
                              m->e[4 * s + i]);
    }
    return 0;
}

static void init(nl_arch *a)
{
    memset(a, 0, sizeof *a);
    a->space = &nl_space_mbv3;
}

int nl_mbv3_make_divisible(double v)
{
    int nv = (int)(v + 4.0) / 8 * 8;
    if (nv < 8) nv = 8;
    if (nv < 0.9 * v) nv += 8;
    return nv;
}

/* ---------------------------------------------------------------- text */

static int perr(const char *s, size_t pos, const char *expected)
{
    char found[32];
    if (!s[pos]) {
        snprintf(found, sizeof found, "end of string");
    } else {
        size_t n = 0;
        while (s[pos + n] && s[pos + n] != ':' && s[pos + n] != ',' && n < 16) n++;
        snprintf(found, sizeof found, "'%.*s'", (int)(n ? n : 1), s + pos);
    }
    return nl_err(NL_EPARSE, "bad mbv3 arch at character %zu: expected %s, found %s", pos + 1, expected, found);
}

/* Read a decimal number of at most 4 digits at s[*p]; -1 if none. */
static int number(const char *s, size_t *p)
{
    int v = 0, n = 0;
    while (s[*p] >= '0' && s[*p] <= '9' && n < 4) {
        v = v * 10 + (s[*p] - '0');
        (*p)++;
        n++;
    }
    return n ? v : -1;
}

/* Parse `count` comma-separated values from `set` after the tag letter. */
static int parse_list(const char *s, size_t *p, char tag, const int *set, const char *what, int count,
                      uint8_t *vals)
{
    char want[64];
    if (s[*p] != ':') return perr(s, *p, "':'");
    (*p)++;
    if (s[*p] != tag) {
        snprintf(want, sizeof want, "'%c'", tag);
        return perr(s, *p, want);
    }
    (*p)++;
    for (int i = 0; i < count; i++) {
        if (i > 0) {
            if (s[*p] != ',') return perr(s, *p, "','");
            (*p)++;
        }
        size_t at = *p;
        int v = number(s, p);
        if (v < 0 || choice_index(set, v) < 0) {
            snprintf(want, sizeof want, "%s %d, %d or %d", what, set[0], set[1], set[2]);
            return perr(s, at, want);
        }
        vals[i] = (uint8_t)v;
    }
    return 0;
}

static int parse(const char *s, nl_arch *out)
{
    nl_arch a;
    size_t p = 0;
    int rc;
    uint8_t d[5], ks[20], e[20];
    if (!s) return nl_err(NL_EINVAL, "mbv3 arch string is NULL");
    init(&a);
    if (s[p] != 'r') return perr(s, p, "'r'");
    p++;
    size_t at = p;
    int r = number(s, &p);
    if (r < 0 || !valid_res(r)) return perr(s, at, "a resolution in 128..224 (multiple of 4)");
    a.u.mbv3.res = (uint16_t)r;
    if ((rc = parse_list(s, &p, 'd', depths, "depth", 5, d))) return rc;
    int n = 0;
    for (int i = 0; i < 5; i++) n += d[i];
    if ((rc = parse_list(s, &p, 'k', kernels, "kernel size", n, ks))) return rc;
    if ((rc = parse_list(s, &p, 'e', expands, "expand ratio", n, e))) return rc;
    if (s[p]) return perr(s, p, "end of string");
    for (int st = 0, l = 0; st < 5; st++) {
        a.u.mbv3.depth[st] = d[st];
        for (int i = 0; i < d[st]; i++, l++) {
            a.u.mbv3.ks[4 * st + i] = ks[l];
            a.u.mbv3.e[4 * st + i] = e[l];
        }
    }
    *out = a;
    return 0;
}

static int format(const nl_arch *a, char *buf, size_t cap)
{
    const nl_mbv3 *m = &a->u.mbv3;
    char tmp[160];
    int rc = check(a);
    if (rc) return rc;
    size_t n = (size_t)snprintf(tmp, sizeof tmp, "r%d:d%d,%d,%d,%d,%d", m->res, m->depth[0], m->depth[1],
                                m->depth[2], m->depth[3], m->depth[4]);
    for (int pass = 0; pass < 2; pass++) {
        const uint8_t *v = pass ? m->e : m->ks;
        n += (size_t)snprintf(tmp + n, sizeof tmp - n, ":%c", pass ? 'e' : 'k');
        int first = 1;
        for (int s = 0; s < 5; s++)
            for (int i = 0; i < m->depth[s]; i++, first = 0)
                n += (size_t)snprintf(tmp + n, sizeof tmp - n, "%s%d", first ? "" : ",", v[4 * s + i]);
    }
    if (n + 1 > cap) return nl_err(NL_ERANGE, "buffer of %zu bytes too small for %zu", cap, n + 1);
    memcpy(buf, tmp, n + 1);
    return (int)n;
}

/* ---------------------------------------------------------------- random operators */

static void sample_layer(nl_rng *r, nl_mbv3 *m, int l)
{
    m->ks[l] = (uint8_t)kernels[nl_rng_below(r, 3)];
    m->e[l] = (uint8_t)expands[nl_rng_below(r, 3)];
}

static int sample(nl_rng *r, nl_arch *out)
{
    nl_arch a;
    init(&a);
    nl_mbv3 *m = &a.u.mbv3;
    m->res = (uint16_t)(NL_MBV3_RES_MIN + NL_MBV3_RES_STEP * (int)nl_rng_below(r, NRES));
    for (int s = 0; s < 5; s++) {
        m->depth[s] = (uint8_t)depths[nl_rng_below(r, 3)];
        for (int i = 0; i < m->depth[s]; i++) sample_layer(r, m, 4 * s + i);
    }
    *out = a;
    return 0;
}

/* Another value of the 3-element set `set` than v. */
static int other(nl_rng *r, const int *set, int v)
{
    int i = choice_index(set, v);
    return set[(i + 1 + (int)nl_rng_below(r, 2)) % 3];
}

static int mutate(const nl_arch *a, nl_rng *r, nl_arch *out)
{
    int rc = check(a);
    if (rc) return rc;
    nl_arch b = *a;
    nl_mbv3 *m = &b.u.mbv3;
    int active = 0;
    for (int s = 0; s < 5; s++) active += m->depth[s];
    /* Decisions: the resolution, 5 depths, and k and e of each active layer.
     * A depth change is one decision; layers it brings in are drawn afresh. */
    int64_t u = (int64_t)nl_rng_below(r, (uint64_t)(6 + 2 * active));
    if (u == 0) {
        int i = (m->res - NL_MBV3_RES_MIN) / NL_MBV3_RES_STEP;
        i = (i + 1 + (int)nl_rng_below(r, NRES - 1)) % NRES;
        m->res = (uint16_t)(NL_MBV3_RES_MIN + NL_MBV3_RES_STEP * i);
    } else if (u <= 5) {
        int s = (int)u - 1, d = other(r, depths, m->depth[s]);
        for (int i = m->depth[s]; i < d; i++) sample_layer(r, m, 4 * s + i);
        for (int i = d; i < 4; i++) m->ks[4 * s + i] = m->e[4 * s + i] = 0;
        m->depth[s] = (uint8_t)d;
    } else {
        int j = (int)(u - 6), which = j % 2, l = j / 2;
        for (int s = 0; s < 5; s++) {
            if (l < m->depth[s]) {
                int slot = 4 * s + l;
                if (which == 0)
                    m->ks[slot] = (uint8_t)other(r, kernels, m->ks[slot]);
                else
                    m->e[slot] = (uint8_t)other(r, expands, m->e[slot]);
                break;
            }
            l -= m->depth[s];
        }
    }
    *out = b;
    return 0;
}

static int crossover(const nl_arch *a, const nl_arch *b, nl_rng *r, nl_arch *out)
{
    int rc;
    if ((rc = check(a)) || (rc = check(b))) return rc;
    const nl_mbv3 *ma = &a->u.mbv3, *mb = &b->u.mbv3;
    nl_arch c;
    init(&c);
    nl_mbv3 *m = &c.u.mbv3;
    m->res = nl_rng_below(r, 2) ? mb->res : ma->res;
    for (int s = 0; s < 5; s++) {
        m->depth[s] = nl_rng_below(r, 2) ? mb->depth[s] : ma->depth[s];
        for (int i = 0; i < m->depth[s]; i++) {
            int l = 4 * s + i, ina = i < ma->depth[s], inb = i < mb->depth[s];
            /* A layer only one parent has comes from that parent. */
            m->ks[l] = ina && inb ? (nl_rng_below(r, 2) ? mb->ks[l] : ma->ks[l]) : ina ? ma->ks[l] : mb->ks[l];
            m->e[l] = ina && inb ? (nl_rng_below(r, 2) ? mb->e[l] : ma->e[l]) : ina ? ma->e[l] : mb->e[l];
        }
    }
    *out = c;
    return 0;
}

static int equal(const nl_arch *a, const nl_arch *b)
{
    const nl_mbv3 *ma = &a->u.mbv3, *mb = &b->u.mbv3;
    if (a->space != b->space || ma->res != mb->res) return 0;
    for (int s = 0; s < 5; s++) {
        if (ma->depth[s] != mb->depth[s]) return 0;
        for (int i = 0; i < ma->depth[s] && i < 4; i++)
            if (ma->ks[4 * s + i] != mb->ks[4 * s + i] || ma->e[4 * s + i] != mb->e[4 * s + i]) return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- costs */

int nl_mbv3_net_cost(int res, int stem, const nl_mbv3_layer *layers, int n, int final_expand,
                     int last_channel, int classes, int mix_bias, int64_t *params, int64_t *madds)
{
    if (res < 1 || stem < 1 || n < 0 || final_expand < 1 || last_channel < 1 || classes < 1)
        return nl_err(NL_EINVAL, "mbv3 network sizes must be positive");
    int64_t p = 0, f = 0, H = (res - 1) / 2 + 1, cin = stem;
    p += 27 * cin + 2 * cin;
    f += 27 * cin * H * H;
    for (int i = 0; i < n; i++) {
        const nl_mbv3_layer *L = &layers[i];
        int64_t k = L->kernel, mid = L->mid, out = L->out;
        if (k < 1 || mid < 1 || out < 1 || L->stride < 1)
            return nl_err(NL_EINVAL, "mbv3 layer %d has a non-positive size", i);
        if (mid != cin) {
            p += cin * mid + 2 * mid;
            f += cin * mid * H * H;
        }
        int64_t Ho = (H + 2 * (k / 2) - k) / L->stride + 1;
        p += k * k * mid + 2 * mid;
        f += k * k * mid * Ho * Ho;
        if (L->se) {
            int64_t sm = nl_mbv3_make_divisible((double)(mid / 4));
            p += mid * sm + sm + sm * mid + mid;
            f += 2 * mid * sm;
        }
        p += mid * out + 2 * out;
        f += mid * out * Ho * Ho;
        H = Ho;
        cin = out;
    }
    p += cin * final_expand + 2 * final_expand;
    f += cin * final_expand * H * H;
    p += (int64_t)final_expand * last_channel + (mix_bias ? last_channel : 0);
    f += (int64_t)final_expand * last_channel;
    p += (int64_t)last_channel * classes + classes;
    f += (int64_t)last_channel * classes;
    if (params) *params = p;
    if (madds) *madds = f;
    return 0;
}

static int cost(const nl_arch *a, const nl_net_opts *o, int64_t *params, int64_t *flops)
{
    int rc = check(a);
    if (rc) return rc;
    const nl_mbv3 *m = &a->u.mbv3;
    int res = o && o->resolution ? o->resolution : m->res;
    int classes = o && o->classes ? o->classes : 1000;
    int wx = o && o->width_x100 ? o->width_x100 : 100;
    if (o && (o->C || o->N)) return nl_err(NL_EINVAL, "mbv3 has no C or N option (use width)");
    if (res < 32 || res > 4096 || classes < 1 || classes > 1000000 || wx < 10 || wx > 1000)
        return nl_err(NL_EINVAL, "mbv3 network options out of range (resolution=%d, classes=%d, width=%.2f)", res,
                      classes, wx / 100.0);
    int w[9];
    for (int i = 0; i < 9; i++) w[i] = nl_mbv3_make_divisible(base_width[i] * wx / 100.0);
    nl_mbv3_layer layers[21];
    int n = 0, cin = w[1];
    layers[n++] = (nl_mbv3_layer){ .kernel = 3, .mid = w[0], .out = w[1], .stride = 1, .se = 0 };
    for (int s = 0; s < 5; s++)
        for (int i = 0; i < m->depth[s]; i++) {
            int l = 4 * s + i;
            layers[n++] = (nl_mbv3_layer){ .kernel = m->ks[l],
                                           .mid = nl_mbv3_make_divisible((double)(cin * m->e[l])),
                                           .out = w[2 + s],
                                           .stride = i == 0 ? stage_stride[s] : 1,
                                           .se = stage_se[s] };
            cin = w[2 + s];
        }
    return nl_mbv3_net_cost(res, w[0], layers, n, w[7], w[8], classes, 0, params, flops);
}

/* ---------------------------------------------------------------- encodings */

static const char *const encodings[] = { "int", "onehot", NULL };

static int encode_shape(const char *kind, int *ndim, int64_t shape[4])
{
    *ndim = 1;
    if (kind && strcmp(kind, "int") == 0)
        shape[0] = 46;
    else if (kind && strcmp(kind, "onehot") == 0)
        shape[0] = 120 + NRES;
    else
        return nl_err(NL_ENOTFOUND, "unknown mbv3 encoding '%s' (known: int, onehot)", kind ? kind : "(null)");
    return 0;
}

static int encode(const nl_arch *a, const char *kind, float *out)
{
    int nd;
    int64_t sh[4];
    int rc = encode_shape(kind, &nd, sh);
    if (rc) return rc;
    if ((rc = check(a))) return rc;
    const nl_mbv3 *m = &a->u.mbv3;
    memset(out, 0, (size_t)sh[0] * sizeof *out);
    if (strcmp(kind, "int") == 0) {
        out[0] = m->res;
        for (int s = 0; s < 5; s++) out[1 + s] = m->depth[s];
        for (int s = 0; s < 5; s++)
            for (int i = 0; i < m->depth[s]; i++) {
                out[6 + 4 * s + i] = m->ks[4 * s + i];
                out[26 + 4 * s + i] = m->e[4 * s + i];
            }
    } else {
        for (int s = 0; s < 5; s++)
            for (int i = 0; i < m->depth[s]; i++) {
                int l = 4 * s + i;
                out[3 * l + choice_index(kernels, m->ks[l])] = 1.0f;
                out[60 + 3 * l + choice_index(expands, m->e[l])] = 1.0f;
            }
        out[120 + (m->res - NL_MBV3_RES_MIN) / NL_MBV3_RES_STEP] = 1.0f;
    }
    return 0;
}

const nl_space nl_space_mbv3 = {
    .name = "mbv3",
    .title = "once-for-all MobileNetV3: 5 stages, d 2-4, k 3/5/7, e 3/4/6, r 128-224",
    .size = 25.0 * 7371.0 * 7371.0 * 7371.0 * 7371.0 * 7371.0,
    .parse = parse,
    .format = format,
    .sample = sample,
    .mutate = mutate,
    .crossover = crossover,
    .equal = equal,
    .cost = cost,
    .encodings = encodings,
    .encode_shape = encode_shape,
    .encode = encode,
    .prepare = NULL,
    .at = NULL,
    .index = NULL,
    .hash = NULL,
    .from_spec = NULL,
    .canonical = NULL,
};
