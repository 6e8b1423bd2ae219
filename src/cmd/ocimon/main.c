/* ocimon: the per-container monitor. Started by ocid (mon_spawn), it
 * detaches so it outlives ocid, runs `<runtime> create`, reports the pid
 * (or the runtime's error) over the sync fd, then logs the container's
 * output, serves the ctl and attach sockets, and records the exit. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "ocimon.h"

static struct ocimon_args arg_mon = { .sync_fd = -1, .timeout_ms = 60000 };

static void usage(FILE *f)
{
	fputs(
	    "usage: ocimon --id ID --bundle DIR --runtime PATH --runtime-root DIR\n"
	    "              --log-path FILE --exit-file FILE --ctl SOCK --attach SOCK\n"
	    "              --pid-file FILE --sync-fd N [--timeout-ms N] [--tty] [--stdin [--stdin-once]]\n"
	    "              [--systemd-cgroup] [--no-pivot] [--runtime-arg ARG]...\n"
	    "              [--runtime-env NAME=VALUE]...\n"
	    "Normally started by ocid; see ocimon(8).\n",
	    f);
}

/* Where an option that takes a path or a name goes, or NULL. */
static const char **str_slot(struct ocimon_args *a, int c)
{
	switch (c) {
	case 'i':
		return &a->id;
	case 'b':
		return &a->bundle;
	case 'r':
		return &a->runtime;
	case 'R':
		return &a->runtime_root;
	case 'l':
		return &a->log_path;
	case 'e':
		return &a->exit_path;
	case 'c':
		return &a->ctl_path;
	case 'a':
		return &a->attach_path;
	case 'p':
		return &a->pid_file;
	default:
		return NULL;
	}
}

/* Where a flag option goes, or NULL. */
static bool *flag_slot(struct ocimon_args *a, int c)
{
	switch (c) {
	case 't':
		return &a->tty;
	case 'I':
		return &a->stdin_open;
	case 'O':
		return &a->stdin_once;
	case 'S':
		return &a->systemd_cgroup;
	case 'P':
		return &a->no_pivot;
	default:
		return NULL;
	}
}

/* The options with a value to check: 0, or -EINVAL. */
static int other_arg(struct ocimon_args *a, int c, char *arg)
{
	uint64_t v;
	switch (c) {
	case 's':
		if (str_to_u64(arg, 10, INT32_MAX, &v) < 0)
			return -EINVAL;
		a->sync_fd = (int)v;
		return 0;
	case 'T':
		if (str_to_u64(arg, 10, UINT32_MAX, &v) < 0)
			return -EINVAL;
		a->timeout_ms = (unsigned)v;
		return 0;
	case 'A':
		if (a->n_runtime_args >= OCIMON_MAX_RUNTIME_ARGS)
			return -EINVAL;
		a->runtime_args[a->n_runtime_args++] = arg;
		return 0;
	case 'E':
		/* The runtime inherits ocimon's environment (single-threaded here). */
		return strchr(arg, '=') && putenv(arg) == 0 ? 0 : -EINVAL;
	default:
		return -EINVAL;
	}
}

/* 0 to run, 1 for --help, -EINVAL for bad arguments. */
static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "bundle", required_argument, NULL, 'b' },
		{ "runtime", required_argument, NULL, 'r' },
		{ "runtime-root", required_argument, NULL, 'R' },
		{ "log-path", required_argument, NULL, 'l' },
		{ "exit-file", required_argument, NULL, 'e' },
		{ "ctl", required_argument, NULL, 'c' },
		{ "attach", required_argument, NULL, 'a' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "sync-fd", required_argument, NULL, 's' },
		{ "timeout-ms", required_argument, NULL, 'T' },
		{ "tty", no_argument, NULL, 't' },
		{ "stdin", no_argument, NULL, 'I' },
		{ "stdin-once", no_argument, NULL, 'O' },
		{ "systemd-cgroup", no_argument, NULL, 'S' },
		{ "no-pivot", no_argument, NULL, 'P' },
		{ "runtime-arg", required_argument, NULL, 'A' },
		{ "runtime-env", required_argument, NULL, 'E' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct ocimon_args *a = &arg_mon;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		const char **str = str_slot(a, c);
		bool *flag = flag_slot(a, c);
		if (str)
			*str = optarg;
		else if (flag)
			*flag = true;
		else if (c == 'h')
			return 1;
		else if (other_arg(a, c, optarg) < 0)
			return -EINVAL;
	}
	if (optind != argc || !a->id || !a->bundle || !a->runtime || !a->runtime_root ||
	    !a->log_path || !a->exit_path || !a->ctl_path || !a->attach_path || !a->pid_file ||
	    a->sync_fd < 0 || a->timeout_ms == 0)
		return -EINVAL;
	return 0;
}

/* Detach: one fork, so the monitor is nobody's child but init's (or a
 * subreaper's above ocid) and ocid can die or restart freely. The first
 * process, which mon_spawn reaps, exits at once. The new session comes
 * after the sync report (see main). */
static int detach(void)
{
	pid_t p = fork();
	if (p < 0)
		return -errno;
	if (p > 0)
		_exit(0);
	return 0;
}

