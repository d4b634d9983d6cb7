/* SPDX-License-Identifier: GPL-3.0-or-later */
/* l_pareto.c - the nl.pareto table: front, ranks, crowding and hypervolume
 * over a Lua table of rows ({ {acc, flops}, ... }) or a 2-d naslab.Tensor,
 * on top of core/pareto.
 *
 * EVERY OBJECTIVE IS MINIMISED unless the optional `sense` argument says
 * otherwise: "max" (or "min") for all objectives, or a table such as
 * {"max", "min"} with one entry per objective. Accuracy must be marked "max".
 * Indices and front numbers are 1-based, as everywhere in Lua. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "core/pareto.h"
#include "lua/lnl.h"

/* Reads argument `arg` as n x m points into a tempbuf left on the stack.
 * m is 0 for an empty set of rows. NaN is refused, and so are infinities
 * when `finite` is set (crowding and hypervolume need finite values). */
static double *check_points(lua_State *L, int arg, int64_t *n, int *m, int finite)
{
    nl_tensor *t = nl_lua_testtensor(L, arg);
    if (t) {
        if (t->ndim != 2)
            luaL_argerror(L, arg, lua_pushfstring(L, "expected a 2-d tensor, got %d dimensions", t->ndim));
        if (t->shape[1] > INT32_MAX) luaL_argerror(L, arg, "too many objectives");
        *n = t->shape[0];
        *m = (int)t->shape[1];
        if (*m == 0 && *n > 0) luaL_argerror(L, arg, "tensor has no columns");
        double *out = nl_lua_tempbuf(L, (size_t)(*n) * (size_t)(*m) * sizeof *out);
        const float *d = t->st->data + t->offset;
        for (int64_t i = 0; i < *n; i++)
            for (int j = 0; j < *m; j++) {
                double v = d[i * t->stride[0] + j * t->stride[1]];
                if (isnan(v) || (finite && isinf(v)))
                    luaL_argerror(L, arg, lua_pushfstring(L, "row %I value %d is %s", (LUAI_UACINT)(i + 1), j + 1,
                                                          isnan(v) ? "NaN" : "infinite"));
                out[i * *m + j] = v;
            }
        return out;
    }
    if (!lua_istable(L, arg)) luaL_typeerror(L, arg, "table of rows or 2-d tensor");
    lua_Integer rows = luaL_len(L, arg);
    int cols = 0;
    if (rows > 0) {
        if (lua_geti(L, arg, 1) != LUA_TTABLE)
            luaL_argerror(L, arg, lua_pushfstring(L, "row 1 is a %s, not a table", luaL_typename(L, -1)));
        lua_Integer c = luaL_len(L, -1);
        lua_pop(L, 1);
        if (c < 1) luaL_argerror(L, arg, "row 1 has no values");
        if (c > INT32_MAX) luaL_argerror(L, arg, "too many objectives");
        cols = (int)c;
    }
    double *out = nl_lua_tempbuf(L, (size_t)rows * (size_t)cols * sizeof *out);
    for (lua_Integer i = 1; i <= rows; i++) {
        if (lua_geti(L, arg, i) != LUA_TTABLE)
            luaL_argerror(L, arg, lua_pushfstring(L, "row %I is a %s, not a table", (LUAI_UACINT)i,
                                                  luaL_typename(L, -1)));
        lua_Integer c = luaL_len(L, -1);
        if (c != cols)
            luaL_argerror(L, arg, lua_pushfstring(L, "row %I has %I values, row 1 has %d", (LUAI_UACINT)i,
                                                  (LUAI_UACINT)c, cols));
        for (int j = 1; j <= cols; j++) {
            int isnum;
            lua_geti(L, -1, j);
            double v = lua_tonumberx(L, -1, &isnum);
            if (!isnum)
                luaL_argerror(L, arg, lua_pushfstring(L, "row %I value %d is a %s, not a number", (LUAI_UACINT)i, j,
                                                      luaL_typename(L, -1)));
            if (isnan(v) || (finite && isinf(v)))
                luaL_argerror(L, arg, lua_pushfstring(L, "row %I value %d is %s", (LUAI_UACINT)i, j,
                                                      isnan(v) ? "NaN" : "infinite"));
            out[(i - 1) * cols + (j - 1)] = v;
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    *n = rows;
    *m = cols;
    return out;
}

static int sense_of(lua_State *L, int arg, const char *s)
{
    if (strcmp(s, "min") == 0) return NL_PARETO_MIN;
    if (strcmp(s, "max") == 0) return NL_PARETO_MAX;
    return luaL_argerror(L, arg, lua_pushfstring(L, "sense must be \"min\" or \"max\", got \"%s\"", s));
}

/* Argument `arg`: nil (minimise all), "min"/"max" for all, or a table of m
 * such strings. Returns a tempbuf (pushed) of m senses. */
static int *check_sense(lua_State *L, int arg, int m)
{
    int *sense = nl_lua_tempbuf(L, (size_t)(m > 0 ? m : 1) * sizeof *sense);
    int t = lua_type(L, arg);
    if (t == LUA_TNONE || t == LUA_TNIL) {
        for (int j = 0; j < m; j++) sense[j] = NL_PARETO_MIN;
    } else if (t == LUA_TSTRING) {
        int s = sense_of(L, arg, lua_tostring(L, arg));
        for (int j = 0; j < m; j++) sense[j] = s;
    } else if (t == LUA_TTABLE) {
        lua_Integer len = luaL_len(L, arg);
        if (m == 0) return sense;
        if (len != m)
            luaL_argerror(L, arg, lua_pushfstring(L, "sense has %I entries, points have %d objectives",
                                                  (LUAI_UACINT)len, m));
        for (int j = 0; j < m; j++) {
            lua_geti(L, arg, j + 1);
            const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
            if (!s || (strcmp(s, "min") != 0 && strcmp(s, "max") != 0))
                luaL_argerror(L, arg, lua_pushfstring(L, "sense[%d] must be \"min\" or \"max\", got %s%s%s", j + 1,
                                                      s ? "\"" : "a ", s ? s : luaL_typename(L, -1), s ? "\"" : ""));
            sense[j] = strcmp(s, "max") == 0 ? NL_PARETO_MAX : NL_PARETO_MIN;
            lua_pop(L, 1);
        }
    } else {
        luaL_typeerror(L, arg, "nil, \"min\", \"max\" or table of them");
    }
    return sense;
}

/* nl.pareto.front(points [, sense]) -> indices, rows
 * indices: ascending 1-based indices of the non-dominated points; rows: those
 * points, in the same order (for a table argument the very row tables given,
 * so extra fields on them travel along; for a tensor, new tables). */
static int l_front(lua_State *L)
{
    lua_settop(L, 2); /* absent arguments become nil below the scratch buffers */
    int64_t n;
    int m;
    double *p = check_points(L, 1, &n, &m, 0);
    int *sense = check_sense(L, 2, m);
    int64_t *idx = nl_lua_tempbuf(L, (size_t)(n ? n : 1) * sizeof *idx), k = 0;
    if (n > 0) {
        int rc = nl_pareto_front(idx, &k, p, n, m, sense, NULL, NULL);
        if (rc) return nl_lua_raise(L, rc);
    }
    lua_createtable(L, (int)k, 0);
    lua_createtable(L, (int)k, 0);
    int istable = lua_istable(L, 1);
    for (int64_t i = 0; i < k; i++) {
        lua_pushinteger(L, idx[i] + 1);
        lua_seti(L, -3, i + 1);
        if (istable) {
            lua_geti(L, 1, idx[i] + 1);
        } else {
            lua_createtable(L, m, 0);
            for (int j = 0; j < m; j++) {
                lua_pushnumber(L, p[idx[i] * m + j]);
                lua_seti(L, -2, j + 1);
            }
        }
        lua_seti(L, -2, i + 1);
    }
    return 2;
}

/* nl.pareto.ranks(points [, sense]) -> ranks, nfronts
 * ranks[i] is point i's front number: 1 for the non-dominated points, 2 for
 * those dominated only by front 1, and so on. */
static int l_ranks(lua_State *L)
{
    lua_settop(L, 2); /* absent arguments become nil below the scratch buffers */
    int64_t n, nf = 0;
    int m;
    double *p = check_points(L, 1, &n, &m, 0);
    int *sense = check_sense(L, 2, m);
    int64_t *rank = nl_lua_tempbuf(L, (size_t)(n ? n : 1) * sizeof *rank);
    if (n > 0) {
        int rc = nl_pareto_ranks(rank, &nf, p, n, m, sense, NULL, NULL);
        if (rc) return nl_lua_raise(L, rc);
    }
    lua_createtable(L, (int)n, 0);
    for (int64_t i = 0; i < n; i++) {
        lua_pushinteger(L, rank[i] + 1);
        lua_seti(L, -2, i + 1);
    }
    lua_pushinteger(L, nf);
    return 2;
}

/* nl.pareto.crowding(points [, sense]) -> distances
 * NSGA-II crowding distance of each point within its own front (the fronts
 * come from ranks(points, sense)); boundary points get math.huge. */
static int l_crowding(lua_State *L)
{
    lua_settop(L, 2); /* absent arguments become nil below the scratch buffers */
    int64_t n;
    int m;
    double *p = check_points(L, 1, &n, &m, 1);
    int *sense = check_sense(L, 2, m);
    int64_t *rank = nl_lua_tempbuf(L, (size_t)(n ? n : 1) * sizeof *rank);
    double *dist = nl_lua_tempbuf(L, (size_t)(n ? n : 1) * sizeof *dist);
    if (n > 0) {
        int rc = nl_pareto_ranks(rank, NULL, p, n, m, sense, NULL, NULL);
        if (!rc) rc = nl_pareto_crowding(dist, p, n, m, rank);
        if (rc) return nl_lua_raise(L, rc);
    }
    lua_createtable(L, (int)n, 0);
    for (int64_t i = 0; i < n; i++) {
        lua_pushnumber(L, dist[i]);
        lua_seti(L, -2, i + 1);
    }
    return 1;
}

/* nl.pareto.hypervolume(points, ref [, sense]) -> number
 * Volume dominated by the points and bounded by ref; points not strictly
 * better than ref in every objective add nothing. */
static int l_hypervolume(lua_State *L)
{
    lua_settop(L, 3); /* absent arguments become nil below the scratch buffers */
    int64_t n;
    int m;
    double *p = check_points(L, 1, &n, &m, 1);
    size_t nref;
    double *ref = nl_lua_checknumbers(L, 2, &nref);
    if (n == 0) {
        if (nref < 1) luaL_argerror(L, 2, "reference point is empty");
        m = (int)nref;
    } else if (nref != (size_t)m) {
        luaL_argerror(L, 2, lua_pushfstring(L, "reference point has %d values, points have %d objectives", (int)nref,
                                            m));
    }
    for (int j = 0; j < m; j++)
        if (!isfinite(ref[j])) luaL_argerror(L, 2, lua_pushfstring(L, "reference value %d is not finite", j + 1));
    int *sense = check_sense(L, 3, m);
    double hv = 0;
    int rc = nl_pareto_hypervolume(&hv, p, n, m, ref, sense, NULL, NULL);
    if (rc) return nl_lua_raise(L, rc);
    lua_pushnumber(L, hv);
    return 1;
}

int nl_open_pareto(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "front", l_front },
        { "ranks", l_ranks },
        { "crowding", l_crowding },
        { "hypervolume", l_hypervolume },
        { NULL, NULL },
    };
    luaL_newlib(L, fns);
    lua_setfield(L, -2, "pareto");
    return 0;
}
