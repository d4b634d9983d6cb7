/* SPDX-License-Identifier: GPL-3.0-or-later */
/* l_predict.c - the Lua face of performance predictors: nl.predictor(kind,
 * opts) makes a naslab.Predictor whose C object is created at the first fit
 * (the space comes from the archs, or opts.space), with fit, predict, save,
 * load; nl.predictors() lists the registry. Architectures are naslab.Arch
 * values or their text forms. Uses predict/predictor.h and the space binding. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "lua/l_space.h"
#include "lua/lnl.h"
#include "predict/predictor.h"
#include "space/nb201.h"

#define PREDICTOR_MT "naslab.Predictor"

typedef struct lpred {
    nl_predictor *p;
    const nl_predictor_kind *kind;
    nl_pred_opts opts;
    char encoding[32], loss[32];
    const nl_space *space; /* NULL until given or seen */
    lua_State *L;
    int progress_ref;      /* LUA_NOREF when none */
    int failed;            /* the progress function raised (message on the stack) */
} lpred;

static lpred *checkpred(lua_State *L, int arg)
{
    return luaL_checkudata(L, arg, PREDICTOR_MT);
}

static const char *const KNOWN[] = { "seed",  "threads", "encoding", "loss",     "epochs",    "batch",
                                     "lr",    "weight_decay", "hidden", "layers", "trees", "depth",
                                     "min_leaf", "subsample", "members", "canonical", "space", "progress", NULL };

static void optname(lua_State *L, int t, const char *key, char *buf, size_t cap)
{
    lua_getfield(L, t, key);
    if (lua_type(L, -1) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        if (n >= cap) luaL_argerror(L, t, lua_pushfstring(L, "%s is too long", key));
        memcpy(buf, s, n + 1);
    } else if (!lua_isnil(L, -1)) {
        luaL_argerror(L, t, lua_pushfstring(L, "%s must be a string", key));
    }
    lua_pop(L, 1);
}

/* opts.members: a list of 1..NL_PRED_MAXMEMBERS predictor names, stored
 * as the registry's static names (nil: the kind's default). */
