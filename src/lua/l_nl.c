/* SPDX-License-Identifier: GPL-3.0-or-later */
/* l_nl.c - assembles the `nl` table from the binding modules: the one list of
 * what Lua sees. Each entry's open function adds its fields to the table on
 * top of the stack (see lnl.h). */
#include "config.h"

#include <time.h>

#include "lua/host.h"
#include "lua/lnl.h"

int nl_open_rng(lua_State *L);
int nl_open_stats(lua_State *L);
int nl_open_pareto(lua_State *L);
int nl_open_tensor(lua_State *L);
int nl_open_space(lua_State *L);
int nl_open_bench(lua_State *L);
int nl_open_data(lua_State *L);
int nl_open_train(lua_State *L);
int nl_open_predict(lua_State *L);
int nl_open_proxy(lua_State *L);
int nl_open_event(lua_State *L);
int nl_open_plot(lua_State *L);
int nl_open_search(lua_State *L);
int nl_open_lid(lua_State *L);
int nl_open_metad2a(lua_State *L);

static const struct {
    const char *name;
    int (*open)(lua_State *L);
} modules[] = {
    { "rng", nl_open_rng },
    { "stats", nl_open_stats },
    { "pareto", nl_open_pareto },
    { "tensor", nl_open_tensor },
    { "space", nl_open_space },
    { "bench", nl_open_bench },
    { "data", nl_open_data },
    { "train", nl_open_train },
    { "predict", nl_open_predict },
    { "proxy", nl_open_proxy },
    { "event", nl_open_event },
    { "plot", nl_open_plot },
    { "search", nl_open_search },
    { "lid", nl_open_lid },
    { "metad2a", nl_open_metad2a },
};

/* nl.clock(): seconds on a monotonic clock, to time work in wall-clock
 * terms (os.clock() counts the CPU time of every thread). */
static int l_clock(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
    return 1;
}

int nl_open_all(lua_State *L)
{
    lua_newtable(L);
    lua_pushliteral(L, PACKAGE_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushcfunction(L, l_clock);
    lua_setfield(L, -2, "clock");
    for (size_t i = 0; i < sizeof modules / sizeof modules[0]; i++) {
        int top = lua_gettop(L);
        modules[i].open(L);
        lua_settop(L, top);
    }
    return 1;
}
