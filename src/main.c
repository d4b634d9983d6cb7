/* SPDX-License-Identifier: GPL-3.0-or-later */
/* main.c - the naslab program: option parsing, then a script, chunks, the
 * interactive prompt, or a REPL over piped input. Exit status: 0 success,
 * 1 a Lua error, 2 bad usage. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/event.h"
#include "lua/host.h"
#include "lua/repl.h"
#include "plot/board.h"
#include "ui/prompt.h"
#include "ui/wb.h"

/* Headless runs on a terminal: every event as one progress line on stderr
 * (nothing when stderr is a pipe or a file). */
static void progress_line(void *ud, const nl_event *ev)
{
    (void)ud;
    if (strncmp(ev->name, "plot.", 5) == 0) return;
    char buf[256];
    int n = snprintf(buf, sizeof buf, "[%s]", ev->name);
    for (int i = 0; i < ev->nfields && n < (int)sizeof buf - 1; i++) {
        const nl_ev_field *f = &ev->fields[i];
        if (f->type == NL_EV_NUM) n += snprintf(buf + n, sizeof buf - (size_t)n, " %s=%.4g", f->key, f->num);
        else if (f->type == NL_EV_STR) n += snprintf(buf + n, sizeof buf - (size_t)n, " %s=%.40s", f->key, f->str);
        else n += snprintf(buf + n, sizeof buf - (size_t)n, " %s=[%lld]", f->key, (long long)f->n);
    }
    fprintf(stderr, "%s\n", buf);
}

static void replay_sink(void *ud, const nl_event *ev)
{
    nl_board_feed(ud, ev);
}

static void usage(FILE *f)
{
    fputs("usage: naslab [options] [script [args...]]\n"
          "  -e CHUNK     run the Lua chunk CHUNK (may be repeated)\n"
          "  -i           open the prompt after running the script and chunks\n"
          "  --plain      use the plain readline prompt (no curses workbench)\n"
          "  --lab        run in the lab sandbox: no io (but io.write), os.execute,\n"
          "               debug or C modules; Lua heap and instructions are capped\n"
          "  --lab-mem MB   the lab's Lua heap cap (default 512; implies --lab)\n"
          "  --lab-steps N  the lab's instructions per script or entry (default 2e9)\n"
          "  --replay DIR feed the events of a recorded run (DIR/events.jsonl) to the\n"
          "               charts first; then the script, chunks or prompt as usual\n"
          "  -h, --help   show this help and exit\n"
          "  -v, --version  show the version and exit\n"
          "  script       a Lua file to run ('-' reads the script from stdin);\n"
          "               its arguments are in the global `arg` and in `...`\n"
          "Without script or -e, naslab opens the prompt when stdin is a terminal\n"
          "and otherwise reads stdin as prompt input (expressions print their values).\n"
          "The Lua API is the global `nl`; see naslab-lua(3). Keys and files: naslab(1).\n",
          f);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'v' },
        { "plain", no_argument, NULL, 'p' },
        { "replay", required_argument, NULL, 'r' },
        { "lab", no_argument, NULL, 'l' },
        { "lab-mem", required_argument, NULL, 'M' },
        { "lab-steps", required_argument, NULL, 'S' },
        { NULL, 0, NULL, 0 },
    };
    int interactive = 0, nchunks = 0, plain = 0, c;
    const char *replay = NULL;
    int labmode = 0;
    long long lab_mem = 512, lab_steps = 2000000000LL; /* MiB; instructions per call */
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+e:ihv", longopts, NULL)) != -1) {
        switch (c) {
        case 'e': nchunks++; break;
        case 'i': interactive = 1; break;
        case 'p': plain = 1; break;
        case 'r': replay = optarg; break;
        case 'l': labmode = 1; break;
        case 'M':
        case 'S': {
            char *end;
            long long v = strtoll(optarg, &end, 10);
            if (*end || v < 1 || (c == 'M' && v > (1LL << 30))) {
                fprintf(stderr, "naslab: --%s needs a positive whole number, got '%s'\n",
                        c == 'M' ? "lab-mem" : "lab-steps", optarg);
                return 2;
            }
            if (c == 'M') lab_mem = v;
            else lab_steps = v;
            labmode = 1;
            break;
        }
        case 'h': usage(stdout); return 0;
        case 'v': printf("naslab %s\n", PACKAGE_VERSION); return 0;
        default:
            if (optopt == 'e')
                fprintf(stderr, "naslab: option -e needs a Lua chunk\n");
            else if (optopt)
                fprintf(stderr, "naslab: unknown option '-%c'\n", optopt);
            else
                fprintf(stderr, "naslab: unknown option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    int script = optind < argc ? optind : 0;

    lua_State *L = labmode ? nl_host_new_lab((size_t)lab_mem << 20, lab_steps) : nl_host_new();
    if (!L) return 1;
    nl_host_catch_sigint(L);
    int status = 0;
    const int tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    const int workbench = !plain && tty && (interactive || (!script && nchunks == 0));
    if (!workbench && isatty(STDERR_FILENO)) nl_event_subscribe(progress_line, NULL);
    if (replay) {
        nl_board *b = nl_board_default();
        if (!b || nl_run_replay(replay, replay_sink, b)) {
            fprintf(stderr, "naslab: --replay: %s\n", b ? nl_errmsg() : "out of memory");
            nl_host_close(L);
            return 1;
        }
    }

    /* -e chunks in order, before the script (as lua.c) */
    for (int i = 1; i < (script ? script : argc) && status == 0; i++) {
        if (strcmp(argv[i], "-e") == 0 && i + 1 < argc) {
            status = nl_host_dostring(L, argv[++i], "=(command line)");
        } else if (strncmp(argv[i], "-e", 2) == 0 && argv[i][2]) {
            status = nl_host_dostring(L, argv[i] + 2, "=(command line)");
        }
    }
    if (status == 0 && script) status = nl_host_dofile(L, argc, argv, script);

    if (status == 0 && (interactive || (!script && nchunks == 0))) {
        nl_repl r;
        nl_repl_init(&r, L);
        if (workbench) {
            status = nl_wb_run(&r);
        } else if (tty) {
            printf("naslab %s  (Lua API: the table `nl`; Ctrl-D quits)\n", PACKAGE_VERSION);
            status = nl_prompt_run(&r);
        } else {
            status = nl_repl_run_stream(&r, stdin);
        }
        nl_repl_free(&r);
    }
    nl_host_close(L);
    return status;
}
