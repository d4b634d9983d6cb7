/* SPDX-License-Identifier: GPL-3.0-or-later */
/* l_data.c - nl.data: image data sets as naslab.Dataset userdata over
 * data/dataset.h. nl.data.fashion_mnist{...} reads Debian's Fashion-MNIST,
 * nl.data.idx{images=, labels=, ...} any pair of IDX files,
 * nl.data.digits{...} scikit-learn's 8x8 digits; each returns the training
 * set, plus the validation set as a second result when valid > 0.
 * Examples are 1-based in Lua; labels are class numbers 0..k-1, as a
 * network's outputs count them. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "core/error.h"
#include "data/dataset.h"
#include "lua/lnl.h"

#define DATASET_MT "naslab.Dataset"

typedef struct ldata {
    nl_dataset *d;
} ldata;

static nl_dataset *checkdata(lua_State *L, int arg)
{
    ldata *u = luaL_checkudata(L, arg, DATASET_MT);
    if (!u->d) luaL_argerror(L, arg, "dataset is closed");
    return u->d;
}

nl_dataset *nl_lua_testdataset(lua_State *L, int arg)
{
    ldata *u = luaL_testudata(L, arg, DATASET_MT);
    return u ? u->d : NULL;
}

/* An empty box, pushed before the C call that fills it so a failed push
 * cannot leak the data set. */
static ldata *newbox(lua_State *L)
{
    ldata *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->d = NULL;
    luaL_setmetatable(L, DATASET_MT);
    return u;
}

/* Caller's mistakes (bad class lists, splits that leave nothing) raise as an
 * argument error; the environment's (files) return nil, message. */
static int result(lua_State *L, int rc, int arg, int nres)
{
    if (rc == NL_EINVAL || rc == NL_ERANGE) return luaL_argerror(L, arg, nl_errmsg());
    if (rc == NL_ENOMEM || rc == NL_EINTR) return nl_lua_raise(L, rc);
    if (rc < 0) return nl_lua_fail(L, rc);
    return nres;
}

/* ---------------------------------------------------------------- options */

static const char *const FM_KNOWN[] = { "split", "limit", "classes", "valid", "seed", "pad", "normalize",
                                        "balanced", "dir", "mean", "std", NULL };
static const char *const DIGITS_KNOWN[] = { "path", "upsample", "limit", "classes", "valid", "seed", "pad",
                                            "normalize", "balanced", NULL };
static const char *const IDX_KNOWN[] = { "images", "labels", "limit", "classes", "valid", "seed", "pad", "normalize",
                                         "balanced", "nclasses", "names", "channels_last", "mean", "std", NULL };

static void check_known(lua_State *L, const char *const *known, const char *list)
{
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        int found = 0;
        if (lua_type(L, -2) == LUA_TSTRING)
            for (int i = 0; known[i]; i++) found |= strcmp(lua_tostring(L, -2), known[i]) == 0;
        if (!found) {
            lua_pushvalue(L, -2);
            luaL_argerror(L, 1, lua_pushfstring(L, "unknown option '%s' (known: %s)", luaL_tolstring(L, -1, NULL), list));
        }
        lua_pop(L, 1);
    }
}

/* How a bad value shows in a message: numbers as numbers, else the type. */
static const char *shown(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TNUMBER) return luaL_tolstring(L, idx, NULL);
    if (lua_type(L, idx) == LUA_TSTRING) return lua_pushfstring(L, "'%s'", lua_tostring(L, idx));
    return luaL_typename(L, idx);
}

/* opts[key] as an integer in lo..hi, or def when absent. */
static lua_Integer optint(lua_State *L, const char *key, lua_Integer lo, lua_Integer hi, lua_Integer def,
                          const char *what)
{
    lua_getfield(L, 1, key);
    lua_Integer v = def;
    if (!lua_isnil(L, -1)) {
        int isint;
        v = lua_tointegerx(L, -1, &isint);
        if (lua_type(L, -1) != LUA_TNUMBER || !isint || v < lo || v > hi)
            {
            const char *got = shown(L, -1);
            luaL_argerror(L, 1, lua_pushfstring(L, "%s must be %s, got %s", key, what, got));
        }
    }
    lua_pop(L, 1);
    return v;
}

