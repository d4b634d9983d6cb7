/* SPDX-License-Identifier: GPL-3.0-or-later */
/* wb.c - the curses workbench (see wb.h).
 *
 * Threads: the UI thread owns curses, readline and the terminal; a job
 * thread owns the Lua state while a chunk runs. Lines the user enters go to
 * the job thread through a queue (typing ahead works); its results come back
 * through a done flag the UI loop polls. Everything written to fd 1 and 2
 * (print, errors, C diagnostics) goes through a pipe into the log pane;
 * curses writes to a duplicate of the terminal's descriptor. The loop wakes
 * at least every 50 ms, and redraws when a chart, the log or the line
 * changed, and at least every 100 ms while a job runs. */
#include "config.h"

#include "ui/wb.h"

#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include <curses.h>
#include <readline/history.h>
#include <readline/readline.h>

#include "core/event.h"
#include "core/progress.h"
#include "lua/host.h"
#include "plot/board.h"
#include "ui/rl.h"

#define PROMPT "nl> "
#define PROMPT_MORE "..> "
#define LOG_LINES 5000
#define HISTORY_MAX 2000

/* ---- terminal restore on every exit path ---- */

static struct termios saved_tio;
static int have_tio, tty_out = -1, saved_out = -1, saved_err = -1, curses_on;

static void restore_fds(void)
{
    if (saved_out >= 0) {
        fflush(stdout);
        fflush(stderr);
        dup2(saved_out, STDOUT_FILENO);
        dup2(saved_err, STDERR_FILENO);
        close(saved_out);
        close(saved_err);
        saved_out = saved_err = -1;
    }
}

/* Async-signal-safe: the saved terminal modes, the normal screen, a visible
 * cursor, default colours. */
static void restore_tty_raw(void)
{
    static const char reset[] = "\033[0m\033[?25h\033[?1049l\r\n";
    if (have_tio) tcsetattr(tty_out >= 0 ? tty_out : STDIN_FILENO, TCSANOW, &saved_tio);
    if (tty_out >= 0) {
        ssize_t w = write(tty_out, reset, sizeof reset - 1);
        (void)w;
    }
}

static void on_fatal(int sig)
{
    restore_tty_raw();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void at_exit(void)
{
    if (curses_on) {
        endwin();
        curses_on = 0;
    }
    restore_fds();
}

/* ---- the log pane ---- */

static char *log_lines[LOG_LINES];
static int log_first, log_n, log_scroll; /* ring start, count, lines scrolled back */
static char partial[4096];
static size_t npartial;
static int dirty = 1;

static void log_push(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d) return;
    memcpy(d, s, n);
    d[n] = 0;
    for (size_t i = 0; i < n; i++)
        if (d[i] == '\t') d[i] = ' ';
    if (log_n == LOG_LINES) {
        free(log_lines[log_first]);
        log_lines[log_first] = d;
        log_first = (log_first + 1) % LOG_LINES;
    } else {
        log_lines[(log_first + log_n++) % LOG_LINES] = d;
    }
    if (log_scroll > 0 && log_scroll < log_n) log_scroll++; /* keep the view where the user put it */
    dirty = 1;
}

static void log_text(const char *s)
{
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        log_push(p, n);
        p += n + (e != NULL);
    }
}

/* Bytes from the output pipe: whole lines go to the log; a carriage return
 * starts the partial line over (progress bars). */
static void log_bytes(const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i] == '\n') {
            log_push(partial, npartial);
            npartial = 0;
        } else if (b[i] == '\r') {
            npartial = 0;
        } else if (npartial < sizeof partial - 1) {
            partial[npartial++] = b[i];
        }
    }
}

/* ---- the job thread ---- */

