/* SPDX-License-Identifier: GPL-3.0-or-later */
/* event.c - the event stream, its JSON-lines form and run directories (see
 * event.h). */
#include "core/event.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = nl_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

nl_event *nl_event_new(const char *name)
{
    nl_event *ev = nl_calloc(1, sizeof *ev);
    if (!ev) return NULL;
    if (!(ev->name = dupstr(name ? name : ""))) {
        nl_free(ev);
        return NULL;
    }
    return ev;
}

void nl_event_free(nl_event *ev)
{
    if (!ev) return;
    for (int i = 0; i < ev->nfields; i++) {
        nl_free(ev->fields[i].key);
        nl_free(ev->fields[i].str);
        nl_free(ev->fields[i].arr);
    }
    nl_free(ev->fields);
    nl_free(ev->name);
    nl_free(ev);
}

static nl_ev_field *add_field(nl_event *ev, const char *key, nl_ev_type type)
{
    if (ev->nfields == ev->cap) {
        int cap = ev->cap ? 2 * ev->cap : 8;
        nl_ev_field *f = nl_realloc(ev->fields, (size_t)cap * sizeof *f);
        if (!f) return NULL;
        ev->fields = f;
        ev->cap = cap;
    }
    nl_ev_field *f = &ev->fields[ev->nfields];
    memset(f, 0, sizeof *f);
    if (!(f->key = dupstr(key))) return NULL;
    f->type = type;
    ev->nfields++;
    return f;
}

int nl_event_num(nl_event *ev, const char *key, double v)
{
    nl_ev_field *f = add_field(ev, key, NL_EV_NUM);
    if (!f) return NL_ENOMEM;
    f->num = v;
    return 0;
}

int nl_event_str(nl_event *ev, const char *key, const char *s)
{
    char *d = dupstr(s);
    if (!d) return NL_ENOMEM;
    nl_ev_field *f = add_field(ev, key, NL_EV_STR);
    if (!f) {
        nl_free(d);
        return NL_ENOMEM;
    }
    f->str = d;
    return 0;
}

int nl_event_arr(nl_event *ev, const char *key, const double *v, int64_t n)
{
    double *d = nl_malloc((size_t)(n > 0 ? n : 1) * sizeof *d);
    if (!d) return NL_ENOMEM;
    if (n > 0) memcpy(d, v, (size_t)n * sizeof *d);
    nl_ev_field *f = add_field(ev, key, NL_EV_ARR);
    if (!f) {
        nl_free(d);
        return NL_ENOMEM;
    }
    f->arr = d;
    f->n = n;
    return 0;
}

const nl_ev_field *nl_event_get(const nl_event *ev, const char *key)
{
    for (int i = 0; i < ev->nfields; i++)
        if (strcmp(ev->fields[i].key, key) == 0) return &ev->fields[i];
    return NULL;
}

double nl_event_getnum(const nl_event *ev, const char *key, double def)
{
    const nl_ev_field *f = nl_event_get(ev, key);
    return f && f->type == NL_EV_NUM ? f->num : def;
}

nl_event *nl_event_copy(const nl_event *ev)
{
    nl_event *c = nl_event_new(ev->name);
    if (!c) return NULL;
    c->t = ev->t;
    for (int i = 0; i < ev->nfields; i++) {
        const nl_ev_field *f = &ev->fields[i];
        int rc = f->type == NL_EV_NUM   ? nl_event_num(c, f->key, f->num)
                 : f->type == NL_EV_STR ? nl_event_str(c, f->key, f->str)
                                        : nl_event_arr(c, f->key, f->arr, f->n);
        if (rc) {
            nl_event_free(c);
            return NULL;
        }
    }
    return c;
}

/* ---- JSON ---- */

static void put_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static void put_num(FILE *f, double v)
{
    if (!isfinite(v)) fputs("null", f);
    else if (v == floor(v) && fabs(v) < 1e15) fprintf(f, "%.0f", v);
    else fprintf(f, "%.17g", v);
}

