/* SPDX-License-Identifier: GPL-3.0-or-later */
/* l_bench.c - nl.bench.load(path [, opts]): tabular benchmarks as
 * naslab.Bench userdata (query, best, column, cost, info ...) over
 * data/bench.h. Architectures cross the boundary as naslab.Arch (l_space.h);
 * every method that takes one also accepts the space's text form. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "data/bench.h"
#include "lua/l_space.h"
#include "lua/lnl.h"

#define BENCH_MT "naslab.Bench"

/* The embedded default: naslab's own NB201 table, trained on Fashion-MNIST
 * by data/build.lua. A name without '/' or '.' (nl.bench.load("nb201-fmnist"),
 * or no argument at all) is looked up as <dir>/<name>.csv in $NASLAB_DATA,
 * else the installed data directory, else this build's source tree; the
 * other shipped files (nl.bench.datafile) are found the same way. */
#define DEFAULT_BENCH "nb201-fmnist"

static const char *data_file(char *buf, size_t cap, const char *file)
{
    const char *env = getenv("NASLAB_DATA");
    struct stat st;
    if (env && *env) snprintf(buf, cap, "%s/%s", env, file);
    else {
        snprintf(buf, cap, "%s/%s", NASLAB_DATADIR, file);
        if (stat(buf, &st) != 0) snprintf(buf, cap, "%s/%s", NASLAB_SRC_DATADIR, file);
    }
    return buf;
}

/* nl.bench.datafile(name): the path of a file naslab ships in its data
 * directory ("metad2a-fmnist.tsv"). */
static int l_datafile(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    luaL_argcheck(L, *name && !strchr(name, '/'), 1, "a file name without '/' expected");
    char buf[4096];
    lua_pushstring(L, data_file(buf, sizeof buf, name));
    return 1;
}

typedef struct lbench {
    nl_bench *b;
} lbench;

static nl_bench *checkbench(lua_State *L, int arg)
{
    lbench *u = luaL_checkudata(L, arg, BENCH_MT);
    if (!u->b) luaL_argerror(L, arg, "benchmark is closed");
    return u->b;
}

/* The arch at arg: a naslab.Arch of the benchmark's space, or its text form. */
static const nl_arch *checkarch(lua_State *L, int arg, const nl_bench *b)
{
    const nl_space *sp = nl_bench_space(b);
    if (lua_type(L, arg) == LUA_TSTRING) {
        nl_arch *a = nl_lua_tempbuf(L, sizeof *a);
        if (sp->parse(lua_tostring(L, arg), a) < 0) luaL_argerror(L, arg, nl_errmsg());
        return a;
    }
    if (!luaL_testudata(L, arg, "naslab.Arch"))
        luaL_typeerror(L, arg, "naslab.Arch or string");
    const nl_arch *a = nl_lua_checkarch(L, arg);
    if (a->space != sp)
        luaL_argerror(L, arg, lua_pushfstring(L, "expected an %s arch, got an %s arch", sp->name, a->space->name));
    return a;
}

static size_t checkrow(lua_State *L, int arg, const nl_bench *b)
{
    const nl_arch *a = checkarch(L, arg, b);
    size_t r;
    int rc = nl_bench_find(b, a, &r);
    if (rc < 0) nl_lua_raise(L, rc);
    return r;
}

static int checkmetric(lua_State *L, int arg, const nl_bench *b)
{
    int m;
    int rc = nl_bench_metric(b, luaL_checkstring(L, arg), &m);
    if (rc < 0) nl_lua_raise(L, rc);
    return m;
}

/* ---------------------------------------------------------------- nl.bench */

/* opts.space: a name or a naslab.Space (asked for its name, so this file
 * needs nothing of l_space.c beyond its public methods). */
