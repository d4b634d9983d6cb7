/* SPDX-License-Identifier: GPL-3.0-or-later */
/* l_proxy.c - the Lua face of the zero-cost proxies (src/predict/proxy.h):
 * nl.proxy(name, arch, data [, opts]) scores one untrained NAS-Bench-201
 * network on a minibatch of a data set; nl.proxies() lists them. Uses
 * predict (proxy), nn (ctx, nb201net), the space and data bindings. */
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "lua/l_space.h"
#include "lua/lnl.h"
#include "predict/proxy.h"
#include "space/nb201.h"

static const char *const KNOWN[] = { "batch", "seed", "C", "N", "classes", "threads", NULL };

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

/* nl.proxy(name, arch, data [, {batch = 128, seed = 0, C = 16, N = 5, classes, threads}]) */
static int l_proxy(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const nl_proxy *p = nl_proxy_find(name);
    if (!p) return luaL_argerror(L, 1, nl_errmsg());
    const nl_arch *a;
    if (lua_type(L, 2) == LUA_TSTRING) {
        nl_arch tmp;
        if (nl_space_nb201.parse(lua_tostring(L, 2), &tmp)) return luaL_argerror(L, 2, nl_errmsg());
        nl_lua_pusharch(L, &tmp);
        lua_replace(L, 2);
    } else if (!luaL_testudata(L, 2, "naslab.Arch")) {
        return luaL_argerror(L, 2, lua_pushfstring(L, "an nb201 cell (naslab.Arch or string) expected, got %s",
                                                   luaL_typename(L, 2)));
    }
    a = nl_lua_checkarch(L, 2);
    if (a->space != &nl_space_nb201)
        return luaL_argerror(L, 2, lua_pushfstring(L, "expected an nb201 arch, got an %s arch", a->space->name));
    nl_dataset *d = nl_lua_testdataset(L, 3);
    if (!d)
        return luaL_argerror(L, 3, lua_pushfstring(L, "a data set (naslab.Dataset) expected, got %s",
                                                   luaL_typename(L, 3)));
    if (d->h != d->w)
        return luaL_argerror(L, 3, lua_pushfstring(L, "images must be square, got %dx%d", (int)d->h, (int)d->w));
    if (d->h < 4 || d->h % 4)
        return luaL_argerror(
            L, 3, lua_pushfstring(L, "image size %d is not a multiple of 4 (pad or downsample it)", (int)d->h));
    if (lua_isnoneornil(L, 4)) {
        lua_settop(L, 3);
        lua_newtable(L);
    }
    luaL_checktype(L, 4, LUA_TTABLE);
    nl_lua_check_known(L, 4, KNOWN);
    nl_proxy_opts o;
    nl_proxy_defaults(&o);
    o.net.C = (int)nl_lua_optint(L, 4, "C", 1, 1024, 16);
    o.net.N = (int)nl_lua_optint(L, 4, "N", 1, 64, 5);
    o.net.in_ch = (int)d->c;
    o.net.hw = (int)d->h;
    o.net.classes = (int)nl_lua_optint(L, 4, "classes", 2, 100000, d->nclasses < 2 ? 2 : d->nclasses);
    memcpy(o.net.ops, a->u.nb201.op, 6);
    o.batch = (int)nl_lua_optint(L, 4, "batch", 2, 1 << 20, 128);
    o.seed = (uint64_t)nl_lua_optint(L, 4, "seed", 0, LUA_MAXINTEGER, 0);
    int threads = (int)nl_lua_optint(L, 4, "threads", 1, 64, default_threads());
    if (p->uses_batch && o.batch > d->n)
        return luaL_argerror(L, 4, lua_pushfstring(L, "batch %d is larger than the data (%d examples)", o.batch,
                                                   (int)d->n));
    nl_nn_ctx *c = nl_nn_ctx_new(threads);
    if (!c) return nl_lua_raise(L, NL_ENOMEM);
    double v = 0;
    int rc = nl_proxy_run(&v, p, &o, d, c);
    nl_nn_ctx_free(c);
    if (rc == NL_EINVAL || rc == NL_ESHAPE || rc == NL_ERANGE) return luaL_argerror(L, 3, nl_errmsg());
    if (rc) return nl_lua_raise(L, rc);
    lua_pushnumber(L, v);
    return 1;
}

/* nl.proxies(): {{name = "naswot", title = "..."}, ...} in registry order. */
static int l_proxies(lua_State *L)
{
    lua_newtable(L);
    for (int i = 0; nl_proxies[i]; i++) {
        lua_createtable(L, 0, 3);
        lua_pushstring(L, nl_proxies[i]->name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, nl_proxies[i]->title);
        lua_setfield(L, -2, "title");
        lua_pushboolean(L, nl_proxies[i]->uses_batch);
        lua_setfield(L, -2, "uses_batch");
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

int nl_open_proxy(lua_State *L)
{
    int nl = lua_gettop(L);
    lua_pushcfunction(L, l_proxy);
    lua_setfield(L, nl, "proxy");
    lua_pushcfunction(L, l_proxies);
    lua_setfield(L, nl, "proxies");
    return 0;
}