int nl_event_write_json(const nl_event *ev, FILE *f)
{
    fputs("{\"t\":", f);
    fprintf(f, "%.6f", ev->t);
    fputs(",\"event\":", f);
    put_str(f, ev->name);
    for (int i = 0; i < ev->nfields; i++) {
        const nl_ev_field *x = &ev->fields[i];
        fputc(',', f);
        put_str(f, x->key);
        fputc(':', f);
        if (x->type == NL_EV_NUM) put_num(f, x->num);
        else if (x->type == NL_EV_STR) put_str(f, x->str);
        else {
            fputc('[', f);
            for (int64_t k = 0; k < x->n; k++) {
                if (k) fputc(',', f);
                put_num(f, x->arr[k]);
            }
            fputc(']', f);
        }
    }
    fputs("}\n", f);
    return ferror(f) ? nl_err(NL_EIO, "cannot write an event: %s", strerror(errno)) : 0;
}

typedef struct jp {
    const char *s, *p;
} jp;

static void ws(jp *j)
{
    while (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n') j->p++;
}

static int perr(const jp *j, const char *what)
{
    return nl_err(NL_EPARSE, "column %d: %s", (int)(j->p - j->s) + 1, what);
}

/* A string at j->p into a new buffer (*out). */
static int jstr(jp *j, char **out)
{
    if (*j->p != '"') return perr(j, "expected a string");
    j->p++;
    size_t cap = 32, n = 0;
    char *b = nl_malloc(cap);
    if (!b) return NL_ENOMEM;
    for (;;) {
        char c = *j->p;
        if (!c) {
            nl_free(b);
            return perr(j, "unterminated string");
        }
        j->p++;
        if (c == '"') break;
        if (c == '\\') {
            char e = *j->p++;
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case '/': case '"': case '\\': c = e; break;
            case 'u': {
                unsigned v = 0;
                for (int k = 0; k < 4; k++) {
                    char h = *j->p++;
                    v = v * 16 + (unsigned)(h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                                                                 : h >= 'A' && h <= 'F'            ? h - 'A' + 10
                                                                                                   : 99);
                    if (v > 0xffff) {
                        nl_free(b);
                        return perr(j, "bad \\u escape");
                    }
                }
                c = v < 0x80 ? (char)v : '?'; /* we only write \u for control bytes */
                break;
            }
            default: nl_free(b); return perr(j, "bad escape");
            }
        }
        if (n + 2 > cap) {
            char *nb = nl_realloc(b, cap *= 2);
            if (!nb) {
                nl_free(b);
                return NL_ENOMEM;
            }
            b = nb;
        }
        b[n++] = c;
    }
    b[n] = 0;
    *out = b;
    return 0;
}

static int jnum(jp *j, double *v)
{
    if (strncmp(j->p, "null", 4) == 0) {
        j->p += 4;
        *v = NAN;
        return 0;
    }
    if (strncmp(j->p, "true", 4) == 0) {
        j->p += 4;
        *v = 1;
        return 0;
    }
    if (strncmp(j->p, "false", 5) == 0) {
        j->p += 5;
        *v = 0;
        return 0;
    }
    char *end;
    errno = 0;
    *v = strtod(j->p, &end);
    if (end == j->p) return perr(j, "expected a value");
    j->p = end;
    return 0;
}

