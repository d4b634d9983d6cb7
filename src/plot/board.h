/* SPDX-License-Identifier: GPL-3.0-or-later */
/* board.h - the charts that events draw: a set of named charts (the
 * workbench's panes) and the rules that route events into them. The curses
 * workbench draws the board; headless runs keep it too, so a script or a
 * replayed run can save any chart as SVG or CSV. No curses, no Lua.
 *
 * Standard panes and the events that feed them:
 *   "ranking"  RANK    rank       {true = {...}, pred = {...}}       (replaces the points)
 *   "pareto"   PARETO  pareto.point {x =, y = [, series =]}, pareto.points {x = {...}, y = {...}},
 *                      pareto.clear
 *   "search"   LINE    search.query {run =, query = (or seconds =), best =}   one series per run,
 *                      with the median over runs
 *   "train"    LINE    train.epoch {epoch =, acc =, test_acc =}  (a new run clears it)
 * Panes a script makes (nl.plot, nl.ui.pane):
 *   plot.pane   {pane =, kind = "line"|"scatter"|"rank"|"pareto", title =, xlabel =, ylabel =}
 *   plot.point  {pane =, series =, x =, y =}
 *   plot.points {pane =, series =, x = {...}, y = {...}}
 *   plot.clear  {pane =}
 * An unknown pane in plot.point(s) is made as a line chart. */
#ifndef NL_BOARD_H
#define NL_BOARD_H

#include "core/event.h"
#include "plot/chart.h"

#define NL_BOARD_MAX 16

typedef struct nl_board nl_board;

/* The process's board, made on first use with the standard panes and
 * subscribed to the event stream; NULL when out of memory. */
nl_board *nl_board_default(void);
/* A board of its own (not subscribed), for tests and replays. */
nl_board *nl_board_new(void);
void nl_board_free(nl_board *b);

/* Route one event (takes the board's lock). Returns 1 when a chart changed. */
int nl_board_feed(nl_board *b, const nl_event *ev);
/* Readers (the workbench drawing, a save) hold the lock while they use the
 * charts: events arrive on other threads. */
void nl_board_lock(nl_board *b);
void nl_board_unlock(nl_board *b);
/* Under the lock: the number of panes, the i-th name and chart, a chart by
 * name (NULL when unknown). */
int nl_board_count(const nl_board *b);
const char *nl_board_name(const nl_board *b, int i);
nl_chart *nl_board_chart(const nl_board *b, int i);
nl_chart *nl_board_find(const nl_board *b, const char *name);
/* Increases every time a chart changes (the workbench redraws on change). */
unsigned long nl_board_version(const nl_board *b);
/* Save pane `name` as SVG (path ends in .svg) or CSV (.csv); NL_ENOTFOUND
 * names the pane, NL_EINVAL the extension; the write is atomic. */
int nl_board_save(nl_board *b, const char *name, const char *path);

#endif
