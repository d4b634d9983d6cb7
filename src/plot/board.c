/* SPDX-License-Identifier: GPL-3.0-or-later */
/* board.c - named charts fed by events (see board.h). */
#include "plot/board.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"

struct nl_board {
    pthread_mutex_t lock;
    int n;
    char names[NL_BOARD_MAX][32];
    nl_chart *charts[NL_BOARD_MAX];
    unsigned long version;
    double train_epoch; /* the last epoch seen: a smaller one starts a new run */
    int train_runs;
};

static int add(nl_board *b, const char *name, nl_chart_kind kind, const char *title, const char *xl,
               const char *yl)
{
    if (b->n == NL_BOARD_MAX) return nl_err(NL_ERANGE, "board: more than %d panes", NL_BOARD_MAX);
    nl_chart *c = nl_chart_new(kind, title, xl, yl);
    if (!c) return NL_ENOMEM;
    snprintf(b->names[b->n], sizeof b->names[0], "%s", name);
    b->charts[b->n++] = c;
    return 0;
}

nl_board *nl_board_new(void)
{
    nl_board *b = nl_calloc(1, sizeof *b);
    if (!b) return NULL;
    pthread_mutex_init(&b->lock, NULL);
    b->train_epoch = INFINITY;
    if (add(b, "ranking", NL_CHART_RANK, "ranking: predicted vs true", "true rank", "predicted rank") ||
        add(b, "pareto", NL_CHART_PARETO, "Pareto front", "cost", "accuracy") ||
        add(b, "search", NL_CHART_LINE, "search progress: best vs queries", "queries", "best") ||
        add(b, "train", NL_CHART_LINE, "training: accuracy per epoch", "epoch", "accuracy %")) {
        nl_board_free(b);
        return NULL;
    }
    nl_chart_set_median(nl_board_find(b, "search"), 1);
    return b;
}

void nl_board_free(nl_board *b)
{
    if (!b) return;
    for (int i = 0; i < b->n; i++) nl_chart_free(b->charts[i]);
    pthread_mutex_destroy(&b->lock);
    nl_free(b);
}

void nl_board_lock(nl_board *b)
{
    pthread_mutex_lock(&b->lock);
}

void nl_board_unlock(nl_board *b)
{
    pthread_mutex_unlock(&b->lock);
}

int nl_board_count(const nl_board *b)
{
    return b->n;
}

const char *nl_board_name(const nl_board *b, int i)
{
    return i >= 0 && i < b->n ? b->names[i] : NULL;
}

nl_chart *nl_board_chart(const nl_board *b, int i)
{
    return i >= 0 && i < b->n ? b->charts[i] : NULL;
}

nl_chart *nl_board_find(const nl_board *b, const char *name)
{
    for (int i = 0; i < b->n; i++)
        if (strcmp(b->names[i], name) == 0) return b->charts[i];
    return NULL;
}

unsigned long nl_board_version(const nl_board *b)
{
    return b->version;
}

static const char *str(const nl_event *ev, const char *key, const char *def)
{
    const nl_ev_field *f = nl_event_get(ev, key);
    return f && f->type == NL_EV_STR ? f->str : def;
}

static const nl_ev_field *arr(const nl_event *ev, const char *key)
{
    const nl_ev_field *f = nl_event_get(ev, key);
    return f && f->type == NL_EV_ARR ? f : NULL;
}

/* Points from two array fields into chart c. */
static int add_arrays(nl_chart *c, const char *series, const nl_ev_field *x, const nl_ev_field *y)
{
    int changed = 0;
    if (!x || !y) return 0;
    int64_t n = x->n < y->n ? x->n : y->n;
    for (int64_t i = 0; i < n; i++)
        if (nl_chart_add(c, series, x->arr[i], y->arr[i]) == 0) changed = 1;
    return changed;
}

/* The chart of a plot.* event, made as `kind` when it does not exist. */
static nl_chart *pane(nl_board *b, const nl_event *ev, nl_chart_kind kind)
{
    const char *name = str(ev, "pane", NULL);
    if (!name || !*name) return NULL;
    nl_chart *c = nl_board_find(b, name);
    if (!c && add(b, name, kind, name, "x", "y") == 0) c = b->charts[b->n - 1];
    return c;
}

static int kind_of(const char *k, nl_chart_kind *out)
{
    static const struct {
        const char *name;
        nl_chart_kind kind;
    } kinds[] = { { "line", NL_CHART_LINE }, { "scatter", NL_CHART_SCATTER }, { "rank", NL_CHART_RANK },
                  { "pareto", NL_CHART_PARETO } };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(k, kinds[i].name) == 0) {
            *out = kinds[i].kind;
            return 0;
        }
    return -1;
}