int nl_event_parse_json(const char *line, nl_event **out)
{
    *out = NULL;
    jp j = { line, line };
    nl_event *ev = nl_event_new("");
    if (!ev) return NL_ENOMEM;
    int rc = 0, seen_name = 0;
    char *key = NULL;
    ws(&j);
    if (*j.p != '{') {
        rc = perr(&j, "expected '{'");
        goto fail;
    }
    j.p++;
    ws(&j);
    if (*j.p == '}') {
        rc = perr(&j, "an event needs a name (\"event\")");
        goto fail;
    }
    for (;;) {
        ws(&j);
        if ((rc = jstr(&j, &key))) goto fail;
        ws(&j);
        if (*j.p != ':') {
            rc = perr(&j, "expected ':'");
            goto fail;
        }
        j.p++;
        ws(&j);
        if (*j.p == '"') {
            char *s;
            if ((rc = jstr(&j, &s))) goto fail;
            if (strcmp(key, "event") == 0 && !seen_name) {
                nl_free(ev->name);
                ev->name = s;
                seen_name = 1;
            } else {
                rc = nl_event_str(ev, key, s);
                nl_free(s);
                if (rc) goto fail;
            }
        } else if (*j.p == '[') {
            j.p++;
            double *a = NULL;
            int64_t n = 0, cap = 0;
            ws(&j);
            while (*j.p != ']') {
                double v;
                if ((rc = jnum(&j, &v))) {
                    nl_free(a);
                    goto fail;
                }
                if (n == cap) {
                    cap = cap ? 2 * cap : 16;
                    double *na = nl_realloc(a, (size_t)cap * sizeof *na);
                    if (!na) {
                        nl_free(a);
                        rc = NL_ENOMEM;
                        goto fail;
                    }
                    a = na;
                }
                a[n++] = v;
                ws(&j);
                if (*j.p == ',') {
                    j.p++;
                    ws(&j);
                } else if (*j.p != ']') {
                    nl_free(a);
                    rc = perr(&j, "expected ',' or ']'");
                    goto fail;
                }
            }
            j.p++;
            rc = nl_event_arr(ev, key, a, n);
            nl_free(a);
            if (rc) goto fail;
        } else {
            double v;
            if ((rc = jnum(&j, &v))) goto fail;
            if (strcmp(key, "t") == 0) ev->t = v;
            else if ((rc = nl_event_num(ev, key, v))) goto fail;
        }
        nl_free(key);
        key = NULL;
        ws(&j);
        if (*j.p == ',') {
            j.p++;
            continue;
        }
        if (*j.p == '}') {
            j.p++;
            break;
        }
        rc = perr(&j, "expected ',' or '}'");
        goto fail;
    }
    ws(&j);
    if (*j.p) {
        rc = perr(&j, "text after the event");
        goto fail;
    }
    if (!seen_name) {
        rc = nl_err(NL_EPARSE, "an event needs a name (\"event\")");
        goto fail;
    }
    *out = ev;
    return 0;
fail:
    nl_free(key);
    nl_event_free(ev);
    return rc;
}

/* ---- the stream ---- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    nl_event_sink fn;
    void *ud;
} sinks[NL_EVENT_SINKS];
static int nsinks;

int nl_event_subscribe(nl_event_sink fn, void *ud)
{
    pthread_mutex_lock(&lock);
    int rc = 0;
    if (nsinks == NL_EVENT_SINKS) rc = nl_err(NL_ERANGE, "event stream: more than %d sinks", NL_EVENT_SINKS);
    else {
        sinks[nsinks].fn = fn;
        sinks[nsinks].ud = ud;
        nsinks++;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

void nl_event_unsubscribe(nl_event_sink fn, void *ud)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; i < nsinks; i++)
        if (sinks[i].fn == fn && sinks[i].ud == ud) {
            memmove(&sinks[i], &sinks[i + 1], (size_t)(nsinks - i - 1) * sizeof sinks[0]);
            nsinks--;
            break;
        }
    pthread_mutex_unlock(&lock);
}

static struct timespec t0;
static pthread_once_t t0_once = PTHREAD_ONCE_INIT;

static void start_clock(void)
{
    clock_gettime(CLOCK_MONOTONIC, &t0);
}

double nl_event_clock(void)
{
    pthread_once(&t0_once, start_clock);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0.tv_sec) + 1e-9 * (double)(now.tv_nsec - t0.tv_nsec);
}

void nl_event_emit(nl_event *ev)
{
    ev->t = nl_event_clock();
    pthread_mutex_lock(&lock);
    for (int i = 0; i < nsinks; i++) sinks[i].fn(sinks[i].ud, ev);
    pthread_mutex_unlock(&lock);
}

/* ---- run directories ---- */

