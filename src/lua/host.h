/* SPDX-License-Identifier: GPL-3.0-or-later */
/* host.h - the Lua host: creates a Lua state with the standard libraries and
 * the `nl` table, runs chunks under a traceback handler, and turns Ctrl-C into
 * the "interrupted!" error (as lua.c does) while also stopping C loops. */
#ifndef NL_HOST_H
#define NL_HOST_H

#include <lua.h>

/* A new Lua state with the standard libraries, the global `nl` (also
 * `require "naslab"`), and the Lua half of the library (lua/naslab/init.lua and its modules)
 * loaded onto it. NULL if the state could not be made (message on stderr). */
lua_State *nl_host_new(void);
void nl_host_close(lua_State *L);
/* The same in lab mode, for scripts handed out in teaching: a sandbox (no
 * io except io.write, no debug, no os.execute/exit/remove/rename/tmpname, no
 * C modules, text chunks only), at most mem_bytes of Lua heap beyond the
 * library's own, and at most `steps` Lua instructions per top-level call
 * (a script, a chunk, a prompt entry). Hitting a limit raises an error that
 * names it. One lab state per process. Memory that C primitives allocate
 * (tensors, networks) is not counted. */
lua_State *nl_host_new_lab(size_t mem_bytes, long long steps);

/* Build the `nl` table (l_nl.c) and leave it on the stack. */
int nl_open_all(lua_State *L);

/* Install the SIGINT handler: while a chunk runs, Ctrl-C stops it with the
 * error "interrupted!"; at any time it sets the core interrupt flag
 * (nl_interrupted()) that C loops and the prompt check. */
void nl_host_catch_sigint(lua_State *L);
/* What the SIGINT handler does, callable from another thread (and from a
 * signal handler): stop the running chunk and C loops. */
void nl_host_interrupt(void);
/* How many SIGINTs the handler has seen (the workbench notices Ctrl-C even
 * when the job that it stopped has already cleared the flag). */
unsigned nl_host_sigints(void);

/* Call the function below `narg` arguments on the stack under the traceback
 * handler (lua_pcall semantics). On error the message, with traceback, is left
 * on the stack. Clears any pending interrupt before the call. */
int nl_host_pcall(lua_State *L, int narg, int nres);

/* Report the error message on top of the stack to stderr as
 * "naslab: <msg>" and pop it. Returns 1 for use as an exit status. */
int nl_host_report(lua_State *L);

/* Run a string / a file as a chunk; on error report it and return 1, else 0. */
int nl_host_dostring(lua_State *L, const char *chunk, const char *name);

/* Run script `argv[script]` with the global `arg` set like lua.c does
 * (arg[0] = script, arg[1..] = following args, negative = preceding) and the
 * following args as `...`. path "-" reads stdin. Returns 0 or 1 (reported). */
int nl_host_dofile(lua_State *L, int argc, char **argv, int script);

/* Tab completion of Lua names: for `text` (the word before the cursor, e.g.
 * "nl.st" or "rng:un"), call add(ud, candidate) for every global, table field
 * or userdata method completing it; candidates are whole words ("nl.stats").
 * Never raises and never runs user code except __index tables' lookups. */
void nl_host_complete(lua_State *L, const char *text, void (*add)(void *ud, const char *cand),
                      void *ud);

#endif
