/* SPDX-License-Identifier: GPL-3.0-or-later */
/* repl.c - the read-eval-print core (see repl.h); the mechanics are lua.c's. */
#include "lua/repl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "core/progress.h"
#include "lua/host.h"

void nl_repl_init(nl_repl *r, lua_State *L)
{
    memset(r, 0, sizeof *r);
    r->L = L;
}

void nl_repl_free(nl_repl *r)
{
    free(r->buf);
    r->buf = NULL;
    r->len = r->cap = 0;
}

static int append(nl_repl *r, const char *s)
{
    size_t n = strlen(s), need = r->len + n + 2; /* '\n' and NUL */
    if (need > r->cap) {
        size_t cap = r->cap ? r->cap : 256;
        while (cap < need) cap *= 2;
        char *b = realloc(r->buf, cap);
        if (!b) return -1;
        r->buf = b;
        r->cap = cap;
    }
    if (r->len) r->buf[r->len++] = '\n';
    memcpy(r->buf + r->len, s, n);
    r->len += n;
    r->buf[r->len] = 0;
    return 0;
}

int nl_repl_pending(const nl_repl *r) { return r->pending; }

void nl_repl_reset(nl_repl *r)
{
    r->len = 0;
    r->pending = 0;
    if (r->buf) r->buf[0] = 0;
}

const char *nl_repl_last(const nl_repl *r) { return r->buf ? r->buf : ""; }

/* Incomplete input: a syntax error reported at the end of the stream. */
static int incomplete(lua_State *L, int status)
{
    if (status != LUA_ERRSYNTAX) return 0;
    size_t lmsg;
    const char *msg = lua_tolstring(L, -1, &lmsg);
    const char *mark = "<eof>";
    size_t lmark = strlen(mark);
    return lmsg >= lmark && strcmp(msg + lmsg - lmark, mark) == 0;
}

/* Print the values on the stack above `base` with the global print, each
 * passed through nl.repr (lua/naslab/init.lua) when that exists. */
static int print_results(lua_State *L, int base)
{
    int n = lua_gettop(L) - base;
    if (n <= 0) return LUA_OK;
    luaL_checkstack(L, n + 3, "too many results to print");
    lua_getglobal(L, "print");
    lua_insert(L, base + 1);
    lua_getglobal(L, "nl");
    int have_repr = lua_istable(L, -1) && lua_getfield(L, -1, "repr") == LUA_TFUNCTION;
    if (have_repr) {
        int fn = lua_gettop(L);
        for (int i = 0; i < n; i++) {
            int idx = base + 2 + i;
            lua_pushvalue(L, fn);
            lua_pushvalue(L, idx);
            if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_isstring(L, -1)) {
                lua_pop(L, 1);
                continue; /* fall back to print's own tostring */
            }
            lua_replace(L, idx);
        }
        lua_pop(L, 2);
    } else {
        lua_pop(L, lua_istable(L, -1) ? 2 : 1);
    }
    return nl_host_pcall(L, n, 0);
}

int nl_repl_feed(nl_repl *r, const char *line)
{
    lua_State *L = r->L;
    int fresh = !nl_repl_pending(r);
    if (fresh) nl_repl_reset(r);
    if (append(r, line) != 0) {
        fprintf(stderr, "naslab: out of memory\n");
        nl_repl_reset(r);
        return NL_REPL_ERROR;
    }
    int base = lua_gettop(L);
    int status = LUA_ERRSYNTAX;
    if (fresh) { /* first try it as an expression, so `1+1` prints 2 */
        lua_pushfstring(L, "return %s;", r->buf);
        status = luaL_loadbuffer(L, lua_tostring(L, -1), lua_rawlen(L, -1), "=stdin");
        lua_remove(L, -2);
        if (status != LUA_OK) lua_pop(L, 1);
    }
    if (status != LUA_OK) {
        status = luaL_loadbuffer(L, r->buf, r->len, "=stdin");
        if (incomplete(L, status)) {
            lua_pop(L, 1);
            r->pending = 1;
            return NL_REPL_MORE;
        }
    }
    r->pending = 0;
    if (status == LUA_OK) status = nl_host_pcall(L, 0, LUA_MULTRET);
    if (status == LUA_OK) status = print_results(L, base);
    if (status != LUA_OK) {
        r->errors++;
        nl_host_report(L);
        lua_settop(L, base);
        return NL_REPL_ERROR;
    }
    lua_settop(L, base);
    return NL_REPL_OK;
}

int nl_repl_run_stream(nl_repl *r, FILE *in)
{
    char *line = NULL;
    size_t cap = 0;
    for (;;) {
        errno = 0;
        ssize_t n = getline(&line, &cap, in);
        if (n < 0) {
            if (ferror(in) && errno == EINTR) { /* Ctrl-C while waiting for input */
                clearerr(in);
                nl_interrupt_clear();
                nl_repl_reset(r);
                continue;
            }
            break;
        }
        if (n > 0 && line[n - 1] == '\n') line[--n] = 0;
        nl_repl_feed(r, line);
        fflush(stdout);
    }
    free(line);
    if (nl_repl_pending(r)) { /* input ended inside a chunk: show the syntax error */
        if (luaL_loadbuffer(r->L, r->buf, r->len, "=stdin") != LUA_OK) nl_host_report(r->L);
        else lua_pop(r->L, 1);
        nl_repl_reset(r);
        r->errors++;
    }
    return r->errors ? 1 : 0;
}
