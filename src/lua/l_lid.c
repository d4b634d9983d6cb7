/* SPDX-License-Identifier: GPL-3.0-or-later */
/* l_lid.c - the Lua face of NAS-LID's C primitives (nn/lid.h): nl.lid.mle,
 * nl.lid.similarity, nl.lid.mincut, nl.lid.features (the per-layer LID
 * vector of a cell with supernet weights) and nl.lid.criterion (the split
 * criterion of a sub-supernet, LID or gradient matching). The schedule that
 * uses them is lua/naslab/lid.lua. Uses nn/lid, the supernet and data
 * bindings. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "lua/l_space.h"
#include "lua/l_train.h"
#include "lua/lnl.h"
#include "nn/lid.h"
#include "nn/nb201net.h"
#include "space/nb201.h"

/* Rows of numbers (a table of equal-length tables) at arg into a tempbuf of
 * n x dim doubles. */
static double *checkrows(lua_State *L, int arg, const char *what, int *n, int *dim)
{
    luaL_checktype(L, arg, LUA_TTABLE);
    *n = (int)luaL_len(L, arg);
    if (*n < 1) luaL_argerror(L, arg, lua_pushfstring(L, "%s must have at least one row", what));
    lua_geti(L, arg, 1);
    if (!lua_istable(L, -1))
        luaL_argerror(L, arg,
                      lua_pushfstring(L, "%s[1] must be a table of numbers, got %s", what, luaL_typename(L, -1)));
    *dim = (int)luaL_len(L, -1);
    lua_pop(L, 1);
    if (*dim < 1) luaL_argerror(L, arg, lua_pushfstring(L, "%s[1] is empty", what));
    double *v = nl_lua_tempbuf(L, (size_t)*n * (size_t)*dim * sizeof *v);
    int top = lua_gettop(L);
    for (int i = 0; i < *n; i++) {
        lua_geti(L, arg, i + 1);
        if (!lua_istable(L, -1) || luaL_len(L, -1) != *dim)
            luaL_argerror(L, arg, lua_pushfstring(L, "%s[%d] must be a table of %d numbers", what, i + 1, *dim));
        for (int j = 0; j < *dim; j++) {
            lua_geti(L, -1, j + 1);
            int ok;
            v[(size_t)i * *dim + j] = lua_tonumberx(L, -1, &ok);
            if (!ok)
                luaL_argerror(L, arg, lua_pushfstring(L, "%s[%d][%d] must be a number, got %s", what, i + 1, j + 1,
                                                      nl_lua_shown(L, -1)));
            lua_pop(L, 1);
        }
        lua_settop(L, top);
    }
    return v;
}

static void pushrows(lua_State *L, const double *v, int n, int dim)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_createtable(L, dim, 0);
        for (int j = 0; j < dim; j++) {
            lua_pushnumber(L, v[(size_t)i * dim + j]);
            lua_rawseti(L, -2, j + 1);
        }
        lua_rawseti(L, -2, i + 1);
    }
}

/* nl.lid.mle(x [, k = 20]): x an nl.tensor (n, ...) or a table of n rows. */
static int l_mle(lua_State *L)
{
    lua_Integer k = luaL_optinteger(L, 2, 20);
    if (k < 1 || k > 1 << 20) luaL_argerror(L, 2, lua_pushfstring(L, "k must be an integer >= 1, got %I", k));
    lua_settop(L, 1);
    nl_tensor *x = nl_lua_testtensor(L, 1), *own = NULL;
    if (!x) {
        if (!lua_istable(L, 1))
            luaL_argerror(L, 1, lua_pushfstring(L, "points must be a tensor or a table of rows, got %s",
                                                luaL_typename(L, 1)));
        int n, dim;
        double *v = checkrows(L, 1, "points", &n, &dim);
        int64_t s[2] = { n, dim };
        if (!(own = nl_tensor_new(2, s))) return nl_lua_raise(L, NL_ENOMEM);
        float *d = nl_tensor_data(own);
        for (int64_t i = 0; i < (int64_t)n * dim; i++) d[i] = (float)v[i];
        x = own;
    }
    double lid;
    int rc = nl_lid_mle(x, (int)k, &lid);
    nl_tensor_free(own);
    if (rc == NL_EINVAL) return luaL_argerror(L, 1, nl_errmsg());
    if (rc) return nl_lua_raise(L, rc);
    lua_pushnumber(L, lid);
    return 1;
}

