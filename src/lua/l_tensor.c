/* SPDX-License-Identifier: GPL-3.0-or-later */
/* l_tensor.c - nl.tensor: float32 tensors for Lua (naslab.Tensor), a thin
 * layer over core/tensor. Lua sees 1-based indices and dimensions (negative
 * indices count from the end), operators +, -, *, / elementwise with numpy
 * broadcasting, and matrix products through t:matmul(b). Views (t[i],
 * t:slice, t:t(), t:view) share memory with their tensor. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/tensor.h"
#include "lua/lnl.h"

#define TENSOR_MT "naslab.Tensor"
#define SHAPEBUF 96

/* The userdata is a box holding the tensor pointer, so that a closed or
 * collected tensor leaves a NULL behind and freeing is idempotent. */
static nl_tensor **newbox(lua_State *L)
{
    nl_tensor **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    luaL_setmetatable(L, TENSOR_MT);
    return box;
}

nl_tensor *nl_lua_testtensor(lua_State *L, int arg)
{
    nl_tensor **box = luaL_testudata(L, arg, TENSOR_MT);
    if (!box) return NULL;
    if (!*box) luaL_error(L, "attempt to use a closed tensor");
    return *box;
}

nl_tensor *nl_lua_checktensor(lua_State *L, int arg)
{
    nl_tensor **box = luaL_checkudata(L, arg, TENSOR_MT);
    if (!*box) luaL_error(L, "attempt to use a closed tensor");
    return *box;
}

static int push_box_protected(lua_State *L)
{
    newbox(L);
    return 1;
}

void nl_lua_pushtensor(lua_State *L, nl_tensor *t)
{
    /* The box is made under pcall so that a memory error frees t instead of
     * leaking it past the longjmp. */
    lua_pushcfunction(L, push_box_protected);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
        nl_tensor_free(t);
        lua_error(L);
    }
    *(nl_tensor **)lua_touserdata(L, -1) = t;
}

static int m_free(lua_State *L)
{
    nl_tensor **box = luaL_checkudata(L, 1, TENSOR_MT);
    nl_tensor_free(*box);
    *box = NULL;
    return 0;
}

/* ------------------------------------------------------------ argument helpers */

static const char *shape_str(const nl_tensor *t, char *buf)
{
    return nl_tensor_shape_str(t, buf, SHAPEBUF);
}

/* A 1-based dimension argument (negative counts from the end) to 0-based. */
static int check_dim(lua_State *L, int arg, const nl_tensor *t)
{
    lua_Integer d = luaL_checkinteger(L, arg);
    lua_Integer d0 = d < 0 ? d + t->ndim : d - 1;
    if (d0 < 0 || d0 >= t->ndim)
        luaL_argerror(L, arg, lua_pushfstring(L, "dimension %I out of range for a %d-d tensor", (LUAI_UACINT)d,
                                              t->ndim));
    return (int)d0;
}

/* A 1-based index into dimension dim0 (negative counts from the end) to 0-based. */
static int64_t to_index(lua_State *L, int arg, lua_Integer i, const nl_tensor *t, int dim0)
{
    int64_t size = t->shape[dim0];
    int64_t j = i < 0 ? (int64_t)i + size : (int64_t)i - 1;
    if (j < 0 || j >= size)
        luaL_argerror(L, arg, lua_pushfstring(L, "index %I out of range for dimension %d of size %I", (LUAI_UACINT)i,
                                              dim0 + 1, (LUAI_UACINT)size));
    return j;
}

static int64_t check_size(lua_State *L, int arg, int allow_infer, const char *what)
{
    int isint;
    lua_Integer v = lua_tointegerx(L, -1, &isint);
    if (!isint || (v < 0 && !(allow_infer && v == -1)))
        luaL_argerror(L, arg, lua_pushfstring(L, "%s must be a non-negative integer%s", what,
                                              allow_infer ? " or -1" : ""));
    return (int64_t)v;
}

/* Reads a shape given as a table at `arg` or as integers arg..last (last < 0:
 * every following integer argument). Returns the first argument after it. */
static int read_shape(lua_State *L, int arg, int last, int64_t *shape, int *nd, int allow_infer)
{
    *nd = 0;
    if (lua_istable(L, arg)) {
        lua_Integer n = luaL_len(L, arg);
        if (n < 1 || n > NL_TENSOR_MAXDIM)
            luaL_argerror(L, arg, lua_pushfstring(L, "a shape has 1 to %d sizes, got %I", NL_TENSOR_MAXDIM,
                                                  (LUAI_UACINT)n));
        for (lua_Integer i = 1; i <= n; i++) {
            char what[32];
            snprintf(what, sizeof what, "size %d", (int)i);
            lua_geti(L, arg, i);
            shape[(*nd)++] = check_size(L, arg, allow_infer, what);
            lua_pop(L, 1);
        }
        return arg + 1;
    }
    int a = arg;
    if (last < 0) last = lua_gettop(L);
    for (; a <= last && lua_type(L, a) == LUA_TNUMBER; a++) {
        if (*nd == NL_TENSOR_MAXDIM)
            luaL_argerror(L, a, lua_pushfstring(L, "a tensor has at most %d dimensions", NL_TENSOR_MAXDIM));
        lua_pushvalue(L, a);
        shape[(*nd)++] = check_size(L, a, allow_infer, "size");
        lua_pop(L, 1);
    }
    if (*nd == 0) luaL_typeerror(L, arg, "shape (sizes or a table of sizes)");
    return a;
}