static void checkmembers(lua_State *L, int t, nl_pred_opts *o)
{
    lua_getfield(L, t, "members");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    if (!lua_istable(L, -1)) luaL_argerror(L, t, "members must be a list of predictor names");
    lua_Integer n = luaL_len(L, -1);
    if (n < 1 || n > NL_PRED_MAXMEMBERS)
        luaL_argerror(L, t, lua_pushfstring(L, "members must list 1..%d predictor names, got %I", NL_PRED_MAXMEMBERS, n));
    memset(o->members, 0, sizeof o->members);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_argerror(L, t, lua_pushfstring(L, "members[%I] must be a predictor name, got %s", i,
                                                nl_lua_shown(L, -1)));
        const nl_predictor_kind *k;
        if (nl_predictor_kind_find(lua_tostring(L, -1), &k))
            luaL_argerror(L, t, lua_pushfstring(L, "members[%I]: %s", i, nl_errmsg()));
        o->members[i - 1] = k->name;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* nl.predictor(kind [, opts]) */
static int l_predictor(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const nl_predictor_kind *k;
    if (nl_predictor_kind_find(name, &k)) return luaL_argerror(L, 1, nl_errmsg());
    int t = 2;
    if (lua_isnoneornil(L, t)) {
        lua_settop(L, 1);
        lua_newtable(L);
    }
    luaL_checktype(L, t, LUA_TTABLE);
    nl_lua_check_known(L, t, KNOWN);
    lpred *u = lua_newuserdatauv(L, sizeof *u, 0);
    memset(u, 0, sizeof *u);
    u->progress_ref = LUA_NOREF;
    luaL_setmetatable(L, PREDICTOR_MT);
    u->kind = k;
    nl_pred_defaults(name, &u->opts);
    u->opts.seed = (uint64_t)nl_lua_optint(L, t, "seed", 0, LUA_MAXINTEGER, (lua_Integer)u->opts.seed);
    u->opts.threads = (int)nl_lua_optint(L, t, "threads", 1, 64, u->opts.threads);
    u->opts.epochs = (int)nl_lua_optint(L, t, "epochs", 1, 1000000, u->opts.epochs);
    u->opts.batch = (int)nl_lua_optint(L, t, "batch", 0, 1 << 30, u->opts.batch);
    u->opts.hidden = (int)nl_lua_optint(L, t, "hidden", 1, 1 << 20, u->opts.hidden);
    u->opts.layers = (int)nl_lua_optint(L, t, "layers", 0, 64, u->opts.layers);
    u->opts.lr = nl_lua_optnum(L, t, "lr", u->opts.lr);
    u->opts.weight_decay = nl_lua_optnum(L, t, "weight_decay", u->opts.weight_decay);
    u->opts.trees = (int)nl_lua_optint(L, t, "trees", 1, 100000, u->opts.trees);
    u->opts.depth = (int)nl_lua_optint(L, t, "depth", 1, 16, u->opts.depth);
    u->opts.min_leaf = (int)nl_lua_optint(L, t, "min_leaf", 1, 1 << 30, u->opts.min_leaf);
    lua_getfield(L, t, "subsample");
    if (!lua_isnil(L, -1)) {
        double v = lua_tonumber(L, -1);
        if (lua_type(L, -1) != LUA_TNUMBER || !(v > 0 && v <= 1))
            return luaL_argerror(L, t, lua_pushfstring(L, "subsample must be a number in (0, 1], got %s",
                                                       nl_lua_shown(L, -1)));
        u->opts.subsample = v;
    }
    lua_pop(L, 1);
    checkmembers(L, t, &u->opts);
    lua_getfield(L, t, "canonical");
    if (!lua_isnil(L, -1)) {
        if (!lua_isboolean(L, -1))
            return luaL_argerror(L, t, lua_pushfstring(L, "canonical must be a boolean, got %s", luaL_typename(L, -1)));
        u->opts.canonical = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    optname(L, t, "encoding", u->encoding, sizeof u->encoding);
    optname(L, t, "loss", u->loss, sizeof u->loss);
    u->opts.encoding = u->encoding[0] ? u->encoding : NULL;
    u->opts.loss = u->loss[0] ? u->loss : NULL;
    char sp[32] = "";
    optname(L, t, "space", sp, sizeof sp);
    if (sp[0] && nl_space_find(sp, &u->space)) return luaL_argerror(L, t, nl_errmsg());
    lua_getfield(L, t, "progress");
    if (!lua_isnil(L, -1)) {
        if (!lua_isfunction(L, -1)) return luaL_argerror(L, t, "progress must be a function");
        u->progress_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    } else {
        lua_pop(L, 1);
    }
    return 1;
}

static int progress(void *ud, const nl_progress *pr)
{
    lpred *u = ud;
    lua_State *L = u->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, u->progress_ref);
    lua_createtable(L, 0, 4);
    lua_pushliteral(L, "predictor.fit");
    lua_setfield(L, -2, "name");
    lua_pushstring(L, u->kind->name);
    lua_setfield(L, -2, "kind");
    lua_pushinteger(L, pr->done);
    lua_setfield(L, -2, "epoch");
    lua_pushinteger(L, pr->total);
    lua_setfield(L, -2, "epochs");
    if (u->kind == &nl_pred_ensemble) {
        lua_pushstring(L, pr->what);
        lua_setfield(L, -2, "member");
    }
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        u->failed = 1;
        return 1;
    }
    int stop = lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "stop");
    lua_pop(L, 1);
    return stop;
}

/* The archs of the table at arg (naslab.Arch or text) into a tempbuf; the
 * space is u->space, or the first arch's when u has none yet. */
static nl_arch *checkarchs(lua_State *L, int arg, lpred *u, int64_t *n)
{
    luaL_checktype(L, arg, LUA_TTABLE);
    lua_Integer len = luaL_len(L, arg);
    if (len < 1) luaL_argerror(L, arg, "no architectures");
    nl_arch *a = nl_lua_tempbuf(L, (size_t)len * sizeof *a);
    for (lua_Integer i = 1; i <= len; i++) {
        lua_rawgeti(L, arg, i);
        if (lua_type(L, -1) == LUA_TSTRING) {
            const nl_space *sp = u->space ? u->space : &nl_space_nb201;
            if (sp->parse(lua_tostring(L, -1), &a[i - 1]))
                luaL_argerror(L, arg, lua_pushfstring(L, "archs[%I]: %s", i, nl_errmsg()));
        } else if (luaL_testudata(L, -1, "naslab.Arch")) {
            a[i - 1] = *nl_lua_checkarch(L, -1);
        } else {
            luaL_argerror(L, arg, lua_pushfstring(L, "archs[%I] must be a naslab.Arch or a string, got %s", i,
                                                  luaL_typename(L, -1)));
        }
        if (!u->space) u->space = a[i - 1].space;
        if (a[i - 1].space != u->space)
            luaL_argerror(L, arg, lua_pushfstring(L, "archs[%I] is an %s arch, the predictor's space is %s", i,
                                                  a[i - 1].space->name, u->space->name));
        lua_pop(L, 1);
    }
    *n = len;
    return a;
}

static int fail(lua_State *L, lpred *u, int rc, int arg)
{
    if (u->failed) {
        u->failed = 0;
        return lua_error(L);
    }
    if (rc == NL_EINVAL) return luaL_argerror(L, arg, nl_errmsg());
    return nl_lua_raise(L, rc);
}