static const nl_space *optspace(lua_State *L, int opts)
{
    lua_getfield(L, opts, "space");
    const nl_space *sp = NULL;
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    if (luaL_testudata(L, -1, "naslab.Space")) {
        lua_getfield(L, -1, "name");
        lua_pushvalue(L, -2);
        lua_call(L, 1, 1);
        lua_replace(L, -2);
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_argerror(L, 2, lua_pushfstring(L, "option 'space' must be a space name or a naslab.Space, got %s",
                                            luaL_typename(L, -1)));
    if (nl_space_find(lua_tostring(L, -1), &sp) < 0) luaL_argerror(L, 2, nl_errmsg());
    lua_pop(L, 1);
    return sp;
}

static double optpositive(lua_State *L, int opts, const char *key)
{
    lua_getfield(L, opts, key);
    double v = 0;
    if (!lua_isnil(L, -1)) {
        int isnum;
        v = lua_tonumberx(L, -1, &isnum);
        if (!isnum || !(v > 0) || isinf(v))
            luaL_argerror(L, 2, lua_pushfstring(L, "option '%s' must be a positive number", key));
    }
    lua_pop(L, 1);
    return v;
}

static int l_load(lua_State *L)
{
    const char *path = lua_isnoneornil(L, 1) ? DEFAULT_BENCH : luaL_checkstring(L, 1);
    char buf[4096];
    if (!strchr(path, '/') && !strchr(path, '.')) {
        char file[512];
        snprintf(file, sizeof file, "%s.csv", path);
        path = data_file(buf, sizeof buf, file);
    }
    nl_bench_opts o = { 0 };
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        static const char *const known[] = { "space", "cost_column", "query_seconds", "macs_per_second", NULL };
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            int found = 0;
            if (lua_type(L, -2) == LUA_TSTRING)
                for (int i = 0; known[i]; i++) found |= strcmp(lua_tostring(L, -2), known[i]) == 0;
            if (!found) {
                lua_pushvalue(L, -2);
                luaL_argerror(L, 2, lua_pushfstring(L, "unknown option '%s' (known: space, cost_column, query_seconds, macs_per_second)",
                                                    luaL_tolstring(L, -1, NULL)));
            }
            lua_pop(L, 1);
        }
        o.space = optspace(L, 2);
        lua_getfield(L, 2, "cost_column");
        if (!lua_isnil(L, -1)) {
            if (lua_type(L, -1) != LUA_TSTRING) luaL_argerror(L, 2, "option 'cost_column' must be a string");
            o.cost_column = lua_tostring(L, -1); /* stays on the stack, so alive */
        }
        o.query_seconds = optpositive(L, 2, "query_seconds");
        o.macs_per_second = optpositive(L, 2, "macs_per_second");
        if (o.cost_column && o.query_seconds > 0)
            luaL_argerror(L, 2, "give either 'cost_column' or 'query_seconds', not both");
    }
    /* The userdata exists before the load so a failed push cannot leak it. */
    lbench *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->b = NULL;
    luaL_setmetatable(L, BENCH_MT);
    int rc = nl_bench_load(path, &o, &u->b);
    if (rc < 0) return nl_lua_fail(L, rc);
    return 1;
}

/* ---------------------------------------------------------------- naslab.Bench */

static int b_query(lua_State *L)
{
    nl_bench *b = checkbench(L, 1);
    if (lua_isnoneornil(L, 3)) {
        /* No metric: every metric of the row, as a table. */
        size_t r = checkrow(L, 2, b);
        lua_createtable(L, 0, nl_bench_nmetrics(b));
        for (int m = 0; m < nl_bench_nmetrics(b); m++) {
            lua_pushnumber(L, nl_bench_value(b, r, m));
            lua_setfield(L, -2, nl_bench_metric_name(b, m));
        }
        return 1;
    }
    int m = checkmetric(L, 3, b);
    size_t r = checkrow(L, 2, b);
    lua_pushnumber(L, nl_bench_value(b, r, m));
    return 1;
}

static int b_metrics(lua_State *L)
{
    nl_bench *b = checkbench(L, 1);
    lua_createtable(L, nl_bench_nmetrics(b), 0);
    for (int m = 0; m < nl_bench_nmetrics(b); m++) {
        lua_pushstring(L, nl_bench_metric_name(b, m));
        lua_rawseti(L, -2, m + 1);
    }
    return 1;
}

static int b_archs(lua_State *L)
{
    nl_bench *b = checkbench(L, 1);
    size_t n = nl_bench_size(b);
    lua_createtable(L, (int)n, 0);
    for (size_t r = 0; r < n; r++) {
        nl_lua_pusharch(L, nl_bench_arch(b, r));
        lua_rawseti(L, -2, (lua_Integer)r + 1);
    }
    return 1;
}

static int b_size(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)nl_bench_size(checkbench(L, 1)));
    return 1;
}

static int b_best(lua_State *L)
{
    nl_bench *b = checkbench(L, 1);
    int m = checkmetric(L, 2, b);
    static const char *const dirs[] = { "max", "min", NULL };
    int maximize = luaL_checkoption(L, 3, "max", dirs) == 0;
    size_t r;
    int rc = nl_bench_best(b, m, maximize, &r);
    if (rc < 0) return nl_lua_raise(L, rc);
    nl_lua_pusharch(L, nl_bench_arch(b, r));
    lua_pushnumber(L, nl_bench_value(b, r, m));
    return 2;
}

static int b_index(lua_State *L)
{
    nl_bench *b = checkbench(L, 1);
    lua_pushinteger(L, (lua_Integer)nl_bench_index(b, checkrow(L, 2, b)));
    return 1;
}

static int b_cost(lua_State *L)
{
    nl_bench *b = checkbench(L, 1);
    double s;
    int rc = nl_bench_cost(b, checkrow(L, 2, b), &s);
    if (rc < 0) return nl_lua_raise(L, rc);
    lua_pushnumber(L, s);
    return 1;
}

/* b:space() gives the naslab.Space through nl.space(name): the nl table is
 * the methods' upvalue. */
static int b_space(lua_State *L)
{
    nl_bench *b = checkbench(L, 1);
    lua_getfield(L, lua_upvalueindex(1), "space");
    lua_pushstring(L, nl_bench_space(b)->name);
    lua_call(L, 1, 1);
    return 1;
}