static nl_tensor *new_tensor(lua_State *L, int nd, const int64_t *shape)
{
    nl_tensor **box = newbox(L);
    int rc = nl_tensor_zeros(box, nd, shape);
    if (rc) nl_lua_raise(L, rc);
    return *box;
}

/* Raise a shape error from the C library as a bad argument #arg. */
static int shape_error(lua_State *L, int arg, int rc)
{
    if (rc == NL_ESHAPE || rc == NL_EINVAL || rc == NL_ERANGE) return luaL_argerror(L, arg, nl_errmsg());
    return nl_lua_raise(L, rc);
}

/* ------------------------------------------------------------ constructors */

static void path_str(char *buf, size_t n, const lua_Integer *path, int depth)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < depth && len < n; i++) {
        int w = snprintf(buf + len, n - len, "[%lld]", (long long)path[i]);
        if (w < 0) break;
        len += (size_t)w;
    }
}

/* Walks the nested table on top of the stack against `shape`, checking that
 * it is rectangular and numeric; stores the numbers at *p when p is set. */
static void nested_walk(lua_State *L, int arg, int d, int nd, const int64_t *shape, float **p, lua_Integer *path)
{
    char where[8 * 24];
    lua_Integer n = luaL_len(L, -1);
    if (n != shape[d]) {
        path_str(where, sizeof where, path, d);
        luaL_argerror(L, arg, lua_pushfstring(L, "%s%s has length %I, expected %I", d ? "element " : "table",
                                              where, (LUAI_UACINT)n, (LUAI_UACINT)shape[d]));
    }
    for (lua_Integer i = 1; i <= n; i++) {
        int type = lua_geti(L, -1, i);
        path[d] = i;
        path_str(where, sizeof where, path, d + 1);
        if (d + 1 < nd) {
            if (type != LUA_TTABLE)
                luaL_argerror(L, arg, lua_pushfstring(L, "element %s is a %s, not a table", where,
                                                      luaL_typename(L, -1)));
            nested_walk(L, arg, d + 1, nd, shape, p, path);
        } else {
            if (type != LUA_TNUMBER)
                luaL_argerror(L, arg, lua_pushfstring(L, "element %s is a %s, not a number", where,
                                                      luaL_typename(L, -1)));
            if (p) *(*p)++ = (float)lua_tonumber(L, -1);
        }
        lua_pop(L, 1);
    }
}

/* nl.tensor{...} from a (nested) table of numbers. */
static int from_table(lua_State *L, int arg)
{
    int64_t shape[NL_TENSOR_MAXDIM];
    lua_Integer path[NL_TENSOR_MAXDIM];
    int nd = 0;
    /* The shape is read down the first elements, then every entry is checked. */
    lua_pushvalue(L, arg);
    for (;;) {
        if (nd == NL_TENSOR_MAXDIM)
            luaL_argerror(L, arg, lua_pushfstring(L, "nested deeper than %d levels", NL_TENSOR_MAXDIM));
        lua_Integer n = luaL_len(L, -1);
        shape[nd++] = n;
        if (n == 0) break;
        if (lua_geti(L, -1, 1) != LUA_TTABLE) {
            lua_pop(L, 1);
            break;
        }
        lua_remove(L, -2);
    }
    lua_pop(L, 1);
    lua_pushvalue(L, arg);
    nested_walk(L, arg, 0, nd, shape, NULL, path);
    lua_pop(L, 1);
    nl_tensor *t = new_tensor(L, nd, shape);
    float *p = nl_tensor_data(t);
    lua_pushvalue(L, arg);
    nested_walk(L, arg, 0, nd, shape, &p, path);
    lua_pop(L, 1); /* the table copy: the new tensor is on top */
    return 1;
}

/* nl.tensor{...} (nested tables of numbers), nl.tensor(n1, n2, ...) (zeros of
 * that shape), nl.tensor(t) (a copy of tensor t). */
static int l_call(lua_State *L)
{
    lua_remove(L, 1); /* the nl.tensor table: arguments now count from 1 */
    nl_tensor *src = nl_lua_testtensor(L, 1);
    if (src) {
        nl_tensor **box = newbox(L);
        int rc = nl_tensor_clone(box, src);
        if (rc) return nl_lua_raise(L, rc);
        return 1;
    }
    if (lua_istable(L, 1)) {
        lua_settop(L, 1);
        from_table(L, 1);
        return 1;
    }
    int64_t shape[NL_TENSOR_MAXDIM];
    int nd;
    if (lua_type(L, 1) != LUA_TNUMBER) return luaL_typeerror(L, 1, "table, sizes or naslab.Tensor");
    int next = read_shape(L, 1, -1, shape, &nd, 0);
    if (!lua_isnone(L, next)) return luaL_argerror(L, next, "size expected");
    new_tensor(L, nd, shape);
    return 1;
}

