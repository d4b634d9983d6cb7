/* SPDX-License-Identifier: GPL-3.0-or-later */
/* host.c - the Lua host (see host.h). The interrupt mechanics follow lua.c:
 * the signal handler only sets a hook, and the hook raises the error inside
 * Lua, where it is safe to do so. */
#include "config.h"

#include "lua/host.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lauxlib.h>
#include <lualib.h>

#include "core/progress.h"
#include "lua/lnl.h"

static lua_State *volatile running_L; /* the state of the chunk now running */

/* Lab mode (nl_host_new_lab): a memory cap on the Lua heap and an
 * instruction budget per top-level call. */
static struct {
    int on;
    size_t limit, used;     /* bytes of Lua heap allowed / in use */
    long long budget, used_steps;
    int hit_memory;
} lab;

#define LAB_STEP 1000 /* instructions between budget checks */

static void *lab_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        lab.used -= old;
        return NULL;
    }
    if (nsize > old && lab.used + (nsize - old) > lab.limit) {
        lab.hit_memory = 1;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p) lab.used = lab.used - old + nsize;
    return p;
}

static void lab_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lab.used_steps += LAB_STEP;
    if (lab.used_steps > lab.budget)
        luaL_error(L, "lab: the instruction budget of %I instructions is used up (--lab-steps)",
                   (lua_Integer)lab.budget);
}

static void stop_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
}

static volatile sig_atomic_t sigints;

