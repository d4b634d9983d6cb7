/* SPDX-License-Identifier: GPL-3.0-or-later */
/* space.c - the registry of search spaces that Lua and the UI enumerate, and
 * the few operations written once over the vtable: batched encoding and the
 * count of distinct architectures. Uses core (error, progress). */
#include "space/space.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "space/mbv3.h"
#include "space/nb201.h"

extern const nl_space nl_space_nb101;

const nl_space *const nl_spaces[] = { &nl_space_nb201, &nl_space_nb101, &nl_space_mbv3, NULL };

int nl_space_find(const char *name, const nl_space **out)
{
    char known[256] = "";
    size_t used = 0;
    for (int i = 0; nl_spaces[i]; i++) {
        if (name && strcmp(nl_spaces[i]->name, name) == 0) {
            *out = nl_spaces[i];
            return 0;
        }
        int w = snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "", nl_spaces[i]->name);
        if (w > 0 && (size_t)w < sizeof known - used) used += (size_t)w;
    }
    *out = NULL;
    return nl_err(NL_ENOTFOUND, "unknown space '%s' (known: %s)", name ? name : "(null)", known);
}

int nl_space_encode_numel(const nl_space *sp, const char *kind, int64_t *numel, int *ndim,
                          int64_t shape[4])
{
    int nd = 0;
    int64_t sh[4] = { 0, 0, 0, 0 };
    int rc = sp->encode_shape(kind, &nd, sh);
    if (rc) return rc;
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= sh[i];
    *numel = n;
    if (ndim) *ndim = nd;
    if (shape) memcpy(shape, sh, sizeof sh);
    return 0;
}

int nl_space_encode_batch(const nl_space *sp, const nl_arch *archs, int64_t n, const char *kind,
                          float *out)
{
    int64_t numel;
    int rc = nl_space_encode_numel(sp, kind, &numel, NULL, NULL);
    if (rc) return rc;
    for (int64_t i = 0; i < n; i++) {
        if (archs[i].space != sp)
            return nl_err(NL_EINVAL, "arch %lld belongs to space %s, not %s", (long long)i,
                          archs[i].space ? archs[i].space->name : "(none)", sp->name);
        rc = sp->encode(&archs[i], kind, out + i * numel);
        if (rc) return rc;
    }
    return 0;
}

int nl_space_distinct(const nl_space *sp, nl_progress_fn fn, void *ud, int64_t *out)
{
    if (!sp->at || !sp->index)
        return nl_err(NL_EINVAL, "space %s cannot be enumerated", sp->name);
    int rc = sp->prepare ? sp->prepare(fn, ud) : 0;
    if (rc) return rc;
    int64_t size = (int64_t)sp->size;
    if (!sp->canonical) {
        *out = size;
        return 0;
    }
    /* An arch is the representative of its class when it is its own
     * canonical form, so counting those counts the classes. */
    int64_t count = 0;
    for (int64_t i = 0; i < size; i++) {
        nl_arch a, c;
        int64_t j;
        if ((rc = sp->at(i, &a)) || (rc = sp->canonical(&a, &c)) || (rc = sp->index(&c, &j))) return rc;
        if (j == i) count++;
        if ((i & 4095) == 4095 && (rc = nl_progress_report(fn, ud, "distinct", i + 1, size))) return rc;
    }
    *out = count;
    return 0;
}
