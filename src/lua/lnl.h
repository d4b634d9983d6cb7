/* SPDX-License-Identifier: GPL-3.0-or-later */
/* lnl.h - conventions shared by the Lua bindings (src/lua/l_*.c), the only
 * place besides the host that includes lua.h.
 *
 * - Misuse raises: luaL_argerror/luaL_checkx give "bad argument #n to 'name' (...)".
 * - Failures from the environment (missing file, corrupt data) return nil, msg:
 *   use `return nl_lua_fail(L, rc);`.
 * - C library errors that are the caller's fault raise: `return nl_lua_raise(L, rc);`.
 * - Temporaries that must survive a possible raise are Lua userdata from
 *   nl_lua_tempbuf(), so the collector frees them: nothing leaks on a raise.
 * - Userdata types: metatable names "naslab.<Type>" (luaL_newmetatable sets
 *   __name), an __index method table, __tostring, and __gc/__close sharing one
 *   idempotent free.
 * - Each binding file exports `int nl_open_<module>(lua_State *L)`; the host
 *   calls it with the `nl` table on top of the stack; it adds its fields to that
 *   table and leaves the stack as it found it. The list is in l_nl.c. */
#ifndef NL_LNL_H
#define NL_LNL_H

#include <stddef.h>

#include <lauxlib.h>
#include <lua.h>

#include "core/rng.h"
#include "core/tensor.h"

/* Raise a Lua error whose message is nl_errmsg() (or "interrupted!" for
 * NL_EINTR, as lua.c says). Never returns; written as `return nl_lua_raise(L, rc)`. */
int nl_lua_raise(lua_State *L, int rc);
/* Push nil and nl_errmsg(); returns 2 (the number of results). */
int nl_lua_fail(lua_State *L, int rc);
/* Push a full userdata of `size` bytes (freed by the collector) and return its
 * memory: scratch space that cannot leak when a later check raises. */
void *nl_lua_tempbuf(lua_State *L, size_t size);
/* Read argument `arg` as a list of numbers: a Lua sequence of numbers or a
 * 1-d naslab.Tensor. Returns a tempbuf (pushed on the stack) with *n values.
 * Raises "bad argument #arg to 'fname' (...)" naming the bad element. */
double *nl_lua_checknumbers(lua_State *L, int arg, size_t *n);

/* naslab.Rng (l_rng.c): the rng at `arg`; if that argument is absent or nil,
 * the shared default generator of this Lua state. */
nl_rng *nl_lua_optrng(lua_State *L, int arg);
nl_rng *nl_lua_checkrng(lua_State *L, int arg);

/* naslab.Tensor (l_tensor.c): check argument type; push a tensor userdata that
 * takes ownership of `t` (t is freed if the push fails). */
nl_tensor *nl_lua_checktensor(lua_State *L, int arg);
nl_tensor *nl_lua_testtensor(lua_State *L, int arg); /* NULL when not a tensor */
void nl_lua_pushtensor(lua_State *L, nl_tensor *t);

/* Option tables (`nl.train{epochs = 3, ...}` at stack index t). Each check
 * raises "bad argument #t to 'fname' (...)" naming the key and showing the
 * bad value:
 * - nl_lua_check_known: every key is one of known[] (NULL-terminated);
 *   "unknown option 'epoch' (known: a, b, c)".
 * - nl_lua_optint: an integer in lo..hi, def when absent; "epochs must be an
 *   integer in 1..100, got 0" (or ">= lo" when hi is LUA_MAXINTEGER).
 * - nl_lua_optnum: a finite number >= 0; nl_lua_optbool: a boolean;
 *   nl_lua_optstr: a string (it lives as long as the table).
 * nl_lua_shown pushes a short display form of the value at idx ("3", "'x'",
 * "table") and returns it. */
const char *nl_lua_shown(lua_State *L, int idx);
void nl_lua_check_known(lua_State *L, int t, const char *const *known);
lua_Integer nl_lua_optint(lua_State *L, int t, const char *key, lua_Integer lo, lua_Integer hi, lua_Integer def);
double nl_lua_optnum(lua_State *L, int t, const char *key, double def);
int nl_lua_optbool(lua_State *L, int t, const char *key, int def);
const char *nl_lua_optstr(lua_State *L, int t, const char *key, const char *def);

/* naslab.Dataset (l_data.c): the data set at `arg`, or NULL when that is not
 * an open data set. */
struct nl_dataset;
struct nl_dataset *nl_lua_testdataset(lua_State *L, int arg);

#endif
