/* SPDX-License-Identifier: GPL-3.0-or-later */
/* progress.c - the interrupt flag and progress reporting (see progress.h). */
#include "core/progress.h"

#include <signal.h>

#include "core/error.h"

static volatile sig_atomic_t interrupt_flag;

void nl_interrupt_request(void) { interrupt_flag = 1; }
void nl_interrupt_clear(void) { interrupt_flag = 0; }
int nl_interrupted(void) { return interrupt_flag != 0; }

int nl_progress_report(nl_progress_fn fn, void *ud, const char *what, int64_t done,
                       int64_t total)
{
    if (fn) {
        nl_progress p = { what, done, total };
        if (fn(ud, &p)) return nl_err(NL_EINTR, "interrupted");
    }
    if (interrupt_flag) return nl_err(NL_EINTR, "interrupted");
    return 0;
}
