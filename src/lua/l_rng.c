/* SPDX-License-Identifier: GPL-3.0-or-later */
/* l_rng.c - nl.rng: seedable random generators for Lua (naslab.Rng), and the
 * shared default generator that functions use when no rng is passed. */
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/rng.h"
#include "lua/lnl.h"

#define RNG_MT "naslab.Rng"
#define DEFAULT_KEY "naslab.default_rng"

typedef struct lrng {
    nl_rng r;
    uint64_t seed, stream;
} lrng;

nl_rng *nl_lua_checkrng(lua_State *L, int arg)
{
    return &((lrng *)luaL_checkudata(L, arg, RNG_MT))->r;
}

static lrng *default_rng(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, DEFAULT_KEY);
    lrng *g = lua_touserdata(L, -1);
    lua_pop(L, 1); /* the registry keeps it alive */
    return g;
}

nl_rng *nl_lua_optrng(lua_State *L, int arg)
{
    if (lua_isnoneornil(L, arg)) return &default_rng(L)->r;
    return nl_lua_checkrng(L, arg);
}

static uint64_t fresh_seed(void)
{
    static uint64_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^
           (++counter * 0x9e3779b97f4a7c15ULL);
}

static uint64_t check_seed(lua_State *L, int arg)
{
    if (!lua_isinteger(L, arg)) {
        if (lua_type(L, arg) == LUA_TNUMBER)
            luaL_argerror(L, arg, "seed must be an integer");
        luaL_typeerror(L, arg, "integer");
    }
    return (uint64_t)lua_tointeger(L, arg);
}

static lrng *push_rng(lua_State *L, uint64_t seed, uint64_t stream)
{
    lrng *g = lua_newuserdatauv(L, sizeof *g, 0);
    luaL_setmetatable(L, RNG_MT);
    g->seed = seed;
    g->stream = stream;
    nl_rng_seed_stream(&g->r, seed, stream);
    return g;
}

/* nl.rng([seed [, stream]]): without a seed, a fresh one (rng:seed() tells it). */
static int l_new(lua_State *L)
{
    uint64_t seed = lua_isnoneornil(L, 1) ? fresh_seed() : check_seed(L, 1);
    lua_Integer stream = luaL_optinteger(L, 2, 0);
    luaL_argcheck(L, stream >= 0 && stream <= 1000000, 2, "stream must be in 0..1000000");
    push_rng(L, seed, (uint64_t)stream);
    return 1;
}

/* nl.seed(s): reseed the default generator used when no rng is passed. */
static int l_seed_default(lua_State *L)
{
    uint64_t seed = check_seed(L, 1);
    lrng *g = default_rng(L);
    g->seed = seed;
    g->stream = 0;
    nl_rng_seed(&g->r, seed);
    return 0;
}

static lrng *checklrng(lua_State *L) { return luaL_checkudata(L, 1, RNG_MT); }

/* rng:uniform() in [0,1); rng:uniform(b) in [0,b); rng:uniform(a, b) in [a,b). */
static int m_uniform(lua_State *L)
{
    lrng *g = checklrng(L);
    double u = nl_rng_uniform(&g->r);
    if (lua_isnoneornil(L, 2)) {
        lua_pushnumber(L, u);
    } else if (lua_isnoneornil(L, 3)) {
        lua_pushnumber(L, u * luaL_checknumber(L, 2));
    } else {
        double a = luaL_checknumber(L, 2), b = luaL_checknumber(L, 3);
        lua_pushnumber(L, a + u * (b - a));
    }
    return 1;
}

/* rng:normal([mean [, sd]]) */
static int m_normal(lua_State *L)
{
    lrng *g = checklrng(L);
    double mean = luaL_optnumber(L, 2, 0.0), sd = luaL_optnumber(L, 3, 1.0);
    luaL_argcheck(L, sd >= 0, 3, "standard deviation must be >= 0");
    lua_pushnumber(L, mean + sd * nl_rng_normal(&g->r));
    return 1;
}

/* rng:int(n) in 1..n; rng:int(lo, hi) in lo..hi (inclusive, like math.random). */
static int m_int(lua_State *L)
{
    lrng *g = checklrng(L);
    lua_Integer lo = 1, hi;
    if (lua_isnoneornil(L, 3)) {
        hi = luaL_checkinteger(L, 2);
        luaL_argcheck(L, hi >= 1, 2, "interval is empty");
    } else {
        lo = luaL_checkinteger(L, 2);
        hi = luaL_checkinteger(L, 3);
        luaL_argcheck(L, lo <= hi, 3, "interval is empty");
    }
    lua_pushinteger(L, (lua_Integer)nl_rng_int(&g->r, lo, hi));
    return 1;
}