static nl_lid_sim checksim(lua_State *L, int arg, const char *s)
{
    nl_lid_sim k;
    if (nl_lid_sim_parse(s, &k)) luaL_argerror(L, arg, nl_errmsg());
    return k;
}

/* nl.lid.similarity(rows [, "cosine" | "correlation" | "invdist"]) */
static int l_similarity(lua_State *L)
{
    nl_lid_sim kind = checksim(L, 2, luaL_optstring(L, 2, "cosine"));
    lua_settop(L, 1); /* the tempbufs go above the argument */
    int n, dim;
    double *f = checkrows(L, 1, "vectors", &n, &dim);
    double *S = nl_lua_tempbuf(L, (size_t)n * n * sizeof *S);
    if (nl_lid_similarity(S, f, n, dim, kind)) return luaL_argerror(L, 1, nl_errmsg());
    pushrows(L, S, n, n);
    return 1;
}

/* A partition of similarity matrix argument 1 into two groups by `split`:
 * the groups (lists of 1-based indices) and split's score. */
static int partition(lua_State *L, int (*split)(const double *, int, uint8_t *, double *))
{
    lua_settop(L, 1);
    int n, dim;
    double *S = checkrows(L, 1, "similarity", &n, &dim);
    if (dim != n) luaL_argerror(L, 1, lua_pushfstring(L, "similarity must be square, got %d x %d", n, dim));
    uint8_t g[16];
    double score;
    if (split(S, n, g, &score)) return luaL_argerror(L, 1, nl_errmsg());
    for (int w = 0; w < 2; w++) {
        lua_newtable(L);
        int c = 0;
        for (int i = 0; i < n; i++)
            if (g[i] == w) {
                lua_pushinteger(L, i + 1);
                lua_rawseti(L, -2, ++c);
            }
    }
    lua_pushnumber(L, score);
    return 3;
}

/* nl.lid.mincut(S): the two groups (lists of 1-based indices) and the cut. */
static int l_mincut(lua_State *L)
{
    return partition(L, nl_lid_mincut);
}

/* nl.lid.spectral(S): the two clusters (lists of 1-based indices) and the score. */
static int l_spectral(lua_State *L)
{
    return partition(L, nl_lid_spectral);
}

/* A random batch of `batch` examples of d drawn with seed (stream 9). */
static nl_tensor *draw_batch(lua_State *L, const nl_dataset *d, int batch, uint64_t seed)
{
    if (d->n < batch)
        luaL_argerror(L, 3, lua_pushfstring(L, "data has %d examples, fewer than batch (%d)", (int)d->n, batch));
    int64_t s[4] = { batch, d->c, d->h, d->w };
    nl_tensor *x = nl_tensor_new(4, s);
    int64_t *idx = nl_lua_tempbuf(L, (size_t)batch * sizeof *idx);
    if (!x) nl_lua_raise(L, NL_ENOMEM);
    nl_rng r;
    nl_rng_seed_stream(&r, seed, 9);
    for (int i = 0; i < batch; i++) idx[i] = (int64_t)nl_rng_below(&r, (uint64_t)d->n);
    int rc = nl_dataset_batch(d, idx, batch, x, NULL);
    if (rc) {
        nl_tensor_free(x);
        luaL_argerror(L, 3, nl_errmsg());
    }
    return x;
}

static nl_dataset *checkdata(lua_State *L, int t)
{
    lua_getfield(L, t, "data");
    nl_dataset *d = lua_isnil(L, -1) ? NULL : nl_lua_testdataset(L, -1);
    if (!d)
        luaL_argerror(L, t, lua_pushfstring(L, "data must be a data set (naslab.Dataset), got %s",
                                            luaL_typename(L, -1)));
    lua_pop(L, 1);
    return d;
}

/* nl.lid.features(sn, arch, {data = d, batch = 128, k = 20, seed = 0}):
 * the per-layer LID vector (3N+2 values) of the cell with sn's weights. */
