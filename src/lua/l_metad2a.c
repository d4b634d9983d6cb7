/* SPDX-License-Identifier: GPL-3.0-or-later */
/* l_metad2a.c - nl.metad2a.new / nl.metad2a.load and the naslab.MetaD2A
 * userdata: the C half of MetaD2A (predict/metad2a.h). The recipe - tasks,
 * the meta-training database, meta-training with its schedule, the search on
 * a new data set - is Lua (lua/naslab/metad2a.lua).
 *
 * A task is a Lua sequence of class matrices, each an nl.tensor (n, feat);
 * an item list is a sequence of tables {task = i, arch = cell [, acc = y]}
 * with i 1-based into the task list and cell a naslab.Arch or an nb201
 * string. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "lua/l_space.h"
#include "lua/lnl.h"
#include "predict/metad2a.h"
#include "space/nb201.h"

#define MT "naslab.MetaD2A"

typedef struct box {
    nl_metad2a *m;
} box;

static nl_metad2a *checkmodel(lua_State *L)
{
    box *b = luaL_checkudata(L, 1, MT);
    if (!b->m) luaL_argerror(L, 1, "MetaD2A model is closed");
    return b->m;
}

/* The 6 op ids of an nb201 cell at stack index idx (Arch or string); `what`
 * names it in errors raised against argument arg. */
static void cell_ops(lua_State *L, int arg, int idx, const char *what, uint8_t ops[6])
{
    nl_arch tmp;
    const nl_arch *a = &tmp;
    if (lua_type(L, idx) == LUA_TSTRING) {
        if (nl_space_nb201.parse(lua_tostring(L, idx), &tmp))
            luaL_argerror(L, arg, lua_pushfstring(L, "%s: %s", what, nl_errmsg()));
    } else if (luaL_testudata(L, idx, "naslab.Arch")) {
        a = nl_lua_checkarch(L, idx);
    } else {
        luaL_argerror(L, arg, lua_pushfstring(L, "%s must be an nb201 cell, got %s", what, luaL_typename(L, idx)));
    }
    if (a->space != &nl_space_nb201)
        luaL_argerror(L, arg, lua_pushfstring(L, "%s must be an nb201 cell, got an %s arch", what, a->space->name));
    memcpy(ops, a->u.nb201.op, 6);
}

/* Fill *t from the task at stack index idx (a sequence of class tensors),
 * using n[] and x[] (room for its classes); feat checked against the model.
 * `what` ("task", "task 3") prefixes messages raised against arg. The
 * tensors stay alive as long as the task table does. */
static void fill_task(lua_State *L, int arg, int idx, const char *what, const nl_metad2a *m, nl_md_task *t, int *n,
                      const float **x)
{
    idx = lua_absindex(L, idx);
    int k = (int)luaL_len(L, idx), feat = nl_metad2a_options(m)->feat;
    for (int i = 0; i < k; i++) {
        lua_geti(L, idx, i + 1);
        nl_tensor *c = nl_lua_testtensor(L, -1);
        if (!c)
            luaL_argerror(L, arg, lua_pushfstring(L, "%s: class %d must be a tensor, got %s", what, i + 1,
                                                  luaL_typename(L, -1)));
        if (c->ndim != 2 || c->shape[1] != feat || !nl_tensor_is_contiguous(c))
            luaL_argerror(L, arg,
                          lua_pushfstring(L, "%s: class %d must be a contiguous (n, %d) tensor", what, i + 1, feat));
        n[i] = (int)c->shape[0];
        x[i] = c->shape[0] > 0 ? nl_tensor_data(c) : NULL;
        lua_pop(L, 1);
    }
    t->ncls = k;
    t->n = n;
    t->x = x;
    if (nl_metad2a_check_task(m, t, what)) luaL_argerror(L, arg, nl_errmsg());
}

static int task_len(lua_State *L, int arg, int idx, const char *what)
{
    if (!lua_istable(L, idx))
        luaL_argerror(L, arg,
                      lua_pushfstring(L, "%s must be a list of class tensors, got %s", what, luaL_typename(L, idx)));
    return (int)luaL_len(L, idx);
}