static int l_zeros(lua_State *L)
{
    int64_t shape[NL_TENSOR_MAXDIM];
    int nd;
    read_shape(L, 1, -1, shape, &nd, 0);
    new_tensor(L, nd, shape);
    return 1;
}

static int full_common(lua_State *L, float v, int last)
{
    int64_t shape[NL_TENSOR_MAXDIM];
    int nd;
    read_shape(L, 1, last, shape, &nd, 0);
    nl_tensor *t = new_tensor(L, nd, shape);
    nl_tensor_fill(t, v);
    return 1;
}

static int l_ones(lua_State *L)
{
    return full_common(L, 1.0f, -1);
}

/* nl.tensor.full(shape, v) or nl.tensor.full(n1, n2, ..., v). */
static int l_full(lua_State *L)
{
    int top = lua_gettop(L);
    int varg = lua_istable(L, 1) ? 2 : top;
    if (top < 2) return luaL_argerror(L, 2, "value expected");
    float v = (float)luaL_checknumber(L, varg);
    return full_common(L, v, lua_istable(L, 1) ? 1 : top - 1);
}

static int random_common(lua_State *L, int normal)
{
    int64_t shape[NL_TENSOR_MAXDIM];
    int nd;
    int next = read_shape(L, 1, -1, shape, &nd, 0);
    nl_rng *r = nl_lua_optrng(L, next);
    nl_tensor *t = new_tensor(L, nd, shape);
    float *d = nl_tensor_data(t);
    int64_t n = nl_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) d[i] = (float)(normal ? nl_rng_normal(r) : nl_rng_uniform(r));
    return 1;
}

static int l_randn(lua_State *L)
{
    return random_common(L, 1);
}

static int l_rand(lua_State *L)
{
    return random_common(L, 0);
}

/* nl.tensor.arange(n) = 0, 1, ..., n-1; arange(a, b [, step]) = a, a+step, ... short of b. */
static int l_arange(lua_State *L)
{
    double a = 0, b, step = 1;
    if (lua_isnoneornil(L, 2)) {
        b = luaL_checknumber(L, 1);
    } else {
        a = luaL_checknumber(L, 1);
        b = luaL_checknumber(L, 2);
        step = luaL_optnumber(L, 3, 1);
        luaL_argcheck(L, step != 0 && isfinite(step), 3, "step must be a non-zero finite number");
    }
    luaL_argcheck(L, isfinite(a) && isfinite(b), 1, "bounds must be finite");
    double count = ceil((b - a) / step);
    if (!(count > 0)) count = 0;
    luaL_argcheck(L, count < 1e10, 1, "too many elements");
    int64_t n = (int64_t)count;
    nl_tensor *t = new_tensor(L, 1, &n);
    float *d = nl_tensor_data(t);
    for (int64_t i = 0; i < n; i++) d[i] = (float)(a + (double)i * step);
    return 1;
}

static int l_is(lua_State *L)
{
    lua_pushboolean(L, luaL_testudata(L, 1, TENSOR_MT) != NULL);
    return 1;
}

/* ------------------------------------------------------------ shape and elements */

static int m_shape(lua_State *L)
{
    nl_tensor *t = nl_lua_checktensor(L, 1);
    lua_createtable(L, t->ndim, 0);
    for (int i = 0; i < t->ndim; i++) {
        lua_pushinteger(L, (lua_Integer)t->shape[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* t:size() is t:shape(); t:size(d) the size of dimension d. */
static int m_size(lua_State *L)
{
    nl_tensor *t = nl_lua_checktensor(L, 1);
    if (lua_isnoneornil(L, 2)) return m_shape(L);
    lua_pushinteger(L, (lua_Integer)t->shape[check_dim(L, 2, t)]);
    return 1;
}

static int m_dim(lua_State *L)
{
    lua_pushinteger(L, nl_lua_checktensor(L, 1)->ndim);
    return 1;
}

static int m_numel(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)nl_tensor_numel(nl_lua_checktensor(L, 1)));
    return 1;
}

static int m_is_contiguous(lua_State *L)
{
    lua_pushboolean(L, nl_tensor_is_contiguous(nl_lua_checktensor(L, 1)));
    return 1;
}

static int m_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)nl_lua_checktensor(L, 1)->shape[0]);
    return 1;
}

/* Offset of the element named by the indices at arg, arg+1, ... (one per dimension). */
static int64_t element_offset(lua_State *L, const nl_tensor *t, int arg, int nidx)
{
    if (nidx != t->ndim)
        luaL_argerror(L, arg + (nidx < t->ndim ? nidx : t->ndim),
                      lua_pushfstring(L, "expected %d indices for a %d-d tensor, got %d", t->ndim, t->ndim, nidx));
    int64_t off = t->offset;
    for (int d = 0; d < t->ndim; d++)
        off += to_index(L, arg + d, luaL_checkinteger(L, arg + d), t, d) * t->stride[d];
    return off;
}

