/* The exec reaper: what an exec session of the streaming server runs.
 *
 * `<runtime> exec` in the foreground copies the program's output through
 * pipes of its own and exits only when they reach EOF; a program that
 * leaves a child behind holding them (`sh -c 'server &'`) would keep it,
 * and the session, waiting forever. With --detach, the program gets the
 * session's pipes itself and the runtime exits at once; the program is
 * then orphaned, and comes to us as the subreaper: its exit code is ours.
 * Its own children, orphaned in turn, are reaped and otherwise ignored. */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ocimon.h"

extern char **environ;

/* Statuses of children reaped before we knew which one is the program
 * (it may exit before the runtime does). */
#define EARLY_MAX 64

static int code_of(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int ocimon_exec_reaper(int argc, char **argv)
{
	if (argc < 2) {
		fputs("usage: ocimon --exec-reaper PIDFILE RUNTIME ARGS...\n", stderr);
		return 2;
	}
	const char *pidfile = argv[0];
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		perror("ocimon: subreaper");
		return 127;
	}
	pid_t runtime;
	int r = posix_spawn(&runtime, argv[1], NULL, NULL, argv + 1, environ);
	if (r != 0) {
		fprintf(stderr, "ocimon: exec '%s': %s\n", argv[1], strerror(r));
		return 127;
	}
	pid_t early[EARLY_MAX];
	int early_st[EARLY_MAX];
	size_t n_early = 0;
	pid_t target = 0;
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, 0);
		if (p < 0) {
			if (errno == EINTR)
				continue;
			/* No child left: the program was never found. */
			return 127;
		}
		if (p == runtime) {
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				return code_of(st); /* its error went to stderr */
			cleanup_err struct err err = ERR_INIT;
			if (ocimon_read_pid(pidfile, false, &target, &err) < 0) {
				fprintf(stderr, "ocimon: %s\n", err_str(&err));
				return 127;
			}
			for (size_t i = 0; i < n_early; i++)
				if (early[i] == target)
					return code_of(early_st[i]);
			/* Not reaped here and not there: the runtime waited for it
			 * itself (a zombie still comes to us and exists). */
			if (kill(target, 0) < 0 && errno == ESRCH) {
				fputs(
				    "ocimon: the runtime reaped the process: its exit code is lost\n",
				    stderr);
				return 255;
			}
			continue;
		}
		if (target && p == target)
			return code_of(st);
		if (!target && n_early < EARLY_MAX) {
			early[n_early] = p;
			early_st[n_early++] = st;
		}
	}
}
