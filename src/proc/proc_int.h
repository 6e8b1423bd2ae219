/* proc internals shared by run.c and ns.c. */
#pragma once

/* In a forked child: default SIGPIPE, empty signal mask (async-signal-safe). */
void proc_child_reset_signals(void);
/* In a forked child: write errno `code` to `fd` and _exit(127). */
__attribute__((noreturn)) void proc_child_fail(int fd, int code);