static int m_get(lua_State *L)
{
    nl_tensor *t = nl_lua_checktensor(L, 1);
    int64_t off = element_offset(L, t, 2, lua_gettop(L) - 1);
    lua_pushnumber(L, t->st->data[off]);
    return 1;
}

/* t:set(i, j, ..., v); returns t. */
static int m_set(lua_State *L)
{
    nl_tensor *t = nl_lua_checktensor(L, 1);
    int top = lua_gettop(L);
    if (top < 2) return luaL_argerror(L, 2, "indices and a value expected");
    float v = (float)luaL_checknumber(L, top);
    int64_t off = element_offset(L, t, 2, top - 2);
    t->st->data[off] = v;
    lua_settop(L, 1);
    return 1;
}

/* The sub-tensor at 0-based index i of dimension 1, as a new view on the stack. */
static void push_select(lua_State *L, nl_tensor *t, int64_t i)
{
    nl_tensor **box = newbox(L);
    int rc = nl_tensor_select(box, t, 0, i);
    if (rc) nl_lua_raise(L, rc);
}

/* __index: integer keys index dimension 1, strings find methods (upvalue 1). */
static int m_index(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TNUMBER) {
        nl_tensor *t = nl_lua_checktensor(L, 1);
        int64_t i = to_index(L, 2, luaL_checkinteger(L, 2), t, 0);
        if (t->ndim == 1)
            lua_pushnumber(L, t->st->data[t->offset + i * t->stride[0]]);
        else
            push_select(L, t, i);
        return 1;
    }
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    return 1;
}

/* __newindex: t[i] = number (an element, or fills a sub-tensor) or t[i] = tensor (copied). */
static int m_newindex(lua_State *L)
{
    nl_tensor *t = nl_lua_checktensor(L, 1);
    if (lua_type(L, 2) != LUA_TNUMBER) return luaL_typeerror(L, 2, "integer index");
    int64_t i = to_index(L, 2, luaL_checkinteger(L, 2), t, 0);
    if (t->ndim == 1) {
        t->st->data[t->offset + i * t->stride[0]] = (float)luaL_checknumber(L, 3);
        return 0;
    }
    nl_tensor *src = nl_lua_testtensor(L, 3);
    if (!src && lua_type(L, 3) != LUA_TNUMBER) return luaL_typeerror(L, 3, "number or naslab.Tensor");
    push_select(L, t, i);
    nl_tensor *row = nl_lua_checktensor(L, -1);
    if (!src) {
        nl_tensor_fill(row, (float)lua_tonumber(L, 3));
    } else {
        int rc = nl_tensor_copy(row, src);
        if (rc) return shape_error(L, 3, rc);
    }
    return 0;
}

/* ------------------------------------------------------------ views */

/* t:slice(dim, i [, j [, step]]): elements i..j (inclusive, 1-based,
 * negative from the end; j defaults to the end) of dimension dim. */
static int m_slice(lua_State *L)
{
    nl_tensor *t = nl_lua_checktensor(L, 1);
    int d = check_dim(L, 2, t);
    int64_t size = t->shape[d];
    lua_Integer i = luaL_checkinteger(L, 3);
    lua_Integer j = luaL_optinteger(L, 4, (lua_Integer)size);
    lua_Integer step = luaL_optinteger(L, 5, 1);
    luaL_argcheck(L, step >= 1, 5, "step must be a positive integer");
    int64_t start = i < 0 ? (int64_t)i + size : (int64_t)i - 1;
    int64_t last = j < 0 ? (int64_t)j + size : (int64_t)j - 1;
    if (start < 0 || start > size)
        luaL_argerror(L, 3, lua_pushfstring(L, "index %I out of range for dimension %d of size %I", (LUAI_UACINT)i,
                                            d + 1, (LUAI_UACINT)size));
    if (last < start - 1 || last >= size)
        luaL_argerror(L, 4, lua_pushfstring(L, "index %I out of range for dimension %d of size %I", (LUAI_UACINT)j,
                                            d + 1, (LUAI_UACINT)size));
    nl_tensor **box = newbox(L);
    int rc = nl_tensor_slice(box, t, d, start, last + 1, step);
    if (rc) return nl_lua_raise(L, rc);
    return 1;
}

/* t:select(dim, i): the sub-tensor at index i of dim, without that dimension. */
static int m_select(lua_State *L)
{
    nl_tensor *t = nl_lua_checktensor(L, 1);
    int d = check_dim(L, 2, t);
    int64_t i = to_index(L, 3, luaL_checkinteger(L, 3), t, d);
    if (t->ndim == 1) {
        lua_pushnumber(L, t->st->data[t->offset + i * t->stride[0]]);
        return 1;
    }
    nl_tensor **box = newbox(L);
    int rc = nl_tensor_select(box, t, d, i);
    if (rc) return nl_lua_raise(L, rc);
    return 1;
}