static nl_repl *repl;
static pthread_mutex_t jm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t jc = PTHREAD_COND_INITIALIZER;
static char *jobq[64];
static int jq_head, jq_n, job_quit;
static volatile int busy;          /* a chunk is running */
static volatile unsigned job_seq;  /* counts the chunks started */
static char job_text[96];
static double job_t0;
static int job_done, job_status;   /* set by the job thread, read by the UI */
static char *job_entry;            /* the chunk just completed, for history */
static int job_pending;            /* the repl waits for more lines */
static pthread_mutex_t lua_mx = PTHREAD_MUTEX_INITIALIZER; /* held while Lua runs */
static char last_event[128];
static double last_frac = -1, last_frac_t; /* progress of the job (0..1) and when it was seen */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *job_main(void *arg)
{
    (void)arg;
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGWINCH);
    pthread_sigmask(SIG_BLOCK, &block, NULL);
    for (;;) {
        pthread_mutex_lock(&jm);
        while (jq_n == 0 && !job_quit) pthread_cond_wait(&jc, &jm);
        if (job_quit) {
            pthread_mutex_unlock(&jm);
            return NULL;
        }
        char *line = jobq[jq_head];
        jq_head = (jq_head + 1) % 64;
        jq_n--;
        snprintf(job_text, sizeof job_text, "%s", line);
        job_t0 = now_s();
        job_seq++;
        busy = 1;
        pthread_mutex_unlock(&jm);

        pthread_mutex_lock(&lua_mx);
        int fresh = !nl_repl_pending(repl);
        if (fresh) nl_run_open(NULL); /* every job records its events; an empty run leaves nothing */
        int st = nl_repl_feed(repl, line);
        if (st != NL_REPL_MORE) {
            const char *dir = nl_run_dir();
            char keep[4096] = "";
            if (dir) snprintf(keep, sizeof keep, "%s", dir);
            if (nl_run_close() > 0) printf("(events of this job: %s)\n", keep);
        }
        fflush(stdout);
        fflush(stderr);
        char *entry = st != NL_REPL_MORE ? strdup(nl_repl_last(repl)) : NULL;
        int pending = nl_repl_pending(repl);
        pthread_mutex_unlock(&lua_mx);
        free(line);

        pthread_mutex_lock(&jm);
        job_done = 1;
        job_status = st;
        free(job_entry);
        job_entry = entry;
        job_pending = pending;
        busy = 0;
        pthread_mutex_unlock(&jm);
    }
}

static void job_submit(char *line)
{
    pthread_mutex_lock(&jm);
    if (jq_n == 64) {
        free(line);
        log_text("(too many lines typed ahead; this one is dropped)");
    } else {
        jobq[(jq_head + jq_n++) % 64] = line;
        pthread_cond_signal(&jc);
    }
    pthread_mutex_unlock(&jm);
}

static void job_drop_queue(void)
{
    pthread_mutex_lock(&jm);
    while (jq_n) {
        free(jobq[jq_head]);
        jq_head = (jq_head + 1) % 64;
        jq_n--;
    }
    pthread_mutex_unlock(&jm);
}

/* The event sink: remembers the last progress-like event for the status line. */
static void status_sink(void *ud, const nl_event *ev)
{
    (void)ud;
    if (strncmp(ev->name, "plot.", 5) == 0) return;
    char buf[128];
    int n = snprintf(buf, sizeof buf, "%s", ev->name);
    static const char *const pairs[][2] = { { "epoch", "epochs" }, { "step", "steps" }, { "done", "total" },
                                            { "query", "budget" } };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0] && n < (int)sizeof buf; i++) {
        const nl_ev_field *a = nl_event_get(ev, pairs[i][0]), *b = nl_event_get(ev, pairs[i][1]);
        if (a && a->type == NL_EV_NUM) {
            if (b && b->type == NL_EV_NUM && b->num > 0) {
                n += snprintf(buf + n, sizeof buf - (size_t)n, " %s %g/%g", pairs[i][0], a->num, b->num);
                pthread_mutex_lock(&jm);
                last_frac = a->num / b->num;
                last_frac_t = now_s();
                pthread_mutex_unlock(&jm);
            }
            else
                n += snprintf(buf + n, sizeof buf - (size_t)n, " %s %g", pairs[i][0], a->num);
            break;
        }
    }
    pthread_mutex_lock(&jm);
    snprintf(last_event, sizeof last_event, "%s", buf);
    pthread_mutex_unlock(&jm);
}

/* ---- readline inside curses ---- */

static unsigned char inq[256];
static int inq_n, inq_pos;
static int quit_asked, quit_now, help_on, zoom, focus = -1; /* focus -1: the prompt */
static char history_path[4096 + 16];
static int utf8;

