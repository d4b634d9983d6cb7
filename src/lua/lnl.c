/* SPDX-License-Identifier: GPL-3.0-or-later */
/* lnl.c - helpers shared by the Lua bindings: raising naslab errors, scratch
 * memory owned by the collector, reading lists of numbers and option tables
 * (see lnl.h). */
#include "lua/lnl.h"

#include <math.h>
#include <string.h>

#include "core/error.h"

int nl_lua_raise(lua_State *L, int rc)
{
    if (rc == NL_EINTR) return luaL_error(L, "interrupted!");
    return luaL_error(L, "%s", nl_errmsg());
}

int nl_lua_fail(lua_State *L, int rc)
{
    luaL_pushfail(L);
    if (rc == NL_EINTR)
        lua_pushliteral(L, "interrupted!");
    else
        lua_pushstring(L, nl_errmsg());
    return 2;
}

void *nl_lua_tempbuf(lua_State *L, size_t size)
{
    return lua_newuserdatauv(L, size ? size : 1, 0);
}

double *nl_lua_checknumbers(lua_State *L, int arg, size_t *n)
{
    arg = lua_absindex(L, arg);
    nl_tensor *t = nl_lua_testtensor(L, arg);
    if (t) {
        if (t->ndim != 1)
            luaL_argerror(L, arg, lua_pushfstring(L, "expected a 1-d tensor, got %d dimensions", t->ndim));
        int64_t len = t->shape[0];
        double *out = nl_lua_tempbuf(L, (size_t)len * sizeof *out);
        const float *d = t->st->data + t->offset;
        for (int64_t i = 0; i < len; i++) out[i] = d[i * t->stride[0]];
        *n = (size_t)len;
        return out;
    }
    if (!lua_istable(L, arg))
        luaL_typeerror(L, arg, "list of numbers");
    lua_Integer len = luaL_len(L, arg);
    double *out = nl_lua_tempbuf(L, (size_t)len * sizeof *out);
    for (lua_Integer i = 1; i <= len; i++) {
        int isnum;
        lua_geti(L, arg, i);
        out[i - 1] = lua_tonumberx(L, -1, &isnum);
        if (!isnum)
            luaL_argerror(L, arg, lua_pushfstring(L, "element %I is a %s, not a number", (LUAI_UACINT)i,
                                                  luaL_typename(L, -1)));
        lua_pop(L, 1);
    }
    *n = (size_t)len;
    return out;
}

/* ---------------------------------------------------------------- option tables */

const char *nl_lua_shown(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TNUMBER) return luaL_tolstring(L, idx, NULL);
    if (lua_type(L, idx) == LUA_TSTRING) return lua_pushfstring(L, "'%s'", lua_tostring(L, idx));
    return luaL_typename(L, idx);
}

void nl_lua_check_known(lua_State *L, int t, const char *const *known)
{
    lua_pushnil(L);
    while (lua_next(L, t)) {
        int found = 0;
        if (lua_type(L, -2) == LUA_TSTRING)
            for (int i = 0; known[i] && !found; i++) found = !strcmp(known[i], lua_tostring(L, -2));
        if (!found) {
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (int i = 0; known[i]; i++) {
                if (i) luaL_addstring(&b, ", ");
                luaL_addstring(&b, known[i]);
            }
            luaL_pushresult(&b);
            lua_pushvalue(L, -3);
            luaL_argerror(L, t, lua_pushfstring(L, "unknown option %s (known: %s)", nl_lua_shown(L, -1), lua_tostring(L, -2)));
        }
        lua_pop(L, 1);
    }
}

lua_Integer nl_lua_optint(lua_State *L, int t, const char *key, lua_Integer lo, lua_Integer hi, lua_Integer def)
{
    lua_getfield(L, t, key);
    lua_Integer v = def;
    if (!lua_isnil(L, -1)) {
        int isint;
        v = lua_tointegerx(L, -1, &isint);
        if (lua_type(L, -1) != LUA_TNUMBER || !isint || v < lo || v > hi) {
            const char *got = nl_lua_shown(L, -1);
            if (hi == LUA_MAXINTEGER)
                luaL_argerror(L, t, lua_pushfstring(L, "%s must be an integer >= %I, got %s", key, lo, got));
            luaL_argerror(L, t, lua_pushfstring(L, "%s must be an integer in %I..%I, got %s", key, lo, hi, got));
        }
    }
    lua_pop(L, 1);
    return v;
}

double nl_lua_optnum(lua_State *L, int t, const char *key, double def)
{
    lua_getfield(L, t, key);
    double v = def;
    if (!lua_isnil(L, -1)) {
        v = lua_tonumber(L, -1);
        if (lua_type(L, -1) != LUA_TNUMBER || !(v >= 0) || isinf(v)) {
            const char *got = nl_lua_shown(L, -1);
            luaL_argerror(L, t, lua_pushfstring(L, "%s must be a number >= 0, got %s", key, got));
        }
    }
    lua_pop(L, 1);
    return v;
}

int nl_lua_optbool(lua_State *L, int t, const char *key, int def)
{
    lua_getfield(L, t, key);
    int v = def;
    if (!lua_isnil(L, -1)) {
        if (!lua_isboolean(L, -1))
            luaL_argerror(L, t, lua_pushfstring(L, "%s must be a boolean, got %s", key, luaL_typename(L, -1)));
        v = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

const char *nl_lua_optstr(lua_State *L, int t, const char *key, const char *def)
{
    lua_getfield(L, t, key);
    const char *s = def;
    if (lua_type(L, -1) == LUA_TSTRING) s = lua_tostring(L, -1);
    else if (!lua_isnil(L, -1))
        luaL_argerror(L, t, lua_pushfstring(L, "%s must be a string, got %s", key, luaL_typename(L, -1)));
    lua_pop(L, 1);
    return s;
}