static int optbool(lua_State *L, const char *key)
{
    lua_getfield(L, 1, key);
    int t = lua_type(L, -1);
    if (t != LUA_TNIL && t != LUA_TBOOLEAN)
        luaL_argerror(L, 1, lua_pushfstring(L, "%s must be a boolean, got %s", key, luaL_typename(L, -1)));
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

/* opts.classes: a list of class ids or, when names are known, class names.
 * Returns a tempbuf (left on the stack) of *k ids, or NULL when absent. */
static int32_t *optclasses(lua_State *L, int *k, const char *const *names, int nnames)
{
    *k = 0;
    lua_getfield(L, 1, "classes");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    if (!lua_istable(L, -1))
        luaL_argerror(L, 1, lua_pushfstring(L, "classes must be a list of class ids, got %s", luaL_typename(L, -1)));
    int tab = lua_gettop(L);
    lua_Integer n = luaL_len(L, tab);
    if (n < 1) luaL_argerror(L, 1, "classes must list at least one class");
    if (n > 65536) luaL_argerror(L, 1, "classes lists too many classes");
    int32_t *ids = nl_lua_tempbuf(L, (size_t)n * sizeof *ids);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, tab, i);
        int isint, found = 0;
        lua_Integer v = lua_tointegerx(L, -1, &isint);
        if (lua_type(L, -1) == LUA_TSTRING && names) {
            for (int j = 0; j < nnames && !found; j++)
                if (strcmp(lua_tostring(L, -1), names[j]) == 0) {
                    v = j;
                    found = 1;
                }
        } else if (lua_type(L, -1) == LUA_TNUMBER && isint && v >= 0 && v <= 65535 && (nnames == 0 || v < nnames)) {
            found = 1;
        }
        if (!found) {
            const char *got = shown(L, -1);
            if (nnames > 0)
                luaL_argerror(L, 1, lua_pushfstring(L, "classes[%d] must be a class id 0..%d%s, got %s", (int)i,
                                                    nnames - 1, names ? " or a class name" : "", got));
            luaL_argerror(L, 1, lua_pushfstring(L, "classes[%d] must be a class id >= 0, got %s", (int)i, got));
        }
        ids[i - 1] = (int32_t)v;
        lua_pop(L, 1);
    }
    lua_remove(L, tab); /* the tempbuf stays, above where the table was */
    *k = (int)n;
    return ids;
}

/* opts.mean / opts.std: a number, or a list of per-channel numbers. Returns
 * a tempbuf of NL_DATASET_MAXCH values (a single number fills them all), or
 * NULL when absent. */
