/* SPDX-License-Identifier: GPL-3.0-or-later */
/* l_search.c - the C parts of the search recipes as Lua sees them:
 * nl.pairclf(opts), SMEM-NAS's pairwise-comparison classifier
 * (search/pairclf.h), a naslab.PairClf with fit(X, y), prob(A, B) and
 * wins(A, B [, soft]). Rows are 2-d naslab.Tensor values, one encoded
 * architecture per row (sp:encode(list, kind)); the C object is made at the
 * first fit, when the row width is known. */
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "lua/lnl.h"
#include "search/pairclf.h"

#define PAIRCLF_MT "naslab.PairClf"

typedef struct lpairclf {
    nl_pairclf *c; /* NULL until the first fit */
    nl_pairclf_opts o;
    int64_t dim;
} lpairclf;

static lpairclf *checkclf(lua_State *L, int arg) { return luaL_checkudata(L, arg, PAIRCLF_MT); }

static const char *const KNOWN[] = { "hidden", "epochs", "lr", "weight_decay", "seed", NULL };

/* nl.pairclf([opts]) */
static int l_pairclf(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    nl_lua_check_known(L, 1, KNOWN);
    nl_pairclf_opts o;
    nl_pairclf_defaults(&o);
    o.hidden = (int)nl_lua_optint(L, 1, "hidden", 0, 4096, o.hidden);
    o.epochs = (int)nl_lua_optint(L, 1, "epochs", 1, 1000000, o.epochs);
    o.lr = nl_lua_optnum(L, 1, "lr", o.lr);
    if (!(o.lr > 0)) return luaL_argerror(L, 1, "lr must be a number > 0, got 0");
    o.weight_decay = nl_lua_optnum(L, 1, "weight_decay", o.weight_decay);
    o.seed = (uint64_t)nl_lua_optint(L, 1, "seed", 0, LUA_MAXINTEGER, 0);
    lpairclf *u = lua_newuserdatauv(L, sizeof *u, 0);
    memset(u, 0, sizeof *u);
    u->o = o;
    luaL_setmetatable(L, PAIRCLF_MT);
    return 1;
}

/* Argument `arg` as contiguous rows (a tempbuf pushed on the stack): a 2-d
 * tensor of n rows of width *dim (*dim == 0: any width, stored). */
static float *checkrows(lua_State *L, int arg, int64_t *n, int64_t *dim)
{
    nl_tensor *t = nl_lua_testtensor(L, arg);
    if (!t) luaL_typeerror(L, arg, "2-d naslab.Tensor (one encoded arch per row)");
    if (t->ndim != 2) luaL_argerror(L, arg, lua_pushfstring(L, "expected a 2-d tensor, got %d dimensions", t->ndim));
    if (t->shape[1] < 1) luaL_argerror(L, arg, "the rows are empty");
    if (*dim && t->shape[1] != *dim)
        luaL_argerror(L, arg, lua_pushfstring(L, "rows have %I values, the classifier was fitted on %I",
                                              (LUAI_UACINT)t->shape[1], (LUAI_UACINT)*dim));
    *n = t->shape[0];
    *dim = t->shape[1];
    float *out = nl_lua_tempbuf(L, (size_t)(*n * *dim + 1) * sizeof *out);
    const float *d = t->st->data + t->offset;
    for (int64_t i = 0; i < *n; i++)
        for (int64_t j = 0; j < *dim; j++) out[i * *dim + j] = d[i * t->stride[0] + j * t->stride[1]];
    return out;
}

/* clf:fit(X, y) -> the final training objective. Refits from the seeded
 * start; a new row width makes a new classifier. */
static int l_fit(lua_State *L)
{
    lpairclf *u = checkclf(L, 1);
    int64_t n, dim = 0;
    float *X = checkrows(L, 2, &n, &dim);
    size_t ny;
    double *y = nl_lua_checknumbers(L, 3, &ny);
    if ((int64_t)ny != n)
        return luaL_argerror(L, 3, lua_pushfstring(L, "%I targets for %I rows", (LUAI_UACINT)ny, (LUAI_UACINT)n));
    if (!u->c || u->dim != dim) {
        nl_pairclf *c;
        int rc = nl_pairclf_new(&c, dim, &u->o);
        if (rc) return nl_lua_raise(L, rc);
        nl_pairclf_free(u->c);
        u->c = c;
        u->dim = dim;
    }
    double loss;
    int rc = nl_pairclf_fit(u->c, X, y, n, &loss);
    if (rc) return nl_lua_raise(L, rc);
    lua_pushnumber(L, loss);
    return 1;
}

static lpairclf *checkfitted(lua_State *L)
{
    lpairclf *u = checkclf(L, 1);
    if (!u->c) luaL_error(L, "the classifier is not fitted: call fit(X, y) first");
    return u;
}

/* clf:prob(A, B) -> na x nb tensor of P(A_i beats B_j). */
static int l_prob(lua_State *L)
{
    lpairclf *u = checkfitted(L);
    int64_t na, nb, dim = u->dim;
    float *A = checkrows(L, 2, &na, &dim);
    float *B = checkrows(L, 3, &nb, &dim);
    double *p = nl_lua_tempbuf(L, (size_t)(na * nb + 1) * sizeof *p);
    int rc = nl_pairclf_prob(u->c, p, A, na, B, nb);
    if (rc) return nl_lua_raise(L, rc);
    int64_t shape[2] = { na, nb };
    nl_tensor *t = nl_tensor_new(2, shape);
    if (!t) return nl_lua_raise(L, NL_ENOMEM);
    for (int64_t k = 0; k < na * nb; k++) t->st->data[k] = (float)p[k];
    nl_lua_pushtensor(L, t);
    return 1;
}

/* clf:wins(A, B [, soft]) -> list: predicted wins of each A row against the
 * rows of B (soft: the sum of the probabilities). */
static int l_wins(lua_State *L)
{
    lpairclf *u = checkfitted(L);
    int soft = lua_toboolean(L, 4);
    int64_t na, nb, dim = u->dim;
    float *A = checkrows(L, 2, &na, &dim);
    float *B = checkrows(L, 3, &nb, &dim);
    double *w = nl_lua_tempbuf(L, (size_t)(na + 1) * sizeof *w);
    int rc = nl_pairclf_wins(u->c, w, A, na, B, nb, soft);
    if (rc) return nl_lua_raise(L, rc);
    lua_createtable(L, (int)na, 0);
    for (int64_t i = 0; i < na; i++) {
        lua_pushnumber(L, w[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int l_tostring(lua_State *L)
{
    lpairclf *u = checkclf(L, 1);
    if (u->o.hidden)
        lua_pushfstring(L, "naslab.PairClf: MLP, %d hidden, %s", u->o.hidden, u->c ? "fitted" : "not fitted");
    else
        lua_pushfstring(L, "naslab.PairClf: logistic, %s", u->c ? "fitted" : "not fitted");
    return 1;
}

static int l_gc(lua_State *L)
{
    lpairclf *u = checkclf(L, 1);
    nl_pairclf_free(u->c);
    u->c = NULL;
    return 0;
}

int nl_open_search(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "fit", l_fit },
        { "prob", l_prob },
        { "wins", l_wins },
        { NULL, NULL },
    };
    if (luaL_newmetatable(L, PAIRCLF_MT)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, l_gc);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, l_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, l_pairclf);
    lua_setfield(L, -2, "pairclf");
    return 0;
}
