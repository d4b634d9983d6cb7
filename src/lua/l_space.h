/* SPDX-License-Identifier: GPL-3.0-or-later */
/* l_space.h - the Lua face of search spaces (l_space.c): naslab.Space and
 * naslab.Arch userdata, and the two helpers other bindings use to pass
 * architectures to and from Lua. */
#ifndef NL_L_SPACE_H
#define NL_L_SPACE_H

#include <lua.h>

#include "space/space.h"

/* Push a new naslab.Arch holding a copy of *a (a->space must be set). */
void nl_lua_pusharch(lua_State *L, const nl_arch *a);
/* The arch at argument `arg`; raises "bad argument #arg ... (naslab.Arch
 * expected, got ...)" otherwise. The pointer lives as long as the userdata. */
const nl_arch *nl_lua_checkarch(lua_State *L, int arg);

#endif
