/* SPDX-License-Identifier: GPL-3.0-or-later */
/* l_space.c - nl.space(name), nl.spaces(): search spaces (naslab.Space) and
 * architectures (naslab.Arch, an nl_arch held by value) for Lua. Indices are
 * the spaces' own 0-based ones: sp:at(i) and a:index() agree, 0..size-1. */
#include "lua/l_space.h"

#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/tensor.h"
#include "lua/lnl.h"

#define SPACE_MT "naslab.Space"
#define ARCH_MT "naslab.Arch"

/* ---------------------------------------------------------------- helpers */

static void pushspace(lua_State *L, const nl_space *sp)
{
    const nl_space **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = sp;
    luaL_setmetatable(L, SPACE_MT);
}

static const nl_space *checkspace(lua_State *L, int arg)
{
    return *(const nl_space **)luaL_checkudata(L, arg, SPACE_MT);
}

void nl_lua_pusharch(lua_State *L, const nl_arch *a)
{
    nl_arch *box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = *a;
    luaL_setmetatable(L, ARCH_MT);
}

const nl_arch *nl_lua_checkarch(lua_State *L, int arg)
{
    return luaL_checkudata(L, arg, ARCH_MT);
}

/* An arch of space sp at argument arg; names the expected space otherwise. */
static const nl_arch *checkarch_of(lua_State *L, int arg, const nl_space *sp)
{
    const nl_arch *a = nl_lua_checkarch(L, arg);
    if (a->space != sp)
        luaL_argerror(L, arg, lua_pushfstring(L, "expected an %s arch, got an %s arch", sp->name, a->space->name));
    return a;
}

/* Read the network options table at arg (absent or nil: defaults). */
static void checkopts(lua_State *L, int arg, nl_net_opts *o)
{
    memset(o, 0, sizeof *o);
    if (lua_isnoneornil(L, arg)) return;
    luaL_checktype(L, arg, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, arg)) {
        const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        int *field = NULL;
        if (key && strcmp(key, "classes") == 0) field = &o->classes;
        else if (key && strcmp(key, "C") == 0) field = &o->C;
        else if (key && strcmp(key, "N") == 0) field = &o->N;
        else if (key && strcmp(key, "resolution") == 0) field = &o->resolution;
        if (key && strcmp(key, "width") == 0) {
            double w = lua_tonumber(L, -1);
            if (!lua_isnumber(L, -1) || !(w > 0) || w > 10)
                luaL_argerror(L, arg, "option 'width' must be a number in (0, 10]");
            o->width_x100 = (int)lround(w * 100);
        } else if (field) {
            if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > 1000000)
                luaL_argerror(L, arg, lua_pushfstring(L, "option '%s' must be a positive integer", key));
            *field = (int)lua_tointeger(L, -1);
        } else {
            luaL_argerror(L, arg,
                          lua_pushfstring(L, "unknown option '%s' (known: classes, C, N, resolution, width)",
                                          key ? key : luaL_typename(L, -2)));
        }
        lua_pop(L, 1);
    }
}

static const char *default_kind(const nl_space *sp) { return sp->encodings[0]; }

/* Check `kind` at arg against the space's encodings; return its numel. */
static int64_t checkkind(lua_State *L, int arg, const nl_space *sp, const char **kind, int *ndim,
                         int64_t shape[4])
{
    *kind = luaL_optstring(L, arg, default_kind(sp));
    int64_t numel;
    if (nl_space_encode_numel(sp, *kind, &numel, ndim, shape)) luaL_argerror(L, arg, nl_errmsg());
    return numel;
}

/* ---------------------------------------------------------------- nl.space, nl.spaces */

static int l_space(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const nl_space *sp;
    if (nl_space_find(name, &sp)) return luaL_argerror(L, 1, nl_errmsg());
    pushspace(L, sp);
    return 1;
}