static int rl_getc_queue(FILE *f)
{
    (void)f;
    return inq_pos < inq_n ? inq[inq_pos++] : EOF;
}

static void rl_redisplay_mark(void)
{
    dirty = 1;
}

static void rl_prep_noop(int meta)
{
    (void)meta;
}

static void rl_deprep_noop(void)
{
}

static void show_matches(char **matches, int n, int maxlen)
{
    (void)maxlen;
    char buf[1024];
    size_t used = 0;
    buf[0] = 0;
    for (int i = 1; i <= n && used < sizeof buf - 64; i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", i > 1 ? "  " : "", matches[i]);
    log_text(buf);
}

static void on_line(char *line)
{
    if (!line) { /* Ctrl-D on an empty line */
        if (busy && !quit_asked) {
            quit_asked = 1;
            log_text("(a job is running: Ctrl-D again quits and cancels it)");
        } else {
            quit_now = 1;
        }
        dirty = 1;
        return;
    }
    quit_asked = 0;
    /* echo the entry in the log, as a terminal would */
    char *echo = malloc(strlen(line) + 8);
    if (echo) {
        sprintf(echo, "%s%s", nl_repl_pending(repl) && !busy ? PROMPT_MORE : PROMPT, line);
        log_text(echo);
        free(echo);
    }
    log_scroll = 0;
    job_submit(line); /* the job thread frees it */
}

/* ---- drawing ---- */

/* Pane slots: ranking, pareto, the newest of train and the script's panes,
 * search, log. */
enum { SLOT_RANK, SLOT_PARETO, SLOT_THIRD, SLOT_SEARCH, SLOT_LOG, NSLOTS };
static const char *const slot_names[NSLOTS] = { "ranking", "pareto", "train", "search", "log" };
static char third_name[32] = "train";
static size_t third_points;

static int col_pair(int color)
{
    if (!has_colors() || color <= 0) return 0;
    return 1 + (color - 1) % 6;
}

static void hrule(int y, int x, int w, const char *g)
{
    for (int i = 0; i < w; i++) mvaddstr(y, x + i, g);
}

/* A frame with a title; line-drawing characters as UTF-8 text when the
 * locale is UTF-8 (terminals and multiplexers disagree on the alternate
 * character set), ASCII otherwise. */
static void draw_box(int y, int x, int h, int w, const char *title, int focused)
{
    if (h < 2 || w < 4) return;
    const char *hz = utf8 ? (focused ? "\u2501" : "\u2500") : (focused ? "=" : "-");
    const char *vt = utf8 ? (focused ? "\u2503" : "\u2502") : "|";
    if (focused) attron(A_BOLD);
    hrule(y, x + 1, w - 2, hz);
    hrule(y + h - 1, x + 1, w - 2, hz);
    for (int r = 1; r < h - 1; r++) {
        mvaddstr(y + r, x, vt);
        mvaddstr(y + r, x + w - 1, vt);
    }
    mvaddstr(y, x, utf8 ? (focused ? "\u250f" : "\u250c") : "+");
    mvaddstr(y, x + w - 1, utf8 ? (focused ? "\u2513" : "\u2510") : "+");
    mvaddstr(y + h - 1, x, utf8 ? (focused ? "\u2517" : "\u2514") : "+");
    mvaddstr(y + h - 1, x + w - 1, utf8 ? (focused ? "\u251b" : "\u2518") : "+");
    if (title && w > 6) {
        char t[256];
        snprintf(t, sizeof t, " %s ", title);
        if ((int)strlen(t) > w - 4) t[w - 4] = 0;
        mvaddstr(y, x + 2, t);
    }
    if (focused) attroff(A_BOLD);
}

static void draw_chart(nl_chart *c, int y, int x, int h, int w)
{
    if (h < 1 || w < 1) return;
    nl_grid g;
    if (nl_grid_init(&g, h, w)) return;
    nl_chart_render(c, &g, utf8);
    for (int r = 0; r < h; r++)
        for (int k = 0; k < w; k++) {
            const nl_cell *cell = &g.cells[r * w + k];
            int pair = col_pair(cell->color);
            if (pair) attron(COLOR_PAIR(pair));
            mvaddstr(y + r, x + k, cell->glyph[0] ? cell->glyph : " ");
            if (pair) attroff(COLOR_PAIR(pair));
        }
    nl_grid_free(&g);
}

static void draw_log(int y, int x, int h, int w)
{
    int last = log_n - 1 - log_scroll;
    for (int r = h - 1; r >= 0; r--, last--) {
        move(y + r, x);
        if (last < 0) continue;
        const char *s = log_lines[(log_first + last) % LOG_LINES];
        /* clip at w columns, counting display width */
        mbstate_t st;
        memset(&st, 0, sizeof st);
        int cols = 0;
        size_t off = 0, len = strlen(s);
        while (off < len) {
            wchar_t wc;
            size_t k = mbrtowc(&wc, s + off, len - off, &st);
            if (k == (size_t)-1 || k == (size_t)-2) {
                memset(&st, 0, sizeof st);
                k = 1;
                wc = '?';
            }
            int cw = wcwidth(wc);
            if (cw < 0) cw = 1;
            if (cols + cw > w) break;
            cols += cw;
            off += k ? k : 1;
        }
        addnstr(s, (int)off);
    }
}

static void draw_slot(int slot, int y, int x, int h, int w, nl_board *b)
{
    const char *name = slot == SLOT_THIRD ? third_name : slot_names[slot];
    char title[128];
    if (slot == SLOT_LOG) {
        if (log_scroll) snprintf(title, sizeof title, "log (%d lines back; PgDn)", log_scroll);
        else snprintf(title, sizeof title, "log");
        draw_box(y, x, h, w, title, focus == slot);
        draw_log(y + 1, x + 1, h - 2, w - 2);
        return;
    }
    nl_chart *c = nl_board_find(b, name);
    snprintf(title, sizeof title, "%s", name);
    draw_box(y, x, h, w, title, focus == slot);
    if (c) draw_chart(c, y + 1, x + 1, h - 2, w - 2);
}

static void draw_prompt(int y, int w)
{
    const char *prompt = rl_display_prompt ? rl_display_prompt : PROMPT;
    move(y, 0);
    clrtoeol();
    int pw = (int)strlen(prompt);
    attron(A_BOLD);
    mvaddstr(y, 0, prompt);
    attroff(A_BOLD);
    /* display columns before the cursor, to scroll long lines and place it */
    const char *line = rl_line_buffer ? rl_line_buffer : "";
    int point = rl_point;
    mbstate_t st;
    memset(&st, 0, sizeof st);
    int cur = 0;
    for (int off = 0; off < point;) {
        wchar_t wc;
        size_t k = mbrtowc(&wc, line + off, (size_t)(point - off), &st);
        if (k == (size_t)-1 || k == (size_t)-2 || k == 0) {
            memset(&st, 0, sizeof st);
            k = 1;
            wc = '?';
        }
        int cw = wcwidth(wc);
        cur += cw < 0 ? 1 : cw;
        off += (int)k;
    }
    int avail = w - pw - 1;
    if (avail < 1) return;
    int skip = cur > avail ? cur - avail : 0; /* columns scrolled off the left */
    /* skip `skip` columns, then draw what fits */
    memset(&st, 0, sizeof st);
    int col = 0, off = 0, len = (int)strlen(line);
    while (off < len && col < skip) {
        wchar_t wc;
        size_t k = mbrtowc(&wc, line + off, (size_t)(len - off), &st);
        if (k == (size_t)-1 || k == (size_t)-2 || k == 0) k = 1, wc = '?';
        int cw = wcwidth(wc);
        col += cw < 0 ? 1 : cw;
        off += (int)k;
    }
    int start = off, shown = 0;
    while (off < len) {
        wchar_t wc;
        size_t k = mbrtowc(&wc, line + off, (size_t)(len - off), &st);
        if (k == (size_t)-1 || k == (size_t)-2 || k == 0) k = 1, wc = '?';
        int cw = wcwidth(wc);
        if (shown + (cw < 0 ? 1 : cw) > avail) break;
        shown += cw < 0 ? 1 : cw;
        off += (int)k;
    }
    mvaddnstr(y, pw, line + start, off - start);
    move(y, pw + cur - skip);
}

static void fmt_time(char *buf, size_t cap, double s)
{
    int t = (int)s;
    if (t >= 3600) snprintf(buf, cap, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, cap, "%d:%02d", t / 60, t % 60);
}

static void draw_status(int y, int w)
{
    char left[256], el[32];
    pthread_mutex_lock(&jm);
    if (busy) {
        char eta[48] = "";
        fmt_time(el, sizeof el, now_s() - job_t0);
        if (last_frac > 0 && last_frac < 1 && last_frac_t >= job_t0) { /* ETA from this job's progress */
            char t[32];
            fmt_time(t, sizeof t, (last_frac_t - job_t0) * (1 - last_frac) / last_frac);
            snprintf(eta, sizeof eta, ", ETA %s", t);
        }
        snprintf(left, sizeof left, " job: %.40s  %s  %s elapsed%s%s", job_text, last_event, el, eta,
                 jq_n ? "  (+ typed ahead)" : "");
    } else {
        snprintf(left, sizeof left, " ready%s%s", *last_event ? "  last: " : "", last_event);
    }
    pthread_mutex_unlock(&jm);
    const char *hint = w >= 100 ? "F1 help  F2 focus  F3 zoom  PgUp/PgDn log  Ctrl-C cancel  Ctrl-D quit "
                                : "F1 help ";
    attron(A_REVERSE);
    move(y, 0);
    for (int i = 0; i < w; i++) addch(' ');
    mvaddnstr(y, 0, left, w);
    int hl = (int)strlen(hint);
    if (hl < w - (int)strlen(left) - 1) mvaddstr(y, w - hl, hint);
    attroff(A_REVERSE);
}

static void draw_help(int H, int W)
{
    static const char *const lines[] = {
        "naslab workbench",
        "",
        "Type Lua at the prompt; the table `nl` holds the API (man naslab).",
        "An entered chunk runs as a job: the charts keep drawing, keys",
        "still work, and lines typed meanwhile run after it.",
        "",
        "F1        this help (any key closes it)",
        "F2        focus the next pane (the prompt when none)",
        "F3        zoom the focused pane / back",
        "PgUp/PgDn scroll the log",
        "q         quit, when a pane has the focus",
        "Ctrl-C    cancel the running job, or clear the line",
        "Ctrl-D    quit (asks again while a job runs)",
        "Tab       complete Lua names (nl.st<Tab>, rng:<Tab>)",
        "",
        "Panes draw the events of jobs: rank, pareto.point, search.query,",
        "train.epoch, and nl.plot.* for your own charts.",
    };
    int n = (int)(sizeof lines / sizeof lines[0]), w = 70;
    if (w > W - 2) w = W - 2;
    int h = n + 2 > H - 2 ? H - 2 : n + 2, y = (H - h) / 2, x = (W - w) / 2;
    if (h < 3 || w < 10) return;
    for (int r = 0; r < h; r++) {
        move(y + r, x);
        for (int k = 0; k < w; k++) addch(' ');
    }
    draw_box(y, x, h, w, "help", 1);
    for (int i = 0; i < n && i < h - 2; i++) mvaddnstr(y + 1 + i, x + 2, lines[i], w - 4);
}

static void draw(nl_board *b)
{
    int H, W;
    getmaxyx(stdscr, H, W);
    erase();
    if (H >= 3 && W >= 10) {
        int ph = H - 2; /* pane area */
        nl_board_lock(b);
        /* the third slot shows the chart that changed last among train and the script's panes */
        for (int i = 0; i < nl_board_count(b); i++) {
            const char *n = nl_board_name(b, i);
            if (!strcmp(n, "ranking") || !strcmp(n, "pareto") || !strcmp(n, "search")) continue;
            size_t np = nl_chart_npoints(nl_board_chart(b, i));
            if (strcmp(n, third_name) != 0 && np > 0 && np != third_points && i >= 3) {
                snprintf(third_name, sizeof third_name, "%s", n);
            }
        }
        nl_chart *tc = nl_board_find(b, third_name);
        third_points = tc ? nl_chart_npoints(tc) : 0;
        if (zoom && focus >= 0) {
            draw_slot(focus, 0, 0, ph, W, b);
        } else if (ph >= 8 && W >= 40) {
            int th = ph / 2, bh = ph - th, w3 = W / 3;
            draw_slot(SLOT_RANK, 0, 0, th, w3, b);
            draw_slot(SLOT_PARETO, 0, w3, th, w3, b);
            draw_slot(SLOT_THIRD, 0, 2 * w3, th, W - 2 * w3, b);
            draw_slot(SLOT_SEARCH, th, 0, bh, w3, b);
            draw_slot(SLOT_LOG, th, w3, bh, W - w3, b);
        } else if (ph >= 3) {
            draw_slot(SLOT_LOG, 0, 0, ph, W, b);
        }
        nl_board_unlock(b);
        if (help_on) draw_help(H, W);
    }
    draw_status(H - 1, W);
    draw_prompt(H - 2, W); /* last: it leaves the cursor on the line */
    refresh();
}

/* ---- keys ---- */

static const struct {
    const char *seq;
    int key;
} specials[] = {
    { "\033OP", KEY_F(1) }, { "\033[11~", KEY_F(1) }, { "\033OQ", KEY_F(2) }, { "\033[12~", KEY_F(2) },
    { "\033OR", KEY_F(3) }, { "\033[13~", KEY_F(3) }, { "\033[5~", KEY_PPAGE }, { "\033[6~", KEY_NPAGE },
};

static void page(int dir)
{
    int H, W;
    getmaxyx(stdscr, H, W);
    (void)W;
    int step = H / 3 > 1 ? H / 3 : 1;
    log_scroll += dir * step;
    if (log_scroll > log_n - 1) log_scroll = log_n - 1;
    if (log_scroll < 0) log_scroll = 0;
}

static void special(int key)
{
    if (key == KEY_F(1)) help_on = !help_on;
    else if (key == KEY_F(2)) {
        focus = focus + 1 >= NSLOTS ? -1 : focus + 1;
        if (focus < 0) zoom = 0;
    } else if (key == KEY_F(3)) {
        if (focus >= 0) zoom = !zoom;
    } else if (key == KEY_PPAGE) page(1);
    else if (key == KEY_NPAGE) page(-1);
}

/* Feed bytes read from the terminal: our keys are taken out, the rest goes
 * to readline one byte at a time. */
static void keys(const unsigned char *b, int n)
{
    int i = 0;
    while (i < n) {
        if (help_on) { /* any key closes the help */
            help_on = 0;
            dirty = 1;
            if (b[i] == 033) { /* swallow the rest of an escape sequence */
                i++;
                while (i < n && b[i] != 033 && !(b[i] >= '@' && b[i] <= '~' && b[i] != '[' && b[i] != 'O')) i++;
            }
            i++;
            continue;
        }
        int matched = 0;
        for (size_t s = 0; s < sizeof specials / sizeof specials[0]; s++) {
            size_t L = strlen(specials[s].seq);
            if ((size_t)(n - i) >= L && memcmp(b + i, specials[s].seq, L) == 0) {
                special(specials[s].key);
                i += (int)L;
                matched = 1;
                dirty = 1;
                break;
            }
        }
        if (matched) continue;
        if (focus >= 0 && (b[i] == 'q' || b[i] == 'Q')) {
            if (busy && !quit_asked) {
                quit_asked = 1;
                log_text("(a job is running: q again quits and cancels it)");
            } else {
                quit_now = 1;
            }
            i++;
            dirty = 1;
            continue;
        }
        if (focus >= 0 && b[i] == 033 && i + 1 == n) { /* Esc: back to the prompt */
            focus = -1;
            zoom = 0;
            i++;
            dirty = 1;
            continue;
        }
        /* one escape sequence (or one byte) at a time to readline */
        int len = 1;
        if (b[i] == 033 && i + 1 < n && (b[i + 1] == '[' || b[i + 1] == 'O')) {
            len = 2;
            while (i + len < n && !(b[i + len] >= '@' && b[i + len] <= '~')) len++;
            if (i + len < n) len++;
        }
        for (int k = 0; k < len; k++) {
            inq[0] = b[i + k];
            inq_n = 1;
            inq_pos = 0;
            rl_callback_read_char();
        }
        i += len;
        dirty = 1;
    }
}

/* ---- the loop ---- */

static volatile sig_atomic_t got_winch;

static void on_winch(int sig)
{
    (void)sig;
    got_winch = 1;
}

static void job_finished(void)
{
    pthread_mutex_lock(&jm);
    int done = job_done, st = job_status, pending = job_pending;
    char *entry = job_entry;
    job_done = 0;
    job_entry = NULL;
    pthread_mutex_unlock(&jm);
    if (!done) return;
    if (entry && *entry) {
        add_history(entry);
        if (*history_path) {
            append_history(1, history_path);
            history_truncate_file(history_path, HISTORY_MAX);
        }
    }
    free(entry);
    (void)st;
    rl_set_prompt(pending ? PROMPT_MORE : PROMPT);
    dirty = 1;
}

int nl_wb_run(nl_repl *r)
{
    repl = r;
    setlocale(LC_ALL, "");
    utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
    nl_board *board = nl_board_default();
    if (!board) {
        fprintf(stderr, "naslab: out of memory for the workbench\n");
        return 1;
    }
    nl_event_subscribe(status_sink, NULL);

    /* curses on a duplicate of the terminal; fd 1 and 2 into the log pipe */
    int pfd[2];
    tty_out = dup(STDOUT_FILENO);
    int tty_in = dup(STDIN_FILENO);
    if (tty_out < 0 || tty_in < 0 || pipe(pfd) != 0) {
        perror("naslab: workbench");
        return 1;
    }
    if (tcgetattr(tty_in, &saved_tio) == 0) have_tio = 1;
    FILE *fout = fdopen(tty_out, "w"), *fin = fdopen(tty_in, "r");
    SCREEN *scr = newterm(NULL, fout, fin);
    if (!scr) {
        fprintf(stderr, "naslab: cannot start curses on this terminal (TERM=%s); try --plain\n",
                getenv("TERM") ? getenv("TERM") : "");
        return 1;
    }
    set_term(scr);
    curses_on = 1;
    atexit(at_exit);
    static const int fatal[] = { SIGTERM, SIGHUP, SIGQUIT, SIGSEGV, SIGBUS, SIGFPE, SIGABRT, SIGILL };
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) signal(fatal[i], on_fatal);
    cbreak(); /* Ctrl-C stays a signal */
    noecho();
    nonl();
    if (has_colors() && !getenv("NO_COLOR")) {
        start_color();
        use_default_colors();
        static const short cols[] = { COLOR_CYAN, COLOR_YELLOW, COLOR_GREEN, COLOR_MAGENTA, COLOR_RED, COLOR_BLUE };
        for (int i = 0; i < 6; i++) init_pair((short)(i + 1), cols[i], -1);
    }
    saved_out = dup(STDOUT_FILENO);
    saved_err = dup(STDERR_FILENO);
    fflush(stdout);
    fflush(stderr);
    dup2(pfd[1], STDOUT_FILENO);
    dup2(pfd[1], STDERR_FILENO);
    close(pfd[1]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    fcntl(pfd[0], F_SETFL, fcntl(pfd[0], F_GETFL) | O_NONBLOCK);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_winch;
    sigaction(SIGWINCH, &sa, NULL);

    /* readline in callback mode, drawn by us */
    rl_readline_name = "naslab";
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    rl_change_environment = 0;
    rl_getc_function = rl_getc_queue;
    rl_redisplay_function = rl_redisplay_mark;
    rl_prep_term_function = rl_prep_noop;
    rl_deprep_term_function = rl_deprep_noop;
    rl_completion_display_matches_hook = show_matches;
    /* completion runs on the UI thread and needs the Lua state: only when no job holds it */
    nl_ui_complete_init(repl, &lua_mx);
    FILE *devnull = fopen("/dev/null", "w");
    rl_outstream = devnull;
    rl_instream = fin;
    nl_ui_history_path(history_path, sizeof history_path);
    if (*history_path && read_history(history_path) != 0) write_history(history_path);
    rl_callback_handler_install(PROMPT, on_line);

    pthread_t th;
    if (pthread_create(&th, NULL, job_main, NULL) != 0) {
        endwin();
        curses_on = 0;
        restore_fds();
        fprintf(stderr, "naslab: cannot start the job thread\n");
        return 1;
    }
    log_text("naslab " PACKAGE_VERSION "  (Lua API: the table `nl`; F1 help; Ctrl-D quits)");
    nl_interrupt_clear();
    unsigned long seen = (unsigned long)-1;
    double last_draw = 0, cancel_t = 0;
    unsigned sigints_seen = nl_host_sigints();
    int cancel = 0;
    unsigned cancel_job = 0;
    while (!quit_now) {
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(tty_in, &fds);
        FD_SET(pfd[0], &fds);
        struct timeval tv = { 0, 50000 };
        int n = select((tty_in > pfd[0] ? tty_in : pfd[0]) + 1, &fds, NULL, NULL, &tv);
        if (n < 0 && errno != EINTR) break;
        if (got_winch) {
            got_winch = 0;
            struct winsize ws;
            if (ioctl(tty_out, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) resizeterm(ws.ws_row, ws.ws_col);
            dirty = 1;
        }
        /* Ctrl-C during a job: a job that was just starting clears the
         * interrupt flag, so keep asking until the job ends */
        unsigned ints = nl_host_sigints();
        if (ints != sigints_seen) {
            sigints_seen = ints;
            if (busy) {
                cancel = 1;
                cancel_job = job_seq;
                cancel_t = now_s();
                job_drop_queue();
            }
        }
        if (cancel && (!busy || job_seq != cancel_job)) {
            cancel = 0;
            nl_interrupt_clear();
        } else if (cancel && now_s() - cancel_t > 0.2) {
            cancel_t = now_s();
            nl_host_interrupt();
        }
        if (nl_interrupted() && !busy) { /* Ctrl-C at the prompt: drop the line and typed-ahead ones */
            nl_interrupt_clear();
            job_drop_queue();
            pthread_mutex_lock(&lua_mx);
            nl_repl_reset(repl);
            pthread_mutex_unlock(&lua_mx);
            rl_free_line_state();
            rl_callback_sigcleanup();
            rl_replace_line("", 0);
            rl_set_prompt(PROMPT);
            log_text("^C");
        } else if (nl_interrupted() && jq_n) {
            job_drop_queue();
        }
        if (n > 0 && FD_ISSET(pfd[0], &fds)) {
            char buf[8192];
            ssize_t k;
            while ((k = read(pfd[0], buf, sizeof buf)) > 0) log_bytes(buf, (size_t)k);
        }
        if (n > 0 && FD_ISSET(tty_in, &fds)) {
            unsigned char buf[256];
            ssize_t k = read(tty_in, buf, sizeof buf);
            if (k > 0) keys(buf, (int)k);
            else if (k == 0) break; /* the terminal went away */
        }
        job_finished();
        unsigned long v = nl_board_version(board);
        double t = now_s();
        if (v != seen || dirty || (busy && t - last_draw >= 0.1)) {
            seen = v;
            dirty = 0;
            last_draw = t;
            draw(board);
        }
    }

    /* quit: cancel a running job, wait for it */
    if (busy) {
        nl_interrupt_request();
        raise(SIGINT);
    }
    pthread_mutex_lock(&jm);
    job_quit = 1;
    pthread_cond_signal(&jc);
    pthread_mutex_unlock(&jm);
    pthread_join(th, NULL);
    job_drop_queue();
    rl_callback_handler_remove();
    nl_event_unsubscribe(status_sink, NULL);
    endwin();
    curses_on = 0;
    delscreen(scr);
    restore_fds();
    char buf[8192];
    ssize_t k;
    while ((k = read(pfd[0], buf, sizeof buf)) > 0) log_bytes(buf, (size_t)k); /* drain */
    close(pfd[0]);
    fclose(fout);
    fclose(fin);
    if (devnull) fclose(devnull);
    for (int i = 0; i < log_n; i++) free(log_lines[(log_first + i) % LOG_LINES]);
    log_n = 0;
    nl_ui_complete_free();
    return 0;
}