static int m_t(lua_State *L)
{
    nl_tensor *t = nl_lua_checktensor(L, 1);
    if (t->ndim != 2)
        return luaL_argerror(L, 1, lua_pushfstring(L, "expected a 2-d tensor, got %d dimensions", t->ndim));
    nl_tensor **box = newbox(L);
    int rc = nl_tensor_transpose(box, t, 0, 1);
    if (rc) return nl_lua_raise(L, rc);
    return 1;
}

/* t:transpose(d1, d2); t:transpose() on a 2-d tensor is t:t(). */
static int m_transpose(lua_State *L)
{
    nl_tensor *t = nl_lua_checktensor(L, 1);
    if (lua_isnoneornil(L, 2) && lua_isnoneornil(L, 3)) return m_t(L);
    int d1 = check_dim(L, 2, t), d2 = check_dim(L, 3, t);
    nl_tensor **box = newbox(L);
    int rc = nl_tensor_transpose(box, t, d1, d2);
    if (rc) return nl_lua_raise(L, rc);
    return 1;
}

/* t:permute(p1, ..., pn) or t:permute{p1, ..., pn}: dimension i of the result is dimension p_i of t. */
static int m_permute(lua_State *L)
{
    nl_tensor *t = nl_lua_checktensor(L, 1);
    int64_t p[NL_TENSOR_MAXDIM];
    int nd, perm[NL_TENSOR_MAXDIM];
    read_shape(L, 2, -1, p, &nd, 0);
    if (nd != t->ndim)
        return luaL_argerror(L, 2, lua_pushfstring(L, "expected %d dimensions, got %d", t->ndim, nd));
    for (int i = 0; i < nd; i++) perm[i] = (int)p[i] - 1;
    nl_tensor **box = newbox(L);
    int rc = nl_tensor_permute(box, t, perm);
    if (rc) {
        lua_pushfstring(L, "%d..%d in some order expected", 1, nd);
        return luaL_argerror(L, 2, lua_tostring(L, -1));
    }
    return 1;
}

static int reshape_common(lua_State *L, int strict)
{
    nl_tensor *t = nl_lua_checktensor(L, 1);
    int64_t shape[NL_TENSOR_MAXDIM];
    int nd;
    int next = read_shape(L, 2, -1, shape, &nd, 1);
    if (!lua_isnone(L, next)) return luaL_argerror(L, next, "size expected");
    nl_tensor **box = newbox(L);
    int rc = strict ? nl_tensor_view(box, t, nd, shape) : nl_tensor_reshape(box, t, nd, shape);
    if (rc) return shape_error(L, 2, rc);
    return 1;
}

/* t:reshape(...): a view when t is contiguous, a copy otherwise. */
static int m_reshape(lua_State *L)
{
    return reshape_common(L, 0);
}

/* t:view(...): always a view; an error for a non-contiguous t. */
static int m_view(lua_State *L)
{
    return reshape_common(L, 1);
}

static int m_clone(lua_State *L)
{
    nl_tensor *t = nl_lua_checktensor(L, 1);
    nl_tensor **box = newbox(L);
    int rc = nl_tensor_clone(box, t);
    if (rc) return nl_lua_raise(L, rc);
    return 1;
}

static int m_contiguous(lua_State *L)
{
    nl_tensor *t = nl_lua_checktensor(L, 1);
    nl_tensor **box = newbox(L);
    int rc = nl_tensor_contiguous(box, t);
    if (rc) return nl_lua_raise(L, rc);
    return 1;
}

static int m_fill(lua_State *L)
{
    nl_tensor *t = nl_lua_checktensor(L, 1);
    nl_tensor_fill(t, (float)luaL_checknumber(L, 2));
    lua_settop(L, 1);
    return 1;
}

static int m_copy(lua_State *L)
{
    nl_tensor *t = nl_lua_checktensor(L, 1);
    nl_tensor *src = nl_lua_checktensor(L, 2);
    int rc = nl_tensor_copy(t, src);
    if (rc) return shape_error(L, 2, rc);
    lua_settop(L, 1);
    return 1;
}

/* ------------------------------------------------------------ arithmetic */

static int arith(lua_State *L, nl_binop op)
{
    nl_tensor *a = nl_lua_testtensor(L, 1), *b = nl_lua_testtensor(L, 2);
    if (!a && lua_type(L, 1) != LUA_TNUMBER) return luaL_typeerror(L, 1, "number or naslab.Tensor");
    if (!b && lua_type(L, 2) != LUA_TNUMBER) return luaL_typeerror(L, 2, "number or naslab.Tensor");
    int rc;
    if (a && b) {
        int nd;
        int64_t shape[NL_TENSOR_MAXDIM];
        rc = nl_tensor_broadcast_shape(a, b, &nd, shape);
        if (rc) return shape_error(L, 2, rc);
        nl_tensor *out = new_tensor(L, nd, shape);
        rc = nl_tensor_binary(out, a, b, op);
    } else if (a) {
        nl_tensor *out = new_tensor(L, a->ndim, a->shape);
        rc = nl_tensor_scalar(out, a, op, (float)lua_tonumber(L, 2), 0);
    } else {
        nl_tensor *out = new_tensor(L, b->ndim, b->shape);
        rc = nl_tensor_scalar(out, b, op, (float)lua_tonumber(L, 1), 1);
    }
    if (rc) return nl_lua_raise(L, rc);
    return 1;
}