static int b_column(lua_State *L)
{
    nl_bench *b = checkbench(L, 1);
    int m = checkmetric(L, 2, b);
    static const char *const kinds[] = { "table", "tensor", NULL };
    int tensor = luaL_checkoption(L, 3, "table", kinds) == 1;
    size_t n = nl_bench_size(b);
    if (tensor) {
        int64_t shape[1] = { (int64_t)n };
        nl_tensor *t = nl_tensor_new(1, shape);
        if (!t) return nl_lua_raise(L, NL_ENOMEM);
        float *d = nl_tensor_data(t);
        for (size_t r = 0; r < n; r++) d[r] = (float)nl_bench_value(b, r, m);
        nl_lua_pushtensor(L, t);
        return 1;
    }
    lua_createtable(L, (int)n, 0);
    for (size_t r = 0; r < n; r++) {
        lua_pushnumber(L, nl_bench_value(b, r, m));
        lua_rawseti(L, -2, (lua_Integer)r + 1);
    }
    return 1;
}

static int b_path(lua_State *L)
{
    lua_pushstring(L, nl_bench_path(checkbench(L, 1)));
    return 1;
}

static int b_info(lua_State *L)
{
    nl_bench *b = checkbench(L, 1);
    lua_createtable(L, 0, 8);
    lua_pushstring(L, nl_bench_path(b));
    lua_setfield(L, -2, "path");
    lua_pushstring(L, nl_bench_space(b)->name);
    lua_setfield(L, -2, "space");
    lua_pushinteger(L, (lua_Integer)nl_bench_size(b));
    lua_setfield(L, -2, "size");
    b_metrics(L);
    lua_setfield(L, -2, "metrics");
    lua_pushboolean(L, nl_bench_has_index(b));
    lua_setfield(L, -2, "has_idx");
    lua_pushinteger(L, (lua_Integer)nl_bench_bytes(b));
    lua_setfield(L, -2, "bytes");

    nl_bench_cost_info c;
    nl_bench_costinfo(b, &c);
    lua_createtable(L, 0, 6);
    switch (c.model) {
    case NL_BENCH_COST_COLUMN:
        lua_pushliteral(L, "column");
        lua_setfield(L, -2, "model");
        lua_pushstring(L, c.column);
        lua_setfield(L, -2, "column");
        lua_pushfstring(L, "seconds = the '%s' column", c.column);
        break;
    case NL_BENCH_COST_FIXED:
        lua_pushliteral(L, "fixed");
        lua_setfield(L, -2, "model");
        lua_pushnumber(L, c.seconds);
        lua_setfield(L, -2, "seconds");
        lua_pushfstring(L, "seconds = %f per query", c.seconds);
        break;
    case NL_BENCH_COST_FLOPS:
        lua_pushliteral(L, "flops");
        lua_setfield(L, -2, "model");
        lua_pushnumber(L, c.epochs);
        lua_setfield(L, -2, "epochs");
        lua_pushnumber(L, c.images);
        lua_setfield(L, -2, "images");
        lua_pushnumber(L, c.macs_per_second);
        lua_setfield(L, -2, "macs_per_second");
        lua_pushliteral(L, "seconds = 3 * epochs * images * MACs / macs_per_second");
        break;
    }
    lua_setfield(L, -2, "formula");
    lua_setfield(L, -2, "cost");
    return 1;
}

static int b_close(lua_State *L)
{
    lbench *u = luaL_checkudata(L, 1, BENCH_MT);
    nl_bench_free(u->b);
    u->b = NULL;
    return 0;
}

static int b_tostring(lua_State *L)
{
    lbench *u = luaL_checkudata(L, 1, BENCH_MT);
    if (!u->b) {
        lua_pushliteral(L, "naslab.Bench (closed)");
        return 1;
    }
    lua_pushfstring(L, "naslab.Bench: %s (%s, %d archs, %d metrics)", nl_bench_path(u->b), nl_bench_space(u->b)->name,
                    (int)nl_bench_size(u->b), nl_bench_nmetrics(u->b));
    return 1;
}

static const luaL_Reg bench_methods[] = {
    { "query", b_query }, { "metrics", b_metrics }, { "archs", b_archs }, { "size", b_size },
    { "best", b_best },   { "index", b_index },     { "cost", b_cost },   { "space", b_space },
    { "column", b_column }, { "path", b_path },     { "info", b_info },   { "close", b_close },
    { NULL, NULL }
};

int nl_open_bench(lua_State *L)
{
    int nl = lua_gettop(L);
    if (luaL_newmetatable(L, BENCH_MT)) {
        lua_newtable(L);
        lua_pushvalue(L, nl);
        luaL_setfuncs(L, bench_methods, 1);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, b_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, b_close);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, b_size);
        lua_setfield(L, -2, "__len");
        lua_pushcfunction(L, b_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushcfunction(L, l_load);
    lua_setfield(L, -2, "load");
    lua_pushcfunction(L, l_datafile);
    lua_setfield(L, -2, "datafile");
    lua_setfield(L, nl, "bench");
    return 0;
}
