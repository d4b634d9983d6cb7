/* SPDX-License-Identifier: GPL-3.0-or-later */
/* l_train.h - what l_train.c shares with other bindings: the supernet
 * userdata (naslab.Supernet) as a C model, and the Lua form of a NAS-LID op
 * mask. Uses lua, nn (model, ctx). */
#ifndef NL_L_TRAIN_H
#define NL_L_TRAIN_H

#include <stdint.h>

#include <lua.h>

#include "nn/ctx.h"
#include "nn/model.h"

/* The model of the naslab.Supernet at arg (and its worker pool into *ctx when
 * ctx is not NULL); raises a bad-argument error for anything else or a closed
 * supernet. The supernet keeps ownership. */
nl_model *nl_lua_checksupernet(lua_State *L, int arg, nl_nn_ctx **ctx);

/* mask[6] = the op mask at stack index idx: a table of 6 integers in 1..31
 * (bit k allows op k on that edge, nl_nb201 op order). Raises a bad-argument
 * error against argument arg, naming `what` and the entry, otherwise. */
void nl_lua_checkmask(lua_State *L, int idx, int arg, const char *what, uint8_t mask[6]);

#endif
