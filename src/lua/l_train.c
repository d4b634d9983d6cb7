/* SPDX-License-Identifier: GPL-3.0-or-later */
/* l_train.c - the Lua face of training: nl.train{...} trains a stand-alone
 * NAS-Bench-201 network on a data set and returns its figures; nl.supernet{...}
 * makes a weight-sharing supernet (naslab.Supernet) with train (SPOS, one
 * cell, or single paths inside a NAS-LID op mask), eval, features, save,
 * load and clone. Progress events go to an optional Lua function; an error in it stops
 * the run and is raised once every C object is freed. Uses nn (nb201net,
 * train, checkpoint), data/dataset and the space and data bindings. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/event.h"
#include "core/progress.h"
#include "lua/l_space.h"
#include "lua/l_train.h"
#include "lua/lnl.h"
#include "nn/checkpoint.h"
#include "nn/nb201net.h"
#include "nn/train.h"
#include "space/nb201.h"

#define SUPERNET_MT "naslab.Supernet"

/* ---------------------------------------------------------------- options */

static nl_dataset *optdata(lua_State *L, int t, const char *key, int required)
{
    lua_getfield(L, t, key);
    nl_dataset *d = NULL;
    if (lua_isnil(L, -1)) {
        if (required) luaL_argerror(L, t, lua_pushfstring(L, "%s (a data set from nl.data) is required", key));
    } else {
        d = nl_lua_testdataset(L, -1);
        if (!d)
            luaL_argerror(L, t, lua_pushfstring(L, "%s must be a data set (naslab.Dataset), got %s", key,
                                                luaL_typename(L, -1)));
    }
    lua_pop(L, 1);
    return d;
}

/* The nb201 cell in field `arch` of the table at t (a naslab.Arch or a cell
 * string), or NULL when absent and not required. Leaves the value (and the
 * parsed arch) on the stack, which keeps the returned pointer alive. */
static const nl_arch *optcell(lua_State *L, int t, int required)
{
    lua_getfield(L, t, "arch");
    const nl_arch *a = NULL;
    if (lua_type(L, -1) == LUA_TSTRING) {
        nl_arch tmp;
        if (nl_space_nb201.parse(lua_tostring(L, -1), &tmp))
            luaL_argerror(L, t, lua_pushfstring(L, "arch: %s", nl_errmsg()));
        nl_lua_pusharch(L, &tmp);
        a = nl_lua_checkarch(L, -1);
    } else if (!lua_isnil(L, -1)) {
        a = nl_lua_checkarch(L, -1);
    } else if (required) {
        luaL_argerror(L, t, "arch (an nb201 cell) is required");
    }
    if (a && a->space != &nl_space_nb201)
        luaL_argerror(L, t, lua_pushfstring(L, "arch must be an nb201 cell, got an %s arch", a->space->name));
    return a;
}

/* The network options shared by nl.train and nl.supernet; classes, input
 * channels and size come from the data when given. */
static void net_opts(lua_State *L, int t, nl_nb201net_opts *o, const nl_dataset *d)
{
    nl_nb201net_defaults(o);
    o->C = (int)nl_lua_optint(L, t, "C", 1, 1024, 16);
    o->N = (int)nl_lua_optint(L, t, "N", 1, 64, 5);
    if (d) {
        o->in_ch = (int)d->c;
        o->hw = (int)d->h;
        o->classes = d->nclasses < 2 ? 2 : d->nclasses;
        if (d->h != d->w)
            luaL_argerror(L, t, lua_pushfstring(L, "data: images must be square, got %dx%d", (int)d->h, (int)d->w));
        if (d->h % 4)
            luaL_argerror(L, t, lua_pushfstring(L, "data: image size %d is not a multiple of 4 (pad or downsample it)",
                                                (int)d->h));
    }
    o->classes = (int)nl_lua_optint(L, t, "classes", 2, 100000, o->classes);
}

