/* SPDX-License-Identifier: GPL-3.0-or-later */
/* rl.c - the readline pieces both front ends share (see rl.h). */
#include "ui/rl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <readline/readline.h>

#include "lua/host.h"

void nl_ui_history_path(char *buf, size_t cap)
{
    const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char dir[4096];
    buf[0] = 0;
    if (state && *state)
        snprintf(dir, sizeof dir, "%s/naslab", state);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.local/state/naslab", home);
    else
        return;
    for (char *p = dir + 1; *p; p++) /* mkdir -p */
        if (*p == '/') {
            *p = 0;
            mkdir(dir, 0700);
            *p = '/';
        }
    mkdir(dir, 0700);
    snprintf(buf, cap, "%s/history", dir);
}

static nl_repl *repl;
static pthread_mutex_t *mx;
static char **cands;
static size_t ncands, capcands;

static void add_cand(void *ud, const char *c)
{
    (void)ud;
    for (size_t i = 0; i < ncands; i++)
        if (strcmp(cands[i], c) == 0) return;
    if (ncands == capcands) {
        size_t cap = capcands ? 2 * capcands : 32;
        char **p = realloc(cands, cap * sizeof *p);
        if (!p) return;
        cands = p;
        capcands = cap;
    }
    char *d = strdup(c);
    if (d) cands[ncands++] = d;
}

static char *generator(const char *text, int state)
{
    static size_t next;
    if (state == 0) {
        for (size_t i = 0; i < ncands; i++) free(cands[i]);
        ncands = 0;
        next = 0;
        if (!mx) {
            nl_host_complete(repl->L, text, add_cand, NULL);
        } else if (pthread_mutex_trylock(mx) == 0) {
            nl_host_complete(repl->L, text, add_cand, NULL);
            pthread_mutex_unlock(mx);
        }
    }
    return next < ncands ? strdup(cands[next++]) : NULL;
}

static char **complete(const char *text, int start, int end)
{
    (void)start;
    (void)end;
    rl_attempted_completion_over = 1;      /* never fall back to file names */
    rl_completion_append_character = '\0'; /* readline resets it to ' ' each time */
    return rl_completion_matches(text, generator);
}

void nl_ui_complete_init(nl_repl *r, pthread_mutex_t *lua_mx)
{
    repl = r;
    mx = lua_mx;
    rl_attempted_completion_function = complete;
    rl_completer_word_break_characters = " \t\n\"\\'`@$><=;|&{(,+-*/%^#~[]";
}

void nl_ui_complete_free(void)
{
    for (size_t i = 0; i < ncands; i++) free(cands[i]);
    free(cands);
    cands = NULL;
    ncands = capcands = 0;
}