static int m_add(lua_State *L)
{
    return arith(L, NL_OP_ADD);
}

static int m_sub(lua_State *L)
{
    return arith(L, NL_OP_SUB);
}

static int m_mul(lua_State *L)
{
    return arith(L, NL_OP_MUL);
}

static int m_div(lua_State *L)
{
    return arith(L, NL_OP_DIV);
}

/* t:exp(), t:relu(), ... and __unm: a new tensor f(t); the op is upvalue 1. */
static int m_map(lua_State *L)
{
    nl_tensor *t = nl_lua_checktensor(L, 1);
    nl_unop op = (nl_unop)lua_tointeger(L, lua_upvalueindex(1));
    nl_tensor *out = new_tensor(L, t->ndim, t->shape);
    int rc = nl_tensor_map(out, t, op);
    if (rc) return nl_lua_raise(L, rc);
    return 1;
}

static int m_unm(lua_State *L)
{
    nl_tensor *t = nl_lua_checktensor(L, 1);
    nl_tensor *out = new_tensor(L, t->ndim, t->shape);
    nl_tensor_map(out, t, NL_OP_NEG);
    return 1;
}

/* a:matmul(b), nl.tensor.matmul(a, b): 2-d @ 2-d, 2-d @ 1-d (a vector),
 * 1-d @ 2-d, 1-d @ 1-d (a number: the dot product), 3-d @ 3-d (batched). */
static int m_matmul(lua_State *L)
{
    nl_tensor *a = nl_lua_checktensor(L, 1), *b = nl_lua_checktensor(L, 2);
    char sa[SHAPEBUF], sb[SHAPEBUF];
    int rc;
    if (a->ndim == 3 && b->ndim == 3) {
        if (a->shape[0] != b->shape[0] || a->shape[2] != b->shape[1])
            return luaL_argerror(L, 2, lua_pushfstring(L, "shapes %s and %s cannot be multiplied", shape_str(a, sa),
                                                       shape_str(b, sb)));
        int64_t shape[3] = { a->shape[0], a->shape[1], b->shape[2] };
        nl_tensor *out = new_tensor(L, 3, shape);
        rc = nl_tensor_bmm(out, a, b);
        if (rc) return nl_lua_raise(L, rc);
        return 1;
    }
    if (a->ndim > 2 || b->ndim > 2)
        return luaL_argerror(L, a->ndim > 2 ? 1 : 2,
                             lua_pushfstring(L, "matmul needs 1-d or 2-d tensors (or two 3-d), got %s and %s",
                                             shape_str(a, sa), shape_str(b, sb)));
    /* Vectors become 1xk rows and kx1 columns through stack headers. */
    nl_tensor A = *a, B = *b;
    if (a->ndim == 1) {
        A.ndim = 2;
        A.shape[1] = a->shape[0], A.stride[1] = a->stride[0];
        A.shape[0] = 1, A.stride[0] = 1;
    }
    if (b->ndim == 1) {
        B.ndim = 2;
        B.shape[1] = 1, B.stride[1] = 1;
    }
    if (A.shape[1] != B.shape[0])
        return luaL_argerror(L, 2, lua_pushfstring(L, "shapes %s and %s cannot be multiplied", shape_str(a, sa),
                                                   shape_str(b, sb)));
    int64_t m = A.shape[0], n = B.shape[1];
    int64_t shape[2];
    int nd = 0;
    if (a->ndim == 2) shape[nd++] = m;
    if (b->ndim == 2) shape[nd++] = n;
    if (nd == 0) {
        /* The dot product: a 1x1 result in a stack buffer, no tensor. */
        float v = 0.0f;
        nl_storage st = { &v, 1, 1 };
        nl_tensor O = { .st = &st, .offset = 0, .ndim = 2, .shape = { 1, 1 }, .stride = { 1, 1 } };
        rc = nl_tensor_matmul(&O, &A, &B);
        if (rc) return nl_lua_raise(L, rc);
        lua_pushnumber(L, v);
        return 1;
    }
    nl_tensor *out = new_tensor(L, nd, shape);
    nl_tensor O = *out;
    O.ndim = 2;
    O.shape[0] = m, O.shape[1] = n;
    O.stride[0] = n, O.stride[1] = 1;
    rc = nl_tensor_matmul(&O, &A, &B);
    if (rc) return nl_lua_raise(L, rc);
    return 1;
}

/* ------------------------------------------------------------ reductions */

enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_ARGMAX, R_ARGMIN };

