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

#include "lua/host.h"
#include "lua/repl.h"
#include "ui/prompt.h"

static void usage(FILE *f)
{
    fputs("usage: naslab [options] [script [args...]]\n"
          "  -e CHUNK     run the Lua chunk CHUNK (may be repeated)\n"
          "  -i           open the prompt after running the script and chunks\n"
          "  --plain      use the plain readline prompt (no curses workbench)\n"
          "  -h, --help   show this help and exit\n"
          "  -v, --version  show the version and exit\n"
          "  script       a Lua file to run ('-' reads the script from stdin);\n"
          "               its arguments are in the global `arg` and in `...`\n"
          "Without script or -e, naslab opens the prompt when stdin is a terminal\n"
          "and otherwise reads stdin as prompt input (expressions print their values).\n"
          "The Lua API is the global `nl`; see naslab(1).\n",
          f);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'v' },
        { "plain", no_argument, NULL, 'p' },
        { NULL, 0, NULL, 0 },
    };
    int interactive = 0, nchunks = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+e:ihv", longopts, NULL)) != -1) {
        switch (c) {
        case 'e': nchunks++; break;
        case 'i': interactive = 1; break;
        case 'p': break; /* the line prompt is the only one until the workbench lands */
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

    lua_State *L = nl_host_new();
    if (!L) return 1;
    nl_host_catch_sigint(L);
    int status = 0;

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
        if (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
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