void nl_host_interrupt(void)
{
    nl_interrupt_request();
    lua_State *L = running_L;
    if (L) lua_sethook(L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

unsigned nl_host_sigints(void)
{
    return (unsigned)sigints;
}

static void on_sigint(int sig)
{
    (void)sig;
    sigints++;
    nl_host_interrupt();
}

void nl_host_catch_sigint(lua_State *L)
{
    (void)L;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocking read returns EINTR, so the prompt sees Ctrl-C */
    sigaction(SIGINT, &sa, NULL);
}

static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int nl_host_pcall(lua_State *L, int narg, int nres)
{
    int base = lua_gettop(L) - narg;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    nl_interrupt_clear();
    lua_State *prev = running_L;
    running_L = L;
    if (lab.on && !prev) {
        lab.used_steps = 0;
        lab.hit_memory = 0;
        lua_sethook(L, lab_hook, LUA_MASKCOUNT, LAB_STEP);
    }
    int status = lua_pcall(L, narg, nres, base);
    running_L = prev;
    lua_sethook(L, NULL, 0, 0);
    if (lab.on && prev) lua_sethook(L, lab_hook, LUA_MASKCOUNT, LAB_STEP);
    if (status == LUA_ERRMEM && lab.on && lab.hit_memory) {
        lua_pop(L, 1);
        lua_pushfstring(L, "lab: the memory limit of %d MiB for Lua is reached (--lab-mem)",
                        (int)(lab.limit >> 20));
    }
    lua_remove(L, base);
    return status;
}

int nl_host_report(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "naslab: %s\n", msg ? msg : "(error object is not a string)");
    fflush(stderr);
    lua_pop(L, 1);
    return 1;
}

int nl_host_dostring(lua_State *L, const char *chunk, const char *name)
{
    int status = luaL_loadbuffer(L, chunk, strlen(chunk), name);
    if (status == LUA_OK) status = nl_host_pcall(L, 0, 0);
    return status == LUA_OK ? 0 : nl_host_report(L);
}

int nl_host_dofile(lua_State *L, int argc, char **argv, int script)
{
    lua_createtable(L, argc - script - 1, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
    const char *path = argv[script];
    int status = luaL_loadfile(L, strcmp(path, "-") == 0 ? NULL : path);
    if (status != LUA_OK) return nl_host_report(L);
    int nargs = argc - script - 1;
    luaL_checkstack(L, nargs + 3, "too many arguments to script");
    for (int i = script + 1; i < argc; i++) lua_pushstring(L, argv[i]);
    return nl_host_pcall(L, nargs, 0) == LUA_OK ? 0 : nl_host_report(L);
}

/* Where the Lua half of the library lives: $NASLAB_LUA_PATH (a package.path
 * fragment), else the installed copy, else the source tree of this build. */
static void set_lua_path(lua_State *L)
{
    const char *env = getenv("NASLAB_LUA_PATH");
    char buf[4096];
    if (env && *env) {
        snprintf(buf, sizeof buf, "%s", env);
    } else {
        struct stat st;
        const char *dir = NASLAB_LUADIR;
        char probe[2048];
        snprintf(probe, sizeof probe, "%s/naslab/init.lua", dir);
        if (stat(probe, &st) != 0) dir = NASLAB_SRC_LUADIR;
        snprintf(buf, sizeof buf, "%s/?.lua;%s/?/init.lua", dir, dir);
    }
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s;%s", buf, lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 2);
}

static int preload_naslab(lua_State *L)
{
    lua_getglobal(L, "nl");
    return 1;
}

/* Runs in protected mode: everything that may raise while building the state. */
static int setup(lua_State *L)
{
    luaL_openlibs(L);
    set_lua_path(L);
    nl_open_all(L);
    lua_pushvalue(L, -1);
    lua_setglobal(L, "nl");
    /* require "naslab" gives the same table */
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, preload_naslab);
    lua_setfield(L, -2, "naslab");
    lua_pop(L, 2);
    /* the Lua half: lua/naslab/init.lua receives the nl table and extends it */
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchpath");
    lua_pushliteral(L, "naslab");
    lua_getfield(L, -3, "path");
    lua_call(L, 2, 2);
    if (lua_isnil(L, -2))
        return luaL_error(L, "cannot find the Lua library naslab/init.lua (set NASLAB_LUA_PATH):%s",
                          lua_tostring(L, -1));
    const char *file = lua_tostring(L, -2);
    if (luaL_loadfile(L, file) != LUA_OK) return lua_error(L);
    lua_pushvalue(L, -5); /* nl */
    lua_call(L, 1, 0);
    return 0;
}

lua_State *nl_host_new(void)
{
    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "naslab: cannot create a Lua state (out of memory)\n");
        return NULL;
    }
    lua_pushcfunction(L, setup);
    if (nl_host_pcall(L, 0, 0) != LUA_OK) {
        nl_host_report(L);
        lua_close(L);
        return NULL;
    }
    return L;
}

/* The lab's sandbox, run in protected mode on a finished state: no io
 * (io.write stays), no debug, no os.execute/exit/remove/rename/tmpname, no C
 * modules (package.loadlib, cpath, the C searchers), and only text chunks. */
static const char SANDBOX[] =
    "local write = io.write\n"
    "io = { write = write }\n"
    "package.loaded.io = io\n"
    "debug = nil; package.loaded.debug = nil\n"
    "for _, k in ipairs { 'execute', 'exit', 'remove', 'rename', 'tmpname' } do os[k] = nil end\n"
    "package.loadlib = nil; package.cpath = ''\n"
    "package.searchers[3] = nil; package.searchers[4] = nil\n"
    "local load, loadfile = load, loadfile\n"
    "_G.load = function(chunk, name, mode, env) return load(chunk, name, 't', env) end\n"
    "_G.loadfile = function(file, mode, env) return loadfile(file, 't', env) end\n"
    "_G.dofile = function(file) local f = assert(loadfile(file, 't')) return f() end\n";

static int lab_panic(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "naslab: unprotected error: %s\n", msg ? msg : "?");
    return 0; /* abort */
}

