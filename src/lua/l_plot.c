/* SPDX-License-Identifier: GPL-3.0-or-later */
/* l_plot.c - charts from Lua: nl.plot.line / scatter / clear publish plot.*
 * events (so a run directory records them and a replay redraws them), and
 * nl.plot.save writes any pane of the board as SVG or CSV; nl.ui.pane makes
 * or remakes a pane of a given kind, nl.ui.panes lists them. The workbench
 * draws the same board (plot/board.h). */
#include <string.h>

#include "core/error.h"
#include "core/event.h"
#include "lua/lnl.h"
#include "plot/board.h"

static const char *const KINDS[] = { "line", "scatter", "rank", "pareto", NULL };

/* Emit ev (taking ownership) and free it. */
static void send(nl_event *ev)
{
    nl_event_emit(ev);
    nl_event_free(ev);
}

static nl_event *newev(lua_State *L, const char *name)
{
    nl_event *ev = nl_event_new(name);
    if (!ev) luaL_error(L, "%s: out of memory", name);
    return ev;
}

/* Field `key` of table t as a number list into a new array (caller frees);
 * *n its length; NULL when the field is a number (then *scalar is set). */
static double *numbers(lua_State *L, int t, const char *key, const char *fname, int64_t *n, double *scalar,
                       int *is_scalar)
{
    lua_getfield(L, t, key);
    *is_scalar = 0;
    if (lua_type(L, -1) == LUA_TNUMBER) {
        *scalar = lua_tonumber(L, -1);
        *is_scalar = 1;
        lua_pop(L, 1);
        return NULL;
    }
    if (!lua_istable(L, -1))
        luaL_error(L, "bad argument #1 to '%s' (%s must be a number or a list of numbers, got %s)", fname, key,
                   luaL_typename(L, -1));
    int ti = lua_gettop(L);
    lua_Integer len = luaL_len(L, ti);
    double *a = nl_lua_tempbuf(L, (size_t)(len > 0 ? len : 1) * sizeof *a);
    for (lua_Integer i = 1; i <= len; i++) {
        lua_geti(L, ti, i);
        int ok;
        a[i - 1] = lua_tonumberx(L, -1, &ok);
        if (!ok) luaL_error(L, "bad argument #1 to '%s' (%s[%d] is not a number)", fname, key, (int)i);
        lua_pop(L, 1);
    }
    *n = len;
    return a; /* lives in the temp buffer on the stack (under the field value) */
}

/* nl.plot.line{pane=, series=, x=, y=} and nl.plot.scatter{...}: x and y
 * both numbers (one point) or both lists of the same length. */
static int points(lua_State *L, const char *fname, const char *kind)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const known[] = { "pane", "series", "x", "y", "title", "xlabel", "ylabel", NULL };
    nl_lua_check_known(L, 1, known);
    const char *pane = nl_lua_optstr(L, 1, "pane", kind);
    const char *series = nl_lua_optstr(L, 1, "series", strcmp(kind, "line") == 0 ? "y" : "points");
    int64_t nx = 0, ny = 0;
    double sx = 0, sy = 0;
    int scx, scy;
    double *x = numbers(L, 1, "x", fname, &nx, &sx, &scx);
    double *y = numbers(L, 1, "y", fname, &ny, &sy, &scy);
    if (scx != scy || (!scx && nx != ny))
        return luaL_error(L, "bad argument #1 to '%s' (x and y must both be numbers or lists of one length)", fname);
    nl_board *b = nl_board_default();
    int exists = 0;
    if (b) {
        nl_board_lock(b);
        exists = nl_board_find(b, pane) != NULL;
        nl_board_unlock(b);
    }
    if (!exists) {
        nl_event *ev = newev(L, "plot.pane");
        int rc = nl_event_str(ev, "pane", pane);
        if (!rc) rc = nl_event_str(ev, "kind", kind);
        if (!rc) rc = nl_event_str(ev, "title", nl_lua_optstr(L, 1, "title", pane));
        if (!rc) rc = nl_event_str(ev, "xlabel", nl_lua_optstr(L, 1, "xlabel", "x"));
        if (!rc) rc = nl_event_str(ev, "ylabel", nl_lua_optstr(L, 1, "ylabel", "y"));
        if (rc) {
            nl_event_free(ev);
            return luaL_error(L, "%s: out of memory", fname);
        }
        send(ev);
    }
    nl_event *ev = newev(L, scx ? "plot.point" : "plot.points");
    int rc = nl_event_str(ev, "pane", pane);
    if (!rc) rc = nl_event_str(ev, "series", series);
    if (!rc) rc = scx ? nl_event_num(ev, "x", sx) : nl_event_arr(ev, "x", x, nx);
    if (!rc) rc = scx ? nl_event_num(ev, "y", sy) : nl_event_arr(ev, "y", y, ny);
    if (rc) {
        nl_event_free(ev);
        return luaL_error(L, "%s: out of memory", fname);
    }
    send(ev);
    return 0;
}