/* Training options; the progress function, when given, is left at the top. */
typedef struct lprogress {
    lua_State *L;
    int fn;     /* stack index of the function, 0 when none */
    int failed; /* the function raised: its message is at the top of the stack */
} lprogress;

/* Every training event goes to the event stream (the workbench's charts, the
 * run directory), then to the Lua progress function when there is one. */
static void publish(const nl_train_event *ev)
{
    nl_event *e = nl_event_new(ev->name);
    if (!e) return;
    int rc = nl_event_num(e, "epoch", ev->epoch);
    if (!rc) rc = nl_event_num(e, "epochs", ev->epochs);
    if (!rc) rc = nl_event_num(e, "step", (double)ev->step);
    if (!rc) rc = nl_event_num(e, "steps", (double)ev->steps);
    if (!rc) rc = nl_event_num(e, "loss", ev->loss);
    if (!rc) rc = nl_event_num(e, "acc", ev->acc);
    if (!rc && !isnan(ev->test_acc)) rc = nl_event_num(e, "test_acc", ev->test_acc);
    if (!rc) rc = nl_event_num(e, "lr", ev->lr);
    if (!rc) rc = nl_event_num(e, "images_per_s", ev->images_per_s);
    if (!rc) rc = nl_event_num(e, "seconds", ev->seconds);
    if (!rc) nl_event_emit(e);
    nl_event_free(e);
}

static int on_event(void *ud, const nl_train_event *ev)
{
    lprogress *p = ud;
    lua_State *L = p->L;
    publish(ev);
    if (!p->fn) return 0;
    lua_pushvalue(L, p->fn);
    lua_createtable(L, 0, 10);
    lua_pushstring(L, ev->name);
    lua_setfield(L, -2, "name");
    lua_pushinteger(L, ev->epoch);
    lua_setfield(L, -2, "epoch");
    lua_pushinteger(L, ev->epochs);
    lua_setfield(L, -2, "epochs");
    lua_pushinteger(L, ev->step);
    lua_setfield(L, -2, "step");
    lua_pushinteger(L, ev->steps);
    lua_setfield(L, -2, "steps");
    lua_pushnumber(L, ev->loss);
    lua_setfield(L, -2, "loss");
    lua_pushnumber(L, ev->acc);
    lua_setfield(L, -2, "acc");
    if (!isnan(ev->test_acc)) {
        lua_pushnumber(L, ev->test_acc);
        lua_setfield(L, -2, "test_acc");
    }
    lua_pushnumber(L, ev->lr);
    lua_setfield(L, -2, "lr");
    lua_pushnumber(L, ev->images_per_s);
    lua_setfield(L, -2, "images_per_s");
    lua_pushnumber(L, ev->seconds);
    lua_setfield(L, -2, "seconds");
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        p->failed = 1;
        return 1;
    }
    int stop = lua_toboolean(L, -1) && lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "stop");
    lua_pop(L, 1);
    return stop;
}

static const char *const TRAIN_KNOWN[] = { "arch", "data", "valid", "test", "epochs", "batch", "seed", "lr", "lr_min",
                                           "schedule", "optim", "momentum", "nesterov", "weight_decay", "C", "N",
                                           "classes", "threads", "checkpoint", "checkpoint_every", "resume",
                                           "eval_every", "batch_events", "progress", NULL };