static int reduce_all(lua_State *L, nl_tensor *t, int kind)
{
    double s;
    float v;
    int64_t i;
    int rc = 0;
    switch (kind) {
    case R_SUM: nl_tensor_sum(t, &s); lua_pushnumber(L, s); return 1;
    case R_MEAN: nl_tensor_mean(t, &s); lua_pushnumber(L, s); return 1;
    case R_MAX: rc = nl_tensor_max(t, &v); break;
    case R_MIN: rc = nl_tensor_min(t, &v); break;
    case R_ARGMAX: rc = nl_tensor_argmax(t, &i); break;
    case R_ARGMIN: rc = nl_tensor_argmin(t, &i); break;
    }
    if (rc) return luaL_argerror(L, 1, nl_errmsg());
    if (kind == R_MAX || kind == R_MIN)
        lua_pushnumber(L, v);
    else
        lua_pushinteger(L, (lua_Integer)i + 1);
    return 1;
}

/* t:sum([dim]) and friends: without dim a number (argmax: the 1-based
 * row-major position); with dim a tensor without that dimension (a number
 * for a 1-d t). max/min along dim also return the 1-based positions. */
static int reduce(lua_State *L, int kind)
{
    nl_tensor *t = nl_lua_checktensor(L, 1);
    if (lua_isnoneornil(L, 2)) return reduce_all(L, t, kind);
    int d = check_dim(L, 2, t);
    if (t->ndim == 1) {
        int n = reduce_all(L, t, kind);
        if (kind == R_MAX || kind == R_MIN) {
            int64_t i;
            int rc = kind == R_MAX ? nl_tensor_argmax(t, &i) : nl_tensor_argmin(t, &i);
            if (rc) return luaL_argerror(L, 1, nl_errmsg());
            lua_pushinteger(L, (lua_Integer)i + 1);
            return n + 1;
        }
        return n;
    }
    int64_t shape[NL_TENSOR_MAXDIM];
    int nd = 0;
    for (int i = 0; i < t->ndim; i++)
        if (i != d) shape[nd++] = t->shape[i];
    nl_tensor *vals = NULL;
    int rc = 0;
    if (kind != R_ARGMAX && kind != R_ARGMIN) {
        vals = new_tensor(L, nd, shape);
        switch (kind) {
        case R_SUM: rc = nl_tensor_sum_dim(vals, t, d); break;
        case R_MEAN: rc = nl_tensor_mean_dim(vals, t, d); break;
        case R_MAX: rc = nl_tensor_max_dim(vals, t, d); break;
        case R_MIN: rc = nl_tensor_min_dim(vals, t, d); break;
        }
        if (rc) return luaL_argerror(L, 1, nl_errmsg());
        if (kind == R_SUM || kind == R_MEAN) return 1;
    }
    nl_tensor *idxt = new_tensor(L, nd, shape);
    int64_t rows = nl_tensor_numel(idxt);
    int64_t *idx = nl_lua_tempbuf(L, (size_t)rows * sizeof *idx);
    rc = (kind == R_MAX || kind == R_ARGMAX) ? nl_tensor_argmax_dim(idx, t, d) : nl_tensor_argmin_dim(idx, t, d);
    if (rc) return luaL_argerror(L, 1, nl_errmsg());
    float *p = nl_tensor_data(idxt);
    for (int64_t i = 0; i < rows; i++) p[i] = (float)(idx[i] + 1);
    lua_pop(L, 1); /* the index buffer */
    return vals ? 2 : 1;
}

static int m_sum(lua_State *L)
{
    return reduce(L, R_SUM);
}

static int m_mean(lua_State *L)
{
    return reduce(L, R_MEAN);
}

static int m_max(lua_State *L)
{
    return reduce(L, R_MAX);
}

static int m_min(lua_State *L)
{
    return reduce(L, R_MIN);
}

static int m_argmax(lua_State *L)
{
    return reduce(L, R_ARGMAX);
}

static int m_argmin(lua_State *L)
{
    return reduce(L, R_ARGMIN);
}

/* t:allclose(u [, rtol [, atol]]) with numpy's defaults 1e-5 and 1e-8. */
static int m_allclose(lua_State *L)
{
    nl_tensor *a = nl_lua_checktensor(L, 1), *b = nl_lua_checktensor(L, 2);
    double rtol = luaL_optnumber(L, 3, 1e-5), atol = luaL_optnumber(L, 4, 1e-8);
    luaL_argcheck(L, rtol >= 0, 3, "tolerance must be non-negative");
    luaL_argcheck(L, atol >= 0, 4, "tolerance must be non-negative");
    int res;
    nl_tensor_allclose(a, b, rtol, atol, &res);
    lua_pushboolean(L, res);
    return 1;
}

/* t:equal(u): same shape and exactly equal elements. */
static int m_equal(lua_State *L)
{
    nl_tensor *a = nl_lua_checktensor(L, 1), *b = nl_lua_checktensor(L, 2);
    int res;
    nl_tensor_equal(a, b, &res);
    lua_pushboolean(L, res);
    return 1;
}