static double *optstats(lua_State *L, const char *key)
{
    lua_getfield(L, 1, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    int at = lua_gettop(L);
    double *v = nl_lua_tempbuf(L, NL_DATASET_MAXCH * sizeof *v);
    if (lua_type(L, at) == LUA_TNUMBER) {
        for (int c = 0; c < NL_DATASET_MAXCH; c++) v[c] = lua_tonumber(L, at);
    } else if (lua_istable(L, at)) {
        lua_Integer n = luaL_len(L, at);
        if (n < 1 || n > NL_DATASET_MAXCH)
            luaL_argerror(L, 1, lua_pushfstring(L, "%s must be a number or a list of 1..%d numbers", key, NL_DATASET_MAXCH));
        for (lua_Integer i = 1; i <= NL_DATASET_MAXCH; i++) {
            lua_rawgeti(L, at, i <= n ? i : n);
            if (lua_type(L, -1) != LUA_TNUMBER)
                luaL_argerror(L, 1, lua_pushfstring(L, "%s[%d] must be a number, got %s", key, (int)i, luaL_typename(L, -1)));
            v[i - 1] = lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
    } else {
        luaL_argerror(L, 1, lua_pushfstring(L, "%s must be a number or a list of numbers, got %s", key, luaL_typename(L, at)));
    }
    for (int c = 0; c < NL_DATASET_MAXCH; c++)
        if (!isfinite(v[c]) || (key[0] == 's' && !(v[c] > 0)))
            luaL_argerror(L, 1, lua_pushfstring(L, "%s must be %s", key, key[0] == 's' ? "positive and finite" : "finite"));
    lua_remove(L, at);
    return v;
}

/* The options both loaders share. */
static void common_opts(lua_State *L, nl_dataset_opts *o)
{
    o->limit = optint(L, "limit", 1, LUA_MAXINTEGER, 0, "a positive integer");
    lua_getfield(L, 1, "seed");
    if (!lua_isnil(L, -1)) {
        int isint;
        lua_Integer s = lua_tointegerx(L, -1, &isint);
        if (lua_type(L, -1) != LUA_TNUMBER || !isint) {
            const char *got = shown(L, -1);
            luaL_argerror(L, 1, lua_pushfstring(L, "seed must be an integer, got %s", got));
        }
        o->has_seed = 1;
        o->seed = (uint64_t)s;
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "valid");
    if (!lua_isnil(L, -1)) {
        double v = lua_tonumber(L, -1);
        if (lua_type(L, -1) != LUA_TNUMBER || !(v >= 0) || isinf(v) || (v >= 1 && v != floor(v))) {
            const char *got = shown(L, -1);
            luaL_argerror(L, 1, lua_pushfstring(L, "valid must be a fraction in (0,1) or a whole count >= 1, got %s", got));
        }
        o->valid = v;
    }
    lua_pop(L, 1);
    o->pad = (int)optint(L, "pad", 0, 64, 0, "an integer in 0..64");
    o->normalize = optbool(L, "normalize");
    o->balanced = optbool(L, "balanced");
    if (o->balanced && o->limit == 0) luaL_argerror(L, 1, "balanced needs a limit");
}

static const char *optstring(lua_State *L, const char *key, int required)
{
    lua_getfield(L, 1, key);
    const char *s = NULL;
    if (lua_type(L, -1) == LUA_TSTRING) s = lua_tostring(L, -1);
    else if (required || !lua_isnil(L, -1))
        luaL_argerror(L, 1, lua_pushfstring(L, "%s must be a %s, got %s", key, required ? "path (string)" : "string",
                                            luaL_typename(L, -1)));
    lua_pop(L, 1); /* the string stays alive in the options table */
    return s;
}

/* Push the boxes, run the load, return 1 or 2 data sets (or nil, msg). */
static int finish_load(lua_State *L, const nl_dataset_opts *o, const char *images, const char *labels)
{
    int two = o->valid > 0;
    ldata *t = newbox(L);
    ldata *v = two ? newbox(L) : NULL;
    int rc = images ? nl_dataset_load_idx(images, labels, o, &t->d, two ? &v->d : NULL)
                    : nl_dataset_fashion_mnist(o, &t->d, two ? &v->d : NULL);
    return result(L, rc, 1, two ? 2 : 1);
}

static int l_fashion_mnist(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    check_known(L, FM_KNOWN, "split, limit, classes, valid, seed, pad, normalize, balanced, dir, mean, std");
    nl_dataset_opts o = { 0 };
    const char *split = optstring(L, "split", 0);
    if (split && strcmp(split, "train") != 0 && strcmp(split, "test") != 0)
        luaL_argerror(L, 1, lua_pushfstring(L, "split must be \"train\" or \"test\", got \"%s\"", split));
    o.test = split && strcmp(split, "test") == 0;
    o.dir = optstring(L, "dir", 0);
    common_opts(L, &o);
    o.classes = optclasses(L, &o.nkeep, nl_fashion_mnist_classes, 10);
    o.mean = optstats(L, "mean");
    o.std = optstats(L, "std");
    if ((o.mean == NULL) != (o.std == NULL)) luaL_argerror(L, 1, "give both mean and std, or neither");
    return finish_load(L, &o, NULL, NULL);
}

static int l_idx(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    check_known(L, IDX_KNOWN,
                "images, labels, limit, classes, valid, seed, pad, normalize, balanced, nclasses, names, channels_last, "
                "mean, std");
    nl_dataset_opts o = { 0 };
    const char *images = optstring(L, "images", 1);
    const char *labels = optstring(L, "labels", 1);
    common_opts(L, &o);
    o.nclasses = (int)optint(L, "nclasses", 1, 65536, 0, "an integer in 1..65536");
    o.channels_last = optbool(L, "channels_last");
    lua_getfield(L, 1, "names");
    const char **names = NULL;
    if (!lua_isnil(L, -1)) {
        if (!lua_istable(L, -1))
            luaL_argerror(L, 1, lua_pushfstring(L, "names must be a list of strings, got %s", luaL_typename(L, -1)));
        int tab = lua_gettop(L);
        lua_Integer n = luaL_len(L, tab);
        if (o.nclasses && n != o.nclasses)
            luaL_argerror(L, 1, lua_pushfstring(L, "names lists %d names for %d classes", (int)n, o.nclasses));
        if (n < 1 || n > 65536) luaL_argerror(L, 1, "names must list 1..65536 names");
        o.nclasses = (int)n;
        names = nl_lua_tempbuf(L, (size_t)n * sizeof *names);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, tab, i);
            if (lua_type(L, -1) != LUA_TSTRING)
                luaL_argerror(L, 1, lua_pushfstring(L, "names[%d] must be a string, got %s", (int)i, luaL_typename(L, -1)));
            names[i - 1] = lua_tostring(L, -1); /* alive in the names table */
            lua_pop(L, 1);
        }
        lua_remove(L, tab);
    } else {
        lua_pop(L, 1);
    }
    o.class_names = names;
    o.classes = optclasses(L, &o.nkeep, names, o.nclasses);
    o.mean = optstats(L, "mean");
    o.std = optstats(L, "std");
    if ((o.mean == NULL) != (o.std == NULL)) luaL_argerror(L, 1, "give both mean and std, or neither");
    return finish_load(L, &o, images, labels);
}