lua_State *nl_host_new_lab(size_t mem_bytes, long long steps)
{
    lab.on = 0;
    lab.used = 0;
    lab.limit = (size_t)-1;
    lua_State *L = lua_newstate(lab_alloc, NULL);
    if (!L) {
        fprintf(stderr, "naslab: cannot create a Lua state (out of memory)\n");
        return NULL;
    }
    lua_atpanic(L, lab_panic);
    lua_pushcfunction(L, setup);
    if (nl_host_pcall(L, 0, 0) != LUA_OK ||
        luaL_loadbuffer(L, SANDBOX, sizeof SANDBOX - 1, "=sandbox") != LUA_OK || nl_host_pcall(L, 0, 0) != LUA_OK) {
        nl_host_report(L);
        lua_close(L);
        return NULL;
    }
    lab.limit = lab.used + mem_bytes; /* the library's own tables do not count */
    lab.budget = steps;
    lab.on = 1;
    return L;
}

void nl_host_close(lua_State *L)
{
    if (L) lua_close(L);
}

/* ---- completion ---- */

static void add_keys(lua_State *L, int tbl, const char *prefix, size_t plen, const char *head,
                     const char *sep, void (*add)(void *, const char *), void *ud)
{
    char cand[512];
    lua_pushnil(L);
    while (lua_next(L, tbl)) {
        if (lua_type(L, -2) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -2);
            if (strncmp(k, prefix, plen) == 0 && k[0] != '_') {
                snprintf(cand, sizeof cand, "%s%s%s", head, sep, k);
                add(ud, cand);
            }
        }
        lua_pop(L, 1);
    }
}

/* Push the value named by the dotted path text[0..n) (e.g. "nl.stats"), or nil. */
static void push_path(lua_State *L, const char *text, size_t n)
{
    lua_pushglobaltable(L);
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && text[j] != '.' && text[j] != ':') j++;
        if (!lua_istable(L, -1)) {
            lua_pop(L, 1);
            lua_pushnil(L);
            return;
        }
        lua_pushlstring(L, text + i, j - i);
        lua_rawget(L, -2);
        lua_remove(L, -2);
        i = j + 1;
    }
}

void nl_host_complete(lua_State *L, const char *text, void (*add)(void *ud, const char *cand),
                      void *ud)
{
    int top = lua_gettop(L);
    size_t len = strlen(text);
    const char *sep = NULL;
    for (size_t i = len; i > 0; i--)
        if (text[i - 1] == '.' || text[i - 1] == ':') {
            sep = text + i - 1;
            break;
        }
    if (!sep) {
        lua_pushglobaltable(L);
        add_keys(L, lua_gettop(L), text, len, "", "", add, ud);
        static const char *const kw[] = { "and", "break", "do", "else", "elseif", "end", "false",
                                          "for", "function", "goto", "if", "in", "local", "nil",
                                          "not", "or", "repeat", "return", "then", "true", "until",
                                          "while", NULL };
        for (int i = 0; kw[i]; i++)
            if (strncmp(kw[i], text, len) == 0) add(ud, kw[i]);
        lua_settop(L, top);
        return;
    }
    char head[512];
    size_t hlen = (size_t)(sep - text);
    if (hlen >= sizeof head) return;
    memcpy(head, text, hlen);
    head[hlen] = 0;
    const char *prefix = sep + 1;
    size_t plen = len - hlen - 1;
    char sepstr[2] = { *sep, 0 };
    push_path(L, text, hlen);
    int v = lua_gettop(L);
    if (lua_istable(L, v) && *sep == '.') add_keys(L, v, prefix, plen, head, sepstr, add, ud);
    /* methods: the __index table of the value's metatable, or, for types whose
     * __index is a function (tensors index by number), its __methods table */
    if (lua_getmetatable(L, v)) {
        int mt = lua_gettop(L);
        if (lua_getfield(L, mt, "__index") == LUA_TTABLE ||
            (lua_pop(L, 1), lua_getfield(L, mt, "__methods") == LUA_TTABLE))
            add_keys(L, lua_gettop(L), prefix, plen, head, sepstr, add, ud);
    }
    lua_settop(L, top);
}
