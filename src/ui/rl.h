/* SPDX-License-Identifier: GPL-3.0-or-later */
/* rl.h - the readline pieces both front ends share (the line prompt and the
 * workbench): the history file and Tab completion of Lua names. */
#ifndef NL_UI_RL_H
#define NL_UI_RL_H

#include <pthread.h>
#include <stddef.h>

#include "lua/repl.h"

/* $XDG_STATE_HOME/naslab/history (default ~/.local/state/naslab/history)
 * into buf, creating the directories; buf is "" when there is no home. */
void nl_ui_history_path(char *buf, size_t cap);

/* Install Tab completion of globals, table fields and userdata methods of
 * r's Lua state. With a mutex (the workbench, whose jobs hold the state in
 * another thread) completion offers nothing while it cannot take it. */
void nl_ui_complete_init(nl_repl *r, pthread_mutex_t *lua_mx);
/* Free the candidates of the last completion. */
void nl_ui_complete_free(void);

#endif
