/* ocid-pause: PID 1 of a pod's shared PID namespace. It owns the namespace,
 * reaps every orphan that lands on it, and exits on SIGTERM or SIGINT.
 * Deliberately tiny and static: no libraries beyond libc, no allocation. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("ocid-pause %s\n", OCID_VERSION);
		return 0;
	}
	/* Everything is handled synchronously through sigwait: no handler
	 * runs asynchronously, so nothing here needs to be signal-safe. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return 1;
	for (;;) {
		int sig = 0;
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT)
			return 0;
		/* SIGCHLD: reap everything that has exited (signals coalesce). */
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
}
