/* SPDX-License-Identifier: GPL-3.0-or-later */
/* prompt.h - the interactive line prompt: GNU Readline in callback mode over
 * the REPL core, with history in $XDG_STATE_HOME/naslab/history and Tab
 * completion of Lua names. The curses workbench will host the same loop. */
#ifndef NL_PROMPT_H
#define NL_PROMPT_H

#include "lua/repl.h"

/* Run the prompt on the terminal until Ctrl-D. Returns the exit status (0). */
int nl_prompt_run(nl_repl *r);

#endif
