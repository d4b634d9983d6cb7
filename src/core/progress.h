/* SPDX-License-Identifier: GPL-3.0-or-later */
/* progress.h - how long C loops report progress and notice Ctrl-C. A loop calls
 * nl_progress_report() between batches; it returns NL_EINTR once the user asked
 * to stop (nl_interrupt_request(), safe in a signal handler) or when the
 * callback returns non-zero. Uses only libc. */
#ifndef NL_PROGRESS_H
#define NL_PROGRESS_H

#include <stdint.h>

/* What a loop tells its observer. `what` names the job ("enumerate nb101"),
 * `done`/`total` count work units (total 0 when unknown). */
typedef struct nl_progress {
    const char *what;
    int64_t done, total;
} nl_progress;

/* Observer: return 0 to continue, non-zero to stop the loop (it then fails
 * with NL_EINTR). `ud` is the pointer given alongside the callback. */
typedef int (*nl_progress_fn)(void *ud, const nl_progress *p);

/* Ask every running loop to stop at its next check. Async-signal-safe. */
void nl_interrupt_request(void);
/* Clear a pending request (done by the host before running the next command). */
void nl_interrupt_clear(void);
/* Non-zero when a stop was requested and not yet cleared. */
int nl_interrupted(void);

/* Report progress: calls fn (if not NULL) and checks the interrupt flag.
 * Returns 0 to continue or NL_EINTR (message "interrupted") to stop. */
int nl_progress_report(nl_progress_fn fn, void *ud, const char *what, int64_t done,
                       int64_t total);

#endif
