/* SPDX-License-Identifier: GPL-3.0-or-later */
/* prompt.c - readline prompt (see prompt.h). Readline runs in callback mode so
 * the loop owns the terminal: Ctrl-C at the prompt clears the line (and any
 * unfinished chunk) instead of killing the program, and the same loop can
 * later interleave chart redraws with key reads. */
#include "ui/prompt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "core/progress.h"
#include "lua/host.h"

#define PROMPT "nl> "
#define PROMPT_MORE "..> "
#define HISTORY_MAX 2000

static nl_repl *repl;
static int quit;
static char history_path[4096 + 16];

/* $XDG_STATE_HOME/naslab/history (default ~/.local/state/naslab/history);
 * creates the directories. Leaves history_path empty when there is no home. */
static void find_history(void)
{
    const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char dir[4096];
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
    snprintf(history_path, sizeof history_path, "%s/history", dir);
}

static void on_line(char *line)
{
    if (!line) { /* Ctrl-D */
        quit = 1;
        rl_callback_handler_remove();
        putchar('\n');
        return;
    }
    int st = nl_repl_feed(repl, line);
    free(line);
    if (st != NL_REPL_MORE) {
        const char *entry = nl_repl_last(repl);
        if (*entry) {
            add_history(entry);
            if (*history_path) {
                append_history(1, history_path);
                history_truncate_file(history_path, HISTORY_MAX);
            }
        }
    }
    fflush(stdout);
    rl_set_prompt(nl_repl_pending(repl) ? PROMPT_MORE : PROMPT);
}

/* ---- completion ---- */

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
        nl_host_complete(repl->L, text, add_cand, NULL);
    }
    return next < ncands ? strdup(cands[next++]) : NULL;
}

static char **complete(const char *text, int start, int end)
{
    (void)start;
    (void)end;
    rl_attempted_completion_over = 1; /* never fall back to file names */
    rl_completion_append_character = '\0'; /* readline resets it to ' ' each time */
    return rl_completion_matches(text, generator);
}

int nl_prompt_run(nl_repl *r)
{
    repl = r;
    quit = 0;
    rl_readline_name = "naslab";
    rl_catch_signals = 0; /* our SIGINT handler stays in charge */
    rl_attempted_completion_function = complete;
    rl_completer_word_break_characters = " \t\n\"\\'`@$><=;|&{(,+-*/%^#~[]";
    find_history();
    if (*history_path && read_history(history_path) != 0)
        write_history(history_path); /* create it: append_history needs the file */
    nl_interrupt_clear(); /* a Ctrl-C typed during start-up is not meant for the prompt */
    rl_callback_handler_install(PROMPT, on_line);
    while (!quit) {
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(fileno(rl_instream ? rl_instream : stdin), &fds);
        int n = select(fileno(rl_instream ? rl_instream : stdin) + 1, &fds, NULL, NULL, NULL);
        if (n < 0) {
            if (errno != EINTR) break;
            if (nl_interrupted()) { /* Ctrl-C at the prompt: drop the line */
                nl_interrupt_clear();
                nl_repl_reset(repl);
                rl_free_line_state();
                rl_callback_sigcleanup();
                rl_replace_line("", 0);
                fputs("^C\n", stdout);
                rl_set_prompt(PROMPT);
                rl_on_new_line();
                rl_redisplay();
            }
            continue;
        }
        rl_callback_read_char();
    }
    if (!quit) rl_callback_handler_remove();
    for (size_t i = 0; i < ncands; i++) free(cands[i]);
    free(cands);
    cands = NULL;
    ncands = capcands = 0;
    return 0;
}
