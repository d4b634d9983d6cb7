/* SPDX-License-Identifier: GPL-3.0-or-later */
/* l_event.c - the event stream from Lua: nl.emit(name, fields) publishes an
 * event to whatever listens (the workbench's panes, the open run directory,
 * the headless progress line); nl.run.open/close/dir record a run as JSON
 * lines; nl.run.replay(dir, fn) reads one back. Uses core/event.h. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/event.h"
#include "lua/lnl.h"

/* Turn the table at index t into fields of ev; raises naming the field. */
static void fill_fields(lua_State *L, int t, nl_event *ev, const char *fname)
{
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            nl_event_free(ev);
            luaL_error(L, "bad argument #2 to '%s' (field keys must be strings, got %s)", fname,
                       luaL_typename(L, -2));
        }
        const char *key = lua_tostring(L, -2);
        int rc = 0;
        switch (lua_type(L, -1)) {
        case LUA_TNUMBER: rc = nl_event_num(ev, key, lua_tonumber(L, -1)); break;
        case LUA_TBOOLEAN: rc = nl_event_num(ev, key, lua_toboolean(L, -1)); break;
        case LUA_TSTRING: rc = nl_event_str(ev, key, lua_tostring(L, -1)); break;
        case LUA_TTABLE: {
            lua_Integer n = luaL_len(L, -1);
            double *a = nl_malloc((size_t)(n > 0 ? n : 1) * sizeof *a);
            if (!a) {
                nl_event_free(ev);
                luaL_error(L, "%s: out of memory", fname);
            }
            for (lua_Integer i = 1; i <= n; i++) {
                lua_geti(L, -1, i);
                int ok;
                a[i - 1] = lua_tonumberx(L, -1, &ok);
                lua_pop(L, 1);
                if (!ok) {
                    nl_free(a);
                    nl_event_free(ev);
                    luaL_error(L, "bad argument #2 to '%s' (field '%s': item %d is not a number)", fname, key,
                               (int)i);
                }
            }
            rc = nl_event_arr(ev, key, a, n);
            nl_free(a);
            break;
        }
        default: {
            /* tostring of a naslab.Arch and friends: their text form */
            if (luaL_getmetafield(L, -1, "__tostring") != LUA_TNIL) {
                lua_pop(L, 1);
                const char *s = luaL_tolstring(L, -1, NULL);
                rc = nl_event_str(ev, key, s);
                lua_pop(L, 1);
                break;
            }
            nl_event_free(ev);
            luaL_error(L, "bad argument #2 to '%s' (field '%s' is a %s: numbers, strings, booleans or lists of "
                          "numbers)",
                       fname, key, luaL_typename(L, -1));
        }
        }
        if (rc) {
            nl_event_free(ev);
            luaL_error(L, "%s: %s", fname, nl_errmsg());
        }
        lua_pop(L, 1);
    }
}

/* nl.emit(name [, fields]) */
static int l_emit(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    luaL_argcheck(L, *name, 1, "an event needs a name");
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
    nl_event *ev = nl_event_new(name);
    if (!ev) return luaL_error(L, "emit: out of memory");
    if (!lua_isnoneornil(L, 2)) fill_fields(L, 2, ev, "emit");
    nl_event_emit(ev);
    nl_event_free(ev);
    return 0;
}

/* A recorded number: an integer when it is one (JSON does not say). */
static void push_num(lua_State *L, double v)
{
    if (v == floor(v) && fabs(v) < 9007199254740992.0) lua_pushinteger(L, (lua_Integer)v);
    else lua_pushnumber(L, v);
}

/* An event as a Lua table: name, t and the fields. */
static void push_event(lua_State *L, const nl_event *ev)
{
    lua_createtable(L, 0, ev->nfields + 2);
    for (int i = 0; i < ev->nfields; i++) {
        const nl_ev_field *f = &ev->fields[i];
        if (f->type == NL_EV_NUM) push_num(L, f->num);
        else if (f->type == NL_EV_STR) lua_pushstring(L, f->str);
        else {
            lua_createtable(L, (int)f->n, 0);
            for (int64_t k = 0; k < f->n; k++) {
                push_num(L, f->arr[k]);
                lua_rawseti(L, -2, k + 1);
            }
        }
        lua_setfield(L, -2, f->key);
    }
    lua_pushstring(L, ev->name);
    lua_setfield(L, -2, "name");
    lua_pushnumber(L, ev->t);
    lua_setfield(L, -2, "t");
}

/* nl.run.open([dir]) -> dir | nil, msg */
static int l_run_open(lua_State *L)
{
    const char *dir = luaL_optstring(L, 1, NULL);
    if (nl_run_open(dir)) {
        luaL_pushfail(L);
        lua_pushstring(L, nl_errmsg());
        return 2;
    }
    lua_pushstring(L, nl_run_dir());
    return 1;
}

/* nl.run.close() -> number of events the run recorded */
static int l_run_close(lua_State *L)
{
    lua_pushinteger(L, nl_run_close());
    return 1;
}

static int l_run_dir(lua_State *L)
{
    const char *d = nl_run_dir();
    if (d) lua_pushstring(L, d);
    else lua_pushnil(L);
    return 1;
}

typedef struct replay {
    lua_State *L;
    int failed;
    lua_Integer n;
} replay;

static void replay_one(void *ud, const nl_event *ev)
{
    replay *r = ud;
    if (r->failed) return;
    r->n++;
    lua_pushvalue(r->L, 2);
    push_event(r->L, ev);
    if (lua_pcall(r->L, 1, 0, 0) != LUA_OK) r->failed = 1; /* message stays on the stack */
}

/* nl.run.replay(dir, fn) -> number of events | nil, msg; fn(event) for each. */
static int l_run_replay(lua_State *L)
{
    const char *dir = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    replay r = { L, 0, 0 };
    int rc = nl_run_replay(dir, replay_one, &r);
    if (r.failed) return lua_error(L);
    if (rc) {
        luaL_pushfail(L);
        lua_pushstring(L, nl_errmsg());
        return 2;
    }
    lua_pushinteger(L, r.n);
    return 1;
}

int nl_open_event(lua_State *L)
{
    lua_pushcfunction(L, l_emit);
    lua_setfield(L, -2, "emit");
    static const luaL_Reg run[] = {
        { "open", l_run_open }, { "close", l_run_close }, { "dir", l_run_dir }, { "replay", l_run_replay }, { NULL, NULL }
    };
    luaL_newlib(L, run);
    lua_setfield(L, -2, "run");
    return 0;
}