static FILE *run_file;
static char run_path[4096];
static long run_events;
static int run_made; /* nl_run_open(NULL) named and made the directory */

static void run_sink(void *ud, const nl_event *ev)
{
    (void)ud;
    if (run_file) {
        nl_event_write_json(ev, run_file);
        fflush(run_file);
        run_events++;
    }
}

static int mkdirs(char *dir)
{
    for (char *p = dir + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
                *p = '/';
                return -1;
            }
            *p = '/';
        }
    return mkdir(dir, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

int nl_run_open(const char *dir)
{
    nl_run_close();
    char path[4096];
    if (dir) {
        if (strlen(dir) >= sizeof path - 32) return nl_err(NL_EINVAL, "run directory name is too long");
        snprintf(path, sizeof path, "%s", dir);
    } else {
        const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
        char base[4000];
        if (state && *state) snprintf(base, sizeof base, "%s/naslab/runs", state);
        else if (home && *home) snprintf(base, sizeof base, "%s/.local/state/naslab/runs", home);
        else return nl_err(NL_EIO, "no run directory: neither XDG_STATE_HOME nor HOME is set");
        static int k;
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        char stamp[32];
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
        snprintf(path, sizeof path, "%s/%s-%ld-%d", base, stamp, (long)getpid(), ++k);
    }
    if (mkdirs(path) != 0) return nl_err(NL_EIO, "cannot create run directory '%s': %s", path, strerror(errno));
    char file[4096 + 16];
    snprintf(file, sizeof file, "%s/events.jsonl", path);
    FILE *f = fopen(file, "a");
    if (!f) return nl_err(NL_EIO, "cannot open '%s': %s", file, strerror(errno));
    int rc = nl_event_subscribe(run_sink, NULL);
    if (rc) {
        fclose(f);
        return rc;
    }
    pthread_mutex_lock(&lock);
    run_file = f;
    run_events = 0;
    run_made = dir == NULL;
    snprintf(run_path, sizeof run_path, "%s", path);
    pthread_mutex_unlock(&lock);
    return 0;
}

long nl_run_close(void)
{
    nl_event_unsubscribe(run_sink, NULL);
    pthread_mutex_lock(&lock);
    long n = run_events;
    if (run_file) {
        fclose(run_file);
        if (n == 0 && run_made) {
            char file[4096 + 16];
            snprintf(file, sizeof file, "%s/events.jsonl", run_path);
            unlink(file);
            rmdir(run_path);
        }
    }
    run_file = NULL;
    run_path[0] = 0;
    run_events = 0;
    pthread_mutex_unlock(&lock);
    return n;
}

const char *nl_run_dir(void)
{
    return run_path[0] ? run_path : NULL;
}

int nl_run_replay(const char *dir, nl_event_sink fn, void *ud)
{
    char file[4096 + 16];
    struct stat st;
    size_t n = strlen(dir);
    int is_file = n > 6 && strcmp(dir + n - 6, ".jsonl") == 0;
    if ((stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) || (!is_file && errno == ENOENT))
        snprintf(file, sizeof file, "%s/events.jsonl", dir);
    else
        snprintf(file, sizeof file, "%s", dir);
    FILE *f = fopen(file, "r");
    if (!f) return nl_err(NL_EIO, "cannot open '%s': %s", file, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int rc = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len == 0) continue;
        nl_event *ev;
        if ((rc = nl_event_parse_json(line, &ev))) {
            rc = nl_err_context(rc, "%s:%ld", file, lineno);
            break;
        }
        fn(ud, ev);
        nl_event_free(ev);
    }
    free(line);
    fclose(f);
    return rc;
}