/* The task at arg; its buffers are tempbufs left on the stack. */
static void check_task(lua_State *L, int arg, const nl_metad2a *m, nl_md_task *t)
{
    int k = task_len(L, arg, arg, "task");
    int *n = nl_lua_tempbuf(L, (size_t)(k ? k : 1) * sizeof(int));
    const float **x = nl_lua_tempbuf(L, (size_t)(k ? k : 1) * sizeof(float *));
    fill_task(L, arg, arg, "task", m, t, n, x);
}

/* The task list at arg (a sequence of tasks); buffers are tempbufs. */
static nl_md_task *check_tasks(lua_State *L, int arg, const nl_metad2a *m, int *ntask)
{
    luaL_checktype(L, arg, LUA_TTABLE);
    int k = (int)luaL_len(L, arg), total = 0;
    if (k < 1) luaL_argerror(L, arg, "the task list is empty");
    char what[32];
    for (int i = 0; i < k; i++) {
        snprintf(what, sizeof what, "task %d", i + 1);
        lua_geti(L, arg, i + 1);
        total += task_len(L, arg, -1, what);
        lua_pop(L, 1);
    }
    nl_md_task *t = nl_lua_tempbuf(L, (size_t)k * sizeof *t);
    int *n = nl_lua_tempbuf(L, (size_t)(total ? total : 1) * sizeof(int));
    const float **x = nl_lua_tempbuf(L, (size_t)(total ? total : 1) * sizeof(float *));
    for (int i = 0, at = 0; i < k; i++) {
        snprintf(what, sizeof what, "task %d", i + 1);
        lua_geti(L, arg, i + 1);
        fill_task(L, arg, -1, what, m, &t[i], n + at, x + at);
        at += t[i].ncls;
        lua_pop(L, 1);
    }
    *ntask = k;
    return t;
}

