/* SPDX-License-Identifier: GPL-3.0-or-later */
/* lnl.c - helpers shared by the Lua bindings: raising naslab errors, scratch
 * memory owned by the collector, reading lists of numbers (see lnl.h). */
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