static void train_opts(lua_State *L, int t, nl_train_opts *o, lprogress *p)
{
    nl_train_defaults(o);
    o->epochs = (int)nl_lua_optint(L, t, "epochs", 1, 1000000, 1);
    o->batch = (int)nl_lua_optint(L, t, "batch", 2, 1 << 20, 128);
    o->seed = (uint64_t)nl_lua_optint(L, t, "seed", 0, LUA_MAXINTEGER, 0);
    o->lr = nl_lua_optnum(L, t, "lr", 0.1);
    o->lr_min = nl_lua_optnum(L, t, "lr_min", 0);
    o->schedule = nl_lua_optstr(L, t, "schedule", "cosine");
    o->optim = nl_lua_optstr(L, t, "optim", "sgd");
    o->momentum = nl_lua_optnum(L, t, "momentum", 0.9);
    o->nesterov = nl_lua_optbool(L, t, "nesterov", 1);
    o->weight_decay = nl_lua_optnum(L, t, "weight_decay", 5e-4);
    o->checkpoint = nl_lua_optstr(L, t, "checkpoint", NULL);
    o->checkpoint_every = (int)nl_lua_optint(L, t, "checkpoint_every", 0, 1 << 30, 0);
    o->resume = nl_lua_optbool(L, t, "resume", o->checkpoint != NULL);
    o->eval_every = (int)nl_lua_optint(L, t, "eval_every", 0, 1 << 30, 0);
    o->batch_events = (int)nl_lua_optint(L, t, "batch_events", 0, 1 << 30, 0);
    p->L = L;
    p->fn = 0;
    p->failed = 0;
    lua_getfield(L, t, "progress");
    if (!lua_isnil(L, -1)) {
        if (!lua_isfunction(L, -1))
            luaL_argerror(L, t, lua_pushfstring(L, "progress must be a function, got %s", luaL_typename(L, -1)));
        p->fn = lua_gettop(L);
    } else {
        lua_pop(L, 1);
    }
    o->on_event = on_event;
    o->ud = p;
}

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

static void push_curve(lua_State *L, const double *v, int n, const char *key)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushnumber(L, v[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, key);
}

static void push_result(lua_State *L, const nl_train_result *r, const nl_model *m, int has_test)
{
    lua_createtable(L, 0, 12);
    lua_pushnumber(L, has_test ? r->test_acc : r->train_acc);
    lua_setfield(L, -2, "acc");
    if (has_test) {
        lua_pushnumber(L, r->test_acc);
        lua_setfield(L, -2, "test_acc");
        lua_pushnumber(L, r->test_loss);
        lua_setfield(L, -2, "test_loss");
    }
    lua_pushnumber(L, r->train_acc);
    lua_setfield(L, -2, "train_acc");
    lua_pushnumber(L, r->train_loss);
    lua_setfield(L, -2, "loss");
    push_curve(L, r->loss_curve, r->epochs, "loss_curve");
    push_curve(L, r->acc_curve, r->epochs, "acc_curve");
    lua_pushnumber(L, r->images_per_s);
    lua_setfield(L, -2, "images_per_s");
    lua_pushnumber(L, r->seconds);
    lua_setfield(L, -2, "seconds");
    lua_pushinteger(L, r->steps);
    lua_setfield(L, -2, "steps");
    lua_pushinteger(L, r->epochs);
    lua_setfield(L, -2, "epochs");
    if (m) {
        int64_t n = 0;
        for (int i = 0; i < m->nparams; i++)
            if (m->active[i]) n += nl_tensor_numel(m->params[i].w);
        lua_pushinteger(L, n);
        lua_setfield(L, -2, "params");
        if (nl_nb201net_is(m)) {
            lua_pushinteger(L, nl_nb201net_macs(m));
            lua_setfield(L, -2, "macs");
        }
    }
    if (r->resumed_epoch >= 0) {
        lua_pushinteger(L, r->resumed_epoch + 1);
        lua_setfield(L, -2, "resumed_epoch");
    }
}

/* After a failed C call: the progress function's error, Ctrl-C, the caller's
 * mistake (raise) or the environment's (nil, msg). */
static int train_fail(lua_State *L, int rc, const lprogress *p)
{
    if (p->failed) return lua_error(L);
    if (rc == NL_EINVAL || rc == NL_ESHAPE) return luaL_argerror(L, 1, nl_errmsg());
    if (rc == NL_EINTR || rc == NL_ENOMEM) return nl_lua_raise(L, rc);
    return nl_lua_fail(L, rc);
}