/* ------------------------------------------------------------ conversion */

static void totable_rec(lua_State *L, const nl_tensor *t, int d, int64_t off)
{
    int64_t n = t->shape[d];
    lua_createtable(L, n < 1 << 20 ? (int)n : 0, 0);
    for (int64_t i = 0; i < n; i++) {
        int64_t o = off + i * t->stride[d];
        if (d + 1 == t->ndim)
            lua_pushnumber(L, t->st->data[o]);
        else
            totable_rec(L, t, d + 1, o);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

static int m_totable(lua_State *L)
{
    nl_tensor *t = nl_lua_checktensor(L, 1);
    luaL_checkstack(L, t->ndim + 4, "tensor too deep");
    totable_rec(L, t, 0, t->offset);
    return 1;
}

/* Edge items shown per dimension once a tensor is too big to print whole:
 * three along the last two dimensions, one along the outer ones. */
static void format_rec(luaL_Buffer *b, const nl_tensor *t, int d, int64_t off, int elide)
{
    int64_t n = t->shape[d];
    int64_t edge = d >= t->ndim - 2 ? 3 : 1;
    luaL_addchar(b, '{');
    for (int64_t i = 0; i < n; i++) {
        if (elide && n > 2 * edge + 1 && i == edge) {
            luaL_addstring(b, "..., ");
            i = n - edge;
        }
        int64_t o = off + i * t->stride[d];
        if (d + 1 == t->ndim) {
            char num[32];
            snprintf(num, sizeof num, "%.6g", (double)t->st->data[o]);
            luaL_addstring(b, num);
        } else {
            format_rec(b, t, d + 1, o, elide);
        }
        if (i + 1 < n) luaL_addstring(b, ", ");
    }
    luaL_addchar(b, '}');
}

static int m_tostring(lua_State *L)
{
    nl_tensor **box = luaL_checkudata(L, 1, TENSOR_MT);
    if (!*box) {
        lua_pushliteral(L, "tensor (closed)");
        return 1;
    }
    const nl_tensor *t = *box;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "tensor[");
    for (int i = 0; i < t->ndim; i++) {
        char num[24];
        snprintf(num, sizeof num, "%s%lld", i ? "x" : "", (long long)t->shape[i]);
        luaL_addstring(&b, num);
    }
    luaL_addchar(&b, ']');
    format_rec(&b, t, 0, t->offset, nl_tensor_numel(t) > 1000);
    luaL_pushresult(&b);
    return 1;
}

/* ------------------------------------------------------------ registration */

static const luaL_Reg methods[] = {
    { "shape", m_shape },
    { "size", m_size },
    { "dim", m_dim },
    { "numel", m_numel },
    { "is_contiguous", m_is_contiguous },
    { "get", m_get },
    { "set", m_set },
    { "slice", m_slice },
    { "select", m_select },
    { "t", m_t },
    { "transpose", m_transpose },
    { "permute", m_permute },
    { "reshape", m_reshape },
    { "view", m_view },
    { "clone", m_clone },
    { "contiguous", m_contiguous },
    { "fill", m_fill },
    { "copy", m_copy },
    { "matmul", m_matmul },
    { "sum", m_sum },
    { "mean", m_mean },
    { "max", m_max },
    { "min", m_min },
    { "argmax", m_argmax },
    { "argmin", m_argmin },
    { "allclose", m_allclose },
    { "equal", m_equal },
    { "totable", m_totable },
    { "close", m_free },
    { NULL, NULL },
};

static const luaL_Reg metamethods[] = {
    { "__newindex", m_newindex },
    { "__len", m_len },
    { "__add", m_add },
    { "__sub", m_sub },
    { "__mul", m_mul },
    { "__div", m_div },
    { "__unm", m_unm },
    { "__tostring", m_tostring },
    { "__gc", m_free },
    { "__close", m_free },
    { NULL, NULL },
};

static const luaL_Reg functions[] = {
    { "zeros", l_zeros },
    { "ones", l_ones },
    { "full", l_full },
    { "randn", l_randn },
    { "rand", l_rand },
    { "arange", l_arange },
    { "matmul", m_matmul },
    { "is", l_is },
    { NULL, NULL },
};

int nl_open_tensor(lua_State *L)
{
    if (luaL_newmetatable(L, TENSOR_MT)) {
        luaL_setfuncs(L, metamethods, 0);
        luaL_newlib(L, methods);
        for (int op = NL_OP_NEG; op <= NL_OP_SIGMOID; op++) {
            lua_pushinteger(L, op);
            lua_pushcclosure(L, m_map, 1);
            lua_setfield(L, -2, nl_tensor_unop_name((nl_unop)op));
        }
        /* __index must be a function for t[i]; __methods lets tools list the methods. */
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "__methods");
        lua_pushcclosure(L, m_index, 1);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    luaL_newlib(L, functions);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, l_call);
    lua_setfield(L, -2, "__call");
    lua_setmetatable(L, -2);
    lua_setfield(L, -2, "tensor");
    return 0;
}
