/* SPDX-License-Identifier: GPL-3.0-or-later */
/* l_stats.c - the nl.stats table: kendall, spearman, pearson, rank, topk and
 * ndcg over Lua sequences of numbers or 1-d naslab.Tensors, on top of
 * core/stats. Where the direction matters (topk, ndcg), x is the predicted
 * score and y the true value. An undefined statistic (tau-b of a constant
 * list) comes back as NaN, as from scipy; bad input raises. */
#include <stdint.h>

#include "core/error.h"
#include "core/stats.h"
#include "lua/lnl.h"

/* Read x (argument 1) and y (argument 2) and check them in the order the
 * reader sees them, so each message lands on the argument at fault:
 * "bad argument #2 to 'kendall' (y has 4 values but x has 5)". The scratch
 * copies go on the stack above argument 3, which callers read first (so that
 * a missing k still says "got no value") before setting the top to 3. */
static void check_xy(lua_State *L, const char *fn, double **x, size_t *nx, double **y, size_t *ny, size_t min_n,
                     int finite)
{
    *x = nl_lua_checknumbers(L, 1, nx);
    *y = nl_lua_checknumbers(L, 2, ny);
    if (nl_stats_check(fn, "x", *x, *nx, min_n, finite)) luaL_argerror(L, 1, nl_errmsg());
    if (*ny != *nx)
        luaL_argerror(L, 2, lua_pushfstring(L, "y has %I values but x has %I", (LUAI_UACINT)*ny, (LUAI_UACINT)*nx));
    if (nl_stats_check(fn, "y", *y, *ny, min_n, finite)) luaL_argerror(L, 2, nl_errmsg());
}

/* Once check_xy has passed, the C function can only object to k (NL_ERANGE,
 * argument 3) or to what one statistic asks of y (NL_EINVAL, argument 2). */
static int fail(lua_State *L, int rc)
{
    if (rc == NL_ERANGE) return luaL_argerror(L, 3, nl_errmsg());
    if (rc == NL_EINVAL) return luaL_argerror(L, 2, nl_errmsg());
    return nl_lua_raise(L, rc);
}

/* nl.stats.kendall(x, y [, variant]): tau-b (default, scipy's) or tau-a ("a"). */
static int l_kendall(lua_State *L)
{
    static const char *const variants[] = { "b", "a", NULL };
    double *x, *y, tau;
    size_t nx, ny;
    int v = luaL_checkoption(L, 3, "b", variants);
    lua_settop(L, 3);
    check_xy(L, "kendall", &x, &nx, &y, &ny, 2, 0);
    int rc = nl_stats_kendall(&tau, x, nx, y, ny, v == 0 ? NL_TAU_B : NL_TAU_A);
    if (rc) return fail(L, rc);
    lua_pushnumber(L, tau);
    return 1;
}

/* nl.stats.spearman(x, y): Pearson correlation of average ranks. */
static int l_spearman(lua_State *L)
{
    double *x, *y, rho;
    size_t nx, ny;
    lua_settop(L, 3);
    check_xy(L, "spearman", &x, &nx, &y, &ny, 2, 0);
    int rc = nl_stats_spearman(&rho, x, nx, y, ny);
    if (rc) return fail(L, rc);
    lua_pushnumber(L, rho);
    return 1;
}

/* nl.stats.pearson(x, y): values must be finite. */
static int l_pearson(lua_State *L)
{
    double *x, *y, r;
    size_t nx, ny;
    lua_settop(L, 3);
    check_xy(L, "pearson", &x, &nx, &y, &ny, 2, 1);
    int rc = nl_stats_pearson(&r, x, nx, y, ny);
    if (rc) return fail(L, rc);
    lua_pushnumber(L, r);
    return 1;
}

/* nl.stats.rank(x): a new table of average ranks, 1 for the smallest value. */
static int l_rank(lua_State *L)
{
    size_t n;
    lua_settop(L, 1);
    double *x = nl_lua_checknumbers(L, 1, &n);
    if (nl_stats_check("rank", "x", x, n, 1, 0)) luaL_argerror(L, 1, nl_errmsg());
    double *r = nl_lua_tempbuf(L, n * sizeof *r);
    int rc = nl_stats_rank(r, x, n);
    if (rc) return nl_lua_raise(L, rc);
    lua_createtable(L, n < INT32_MAX ? (int)n : 0, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushnumber(L, r[i]);
        lua_seti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* nl.stats.topk(x, y, k): share of the true top-k (largest y) found in the
 * predicted top-k (largest x); ties at the k-th place count by expectation. */
static int l_topk(lua_State *L)
{
    double *x, *y, p;
    size_t nx, ny;
    lua_Integer k = luaL_checkinteger(L, 3);
    lua_settop(L, 3);
    check_xy(L, "topk", &x, &nx, &y, &ny, 1, 0);
    int rc = nl_stats_topk(&p, x, nx, y, ny, (int64_t)k);
    if (rc) return fail(L, rc);
    lua_pushnumber(L, p);
    return 1;
}

/* nl.stats.ndcg(x, y [, k]): NDCG@k (default k = #x) of the order by x with
 * gains y (>= 0). */
static int l_ndcg(lua_State *L)
{
    double *x, *y, v;
    size_t nx, ny;
    int has_k = !lua_isnoneornil(L, 3);
    lua_Integer k = has_k ? luaL_checkinteger(L, 3) : 0;
    lua_settop(L, 3);
    check_xy(L, "ndcg", &x, &nx, &y, &ny, 1, 0);
    if (!has_k) k = (lua_Integer)nx;
    int rc = nl_stats_ndcg(&v, x, nx, y, ny, (int64_t)k);
    if (rc) return fail(L, rc);
    lua_pushnumber(L, v);
    return 1;
}

int nl_open_stats(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        { "kendall", l_kendall }, { "spearman", l_spearman }, { "pearson", l_pearson },
        { "rank", l_rank },       { "topk", l_topk },         { "ndcg", l_ndcg },
        { NULL, NULL },
    };
    luaL_newlib(L, funcs);
    lua_setfield(L, -2, "stats");
    return 0;
}