/* The digits' class names, so classes may list "3" as well as 3. */
static const char *const DIGIT_NAMES[10] = { "0", "1", "2", "3", "4", "5", "6", "7", "8", "9" };

/* Replace the data set in box u by its upsampled copy. */
static int upsample_box(ldata *u, int f)
{
    nl_dataset *big;
    int rc = nl_dataset_upsample(u->d, f, &big);
    if (rc < 0) return rc;
    nl_dataset_free(u->d);
    u->d = big;
    return 0;
}

/* nl.data.digits{path, upsample, ...}: the selection options of the other
 * loaders, then every image enlarged by `upsample` (after padding). */
static int l_digits(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    check_known(L, DIGITS_KNOWN, "path, upsample, limit, classes, valid, seed, pad, normalize, balanced");
    nl_dataset_opts o = { 0 };
    const char *path = optstring(L, "path", 0);
    int up = (int)optint(L, "upsample", 1, 64, 1, "an integer in 1..64");
    common_opts(L, &o);
    o.classes = optclasses(L, &o.nkeep, DIGIT_NAMES, 10);
    int two = o.valid > 0;
    ldata *t = newbox(L);
    ldata *v = two ? newbox(L) : NULL;
    int rc = nl_dataset_digits(path, &o, &t->d, two ? &v->d : NULL);
    if (rc == 0 && up > 1) rc = upsample_box(t, up);
    if (rc == 0 && up > 1 && two) rc = upsample_box(v, up);
    return result(L, rc, 1, two ? 2 : 1);
}

static int l_digits_path(lua_State *L)
{
    lua_pushstring(L, nl_dataset_digits_path(luaL_optstring(L, 1, NULL)));
    return 1;
}

static int l_fashion_mnist_dir(lua_State *L)
{
    lua_pushstring(L, nl_dataset_fashion_mnist_dir(luaL_optstring(L, 1, NULL)));
    return 1;
}

/* ---------------------------------------------------------------- naslab.Dataset */

static int d_size(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)checkdata(L, 1)->n);
    return 1;
}