/* nl.train{arch = a, data = d, test = t, epochs = e, ...} */
static int l_train(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    nl_lua_check_known(L, 1, TRAIN_KNOWN);
    const nl_arch *a = optcell(L, 1, 1);
    nl_dataset *d = optdata(L, 1, "data", 1), *te = optdata(L, 1, "test", 0), *va = optdata(L, 1, "valid", 0);
    if (te && (te->c != d->c || te->h != d->h || te->w != d->w))
        luaL_argerror(L, 1, "test images must have the shape of the training images");
    if (va && (va->c != d->c || va->h != d->h || va->w != d->w))
        luaL_argerror(L, 1, "valid images must have the shape of the training images");
    nl_nb201net_opts no;
    net_opts(L, 1, &no, d);
    memcpy(no.ops, a->u.nb201.op, 6);
    int threads = (int)nl_lua_optint(L, 1, "threads", 1, 64, default_threads());
    nl_train_opts to;
    lprogress p;
    train_opts(L, 1, &to, &p);

    char tag[256], cell[128];
    nl_space_nb201.format(a, cell, sizeof cell);
    snprintf(tag, sizeof tag, "nb201 C=%d N=%d %dx%dx%d %d classes %s", no.C, no.N, no.in_ch, no.hw, no.hw, no.classes,
             cell);
    to.tag = tag;
    nl_rng init;
    nl_rng_seed_stream(&init, to.seed, 2);
    nl_model *m = NULL;
    nl_nn_ctx *ctx = NULL;
    nl_train_result r;
    memset(&r, 0, sizeof r);
    int rc = nl_nb201net_new(&m, &no, &init);
    if (!rc && !(ctx = nl_nn_ctx_new(threads))) rc = NL_ENOMEM;
    if (!rc) rc = nl_train(m, ctx, d, te, &to, &r);
    double vacc = NAN, vloss = NAN;
    if (!rc && va) rc = nl_evaluate(m, ctx, va, 256, &vacc, &vloss);
    if (!rc) {
        push_result(L, &r, m, te != NULL);
        if (va) {
            lua_pushnumber(L, vacc);
            lua_setfield(L, -2, "valid_acc");
            lua_pushnumber(L, vloss);
            lua_setfield(L, -2, "valid_loss");
        }
    }
    nl_train_result_free(&r);
    nl_nn_ctx_free(ctx);
    nl_model_free(m);
    if (rc) return train_fail(L, rc, &p);
    return 1;
}

/* ---------------------------------------------------------------- supernet */

typedef struct lsuper {
    nl_model *m;
    nl_nn_ctx *ctx;
    uint64_t seed;
    int64_t trained_epochs;
    nl_nb201net_opts o;
    int threads;
} lsuper;

static lsuper *checksuper(lua_State *L, int arg)
{
    lsuper *s = luaL_checkudata(L, arg, SUPERNET_MT);
    if (!s->m) luaL_argerror(L, arg, "supernet is closed");
    return s;
}

nl_model *nl_lua_checksupernet(lua_State *L, int arg, nl_nn_ctx **ctx)
{
    lsuper *s = checksuper(L, arg);
    if (ctx) *ctx = s->ctx;
    return s->m;
}

void nl_lua_checkmask(lua_State *L, int idx, int arg, const char *what, uint8_t mask[6])
{
    idx = lua_absindex(L, idx);
    if (!lua_istable(L, idx))
        luaL_argerror(L, arg, lua_pushfstring(L, "%s must be a table of 6 op sets (integers in 1..31), got %s", what,
                                              luaL_typename(L, idx)));
    if (luaL_len(L, idx) != 6)
        luaL_argerror(L, arg, lua_pushfstring(L, "%s must have 6 entries (one op set per edge), got %d", what,
                                              (int)luaL_len(L, idx)));
    for (int e = 0; e < 6; e++) {
        lua_geti(L, idx, e + 1);
        int ok;
        lua_Integer v = lua_tointegerx(L, -1, &ok);
        if (!ok || v < 1 || v > 31)
            luaL_argerror(L, arg, lua_pushfstring(L, "%s[%d] must be an integer in 1..31 (a set of ops), got %s", what,
                                                  e + 1, nl_lua_shown(L, -1)));
        mask[e] = (uint8_t)v;
        lua_pop(L, 1);
    }
}