/* rng:permutation(n): a table holding a random permutation of 1..n. */
static int m_permutation(lua_State *L)
{
    lrng *g = checklrng(L);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n >= 0 && n <= (1 << 26), 2, "n must be in 0..67108864");
    int64_t *p = nl_lua_tempbuf(L, (size_t)n * sizeof *p);
    nl_rng_permutation(&g->r, p, n);
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 0; i < n; i++) {
        lua_pushinteger(L, p[i] + 1);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* rng:choice(t [, k]): one random element of sequence t, or k distinct ones
 * (without replacement) as a table. */
static int m_choice(lua_State *L)
{
    lrng *g = checklrng(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 2);
    if (lua_isnoneornil(L, 3)) {
        luaL_argcheck(L, n > 0, 2, "table is empty");
        lua_geti(L, 2, (lua_Integer)nl_rng_below(&g->r, (uint64_t)n) + 1);
        return 1;
    }
    lua_Integer k = luaL_checkinteger(L, 3);
    luaL_argcheck(L, k >= 0 && k <= n, 3, "k must be between 0 and the table's length");
    int64_t *p = nl_lua_tempbuf(L, (size_t)n * sizeof *p);
    for (lua_Integer i = 0; i < n; i++) p[i] = i;
    for (lua_Integer i = 0; i < k; i++) { /* partial Fisher-Yates: first k of a shuffle */
        int64_t j = i + (int64_t)nl_rng_below(&g->r, (uint64_t)(n - i));
        int64_t t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
    lua_createtable(L, (int)k, 0);
    for (lua_Integer i = 0; i < k; i++) {
        lua_geti(L, 2, p[i] + 1);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* rng:shuffle(t): shuffle sequence t in place and return it. */
static int m_shuffle(lua_State *L)
{
    lrng *g = checklrng(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 2);
    for (lua_Integer i = n; i > 1; i--) {
        lua_Integer j = (lua_Integer)nl_rng_below(&g->r, (uint64_t)i) + 1;
        lua_geti(L, 2, i);
        lua_geti(L, 2, j);
        lua_seti(L, 2, i);
        lua_seti(L, 2, j);
    }
    lua_settop(L, 2);
    return 1;
}

/* rng:seed(): the seed and stream this generator started from. */
static int m_seed(lua_State *L)
{
    lrng *g = checklrng(L);
    lua_pushinteger(L, (lua_Integer)g->seed);
    lua_pushinteger(L, (lua_Integer)g->stream);
    return 2;
}

/* rng:clone(): an independent copy in the same state. */
static int m_clone(lua_State *L)
{
    lrng *g = checklrng(L);
    lrng *c = lua_newuserdatauv(L, sizeof *c, 0);
    luaL_setmetatable(L, RNG_MT);
    *c = *g;
    return 1;
}

/* rng:split(): a new generator one jump (2^128 draws) ahead, and this one jumps
 * twice, so parent and child streams never overlap. */
static int m_split(lua_State *L)
{
    lrng *g = checklrng(L);
    lrng *c = lua_newuserdatauv(L, sizeof *c, 0);
    luaL_setmetatable(L, RNG_MT);
    *c = *g;
    nl_rng_jump(&c->r);
    c->stream = g->stream + 1;
    nl_rng_jump(&g->r);
    nl_rng_jump(&g->r);
    g->stream += 2;
    return 1;
}

static int m_tostring(lua_State *L)
{
    lrng *g = checklrng(L);
    lua_pushfstring(L, "rng(seed=%I, stream=%I)", (LUAI_UACINT)(lua_Integer)g->seed,
                    (LUAI_UACINT)(lua_Integer)g->stream);
    return 1;
}

static const luaL_Reg methods[] = {
    { "uniform", m_uniform }, { "normal", m_normal }, { "int", m_int },
    { "permutation", m_permutation }, { "choice", m_choice }, { "shuffle", m_shuffle },
    { "seed", m_seed }, { "clone", m_clone }, { "split", m_split }, { NULL, NULL }
};

int nl_open_rng(lua_State *L)
{
    if (luaL_newmetatable(L, RNG_MT)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, m_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    push_rng(L, 0, 0); /* the default generator: seed 0, so sessions reproduce */
    lua_setfield(L, LUA_REGISTRYINDEX, DEFAULT_KEY);
    lua_pushcfunction(L, l_new);
    lua_setfield(L, -2, "rng");
    lua_pushcfunction(L, l_seed_default);
    lua_setfield(L, -2, "seed");
    return 0;
}