/* The items at arg: task index (0-based out), cell, and (want_acc) accuracy. */
static int check_items(lua_State *L, int arg, int ntask, int want_acc, int **task_of, uint8_t (**ops)[6],
                       double **acc)
{
    luaL_checktype(L, arg, LUA_TTABLE);
    int k = (int)luaL_len(L, arg);
    if (k < 1) luaL_argerror(L, arg, "the item list is empty");
    *task_of = nl_lua_tempbuf(L, (size_t)k * sizeof(int));
    *ops = nl_lua_tempbuf(L, (size_t)k * 6);
    *acc = want_acc ? nl_lua_tempbuf(L, (size_t)k * sizeof(double)) : NULL;
    for (int i = 0; i < k; i++) {
        char what[48];
        lua_geti(L, arg, i + 1);
        if (!lua_istable(L, -1))
            luaL_argerror(L, arg, lua_pushfstring(L, "item %d must be a table {task =, arch =%s}", i + 1,
                                                  want_acc ? ", acc =" : ""));
        lua_getfield(L, -1, "task");
        lua_Integer ti = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
        if (ti < 1 || ti > ntask)
            luaL_argerror(L, arg, lua_pushfstring(L, "item %d: task must be an index in 1..%d, got %s", i + 1, ntask,
                                                  nl_lua_shown(L, -1)));
        (*task_of)[i] = (int)ti - 1;
        lua_pop(L, 1);
        lua_getfield(L, -1, "arch");
        snprintf(what, sizeof what, "item %d: arch", i + 1);
        cell_ops(L, arg, -1, what, (*ops)[i]);
        lua_pop(L, 1);
        if (want_acc) {
            lua_getfield(L, -1, "acc");
            if (!lua_isnumber(L, -1) || !isfinite(lua_tonumber(L, -1)))
                luaL_argerror(L, arg, lua_pushfstring(L, "item %d: acc must be a number, got %s", i + 1,
                                                      nl_lua_shown(L, -1)));
            (*acc)[i] = lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    return k;
}

static void push_cell(lua_State *L, const uint8_t ops[6])
{
    nl_arch a;
    memset(&a, 0, sizeof a);
    a.space = &nl_space_nb201;
    memcpy(a.u.nb201.op, ops, 6);
    nl_lua_pusharch(L, &a);
}

static int part_arg(lua_State *L, int arg)
{
    static const char *const parts[] = { "generator", "predictor", NULL };
    return luaL_checkoption(L, arg, NULL, parts);
}

/* ------------------------------------------------------------ methods */

/* m:encode(task, part) -> a table of nz numbers: the dataset code of one
 * fresh sample of the task. */
static int m_encode(lua_State *L)
{
    nl_metad2a *m = checkmodel(L);
    nl_md_task t;
    check_task(L, 2, m, &t);
    int part = part_arg(L, 3), nz = nl_metad2a_options(m)->nz;
    float *code = nl_lua_tempbuf(L, (size_t)nz * sizeof(float));
    int rc = nl_metad2a_encode(m, part, &t, code);
    if (rc) return nl_lua_raise(L, rc);
    lua_createtable(L, nz, 0);
    for (int i = 0; i < nz; i++) {
        lua_pushnumber(L, code[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* m:gen_step(tasks, items) -> reconstruction loss, kl (batch sums); one Adam
 * step. m:gen_loss(tasks, items) -> the loss at z = mu, no step. */
static int gen(lua_State *L, int train)
{
    nl_metad2a *m = checkmodel(L);
    int ntask, *task_of;
    uint8_t(*ops)[6];
    double *acc;
    nl_md_task *t = check_tasks(L, 2, m, &ntask);
    int n = check_items(L, 3, ntask, 0, &task_of, &ops, &acc);
    double loss = 0, kl = 0;
    int rc = train ? nl_metad2a_gen_step(m, t, task_of, (const uint8_t(*)[6])ops, n, &loss, &kl)
                   : nl_metad2a_gen_loss(m, t, task_of, (const uint8_t(*)[6])ops, n, &loss);
    if (rc) return nl_lua_raise(L, rc);
    lua_pushnumber(L, loss);
    if (!train) return 1;
    lua_pushnumber(L, kl);
    return 2;
}
static int m_gen_step(lua_State *L) { return gen(L, 1); }
static int m_gen_loss(lua_State *L) { return gen(L, 0); }

/* m:pred_step(tasks, items) -> summed squared error (normalised scale). */
static int m_pred_step(lua_State *L)
{
    nl_metad2a *m = checkmodel(L);
    int ntask, *task_of;
    uint8_t(*ops)[6];
    double *acc, loss = 0;
    nl_md_task *t = check_tasks(L, 2, m, &ntask);
    int n = check_items(L, 3, ntask, 1, &task_of, &ops, &acc);
    int rc = nl_metad2a_pred_step(m, t, task_of, (const uint8_t(*)[6])ops, acc, n, &loss);
    if (rc) return nl_lua_raise(L, rc);
    lua_pushnumber(L, loss);
    return 1;
}

/* m:predict(task, cells [, samples]) -> predicted accuracies. */
static int m_predict(lua_State *L)
{
    nl_metad2a *m = checkmodel(L);
    nl_md_task t;
    check_task(L, 2, m, &t);
    luaL_checktype(L, 3, LUA_TTABLE);
    int n = (int)luaL_len(L, 3);
    if (n < 1) luaL_argerror(L, 3, "the cell list is empty");
    int samples = (int)luaL_optinteger(L, 4, 10);
    luaL_argcheck(L, samples >= 1 && samples <= 1000, 4, "samples must be in 1..1000");
    uint8_t(*ops)[6] = nl_lua_tempbuf(L, (size_t)n * 6);
    for (int i = 0; i < n; i++) {
        char what[32];
        snprintf(what, sizeof what, "cell %d", i + 1);
        lua_geti(L, 3, i + 1);
        cell_ops(L, 3, -1, what, ops[i]);
        lua_pop(L, 1);
    }
    double *out = nl_lua_tempbuf(L, (size_t)n * sizeof(double));
    int rc = nl_metad2a_predict(m, &t, (const uint8_t(*)[6])ops, n, samples, out);
    if (rc) return nl_lua_raise(L, rc);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushnumber(L, out[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* m:generate(task, {n = 50, unique = true, stochastic = true, batch = 100,
 * max = 20 n}) -> list of cells, graphs decoded. */
static int m_generate(lua_State *L)
{
    static const char *const known[] = { "n", "unique", "stochastic", "batch", "max", NULL };
    nl_metad2a *m = checkmodel(L);
    nl_md_task t;
    check_task(L, 2, m, &t);
    if (lua_isnoneornil(L, 3)) lua_newtable(L), lua_replace(L, 3);
    luaL_checktype(L, 3, LUA_TTABLE);
    nl_lua_check_known(L, 3, known);
    int want = (int)nl_lua_optint(L, 3, "n", 1, 100000, 50);
    int unique = nl_lua_optbool(L, 3, "unique", 1);
    int stochastic = nl_lua_optbool(L, 3, "stochastic", 1);
    int batch = (int)nl_lua_optint(L, 3, "batch", 1, 100000, 100);
    int maxg = (int)nl_lua_optint(L, 3, "max", 1, 100000000, 20 * (lua_Integer)want);
    uint8_t(*ops)[6] = nl_lua_tempbuf(L, (size_t)want * 6);
    int got = 0, tried = 0;
    int rc = nl_metad2a_generate(m, &t, want, unique, stochastic, batch, maxg, ops, &got, &tried);
    if (rc) return nl_lua_raise(L, rc);
    lua_createtable(L, got, 0);
    for (int i = 0; i < got; i++) {
        push_cell(L, ops[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_pushinteger(L, tried);
    return 2;
}

/* m:set_target(mean, std); m:target() -> mean, std */
static int m_set_target(lua_State *L)
{
    nl_metad2a *m = checkmodel(L);
    double mean = luaL_checknumber(L, 2), sd = luaL_checknumber(L, 3);
    luaL_argcheck(L, isfinite(mean), 2, "mean must be finite");
    luaL_argcheck(L, isfinite(sd) && sd > 0, 3, "std must be a positive number");
    nl_metad2a_set_target(m, mean, sd);
    return 0;
}

static int m_target(lua_State *L)
{
    double mean, sd;
    nl_metad2a_target(checkmodel(L), &mean, &sd);
    lua_pushnumber(L, mean);
    lua_pushnumber(L, sd);
    return 2;
}

/* m:lr(part) ; m:set_lr(part, lr) */
static int m_lr(lua_State *L)
{
    nl_metad2a *m = checkmodel(L);
    lua_pushnumber(L, nl_metad2a_lr(m, part_arg(L, 2)));
    return 1;
}

static int m_set_lr(lua_State *L)
{
    nl_metad2a *m = checkmodel(L);
    int part = part_arg(L, 2);
    double lr = luaL_checknumber(L, 3);
    luaL_argcheck(L, isfinite(lr) && lr > 0, 3, "lr must be a positive number");
    if (nl_metad2a_set_lr(m, part, lr)) return nl_lua_raise(L, NL_EINVAL);
    return 0;
}

/* m:seed(s): reseed the sampling generator (examples drawn per class, z,
 * sampled types and edges). */
static int m_seed(lua_State *L)
{
    nl_metad2a *m = checkmodel(L);
    nl_rng_seed(nl_metad2a_rng(m), (uint64_t)luaL_checkinteger(L, 2));
    return 0;
}

static int m_options(lua_State *L)
{
    const nl_metad2a_opts *o = nl_metad2a_options(checkmodel(L));
    lua_createtable(L, 0, 10);
    lua_pushinteger(L, o->feat), lua_setfield(L, -2, "feat");
    lua_pushinteger(L, o->nz), lua_setfield(L, -2, "nz");
    lua_pushinteger(L, o->hs_gen), lua_setfield(L, -2, "hs_gen");
    lua_pushinteger(L, o->hs_pred), lua_setfield(L, -2, "hs_pred");
    lua_pushinteger(L, o->heads), lua_setfield(L, -2, "heads");
    lua_pushinteger(L, o->nsample), lua_setfield(L, -2, "nsample");
    lua_pushnumber(L, o->beta), lua_setfield(L, -2, "beta");
    lua_pushnumber(L, o->eps_scale), lua_setfield(L, -2, "eps_scale");
    lua_pushnumber(L, o->lr), lua_setfield(L, -2, "lr");
    lua_pushinteger(L, (lua_Integer)o->seed), lua_setfield(L, -2, "seed");
    lua_pushboolean(L, o->position), lua_setfield(L, -2, "position");
    return 1;
}

/* m:save(path) -> true, or nil, message */
static int m_save(lua_State *L)
{
    nl_metad2a *m = checkmodel(L);
    int rc = nl_metad2a_save(m, luaL_checkstring(L, 2));
    if (rc) return nl_lua_fail(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

static int m_close(lua_State *L)
{
    box *b = luaL_checkudata(L, 1, MT);
    nl_metad2a_free(b->m);
    b->m = NULL;
    return 0;
}

static int m_tostring(lua_State *L)
{
    box *b = luaL_checkudata(L, 1, MT);
    if (!b->m) {
        lua_pushstring(L, "naslab.MetaD2A (closed)");
        return 1;
    }
    const nl_metad2a_opts *o = nl_metad2a_options(b->m);
    lua_pushfstring(L, "naslab.MetaD2A (feat %d, nz %d, generator GRU %d, predictor GRU %d)", o->feat, o->nz,
                    o->hs_gen, o->hs_pred);
    return 1;
}

static box *newbox(lua_State *L)
{
    box *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->m = NULL;
    luaL_setmetatable(L, MT);
    return b;
}

/* nl.metad2a.new{feat = 512, nz = 56, hs_gen = 56, hs_pred = 512, heads = 4,
 * nsample = 20, beta = 0.005, eps_scale = 0.01, lr = 1e-4, seed = 333,
 * position = true, threads = 0 (one per core)} */
static int l_new(lua_State *L)
{
    static const char *const known[] = { "feat", "nz",        "hs_gen", "hs_pred", "heads",    "nsample",
                                         "beta", "eps_scale", "lr",     "seed",    "position", "threads",
                                         NULL };
    if (lua_isnoneornil(L, 1)) lua_newtable(L), lua_replace(L, 1);
    luaL_checktype(L, 1, LUA_TTABLE);
    nl_lua_check_known(L, 1, known);
    nl_metad2a_opts o;
    nl_metad2a_defaults(&o);
    o.feat = (int)nl_lua_optint(L, 1, "feat", 1, 65536, o.feat);
    o.nz = (int)nl_lua_optint(L, 1, "nz", 1, 4096, o.nz);
    o.hs_gen = (int)nl_lua_optint(L, 1, "hs_gen", 1, 4096, o.hs_gen);
    o.hs_pred = (int)nl_lua_optint(L, 1, "hs_pred", 1, 4096, o.hs_pred);
    o.heads = (int)nl_lua_optint(L, 1, "heads", 1, 4096, o.heads);
    o.nsample = (int)nl_lua_optint(L, 1, "nsample", 1, 1000000, o.nsample);
    o.beta = nl_lua_optnum(L, 1, "beta", o.beta);
    o.eps_scale = nl_lua_optnum(L, 1, "eps_scale", o.eps_scale);
    o.lr = nl_lua_optnum(L, 1, "lr", o.lr);
    o.seed = (uint64_t)nl_lua_optint(L, 1, "seed", 0, LUA_MAXINTEGER, (lua_Integer)o.seed);
    o.position = nl_lua_optbool(L, 1, "position", o.position);
    o.threads = (int)nl_lua_optint(L, 1, "threads", 0, 16, o.threads);
    if (o.nz % o.heads) luaL_argerror(L, 1, lua_pushfstring(L, "heads %d does not divide nz %d", o.heads, o.nz));
    box *b = newbox(L);
    int rc = nl_metad2a_new(&b->m, &o);
    if (rc) luaL_argerror(L, 1, nl_errmsg());
    return 1;
}

/* nl.metad2a.load(path) -> model, or nil, message */
static int l_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    box *b = newbox(L);
    int rc = nl_metad2a_load(&b->m, path);
    if (rc) return nl_lua_fail(L, rc);
    return 1;
}

static const luaL_Reg methods[] = { { "encode", m_encode },
                                    { "gen_step", m_gen_step },
                                    { "gen_loss", m_gen_loss },
                                    { "generate", m_generate },
                                    { "pred_step", m_pred_step },
                                    { "predict", m_predict },
                                    { "set_target", m_set_target },
                                    { "target", m_target },
                                    { "lr", m_lr },
                                    { "set_lr", m_set_lr },
                                    { "seed", m_seed },
                                    { "options", m_options },
                                    { "save", m_save },
                                    { "close", m_close },
                                    { NULL, NULL } };

static const luaL_Reg funcs[] = { { "new", l_new }, { "load", l_load }, { NULL, NULL } };

int nl_open_metad2a(lua_State *L)
{
    int nl = lua_gettop(L);
    if (luaL_newmetatable(L, MT)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, m_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, m_close);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, m_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    luaL_newlib(L, funcs);
    lua_setfield(L, nl, "metad2a");
    return 0;
}