static const char *const SUPER_KNOWN[] = { "C", "N", "classes", "data", "seed", "threads", NULL };

/* nl.supernet{data = d (for the shapes) or classes/in_ch/hw, C, N, seed} */
static int l_supernet(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    nl_lua_check_known(L, 1, SUPER_KNOWN);
    nl_dataset *d = optdata(L, 1, "data", 0);
    nl_nb201net_opts no;
    net_opts(L, 1, &no, d);
    no.supernet = 1;
    uint64_t seed = (uint64_t)nl_lua_optint(L, 1, "seed", 0, LUA_MAXINTEGER, 0);
    int threads = (int)nl_lua_optint(L, 1, "threads", 1, 64, default_threads());
    lsuper *s = lua_newuserdatauv(L, sizeof *s, 0);
    memset(s, 0, sizeof *s);
    luaL_setmetatable(L, SUPERNET_MT);
    s->seed = seed;
    s->o = no;
    s->threads = threads;
    nl_rng init;
    nl_rng_seed_stream(&init, seed, 2);
    int rc = nl_nb201net_new(&s->m, &no, &init);
    if (rc) return nl_lua_raise(L, rc);
    if (!(s->ctx = nl_nn_ctx_new(threads))) return nl_lua_raise(L, NL_ENOMEM);
    return 1;
}

static int sample_path(void *ud, nl_model *m, nl_rng *r)
{
    (void)ud;
    nl_arch a;
    int rc = nl_space_nb201.sample(r, &a);
    return rc ? rc : nl_nb201net_set_cell(m, a.u.nb201.op);
}

/* Single-path sampling inside a sub-supernet's mask (NAS-LID). */
static int sample_masked(void *ud, nl_model *m, nl_rng *r)
{
    uint8_t ops[6];
    int rc = nl_nb201net_sample_masked(ud, r, ops);
    return rc ? rc : nl_nb201net_set_cell(m, ops);
}

static const char *const STRAIN_KNOWN[] = { "arch", "mask", "data", "test", "epochs", "batch", "seed", "lr", "lr_min",
                                            "schedule", "optim", "momentum", "nesterov", "weight_decay", "checkpoint",
                                            "checkpoint_every", "resume", "batch_events", "progress", NULL };

/* sn:train{data = d, epochs = e, ...}: uniform single-path training (SPOS);
 * with arch = a, the path of that one cell only (what MDENAS trains each
 * epoch), so only a's operations and the shared stem, blocks and head move;
 * with mask = {6 op sets}, uniform single paths inside the mask (a NAS-LID
 * sub-supernet). */