static int feed(nl_board *b, const nl_event *ev)
{
    const char *n = ev->name;
    nl_chart *c;
    if (strcmp(n, "train.epoch") == 0) {
        c = nl_board_find(b, "train");
        double epoch = nl_event_getnum(ev, "epoch", NAN), acc = nl_event_getnum(ev, "acc", NAN),
               test = nl_event_getnum(ev, "test_acc", NAN);
        if (!isfinite(epoch)) return 0;
        if (epoch <= b->train_epoch) nl_chart_clear(c); /* a new run */
        b->train_epoch = epoch;
        int changed = 0;
        if (isfinite(acc) && nl_chart_add(c, "train acc", epoch, acc) == 0) changed = 1;
        if (isfinite(test) && nl_chart_add(c, "test acc", epoch, test) == 0) changed = 1;
        return changed;
    }
    if (strcmp(n, "rank") == 0) {
        c = nl_board_find(b, "ranking");
        nl_chart_clear(c);
        add_arrays(c, "cells", arr(ev, "true"), arr(ev, "pred"));
        return 1;
    }
    if (strcmp(n, "pareto.clear") == 0) {
        nl_chart_clear(nl_board_find(b, "pareto"));
        return 1;
    }
    if (strcmp(n, "pareto.point") == 0 || strcmp(n, "pareto.points") == 0) {
        c = nl_board_find(b, "pareto");
        const char *series = str(ev, "series", "points");
        if (strcmp(n, "pareto.points") == 0) return add_arrays(c, series, arr(ev, "x"), arr(ev, "y"));
        return nl_chart_add(c, series, nl_event_getnum(ev, "x", NAN), nl_event_getnum(ev, "y", NAN)) == 0;
    }
    if (strcmp(n, "search.query") == 0) {
        c = nl_board_find(b, "search");
        char run[32];
        const nl_ev_field *r = nl_event_get(ev, "run");
        if (r && r->type == NL_EV_STR) snprintf(run, sizeof run, "%s", r->str);
        else snprintf(run, sizeof run, "run %g", r && r->type == NL_EV_NUM ? r->num : 1.0);
        double x = nl_event_getnum(ev, "query", nl_event_getnum(ev, "seconds", NAN));
        return nl_chart_add(c, run, x, nl_event_getnum(ev, "best", NAN)) == 0;
    }
    if (strcmp(n, "plot.pane") == 0) {
        const char *name = str(ev, "pane", NULL);
        nl_chart_kind kind = NL_CHART_LINE;
        if (!name || !*name || kind_of(str(ev, "kind", "line"), &kind)) return 0;
        const char *title = str(ev, "title", name), *xl = str(ev, "xlabel", "x"), *yl = str(ev, "ylabel", "y");
        for (int i = 0; i < b->n; i++)
            if (strcmp(b->names[i], name) == 0) { /* remade: a new chart of that kind */
                nl_chart *nc = nl_chart_new(kind, title, xl, yl);
                if (!nc) return 0;
                nl_chart_free(b->charts[i]);
                b->charts[i] = nc;
                return 1;
            }
        return add(b, name, kind, title, xl, yl) == 0;
    }
    if (strcmp(n, "plot.clear") == 0) {
        const char *name = str(ev, "pane", "");
        if ((c = nl_board_find(b, name))) nl_chart_clear(c);
        return c != NULL;
    }
    if (strcmp(n, "plot.point") == 0) {
        if (!(c = pane(b, ev, NL_CHART_LINE))) return 0;
        return nl_chart_add(c, str(ev, "series", "y"), nl_event_getnum(ev, "x", NAN),
                            nl_event_getnum(ev, "y", NAN)) == 0;
    }
    if (strcmp(n, "plot.points") == 0) {
        if (!(c = pane(b, ev, NL_CHART_SCATTER))) return 0;
        return add_arrays(c, str(ev, "series", "points"), arr(ev, "x"), arr(ev, "y"));
    }
    return 0;
}

int nl_board_feed(nl_board *b, const nl_event *ev)
{
    pthread_mutex_lock(&b->lock);
    int changed = feed(b, ev);
    if (changed) b->version++;
    pthread_mutex_unlock(&b->lock);
    return changed;
}

int nl_board_save(nl_board *b, const char *name, const char *path)
{
    size_t len = strlen(path);
    int svg = len > 4 && strcmp(path + len - 4, ".svg") == 0, csv = len > 4 && strcmp(path + len - 4, ".csv") == 0;
    if (!svg && !csv) return nl_err(NL_EINVAL, "'%s': the file name must end in .svg or .csv", path);
    pthread_mutex_lock(&b->lock);
    nl_chart *c = nl_board_find(b, name);
    int rc;
    if (!c) {
        char known[NL_BOARD_MAX * 34] = "";
        for (int i = 0; i < b->n; i++) {
            if (i) strcat(known, ", ");
            strcat(known, b->names[i]);
        }
        rc = nl_err(NL_ENOTFOUND, "no pane '%s' (panes: %s)", name, known);
    } else {
        rc = svg ? nl_chart_svg(c, path, 800, 500) : nl_chart_csv(c, path);
    }
    pthread_mutex_unlock(&b->lock);
    return rc;
}

static void board_sink(void *ud, const nl_event *ev)
{
    nl_board_feed(ud, ev);
}

nl_board *nl_board_default(void)
{
    static nl_board *board;
    static pthread_mutex_t once = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&once);
    if (!board && (board = nl_board_new()) && nl_event_subscribe(board_sink, board)) {
        nl_board_free(board);
        board = NULL;
    }
    pthread_mutex_unlock(&once);
    return board;
}
