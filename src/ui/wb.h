/* SPDX-License-Identifier: GPL-3.0-or-later */
/* wb.h - the curses workbench: chart panes fed by the event stream (the
 * process's board, plot/board.h), a log pane that receives everything the
 * program prints, GNU Readline in callback mode on the bottom line, and a
 * status line. Each entered chunk runs as a job on a second thread, so the
 * screen redraws and keys are read while it runs; Ctrl-C cancels the job. */
#ifndef NL_WB_H
#define NL_WB_H

#include "lua/repl.h"

/* Run the workbench on the terminal (stdin and stdout must be one) until
 * the user quits. Returns the exit status (0). */
int nl_wb_run(nl_repl *r);

#endif