static int s_train(lua_State *L)
{
    lsuper *s = checksuper(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    nl_lua_check_known(L, 2, STRAIN_KNOWN);
    const nl_arch *a = optcell(L, 2, 0);
    uint8_t mask[6];
    lua_getfield(L, 2, "mask");
    int masked = !lua_isnil(L, -1);
    if (masked) {
        if (a) luaL_argerror(L, 2, "give arch or mask, not both");
        nl_lua_checkmask(L, -1, 2, "mask", mask);
    }
    lua_pop(L, 1);
    nl_dataset *d = optdata(L, 2, "data", 1);
    nl_train_opts to;
    lprogress p;
    train_opts(L, 2, &to, &p);
    if (to.seed == 0) to.seed = s->seed;
    to.sample = a ? NULL : masked ? sample_masked : sample_path;
    to.sample_ud = masked ? mask : NULL;
    to.eval_every = 0;
    uint8_t keep[6];
    nl_nb201net_cell(s->m, keep);
    nl_train_result r;
    int rc = a ? nl_nb201net_set_cell(s->m, a->u.nb201.op) : 0;
    if (!rc) rc = nl_train(s->m, s->ctx, d, NULL, &to, &r);
    else memset(&r, 0, sizeof r);
    nl_nb201net_set_cell(s->m, keep);
    if (rc) {
        if (rc == NL_EINVAL || rc == NL_ESHAPE) {
            if (p.failed) return lua_error(L);
            return luaL_argerror(L, 2, nl_errmsg());
        }
        return train_fail(L, rc, &p);
    }
    s->trained_epochs += to.epochs;
    push_result(L, &r, NULL, 0);
    nl_train_result_free(&r);
    return 1;
}

/* sn:eval(arch, {data = d, calib = train_data, calib_batches = 20, batch = 128, seed = 0}):
 * accuracy (%) of the cell with inherited weights, batch norm recalibrated on
 * `calib` (default: data) unless calib_batches = 0. */
static int s_eval(lua_State *L)
{
    lsuper *s = checksuper(L, 1);
    const nl_arch *a = nl_lua_checkarch(L, 2);
    if (a->space != &nl_space_nb201)
        luaL_argerror(L, 2, lua_pushfstring(L, "expected an nb201 arch, got an %s arch", a->space->name));
    luaL_checktype(L, 3, LUA_TTABLE);
    static const char *const known[] = { "data", "calib", "calib_batches", "batch", "seed", NULL };
    nl_lua_check_known(L, 3, known);
    nl_dataset *d = optdata(L, 3, "data", 1), *cal = optdata(L, 3, "calib", 0);
    int nb = (int)nl_lua_optint(L, 3, "calib_batches", 0, 1 << 20, 20);
    int batch = (int)nl_lua_optint(L, 3, "batch", 2, 1 << 20, 128);
    uint64_t seed = (uint64_t)nl_lua_optint(L, 3, "seed", 0, LUA_MAXINTEGER, 0);
    uint8_t keep[6];
    nl_nb201net_cell(s->m, keep);
    int rc = nl_nb201net_set_cell(s->m, a->u.nb201.op);
    double acc = NAN, loss = NAN;
    if (!rc && nb > 0) {
        nl_rng r;
        nl_rng_seed(&r, seed);
        rc = nl_recalibrate_bn(s->m, s->ctx, cal ? cal : d, nb, batch, &r);
    }
    if (!rc) rc = nl_evaluate(s->m, s->ctx, d, batch > 256 ? batch : 256, &acc, &loss);
    nl_nb201net_set_cell(s->m, keep);
    if (rc == NL_EINVAL || rc == NL_ESHAPE) return luaL_argerror(L, 3, nl_errmsg());
    if (rc) return nl_lua_raise(L, rc);
    lua_pushnumber(L, acc);
    lua_pushnumber(L, loss);
    return 2;
}

/* sn:features(arch, data [, {batch = 256}]): an (n, 4C) tensor whose row i is
 * what the classifier reads for example i of data (the global average of
 * the head's BN-ReLU output) in the cell's network with inherited weights,
 * in evaluation mode with the running batch-norm statistics as they stand
 * (what sn:eval with calib_batches = 0 classifies). arch: a naslab.Arch or a
 * cell string. */
static int s_features(lua_State *L)
{
    lsuper *s = checksuper(L, 1);
    if (lua_type(L, 2) == LUA_TSTRING) {
        nl_arch tmp;
        if (nl_space_nb201.parse(lua_tostring(L, 2), &tmp)) luaL_argerror(L, 2, nl_errmsg());
        nl_lua_pusharch(L, &tmp);
        lua_replace(L, 2);
    }
    const nl_arch *a = nl_lua_checkarch(L, 2);
    if (a->space != &nl_space_nb201)
        luaL_argerror(L, 2, lua_pushfstring(L, "expected an nb201 arch, got an %s arch", a->space->name));
    nl_dataset *d = nl_lua_testdataset(L, 3);
    if (!d)
        luaL_argerror(L, 3, lua_pushfstring(L, "data must be a data set (naslab.Dataset), got %s", luaL_typename(L, 3)));
    if (d->c != s->o.in_ch || d->h != s->o.hw || d->w != s->o.hw)
        luaL_argerror(L, 3, lua_pushfstring(L, "data has images of %Ix%Ix%I, the supernet takes %dx%dx%d",
                                            (lua_Integer)d->c, (lua_Integer)d->h, (lua_Integer)d->w, s->o.in_ch,
                                            s->o.hw, s->o.hw));
    int batch = 256;
    if (!lua_isnoneornil(L, 4)) {
        static const char *const known[] = { "batch", NULL };
        luaL_checktype(L, 4, LUA_TTABLE);
        nl_lua_check_known(L, 4, known);
        batch = (int)nl_lua_optint(L, 4, "batch", 1, 1 << 20, 256);
    }
    int64_t cap = d->n < batch ? d->n : batch;
    int64_t *idx = nl_lua_tempbuf(L, (size_t)(cap + 1) * sizeof *idx);
    int64_t fs[2] = { d->n, 4 * (int64_t)s->o.C }, bs[4] = { cap, d->c, d->h, d->w };
    nl_tensor *out = nl_tensor_new(2, fs);
    if (!out) return nl_lua_raise(L, NL_ENOMEM);
    nl_lua_pushtensor(L, out); /* Lua owns it now, so an error below cannot leak it */
    nl_tensor *buf = nl_tensor_new(4, bs);
    if (!buf) return nl_lua_raise(L, NL_ENOMEM);
    uint8_t keep[6];
    nl_nb201net_cell(s->m, keep);
    int rc = nl_nb201net_set_cell(s->m, a->u.nb201.op);
    for (int64_t at = 0; at < d->n && !rc; at += cap) {
        int64_t k = d->n - at < cap ? d->n - at : cap;
        for (int64_t i = 0; i < k; i++) idx[i] = at + i;
        nl_tensor *x = NULL, *rows = NULL;
        const nl_tensor *logits, *f;
        if (!(rc = nl_dataset_batch(d, idx, k, buf, NULL)) && !(rc = nl_tensor_slice(&x, buf, 0, 0, k, 1)) &&
            !(rc = s->m->vt->forward(s->m, s->ctx, x, 0, &logits)) && !(rc = nl_nb201net_features(s->m, &f)) &&
            !(rc = nl_tensor_slice(&rows, out, 0, at, at + k, 1)))
            rc = nl_tensor_copy(rows, f);
        nl_tensor_free(x);
        nl_tensor_free(rows);
        if (!rc) rc = nl_progress_report(NULL, NULL, "features", at + k, d->n);
    }
    nl_nb201net_set_cell(s->m, keep);
    nl_tensor_free(buf);
    if (rc == NL_EINVAL || rc == NL_ESHAPE) return luaL_argerror(L, 3, nl_errmsg());
    if (rc) return nl_lua_raise(L, rc);
    return 1;
}

/* Params + buffers as one array for checkpoints; a tempbuf on the stack. */
static nl_param *all_params(lua_State *L, nl_model *m, int *n)
{
    *n = m->nparams + m->nbuffers;
    nl_param *all = nl_lua_tempbuf(L, (size_t)*n * sizeof *all);
    memcpy(all, m->params, (size_t)m->nparams * sizeof *all);
    memcpy(all + m->nparams, m->buffers, (size_t)m->nbuffers * sizeof *all);
    return all;
}

static int s_save(lua_State *L)
{
    lsuper *s = checksuper(L, 1);
    const char *path = luaL_checkstring(L, 2);
    int n;
    nl_param *all = all_params(L, s->m, &n);
    nl_ckpt_extra ex;
    memset(&ex, 0, sizeof ex);
    nl_ckpt_extra_set_int(&ex, "trained_epochs", s->trained_epochs);
    int rc = nl_ckpt_save(path, all, n, NULL, NULL, 0, &ex);
    if (rc) return nl_lua_fail(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

static int s_load(lua_State *L)
{
    lsuper *s = checksuper(L, 1);
    const char *path = luaL_checkstring(L, 2);
    int n;
    nl_param *all = all_params(L, s->m, &n);
    nl_ckpt_extra ex;
    int rc = nl_ckpt_load(path, all, n, NULL, NULL, 0, &ex);
    if (rc) return nl_lua_fail(L, rc);
    int64_t e = 0;
    if (nl_ckpt_extra_get_int(&ex, "trained_epochs", &e) == 0) s->trained_epochs = e;
    lua_settop(L, 1);
    return 1;
}

/* sn:clone(): a new supernet with this one's weights, running statistics,
 * seed, threads and trained epochs (a NAS-LID child starts from its parent). */
static int s_clone(lua_State *L)
{
    lsuper *s = checksuper(L, 1);
    lsuper *c = lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    luaL_setmetatable(L, SUPERNET_MT);
    c->seed = s->seed;
    c->o = s->o;
    c->threads = s->threads;
    c->trained_epochs = s->trained_epochs;
    nl_rng init;
    nl_rng_seed_stream(&init, s->seed, 2);
    uint8_t cell[6];
    nl_nb201net_cell(s->m, cell);
    memcpy(c->o.ops, cell, 6);
    int rc = nl_nb201net_new(&c->m, &c->o, &init);
    if (rc) return nl_lua_raise(L, rc);
    if (!(c->ctx = nl_nn_ctx_new(c->threads))) return nl_lua_raise(L, NL_ENOMEM);
    for (int i = 0; i < s->m->nparams; i++) nl_tensor_copy(c->m->params[i].w, s->m->params[i].w);
    for (int i = 0; i < s->m->nbuffers; i++) nl_tensor_copy(c->m->buffers[i].w, s->m->buffers[i].w);
    return 1;
}

static int s_params(lua_State *L)
{
    lsuper *s = checksuper(L, 1);
    lua_pushinteger(L, nl_model_numel(s->m));
    return 1;
}

static int s_close(lua_State *L)
{
    lsuper *s = luaL_checkudata(L, 1, SUPERNET_MT);
    nl_model_free(s->m);
    nl_nn_ctx_free(s->ctx);
    s->m = NULL;
    s->ctx = NULL;
    return 0;
}

static int s_tostring(lua_State *L)
{
    lsuper *s = luaL_checkudata(L, 1, SUPERNET_MT);
    if (!s->m) {
        lua_pushliteral(L, "naslab.Supernet (closed)");
        return 1;
    }
    lua_pushfstring(L, "naslab.Supernet (nb201, %I params, %I epochs trained)", (lua_Integer)nl_model_numel(s->m),
                    (lua_Integer)s->trained_epochs);
    return 1;
}

static const luaL_Reg super_methods[] = { { "train", s_train }, { "eval", s_eval },     { "features", s_features },
                                          { "save", s_save },   { "load", s_load },     { "params", s_params },
                                          { "close", s_close }, { "clone", s_clone },   { NULL, NULL } };

int nl_open_train(lua_State *L)
{
    int nl = lua_gettop(L);
    if (luaL_newmetatable(L, SUPERNET_MT)) {
        luaL_newlib(L, super_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, s_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, s_close);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, s_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, l_train);
    lua_setfield(L, nl, "train");
    lua_pushcfunction(L, l_supernet);
    lua_setfield(L, nl, "supernet");
    return 0;
}
