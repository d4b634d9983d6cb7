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

#include <readline/history.h>
#include <readline/readline.h>

#include "core/progress.h"
#include "lua/host.h"
#include "ui/rl.h"

#define PROMPT "nl> "
#define PROMPT_MORE "..> "
#define HISTORY_MAX 2000

static nl_repl *repl;
static int quit;
static char history_path[4096 + 16];

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

int nl_prompt_run(nl_repl *r)
{
    repl = r;
    quit = 0;
    rl_readline_name = "naslab";
    rl_catch_signals = 0; /* our SIGINT handler stays in charge */
    nl_ui_complete_init(r, NULL);
    nl_ui_history_path(history_path, sizeof history_path);
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
    nl_ui_complete_free();
    return 0;
}
