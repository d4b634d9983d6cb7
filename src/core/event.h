/* SPDX-License-Identifier: GPL-3.0-or-later */
/* event.h - the event stream: jobs and recipes publish events (a name and
 * fields: numbers, strings, arrays of numbers); whoever displays or records
 * them subscribes. One process-wide stream with up to NL_EVENT_SINKS sinks
 * (the workbench's queue, a run directory's JSON-lines file, the headless
 * progress line). Emitting is thread-safe: the sinks are called on the
 * emitting thread under the stream's lock, in the order they were added.
 * Events serialise to one JSON object per line and parse back (replay).
 * Uses only libc and pthreads. */
#ifndef NL_EVENT_H
#define NL_EVENT_H

#include <stdint.h>
#include <stdio.h>

typedef enum { NL_EV_NUM, NL_EV_STR, NL_EV_ARR } nl_ev_type;

typedef struct nl_ev_field {
    char *key;
    nl_ev_type type;
    double num;        /* NL_EV_NUM */
    char *str;         /* NL_EV_STR */
    double *arr;       /* NL_EV_ARR: n values */
    int64_t n;
} nl_ev_field;

typedef struct nl_event {
    char *name;        /* "train.epoch", "search.query", ... */
    double t;          /* seconds since the stream started (set by emit) */
    int nfields, cap;
    nl_ev_field *fields;
} nl_event;

/* A new event without fields; NULL (NL_ENOMEM) when out of memory. */
nl_event *nl_event_new(const char *name);
void nl_event_free(nl_event *ev);
/* Add a field (a key given twice keeps both; get finds the first). Numbers
 * may be NaN or infinite (written as null in JSON). 0 or NL_ENOMEM. */
int nl_event_num(nl_event *ev, const char *key, double v);
int nl_event_str(nl_event *ev, const char *key, const char *s);
int nl_event_arr(nl_event *ev, const char *key, const double *v, int64_t n);
/* The field named key, or NULL. */
const nl_ev_field *nl_event_get(const nl_event *ev, const char *key);
/* The number in field key, or def when it is absent or not a number. */
double nl_event_getnum(const nl_event *ev, const char *key, double def);
/* A deep copy; NULL on NL_ENOMEM. */
nl_event *nl_event_copy(const nl_event *ev);

/* One line of JSON: {"t":1.25,"event":"train.epoch","epoch":3,...}\n.
 * Returns 0 or NL_EIO. */
int nl_event_write_json(const nl_event *ev, FILE *f);
/* Parse such a line (the keys "t" and "event" become t and name; other
 * numbers, strings, and arrays of numbers become fields; null is NaN).
 * NL_EPARSE names the column of the first problem. */
int nl_event_parse_json(const char *line, nl_event **out);

/* ---- the stream ---- */

#define NL_EVENT_SINKS 8
/* A sink sees every event emitted after it was added. It must not emit. */
typedef void (*nl_event_sink)(void *ud, const nl_event *ev);
/* Add / remove a sink (matched by fn and ud). NL_ERANGE when full. */
int nl_event_subscribe(nl_event_sink fn, void *ud);
void nl_event_unsubscribe(nl_event_sink fn, void *ud);
/* Stamp ev->t and pass it to every sink; ev stays the caller's. */
void nl_event_emit(nl_event *ev);
/* Seconds since the stream's clock started (the first call). */
double nl_event_clock(void);

/* ---- recording a run ---- */

/* A run directory: events.jsonl receives every emitted event while the run
 * is open. nl_run_open(NULL) makes $XDG_STATE_HOME/naslab/runs/<id>/ (default
 * ~/.local/state/naslab/runs/<id>/, id = YYYYmmdd-HHMMSS-<pid>-<k>); a given
 * dir is created if needed. One run at a time: opening a second closes the
 * first. NL_EIO names the path. */
int nl_run_open(const char *dir);
/* Close the run; returns the number of events it recorded. A run made by
 * nl_run_open(NULL) that recorded nothing is removed again, so commands
 * without events leave no directories behind. */
long nl_run_close(void);
/* The open run's directory, or NULL. */
const char *nl_run_dir(void);
/* Read a run's events.jsonl (dir or the file itself), calling fn for every
 * event in order; NL_EIO / NL_EPARSE name the file and line. */
int nl_run_replay(const char *dir, nl_event_sink fn, void *ud);

#endif