static int l_line(lua_State *L)
{
    return points(L, "line", "line");
}

static int l_scatter(lua_State *L)
{
    return points(L, "scatter", "scatter");
}

/* nl.plot.clear(pane) */
static int l_clear(lua_State *L)
{
    const char *pane = luaL_checkstring(L, 1);
    nl_event *ev = newev(L, "plot.clear");
    if (nl_event_str(ev, "pane", pane)) {
        nl_event_free(ev);
        return luaL_error(L, "clear: out of memory");
    }
    send(ev);
    return 0;
}

/* nl.plot.save(pane, path) -> true | nil, msg */
static int l_save(lua_State *L)
{
    const char *pane = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
    size_t n = strlen(path);
    if (n < 5 || (strcmp(path + n - 4, ".svg") != 0 && strcmp(path + n - 4, ".csv") != 0))
        return luaL_argerror(L, 2, "the file name must end in .svg or .csv");
    nl_board *b = nl_board_default();
    if (!b) return luaL_error(L, "save: out of memory");
    int rc = nl_board_save(b, pane, path);
    if (rc == NL_ENOTFOUND) return luaL_argerror(L, 1, nl_errmsg());
    if (rc) {
        luaL_pushfail(L);
        lua_pushstring(L, nl_errmsg());
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* nl.ui.pane(name [, {kind=, title=, xlabel=, ylabel=}]) */
static int l_pane(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    luaL_argcheck(L, *name && strlen(name) < 32, 1, "a pane name has 1 to 31 characters");
    if (lua_isnoneornil(L, 2)) {
        lua_settop(L, 1);
        lua_newtable(L);
    }
    luaL_checktype(L, 2, LUA_TTABLE);
    static const char *const known[] = { "kind", "title", "xlabel", "ylabel", NULL };
    nl_lua_check_known(L, 2, known);
    const char *kind = nl_lua_optstr(L, 2, "kind", "line");
    int ok = 0;
    for (int i = 0; KINDS[i]; i++) ok |= strcmp(KINDS[i], kind) == 0;
    if (!ok) return luaL_argerror(L, 2, lua_pushfstring(L, "unknown kind '%s' (known: line, scatter, rank, pareto)", kind));
    nl_event *ev = newev(L, "plot.pane");
    int rc = nl_event_str(ev, "pane", name);
    if (!rc) rc = nl_event_str(ev, "kind", kind);
    if (!rc) rc = nl_event_str(ev, "title", nl_lua_optstr(L, 2, "title", name));
    if (!rc) rc = nl_event_str(ev, "xlabel", nl_lua_optstr(L, 2, "xlabel", "x"));
    if (!rc) rc = nl_event_str(ev, "ylabel", nl_lua_optstr(L, 2, "ylabel", "y"));
    if (rc) {
        nl_event_free(ev);
        return luaL_error(L, "pane: out of memory");
    }
    send(ev);
    lua_pushstring(L, name);
    return 1;
}

/* nl.ui.panes() -> { name, ... } */
static int l_panes(lua_State *L)
{
    nl_board *b = nl_board_default();
    lua_newtable(L);
    if (!b) return 1;
    nl_board_lock(b);
    for (int i = 0; i < nl_board_count(b); i++) {
        lua_pushstring(L, nl_board_name(b, i));
        lua_rawseti(L, -2, i + 1);
    }
    nl_board_unlock(b);
    return 1;
}

int nl_open_plot(lua_State *L)
{
    int nl = lua_gettop(L);
    nl_board_default(); /* from now on every event also feeds the charts */
    static const luaL_Reg plot[] = { { "line", l_line }, { "scatter", l_scatter }, { "clear", l_clear },
                                     { "save", l_save },  { NULL, NULL } };
    luaL_newlib(L, plot);
    lua_setfield(L, nl, "plot");
    static const luaL_Reg ui[] = { { "pane", l_pane }, { "panes", l_panes }, { NULL, NULL } };
    luaL_newlib(L, ui);
    lua_setfield(L, nl, "ui");
    return 0;
}