static int l_spaces(lua_State *L)
{
    lua_newtable(L);
    for (int i = 0; nl_spaces[i]; i++) {
        lua_pushstring(L, nl_spaces[i]->name);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* ---------------------------------------------------------------- naslab.Space */

static int s_name(lua_State *L)
{
    lua_pushstring(L, checkspace(L, 1)->name);
    return 1;
}

static int s_title(lua_State *L)
{
    lua_pushstring(L, checkspace(L, 1)->title);
    return 1;
}

static int s_size(lua_State *L)
{
    double n = checkspace(L, 1)->size;
    if (n < 9007199254740992.0)
        lua_pushinteger(L, (lua_Integer)n);
    else
        lua_pushnumber(L, n);
    return 1;
}

static int s_encodings(lua_State *L)
{
    const nl_space *sp = checkspace(L, 1);
    lua_newtable(L);
    for (int i = 0; sp->encodings[i]; i++) {
        lua_pushstring(L, sp->encodings[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int s_parse(lua_State *L)
{
    const nl_space *sp = checkspace(L, 1);
    const char *s = luaL_checkstring(L, 2);
    nl_arch a;
    if (sp->parse(s, &a)) return luaL_argerror(L, 2, nl_errmsg());
    nl_lua_pusharch(L, &a);
    return 1;
}

static int s_sample(lua_State *L)
{
    const nl_space *sp = checkspace(L, 1);
    nl_rng *r = nl_lua_optrng(L, 2);
    nl_arch a;
    int rc = sp->sample(r, &a);
    if (rc) return nl_lua_raise(L, rc);
    nl_lua_pusharch(L, &a);
    return 1;
}

static int crossover_common(lua_State *L, const nl_space *sp, int ia, int ib, int ir)
{
    const nl_arch *a = checkarch_of(L, ia, sp), *b = checkarch_of(L, ib, sp);
    nl_rng *r = nl_lua_optrng(L, ir);
    nl_arch c;
    int rc = sp->crossover(a, b, r, &c);
    if (rc) return nl_lua_raise(L, rc);
    nl_lua_pusharch(L, &c);
    return 1;
}

/* sp:crossover(a, b [, rng]) */
static int s_crossover(lua_State *L)
{
    return crossover_common(L, checkspace(L, 1), 2, 3, 4);
}

static int s_at(lua_State *L)
{
    const nl_space *sp = checkspace(L, 1);
    lua_Integer i = luaL_checkinteger(L, 2);
    if (!sp->at) return luaL_error(L, "space %s cannot be enumerated", sp->name);
    int rc = sp->prepare ? sp->prepare(NULL, NULL) : 0;
    if (rc) return nl_lua_raise(L, rc);
    nl_arch a;
    if (sp->at((int64_t)i, &a)) return luaL_argerror(L, 2, nl_errmsg());
    nl_lua_pusharch(L, &a);
    return 1;
}

static int iter_next(lua_State *L)
{
    const nl_space *sp = checkspace(L, lua_upvalueindex(1));
    lua_Integer i = lua_tointeger(L, lua_upvalueindex(2));
    if ((double)i >= sp->size) return 0;
    nl_arch a;
    int rc = sp->at((int64_t)i, &a);
    if (rc) return nl_lua_raise(L, rc);
    lua_pushinteger(L, i + 1);
    lua_replace(L, lua_upvalueindex(2));
    nl_lua_pusharch(L, &a);
    return 1;
}

/* for a in sp:iter() do ... end: every arch in index order. */
static int s_iter(lua_State *L)
{
    const nl_space *sp = checkspace(L, 1);
    if (!sp->at) return luaL_error(L, "space %s cannot be enumerated", sp->name);
    int rc = sp->prepare ? sp->prepare(NULL, NULL) : 0;
    if (rc) return nl_lua_raise(L, rc);
    lua_settop(L, 1);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, iter_next, 2);
    return 1;
}

static int s_distinct(lua_State *L)
{
    const nl_space *sp = checkspace(L, 1);
    int64_t n;
    if (!sp->at) return luaL_error(L, "space %s cannot be enumerated", sp->name);
    int rc = nl_space_distinct(sp, NULL, NULL, &n);
    if (rc) return nl_lua_raise(L, rc);
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

/* sp:encode(list, kind): a tensor [n, ...] holding one encoded arch per row. */
static int s_encode(lua_State *L)
{
    const nl_space *sp = checkspace(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    const char *kind;
    int ndim;
    int64_t shape[5];
    int64_t numel = checkkind(L, 3, sp, &kind, &ndim, shape + 1);
    lua_Integer n = luaL_len(L, 2);
    nl_arch *archs = nl_lua_tempbuf(L, (size_t)n * sizeof *archs);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 2, i);
        const nl_arch *a = luaL_testudata(L, -1, ARCH_MT);
        if (!a || a->space != sp)
            return luaL_argerror(L, 2, lua_pushfstring(L, "element %I is not an %s arch", (LUAI_UACINT)i, sp->name));
        archs[i - 1] = *a;
        lua_pop(L, 1);
    }
    shape[0] = (int64_t)n;
    nl_tensor *t = nl_tensor_new(ndim + 1, shape);
    if (!t) return nl_lua_raise(L, NL_ENOMEM);
    int rc = n ? nl_space_encode_batch(sp, archs, (int64_t)n, kind, nl_tensor_data(t)) : 0;
    if (rc) {
        nl_tensor_free(t);
        return nl_lua_raise(L, rc);
    }
    (void)numel;
    nl_lua_pushtensor(L, t);
    return 1;
}

/* sp:spec(matrix, ops): nb101 cell from an adjacency matrix and op names. */
static int s_spec(lua_State *L)
{
    const nl_space *sp = checkspace(L, 1);
    if (!sp->from_spec) return luaL_error(L, "spec is defined for nb101 only");
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 2);
    luaL_argcheck(L, n >= 1 && n <= 64, 2, "matrix must have 1 to 64 rows");
    luaL_argcheck(L, luaL_len(L, 3) == n, 3, "need one op name per matrix row");
    int *m = nl_lua_tempbuf(L, (size_t)(n * n) * sizeof *m);
    const char **ops = nl_lua_tempbuf(L, (size_t)n * sizeof *ops);
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_geti(L, 2, i) != LUA_TTABLE || luaL_len(L, -1) != n)
            return luaL_argerror(L, 2, lua_pushfstring(L, "row %I must be a list of %I numbers", (LUAI_UACINT)i,
                                                       (LUAI_UACINT)n));
        for (lua_Integer j = 1; j <= n; j++) {
            lua_geti(L, -1, j);
            if (!lua_isinteger(L, -1) || (lua_tointeger(L, -1) != 0 && lua_tointeger(L, -1) != 1))
                return luaL_argerror(L, 2, lua_pushfstring(L, "entry [%I][%I] must be 0 or 1", (LUAI_UACINT)i,
                                                           (LUAI_UACINT)j));
            m[(i - 1) * n + (j - 1)] = (int)lua_tointeger(L, -1);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 3, i);
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_argerror(L, 3, lua_pushfstring(L, "op %I must be a string", (LUAI_UACINT)i));
        ops[i - 1] = lua_tostring(L, -1);
        lua_pop(L, 1); /* the string stays alive in the ops table */
    }
    nl_arch a;
    int rc = sp->from_spec((int)n, m, ops, &a);
    if (rc) return nl_lua_raise(L, rc);
    nl_lua_pusharch(L, &a);
    return 1;
}

static int s_tostring(lua_State *L)
{
    lua_pushfstring(L, "%s (%s)", SPACE_MT, checkspace(L, 1)->name);
    return 1;
}

static int s_eq(lua_State *L)
{
    lua_pushboolean(L, checkspace(L, 1) == checkspace(L, 2));
    return 1;
}

/* ---------------------------------------------------------------- naslab.Arch */

static int a_tostring(lua_State *L)
{
    const nl_arch *a = nl_lua_checkarch(L, 1);
    char buf[512];
    int rc = a->space->format(a, buf, sizeof buf);
    if (rc < 0) return nl_lua_raise(L, rc);
    lua_pushlstring(L, buf, (size_t)rc);
    return 1;
}

static int a_eq(lua_State *L)
{
    const nl_arch *a = nl_lua_checkarch(L, 1), *b = nl_lua_checkarch(L, 2);
    lua_pushboolean(L, a->space == b->space && a->space->equal(a, b));
    return 1;
}

static int a_space(lua_State *L)
{
    pushspace(L, nl_lua_checkarch(L, 1)->space);
    return 1;
}

static int a_index(lua_State *L)
{
    const nl_arch *a = nl_lua_checkarch(L, 1);
    if (!a->space->index) return luaL_error(L, "space %s has no index", a->space->name);
    int rc = a->space->prepare ? a->space->prepare(NULL, NULL) : 0;
    int64_t i;
    if (rc || (rc = a->space->index(a, &i))) return nl_lua_raise(L, rc);
    lua_pushinteger(L, (lua_Integer)i);
    return 1;
}

static int cost_common(lua_State *L, int want_flops)
{
    const nl_arch *a = nl_lua_checkarch(L, 1);
    nl_net_opts o;
    checkopts(L, 2, &o);
    int64_t p, f;
    int rc = a->space->cost(a, &o, &p, &f);
    if (rc) return luaL_argerror(L, 2, nl_errmsg());
    lua_pushinteger(L, (lua_Integer)(want_flops ? f : p));
    return 1;
}

static int a_params(lua_State *L) { return cost_common(L, 0); }
static int a_flops(lua_State *L) { return cost_common(L, 1); }

static int a_encode(lua_State *L)
{
    const nl_arch *a = nl_lua_checkarch(L, 1);
    const char *kind;
    int ndim;
    int64_t shape[4];
    checkkind(L, 2, a->space, &kind, &ndim, shape);
    nl_tensor *t = nl_tensor_new(ndim, shape);
    if (!t) return nl_lua_raise(L, NL_ENOMEM);
    int rc = a->space->encode(a, kind, nl_tensor_data(t));
    if (rc) {
        nl_tensor_free(t);
        return nl_lua_raise(L, rc);
    }
    nl_lua_pushtensor(L, t);
    return 1;
}

static int a_mutate(lua_State *L)
{
    const nl_arch *a = nl_lua_checkarch(L, 1);
    nl_rng *r = nl_lua_optrng(L, 2);
    nl_arch b;
    int rc = a->space->mutate(a, r, &b);
    if (rc) return nl_lua_raise(L, rc);
    nl_lua_pusharch(L, &b);
    return 1;
}

/* a:crossover(b [, rng]) */
static int a_crossover(lua_State *L)
{
    const nl_arch *a = nl_lua_checkarch(L, 1);
    return crossover_common(L, a->space, 1, 2, 3);
}

static int a_canonical(lua_State *L)
{
    const nl_arch *a = nl_lua_checkarch(L, 1);
    nl_arch c = *a;
    if (a->space->canonical) {
        int rc = a->space->canonical(a, &c);
        if (rc) return nl_lua_raise(L, rc);
    }
    nl_lua_pusharch(L, &c);
    return 1;
}

static int a_hash(lua_State *L)
{
    const nl_arch *a = nl_lua_checkarch(L, 1);
    if (!a->space->hash) return luaL_error(L, "hash is defined for nb101 cells only");
    char h[33];
    int rc = a->space->hash(a, h);
    if (rc) return nl_lua_raise(L, rc);
    lua_pushstring(L, h);
    return 1;
}

/* ---------------------------------------------------------------- registration */

static const luaL_Reg space_methods[] = {
    { "name", s_name },       { "title", s_title },   { "size", s_size },           { "encodings", s_encodings },
    { "parse", s_parse },     { "sample", s_sample }, { "crossover", s_crossover }, { "at", s_at },
    { "iter", s_iter },       { "distinct", s_distinct }, { "encode", s_encode },   { "spec", s_spec },
    { NULL, NULL },
};

static const luaL_Reg space_meta[] = {
    { "__tostring", s_tostring },
    { "__eq", s_eq },
    { NULL, NULL },
};

static const luaL_Reg arch_methods[] = {
    { "space", a_space },   { "index", a_index },         { "params", a_params },       { "flops", a_flops },
    { "encode", a_encode }, { "mutate", a_mutate },       { "crossover", a_crossover }, { "canonical", a_canonical },
    { "hash", a_hash },     { NULL, NULL },
};

static const luaL_Reg arch_meta[] = {
    { "__tostring", a_tostring },
    { "__eq", a_eq },
    { NULL, NULL },
};

static void newtype(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods)
{
    luaL_newmetatable(L, name);
    luaL_setfuncs(L, meta, 0);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

int nl_open_space(lua_State *L)
{
    newtype(L, SPACE_MT, space_meta, space_methods);
    newtype(L, ARCH_MT, arch_meta, arch_methods);
    lua_pushcfunction(L, l_space);
    lua_setfield(L, -2, "space");
    lua_pushcfunction(L, l_spaces);
    lua_setfield(L, -2, "spaces");
    return 0;
}
