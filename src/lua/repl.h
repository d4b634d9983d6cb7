/* SPDX-License-Identifier: GPL-3.0-or-later */
/* repl.h - the read-eval-print core, independent of how lines arrive (readline,
 * a pipe, the workbench). It behaves like lua.c: a line is first tried as
 * `return <line>` so expressions print their values; a chunk whose syntax error
 * ends at <eof> waits for more lines; errors print with a traceback. */
#ifndef NL_REPL_H
#define NL_REPL_H

#include <stddef.h>
#include <stdio.h>

#include <lua.h>

enum { NL_REPL_OK = 0, NL_REPL_MORE = 1, NL_REPL_ERROR = 2 };

typedef struct nl_repl {
    lua_State *L;
    char *buf; /* the chunk being collected (lines joined by '\n') */
    size_t len, cap;
    int pending; /* the chunk is incomplete */
    int errors;  /* how many entries failed so far */
} nl_repl;

/* Start a REPL over state L (not owned). */
void nl_repl_init(nl_repl *r, lua_State *L);
/* Free the collected text; L is left alone. */
void nl_repl_free(nl_repl *r);

/* Feed one line (no trailing newline). Returns NL_REPL_MORE when the chunk is
 * incomplete (continue with the next line), NL_REPL_OK when it ran (values
 * printed on stdout with `print`), NL_REPL_ERROR when it failed to compile or
 * raised (message and traceback on stderr). After OK/ERROR the chunk text
 * stays readable through nl_repl_last() until the next feed. */
int nl_repl_feed(nl_repl *r, const char *line);

/* Non-zero while a chunk is incomplete (the prompt shows the continuation). */
int nl_repl_pending(const nl_repl *r);
/* Drop an incomplete chunk (Ctrl-C at a continuation line). */
void nl_repl_reset(nl_repl *r);
/* The text of the chunk just completed (for history). */
const char *nl_repl_last(const nl_repl *r);

/* Run the REPL over a stream that is not a terminal (a pipe, a file): no
 * prompts, no terminal codes; Ctrl-C while reading drops the pending chunk.
 * Returns 0 if every entry ran, 1 if any failed. */
int nl_repl_run_stream(nl_repl *r, FILE *in);

#endif