/* Starting a monitor is a chain: ocid spawns ocimon, which forks the
 * monitor and exits, which forks the runtime and waits. Each parent exits
 * or sleeps right after its fork, so the child is best run on the CPU the
 * parent leaves; placed on another one, it waits behind whatever runs
 * there (milliseconds on a busy node). The runtime and the monitor get the
 * saved affinity back as soon as the chain is done. */
void ocimon_cpu_pin(struct ocimon_args *a)
{
	int cpu = sched_getcpu();
	if (cpu < 0 || sched_getaffinity(0, sizeof(a->cpus), &a->cpus) < 0 ||
	    !CPU_ISSET(cpu, &a->cpus))
		return;
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	a->pinned = sched_setaffinity(0, sizeof(one), &one) == 0;
}

void ocimon_cpu_unpin(const struct ocimon_args *a)
{
	if (a->pinned)
		(void)sched_setaffinity(0, sizeof(a->cpus), &a->cpus);
}

static void report(int fd, const struct mon_msg *m)
{
	uint8_t buf[MON_MSG_MAX_SIZE];
	int n = mon_msg_encode(m, buf, sizeof(buf));
	/* ocid may be gone (SIGPIPE is ignored): nothing to do about it. */
	if (n > 0)
		(void)fs_write_all(fd, buf, (size_t)n);
	(void)close(fd);
}

static void report_error(int fd, const struct err *err)
{
	static struct mon_msg m = { .type = MON_MSG_SYNC_ERROR };
	const char *s = err_str(err);
	size_t len = strlen(s);
	m.error.code = err->code < 0 ? err->code : -EIO;
	m.error.len = (uint32_t)(len < MON_MSG_MAX_TEXT ? len : MON_MSG_MAX_TEXT);
	memcpy(m.error.text, s, m.error.len);
	report(fd, &m);
}

/* Everything before the sync report: its failures go to ocid. */
static int setup(struct ev_loop *loop, struct mon_log **log, int *ctl_fd, struct ocimon_attach *at,
		 struct ocimon_create *c, struct err *err)
{
	int r = mon_log_open(arg_mon.log_path, log, err);
	if (r >= 0)
		r = *ctl_fd = ocimon_listen_seqpacket(arg_mon.ctl_path, err);
	if (r >= 0)
		r = ocimon_attach_listen(at, loop, arg_mon.attach_path, err);
	if (r >= 0)
		r = ocimon_runtime_create(&arg_mon, c, err);
	return r;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--exec-reaper") == 0)
		return ocimon_exec_reaper(argc - 2, argv + 2);
	int r = parse_args(argc, argv);
	if (r != 0) {
		usage(r > 0 ? stdout : stderr);
		return r > 0 ? 0 : 2;
	}
	/* ocid runs as a systemd notify service: with NOTIFY_SOCKET set,
	 * runc would hand systemd's socket to the container and wait for it. */
	(void)unsetenv("NOTIFY_SOCKET");
	(void)unsetenv("LISTEN_FDS");
	(void)unsetenv("LISTEN_PID");
	(void)signal(SIGPIPE, SIG_IGN);
	(void)signal(SIGHUP, SIG_IGN);
	(void)signal(SIGINT, SIG_IGN);
	cleanup_err struct err err = ERR_INIT;
	ocimon_cpu_pin(&arg_mon);
	r = detach();
	if (r >= 0 && prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		r = -errno;
	if (r < 0) {
		err_set(&err, r, "ocimon: detach");
		report_error(arg_mon.sync_fd, &err);
		return 1;
	}
	cleanup(ev_loop_free) struct ev_loop *loop = NULL;
	cleanup(mon_log_free) struct mon_log *log = NULL;
	cleanup_close int ctl_fd = -1;
	struct ocimon_attach at = { .listen_fd = -1 };
	struct ocimon_create c = { .in_fd = -1 };
	r = ev_loop_new(&loop, &err);
	if (r >= 0)
		r = setup(loop, &log, &ctl_fd, &at, &c, &err);
	if (r < 0) {
		/* Sockets go first: once ocid has the report, nothing of this
		 * monitor may be left behind. */
		if (ctl_fd >= 0)
			(void)unlink(arg_mon.ctl_path);
		if (at.listen_fd >= 0)
			(void)unlink(arg_mon.attach_path);
		report_error(arg_mon.sync_fd, &err);
		return 1;
	}
	struct mon_msg *m = xcalloc(1, sizeof(*m));
	m->type = MON_MSG_SYNC_PID;
	m->sync.pid = c.pid;
	m->sync.mon_pid = getpid();
	report(arg_mon.sync_fd, m);
	free(m);
	/* Our own session only now: with scheduler autogroups, a new session
	 * is a new task group that starts behind every other on a busy CPU,
	 * and the runtime's create (its child) would have run in it. Cannot
	 * fail: a forked process leads no process group. */
	(void)setsid();
	r = ocimon_run(&arg_mon, &c, log, ctl_fd, &at, &err);
	if (r < 0) {
		/* Nobody reads our stderr (it is /dev/null under ocid); the
		 * missing exit file is what ocid sees. */
		log_error("monitor failed", "id=%s error=%s", arg_mon.id, log_q(err_str(&err)));
		return 1;
	}
	return 0;
}