static int l_features(lua_State *L)
{
    nl_nn_ctx *ctx;
    nl_model *m = nl_lua_checksupernet(L, 1, &ctx);
    const nl_arch *a = nl_lua_checkarch(L, 2);
    if (a->space != &nl_space_nb201)
        luaL_argerror(L, 2, lua_pushfstring(L, "expected an nb201 arch, got an %s arch", a->space->name));
    luaL_checktype(L, 3, LUA_TTABLE);
    static const char *const known[] = { "data", "batch", "k", "seed", NULL };
    nl_lua_check_known(L, 3, known);
    nl_dataset *d = checkdata(L, 3);
    int k = (int)nl_lua_optint(L, 3, "k", 1, 1 << 20, 20);
    int batch = (int)nl_lua_optint(L, 3, "batch", 2, 1 << 20, 128);
    uint64_t seed = (uint64_t)nl_lua_optint(L, 3, "seed", 0, LUA_MAXINTEGER, 0);
    if (batch <= k) luaL_argerror(L, 3, lua_pushfstring(L, "batch (%d) must exceed k (%d)", batch, k));
    nl_tensor *x = draw_batch(L, d, batch, seed);
    uint8_t keep[6];
    nl_nb201net_cell(m, keep);
    double lid[3 * 64 + 2];
    int nl = 0;
    int rc = nl_lid_features(m, ctx, x, a->u.nb201.op, k, lid, &nl);
    nl_nb201net_set_cell(m, keep);
    nl_tensor_free(x);
    if (rc == NL_EINVAL || rc == NL_ESHAPE) return luaL_argerror(L, 3, nl_errmsg());
    if (rc) return nl_lua_raise(L, rc);
    lua_createtable(L, nl, 0);
    for (int i = 0; i < nl; i++) {
        lua_pushnumber(L, lid[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* nl.lid.criterion(sn, {data = d, mask = {31,...}, criterion = "lid" | "grad",
 * similarity = "cosine", partition = "mincut" | "spectral", repeats = 10, batch = 128, k = 20, seed = 0}) */
static int l_criterion(lua_State *L)
{
    nl_nn_ctx *ctx;
    nl_model *m = nl_lua_checksupernet(L, 1, &ctx);
    luaL_checktype(L, 2, LUA_TTABLE);
    static const char *const known[] = { "data", "mask", "criterion", "similarity", "partition", "repeats", "batch",
                                         "k", "seed", NULL };
    nl_lua_check_known(L, 2, known);
    nl_dataset *d = checkdata(L, 2);
    nl_lid_opts o;
    nl_lid_defaults(&o);
    uint8_t mask[6] = { 31, 31, 31, 31, 31, 31 };
    lua_getfield(L, 2, "mask");
    if (!lua_isnil(L, -1)) nl_lua_checkmask(L, -1, 2, "mask", mask);
    lua_pop(L, 1);
    const char *crit = nl_lua_optstr(L, 2, "criterion", "lid");
    if (!strcmp(crit, "lid")) o.criterion = NL_LID_CRIT_LID;
    else if (!strcmp(crit, "grad")) o.criterion = NL_LID_CRIT_GRAD;
    else luaL_argerror(L, 2, lua_pushfstring(L, "criterion must be lid or grad, got '%s'", crit));
    o.sim = checksim(L, 2, nl_lua_optstr(L, 2, "similarity", "cosine"));
    const char *part = nl_lua_optstr(L, 2, "partition", "mincut");
    if (!strcmp(part, "mincut")) o.partition = NL_LID_MINCUT;
    else if (!strcmp(part, "spectral")) o.partition = NL_LID_SPECTRAL;
    else luaL_argerror(L, 2, lua_pushfstring(L, "partition must be mincut or spectral, got '%s'", part));
    o.repeat = (int)nl_lua_optint(L, 2, "repeats", 1, 1 << 20, 10);
    o.batch = (int)nl_lua_optint(L, 2, "batch", 2, 1 << 20, 128);
    o.k = (int)nl_lua_optint(L, 2, "k", 1, 1 << 20, 20);
    o.seed = (uint64_t)nl_lua_optint(L, 2, "seed", 0, LUA_MAXINTEGER, 0);
    nl_lid_result r;
    int rc = nl_lid_criterion(m, ctx, d, mask, &o, &r);
    if (rc == NL_EINVAL || rc == NL_ESHAPE) return luaL_argerror(L, 2, nl_errmsg());
    if (rc) return nl_lua_raise(L, rc);
    lua_createtable(L, 0, 8);
    lua_createtable(L, 6, 0);
    for (int e = 0; e < 6; e++) {
        const nl_lid_edge *ed = &r.edge[e];
        lua_createtable(L, 0, 4);
        lua_pushboolean(L, ed->candidate);
        lua_setfield(L, -2, "candidate");
        if (ed->candidate) {
            lua_pushnumber(L, ed->score);
            lua_setfield(L, -2, "score");
            pushrows(L, ed->S, NL_LID_OPS, NL_LID_OPS);
            lua_setfield(L, -2, "S");
            unsigned g0 = 0;
            for (int k = 0; k < NL_LID_OPS; k++)
                if (ed->group[k] == 0) g0 |= 1u << k;
            /* groups are op sets of this edge's ops (all five: it is unsplit) */
            lua_createtable(L, 2, 0);
            lua_pushinteger(L, g0);
            lua_rawseti(L, -2, 1);
            lua_pushinteger(L, NL_LID_ALL & ~g0);
            lua_rawseti(L, -2, 2);
            lua_setfield(L, -2, "groups");
        }
        lua_rawseti(L, -2, e + 1);
    }
    lua_setfield(L, -2, "edges");
    if (r.best >= 0) {
        lua_pushinteger(L, r.best + 1);
        lua_setfield(L, -2, "edge");
        lua_getfield(L, -1, "edges");
        lua_geti(L, -1, r.best + 1);
        lua_getfield(L, -1, "groups");
        lua_setfield(L, -4, "groups");
        lua_getfield(L, -1, "score");
        lua_setfield(L, -4, "score");
        lua_pop(L, 2);
    }
    lua_pushinteger(L, r.forwards);
    lua_setfield(L, -2, "forwards");
    lua_pushinteger(L, r.scratch_bytes);
    lua_setfield(L, -2, "scratch_bytes");
    lua_pushnumber(L, r.seconds);
    lua_setfield(L, -2, "seconds");
    lua_pushstring(L, crit);
    lua_setfield(L, -2, "criterion");
    return 1;
}

/* nl.lid.sample(mask [, rng]): a cell string drawn uniformly inside mask. */
static int l_sample(lua_State *L)
{
    uint8_t mask[6];
    nl_lua_checkmask(L, 1, 1, "mask", mask);
    nl_rng *r = nl_lua_optrng(L, 2);
    nl_arch a;
    memset(&a, 0, sizeof a);
    a.space = &nl_space_nb201;
    if (nl_nb201net_sample_masked(mask, r, a.u.nb201.op)) return luaL_argerror(L, 1, nl_errmsg());
    nl_lua_pusharch(L, &a);
    return 1;
}

/* nl.lid.owns(mask, arch): whether the cell lies inside mask. */
static int l_owns(lua_State *L)
{
    uint8_t mask[6];
    nl_lua_checkmask(L, 1, 1, "mask", mask);
    const nl_arch *a = nl_lua_checkarch(L, 2);
    if (a->space != &nl_space_nb201)
        luaL_argerror(L, 2, lua_pushfstring(L, "expected an nb201 arch, got an %s arch", a->space->name));
    lua_pushboolean(L, nl_nb201net_mask_has(mask, a->u.nb201.op));
    return 1;
}

static const luaL_Reg lid_funcs[] = { { "mle", l_mle },         { "similarity", l_similarity },
                                      { "mincut", l_mincut },   { "spectral", l_spectral },
                                      { "features", l_features },
                                      { "criterion", l_criterion }, { "sample", l_sample },
                                      { "owns", l_owns },       { NULL, NULL } };

int nl_open_lid(lua_State *L)
{
    int nl = lua_gettop(L);
    luaL_newlib(L, lid_funcs);
    lua_setfield(L, nl, "lid");
    return 0;
}