static int d_shape(lua_State *L)
{
    nl_dataset *d = checkdata(L, 1);
    int64_t s[4] = { d->n, d->c, d->h, d->w };
    lua_createtable(L, 4, 0);
    for (int i = 0; i < 4; i++) {
        lua_pushinteger(L, (lua_Integer)s[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int d_classes(lua_State *L)
{
    nl_dataset *d = checkdata(L, 1);
    lua_createtable(L, d->nclasses, 0);
    for (int k = 0; k < d->nclasses; k++) {
        lua_pushstring(L, d->class_names[k]);
        lua_rawseti(L, -2, k + 1);
    }
    return 1;
}

static int d_class_ids(lua_State *L)
{
    nl_dataset *d = checkdata(L, 1);
    lua_createtable(L, d->nclasses, 0);
    for (int k = 0; k < d->nclasses; k++) {
        lua_pushinteger(L, d->class_ids[k]);
        lua_rawseti(L, -2, k + 1);
    }
    return 1;
}

static int d_images(lua_State *L)
{
    nl_dataset *d = checkdata(L, 1);
    nl_tensor *t;
    if (nl_tensor_alias(&t, d->images) < 0) return nl_lua_raise(L, NL_ENOMEM);
    nl_lua_pushtensor(L, t);
    return 1;
}

static void pushlabels(lua_State *L, const int32_t *labels, int64_t n)
{
    lua_createtable(L, n > INT32_MAX ? 0 : (int)n, 0);
    for (int64_t i = 0; i < n; i++) {
        lua_pushinteger(L, labels[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

static int d_labels(lua_State *L)
{
    nl_dataset *d = checkdata(L, 1);
    static const char *const kinds[] = { "table", "tensor", NULL };
    if (luaL_checkoption(L, 2, "table", kinds) == 1) {
        int64_t shape[1] = { d->n };
        nl_tensor *t = nl_tensor_new(1, shape);
        if (!t) return nl_lua_raise(L, NL_ENOMEM);
        float *p = nl_tensor_data(t);
        for (int64_t i = 0; i < d->n; i++) p[i] = (float)d->labels[i];
        nl_lua_pushtensor(L, t);
        return 1;
    }
    pushlabels(L, d->labels, d->n);
    return 1;
}

static int64_t checkindex(lua_State *L, int arg, const nl_dataset *d)
{
    lua_Integer i = luaL_checkinteger(L, arg);
    if (i < 1 || i > d->n)
        luaL_argerror(L, arg, lua_pushfstring(L, "index %I is outside 1..%I", i, (lua_Integer)d->n));
    return (int64_t)i - 1;
}

static int d_get(lua_State *L)
{
    nl_dataset *d = checkdata(L, 1);
    int64_t i = checkindex(L, 2, d);
    nl_tensor *t;
    int rc = nl_tensor_select(&t, d->images, 0, i);
    if (rc < 0) return nl_lua_raise(L, rc);
    nl_lua_pushtensor(L, t);
    lua_pushinteger(L, d->labels[i]);
    return 2;
}

/* d:batch({i, j, ...}) or d:batch(first, last): a new (n,c,h,w) tensor and a
 * table of labels. */
static int d_batch(lua_State *L)
{
    nl_dataset *d = checkdata(L, 1);
    int64_t n, *idx;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        int64_t a = checkindex(L, 2, d), b = checkindex(L, 3, d);
        if (b < a)
            luaL_argerror(L, 3, lua_pushfstring(L, "range %I..%I is empty", (lua_Integer)a + 1, (lua_Integer)b + 1));
        n = b - a + 1;
        idx = nl_lua_tempbuf(L, (size_t)n * sizeof *idx);
        for (int64_t j = 0; j < n; j++) idx[j] = a + j;
    } else {
        size_t m;
        double *v = nl_lua_checknumbers(L, 2, &m);
        n = (int64_t)m;
        idx = nl_lua_tempbuf(L, (m ? m : 1) * sizeof *idx);
        for (size_t j = 0; j < m; j++) {
            if (v[j] != floor(v[j]) || v[j] < 1 || v[j] > (double)d->n) {
                lua_pushnumber(L, v[j]);
                if (v[j] == floor(v[j]) && fabs(v[j]) < 1e15) {
                    lua_pop(L, 1);
                    lua_pushinteger(L, (lua_Integer)v[j]);
                }
                const char *got = luaL_tolstring(L, -1, NULL);
                luaL_argerror(L, 2, lua_pushfstring(L, "index %s at position %d is outside 1..%I", got, (int)j + 1,
                                                    (lua_Integer)d->n));
            }
            idx[j] = (int64_t)v[j] - 1;
        }
        if (n == 0) luaL_argerror(L, 2, "no indices");
    }
    int64_t shape[4] = { n, d->c, d->h, d->w };
    nl_tensor *t = nl_tensor_new(4, shape);
    if (!t) return nl_lua_raise(L, NL_ENOMEM);
    int32_t *labels = nl_lua_tempbuf(L, (size_t)n * sizeof *labels);
    int rc = nl_dataset_batch(d, idx, n, t, labels);
    if (rc < 0) {
        nl_tensor_free(t);
        return nl_lua_raise(L, rc);
    }
    nl_lua_pushtensor(L, t);
    pushlabels(L, labels, n);
    return 2;
}

static int d_split(lua_State *L)
{
    nl_dataset *d = checkdata(L, 1);
    double v = luaL_checknumber(L, 2);
    int has_seed = !lua_isnoneornil(L, 3);
    uint64_t seed = has_seed ? (uint64_t)luaL_checkinteger(L, 3) : 0;
    ldata *a = newbox(L), *b = newbox(L);
    int rc = nl_dataset_split(d, v, has_seed, seed, &a->d, &b->d);
    return result(L, rc, 2, 2);
}

static int d_subset(lua_State *L)
{
    nl_dataset *d = checkdata(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 2);
    if (n < 1 || n > d->nclasses) luaL_argerror(L, 2, lua_pushfstring(L, "give 1..%d classes", d->nclasses));
    int32_t *ids = nl_lua_tempbuf(L, (size_t)n * sizeof *ids);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 2, i);
        int isint, found = 0;
        lua_Integer v = lua_tointegerx(L, -1, &isint);
        if (lua_type(L, -1) == LUA_TSTRING) {
            for (int k = 0; k < d->nclasses && !found; k++)
                if (strcmp(lua_tostring(L, -1), d->class_names[k]) == 0) {
                    v = k;
                    found = 1;
                }
        } else {
            found = lua_type(L, -1) == LUA_TNUMBER && isint && v >= 0 && v < d->nclasses;
        }
        if (!found) {
            const char *got = shown(L, -1);
            luaL_argerror(L, 2, lua_pushfstring(L, "classes[%d] must be a class 0..%d or a class name, got %s", (int)i,
                                                d->nclasses - 1, got));
        }
        ids[i - 1] = (int32_t)v;
        lua_pop(L, 1);
    }
    ldata *u = newbox(L);
    return result(L, nl_dataset_subset(d, ids, (int)n, &u->d), 2, 1);
}

static int d_downsample(lua_State *L)
{
    nl_dataset *d = checkdata(L, 1);
    lua_Integer f = luaL_checkinteger(L, 2);
    if (f < 1 || f > 64) luaL_argerror(L, 2, "factor must be in 1..64");
    ldata *u = newbox(L);
    return result(L, nl_dataset_downsample(d, (int)f, &u->d), 2, 1);
}

static int d_upsample(lua_State *L)
{
    nl_dataset *d = checkdata(L, 1);
    lua_Integer f = luaL_checkinteger(L, 2);
    if (f < 1 || f > 64) luaL_argerror(L, 2, "factor must be in 1..64");
    ldata *u = newbox(L);
    return result(L, nl_dataset_upsample(d, (int)f, &u->d), 2, 1);
}

static int d_shuffle(lua_State *L)
{
    nl_dataset *d = checkdata(L, 1);
    nl_rng tmp, *r;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        nl_rng_seed(&tmp, (uint64_t)luaL_checkinteger(L, 2));
        r = &tmp;
    } else {
        r = nl_lua_optrng(L, 2);
    }
    int rc = nl_dataset_shuffle(d, r);
    if (rc < 0) return nl_lua_raise(L, rc);
    lua_settop(L, 1);
    return 1;
}

static int d_stats(lua_State *L)
{
    nl_dataset *d = checkdata(L, 1);
    if (d->c == 1) {
        lua_pushnumber(L, d->mean[0]);
        lua_pushnumber(L, d->std[0]);
    } else {
        for (int which = 0; which < 2; which++) {
            lua_createtable(L, (int)d->c, 0);
            for (int64_t ch = 0; ch < d->c; ch++) {
                lua_pushnumber(L, which ? d->std[ch] : d->mean[ch]);
                lua_rawseti(L, -2, (lua_Integer)ch + 1);
            }
        }
    }
    lua_pushboolean(L, d->normalized);
    return 3;
}

static int d_histogram(lua_State *L)
{
    nl_dataset *d = checkdata(L, 1);
    int64_t *h = nl_lua_tempbuf(L, (size_t)d->nclasses * sizeof *h);
    nl_dataset_histogram(d, h);
    lua_createtable(L, d->nclasses, 0);
    for (int k = 0; k < d->nclasses; k++) {
        lua_pushinteger(L, (lua_Integer)h[k]);
        lua_rawseti(L, -2, k + 1);
    }
    return 1;
}

static int d_name(lua_State *L)
{
    lua_pushstring(L, checkdata(L, 1)->name);
    return 1;
}

static int d_close(lua_State *L)
{
    ldata *u = luaL_checkudata(L, 1, DATASET_MT);
    nl_dataset_free(u->d);
    u->d = NULL;
    return 0;
}

static int d_tostring(lua_State *L)
{
    ldata *u = luaL_checkudata(L, 1, DATASET_MT);
    if (!u->d) {
        lua_pushliteral(L, "naslab.Dataset (closed)");
        return 1;
    }
    const nl_dataset *d = u->d;
    lua_pushfstring(L, "naslab.Dataset: %s (%I images of %Ix%Ix%I, %d classes%s)", d->name, (lua_Integer)d->n,
                    (lua_Integer)d->c, (lua_Integer)d->h, (lua_Integer)d->w, d->nclasses,
                    d->normalized ? ", normalized" : "");
    return 1;
}

static const luaL_Reg dataset_methods[] = {
    { "size", d_size },       { "shape", d_shape },     { "classes", d_classes }, { "class_ids", d_class_ids },
    { "images", d_images },   { "labels", d_labels },   { "get", d_get },         { "batch", d_batch },
    { "split", d_split },     { "subset", d_subset },   { "downsample", d_downsample },   { "upsample", d_upsample },
    { "shuffle", d_shuffle }, { "stats", d_stats },     { "histogram", d_histogram }, { "name", d_name },
    { "close", d_close },     { NULL, NULL }
};

int nl_open_data(lua_State *L)
{
    int nl = lua_gettop(L);
    if (luaL_newmetatable(L, DATASET_MT)) {
        luaL_newlib(L, dataset_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, d_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, d_close);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, d_size);
        lua_setfield(L, -2, "__len");
        lua_pushcfunction(L, d_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushcfunction(L, l_fashion_mnist);
    lua_setfield(L, -2, "fashion_mnist");
    lua_pushcfunction(L, l_idx);
    lua_setfield(L, -2, "idx");
    lua_pushcfunction(L, l_fashion_mnist_dir);
    lua_setfield(L, -2, "fashion_mnist_dir");
    lua_pushcfunction(L, l_digits);
    lua_setfield(L, -2, "digits");
    lua_pushcfunction(L, l_digits_path);
    lua_setfield(L, -2, "digits_path");
    lua_createtable(L, 10, 0);
    for (int k = 0; k < 10; k++) {
        lua_pushstring(L, nl_fashion_mnist_classes[k]);
        lua_rawseti(L, -2, k + 1);
    }
    lua_setfield(L, -2, "fashion_mnist_classes");
    lua_setfield(L, nl, "data");
    return 0;
}
