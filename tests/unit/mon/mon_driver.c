/* mon-driver: a thin command-line front to the mon client API, so the
 * integration test (tests/integration/test_ocimon.py) drives ocimon
 * exactly the way ocid does.
 *   mon-driver spawn OCIMON ID BUNDLE RUNTIME ROOT LOG EXIT CTL ATTACH [tty] [stdin]
 *             [stdin_once] [systemd_cgroup] [pidfile=PATH]
 *   mon-driver reopen CTL | resize CTL W H | exit PATH
 * Prints "ok ..." or "error code=N msg=..." and exits 0 or 1 (any return
 * other than 0 counts as an error: the API promises exactly 0). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mon/mon.h"

static int fail(struct err *err)
{
	printf("error code=%d msg=%s\n", err->code, err_str(err));
	return 1;
}

static int spawn(int argc, char **argv, struct err *err)
{
	if (argc < 11)
		return 2;
	struct mon_spawn_args a = {
		.ocimon = argv[2],
		.id = argv[3],
		.bundle = argv[4],
		.runtime = argv[5],
		.runtime_root = argv[6],
		.log_path = argv[7],
		.exit_path = argv[8],
		.ctl_path = argv[9],
		.attach_path = argv[10],
		.timeout_ms = 30000,
	};
	for (int i = 11; i < argc; i++) {
		a.tty |= strcmp(argv[i], "tty") == 0;
		a.stdin_open |= strcmp(argv[i], "stdin") == 0;
		a.stdin_once |= strcmp(argv[i], "stdin_once") == 0;
		a.systemd_cgroup |= strcmp(argv[i], "systemd_cgroup") == 0;
		if (strncmp(argv[i], "pidfile=", 8) == 0)
			a.pid_file = argv[i] + 8;
	}
	pid_t pid = 0, mon = 0;
	if (mon_spawn(&a, &pid, &mon, err) != 0)
		return fail(err);
	printf("ok pid=%d mon_pid=%d\n", (int)pid, (int)mon);
	return 0;
}

int main(int argc, char **argv)
{
	struct err err = ERR_INIT;
	int r = 2;
	if (argc >= 2 && strcmp(argv[1], "spawn") == 0) {
		r = spawn(argc, argv, &err);
	} else if (argc == 3 && strcmp(argv[1], "reopen") == 0) {
		r = mon_reopen_log(argv[2], &err) != 0 ? fail(&err) : (puts("ok"), 0);
	} else if (argc == 5 && strcmp(argv[1], "resize") == 0) {
		r = mon_resize(argv[2], (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]), &err) != 0
			? fail(&err)
			: (puts("ok"), 0);
	} else if (argc == 3 && strcmp(argv[1], "exit") == 0) {
		struct mon_exit e;
		if (mon_read_exit(argv[2], &e, &err) != 0) {
			r = fail(&err);
		} else {
			printf("ok exit_code=%d signal=%d oom=%d finished_ns=%lld\n", e.exit_code,
			       e.signal, e.oom ? 1 : 0, (long long)e.finished_ns);
			r = 0;
		}
	}
	if (r == 2)
		fprintf(stderr, "usage: see the comment in mon_driver.c\n");
	err_done(&err);
	return r;
}