/* p:fit(archs, ys) -> p */
static int p_fit(lua_State *L)
{
    lpred *u = checkpred(L, 1);
    int64_t n;
    nl_arch *a = checkarchs(L, 2, u, &n);
    size_t ny;
    double *y = nl_lua_checknumbers(L, 3, &ny);
    if ((int64_t)ny != n)
        return luaL_argerror(L, 3, lua_pushfstring(L, "%d targets for %d architectures", (int)ny, (int)n));
    for (size_t i = 0; i < ny; i++)
        if (!isfinite(y[i]))
            return luaL_argerror(L, 3, lua_pushfstring(L, "ys[%d] is %s", (int)i + 1, isnan(y[i]) ? "NaN" : "infinite"));
    if (!u->p) {
        int rc = nl_predictor_new(&u->p, u->kind->name, u->space, &u->opts);
        if (rc) return luaL_error(L, "%s", nl_errmsg());
    }
    u->L = L;
    u->p->opts.progress = u->progress_ref != LUA_NOREF ? progress : NULL;
    u->p->opts.progress_ud = u;
    int rc = u->p->kind->fit(u->p, a, y, n);
    if (rc) return fail(L, u, rc, 3);
    lua_settop(L, 1);
    return 1;
}

/* p:predict(archs) -> {scores} */
static int p_predict(lua_State *L)
{
    lpred *u = checkpred(L, 1);
    if (!u->p || !u->p->fitted) return luaL_error(L, "%s: predict before fit", u->kind->name);
    int64_t n;
    nl_arch *a = checkarchs(L, 2, u, &n);
    double *out = nl_lua_tempbuf(L, (size_t)n * sizeof *out);
    int rc = u->p->kind->predict(u->p, a, n, out);
    if (rc) return fail(L, u, rc, 2);
    lua_createtable(L, (int)n, 0);
    for (int64_t i = 0; i < n; i++) {
        lua_pushnumber(L, out[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int p_save(lua_State *L)
{
    lpred *u = checkpred(L, 1);
    const char *path = luaL_checkstring(L, 2);
    if (!u->p || !u->p->fitted) return luaL_error(L, "%s: save before fit", u->kind->name);
    int rc = u->p->kind->save(u->p, path);
    if (rc) return nl_lua_fail(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

static int p_load(lua_State *L)
{
    lpred *u = checkpred(L, 1);
    const char *path = luaL_checkstring(L, 2);
    if (!u->p) {
        if (!u->space) return luaL_error(L, "%s: load needs the space (nl.predictor(kind, {space = ...}))", u->kind->name);
        int rc = nl_predictor_new(&u->p, u->kind->name, u->space, &u->opts);
        if (rc) return luaL_error(L, "%s", nl_errmsg());
    }
    int rc = u->p->kind->load(u->p, path);
    if (rc) return nl_lua_fail(L, rc);
    lua_settop(L, 1);
    return 1;
}

static int p_name(lua_State *L)
{
    lua_pushstring(L, checkpred(L, 1)->kind->name);
    return 1;
}

static int p_close(lua_State *L)
{
    lpred *u = checkpred(L, 1);
    nl_predictor_free(u->p);
    u->p = NULL;
    if (u->progress_ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, u->progress_ref);
    u->progress_ref = LUA_NOREF;
    return 0;
}

static int p_tostring(lua_State *L)
{
    lpred *u = checkpred(L, 1);
    lua_pushfstring(L, "naslab.Predictor (%s, %s, %s)", u->kind->name, u->space ? u->space->name : "no space yet",
                    u->p && u->p->fitted ? "fitted" : "not fitted");
    return 1;
}

/* nl.predictors() -> { {name=, title=}, ... } */
static int l_predictors(lua_State *L)
{
    lua_newtable(L);
    for (int i = 0; nl_predictor_kinds[i]; i++) {
        lua_createtable(L, 0, 2);
        lua_pushstring(L, nl_predictor_kinds[i]->name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, nl_predictor_kinds[i]->title);
        lua_setfield(L, -2, "title");
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static const luaL_Reg methods[] = { { "fit", p_fit },   { "predict", p_predict }, { "save", p_save },
                                    { "load", p_load }, { "name", p_name },       { "close", p_close },
                                    { NULL, NULL } };

int nl_open_predict(lua_State *L)
{
    int nl = lua_gettop(L);
    if (luaL_newmetatable(L, PREDICTOR_MT)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, p_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, p_close);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, p_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, l_predictor);
    lua_setfield(L, nl, "predictor");
    lua_pushcfunction(L, l_predictors);
    lua_setfield(L, nl, "predictors");
    return 0;
}
