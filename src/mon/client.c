/* The ocid side of the monitor protocol: spawn ocimon and wait for its
 * sync report; send requests over its ctl socket. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "mon/mon.h"
#include "proc/proc.h"

#define SYNC_FD 3
#define CTL_TIMEOUT_S 5
#define DEFAULT_TIMEOUT_MS 60000u
/* Grace on top of the runtime timeout ocimon enforces itself. */
#define SPAWN_GRACE_MS 5000

static char **build_argv(const struct mon_spawn_args *a)
{
	unsigned timeout = a->timeout_ms ? a->timeout_ms : DEFAULT_TIMEOUT_MS;
	cleanup_free char *pid_file =
	    a->pid_file ? xstrdup(a->pid_file) : xasprintf("%s/pidfile", a->bundle);
	char **v = xcalloc(32, sizeof(char *));
	size_t n = 0;
	v[n++] = xstrdup(a->ocimon);
	const char *const pairs[][2] = {
		{ "--id", a->id },
		{ "--bundle", a->bundle },
		{ "--runtime", a->runtime },
		{ "--runtime-root", a->runtime_root },
		{ "--log-path", a->log_path },
		{ "--exit-file", a->exit_path },
		{ "--ctl", a->ctl_path },
		{ "--attach", a->attach_path },
		{ "--pid-file", pid_file },
	};
	for (size_t i = 0; i < ARRAY_SIZE(pairs); i++) {
		v[n++] = xstrdup(pairs[i][0]);
		v[n++] = xstrdup(pairs[i][1]);
	}
	v[n++] = xasprintf("--sync-fd=%d", SYNC_FD);
	v[n++] = xasprintf("--timeout-ms=%u", timeout);
	if (a->tty)
		v[n++] = xstrdup("--tty");
	if (a->stdin_open)
		v[n++] = xstrdup("--stdin");
	if (a->stdin_open && a->stdin_once)
		v[n++] = xstrdup("--stdin-once");
	if (a->systemd_cgroup)
		v[n++] = xstrdup("--systemd-cgroup");
	if (a->no_pivot)
		v[n++] = xstrdup("--no-pivot");
	v[n] = NULL;
	for (size_t i = 0; a->runtime_args && a->runtime_args[i]; i++)
		strv_push_take(&v, xasprintf("--runtime-arg=%s", a->runtime_args[i]));
	for (size_t i = 0; a->runtime_env && a->runtime_env[i]; i++)
		strv_push_take(&v, xasprintf("--runtime-env=%s", a->runtime_env[i]));
	return v;
}

/* posix_spawn rather than fork: ocid's address space is large and
 * multi-threaded, and exec failures come back as the return value. The
 * child gets /dev/null as stdio and the sync pipe as SYNC_FD. */
static int spawn_child(char **argv, int sync_w, int devnull, pid_t *ret, struct err *err)
{
	const int fds[] = { devnull, devnull, devnull, sync_w };
	_Static_assert(SYNC_FD == 3, "the sync pipe follows stdio");
	int r = proc_spawn_fds(argv, environ, fds, SYNC_FD + 1, ret);
	if (r < 0)
		return err_set(err, r, "exec ocimon '%s'", argv[0]);
	return 0;
}

/* Read one message from the sync pipe within `timeout_ms`. */
static int read_sync(int fd, unsigned timeout_ms, struct mon_msg *m, struct err *err)
{
	uint8_t buf[MON_MSG_MAX_SIZE];
	size_t len = 0;
	int64_t deadline = (int64_t)mono_ms() + timeout_ms;
	for (;;) {
		int r = mon_msg_decode(buf, len, m);
		if (r >= 0)
			return 0;
		if (r != -EAGAIN)
			return err_msg(err, -EPROTO, "ocimon sync report: malformed (%s)",
				       strerror(-r));
		int64_t left = deadline - (int64_t)mono_ms();
		if (left <= 0)
			return err_msg(err, -ETIMEDOUT, "ocimon did not report within %u ms",
				       timeout_ms);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno != EINTR)
			return err_set(err, -errno, "poll ocimon sync pipe");
		if (r <= 0)
			continue;
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno != EINTR)
			return err_set(err, -errno, "read ocimon sync pipe");
		if (n == 0)
			return err_msg(err, -EIO, "ocimon exited without reporting");
		if (n > 0)
			len += (size_t)n;
	}
}

int mon_spawn(const struct mon_spawn_args *a, pid_t *ret_pid, pid_t *ret_mon_pid, struct err *err)
{
	if (!a->ocimon || !a->id || !a->bundle || !a->runtime || !a->runtime_root || !a->log_path ||
	    !a->exit_path || !a->ctl_path || !a->attach_path)
		return err_msg(err, -EINVAL, "spawn monitor: missing argument");
	cleanup(strv_free) char **argv = build_argv(a);
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return err_set(err, -errno, "sync pipe");
	cleanup_close int sync_r = pfd[0];
	cleanup_close int sync_w = pfd[1];
	cleanup_close int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		return err_set(err, -errno, "open /dev/null");
	pid_t pid = -1;
	int r = spawn_child(argv, sync_w, devnull, &pid, err);
	if (r < 0)
		return r;
	(void)close(TAKE_FD(sync_w));
	/* ocimon's first process forks and exits at once; reap it. ECHILD
	 * means a SIGCHLD handler elsewhere got it first, which is fine. */
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	unsigned timeout = (a->timeout_ms ? a->timeout_ms : DEFAULT_TIMEOUT_MS) + SPAWN_GRACE_MS;
	struct mon_msg *m = xmalloc(sizeof(*m));
	r = read_sync(sync_r, timeout, m, err);
	if (r == -EIO && WIFEXITED(st) && WEXITSTATUS(st) != 0)
		r = err_msg(err, -EINVAL,
			    "ocimon exited with status %d without reporting (bad arguments?)",
			    WEXITSTATUS(st));
	if (r >= 0 && m->type == MON_MSG_SYNC_ERROR) {
		/* The runtime's stderr (or ocimon's own error, which names its
		 * cause) is the message verbatim; trim its final newline. */
		while (m->error.len > 0 && m->error.text[m->error.len - 1] == '\n')
			m->error.text[--m->error.len] = '\0';
		r = err_msg(err, m->error.code, "%s", m->error.text);
	} else if (r >= 0 && m->type != MON_MSG_SYNC_PID) {
		r = err_msg(err, -EPROTO, "ocimon sync report: unexpected message type %d",
			    (int)m->type);
	} else if (r >= 0) {
		*ret_pid = m->sync.pid;
		if (ret_mon_pid)
			*ret_mon_pid = m->sync.mon_pid;
	}
	free(m);
	return r;
}

/* A connected ctl socket (CLOEXEC, with the ctl timeouts), or -errno. */
static int ctl_connect(const char *ctl_path, struct err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(ctl_path) >= sizeof(sa.sun_path))
		return err_msg(err, -ENAMETOOLONG, "ctl socket path '%s' too long", ctl_path);
	strcpy(sa.sun_path, ctl_path);
	cleanup_close int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(err, -errno, "socket");
	struct timeval tv = { .tv_sec = CTL_TIMEOUT_S };
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return err_set(err, -errno, "connect to monitor '%s'", ctl_path);
	return TAKE_FD(fd);
}

int mon_ctl_peer_pid(const char *ctl_path, pid_t *ret, struct err *err)
{
	cleanup_close int fd = ctl_connect(ctl_path, err);
	if (fd < 0)
		return fd;
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return err_set(err, -errno, "SO_PEERCRED of monitor '%s'", ctl_path);
	/* Closing without a request: the monitor drops the connection. */
	*ret = cr.pid;
	return 0;
}

/* Send one request message over the ctl socket; the monitor's reply
 * status (0 or -errno, with err). 5 s timeout (-ETIMEDOUT). */
static int ctl_request(const char *ctl_path, const struct mon_msg *req, struct err *err)
{
	cleanup_close int fd = ctl_connect(ctl_path, err);
	if (fd < 0)
		return fd;
	uint8_t buf[MON_MSG_MAX_SIZE];
	int n = mon_msg_encode(req, buf, sizeof(buf));
	if (n < 0)
		return err_msg(err, n, "encode monitor request");
	if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
		return err_set(err, -errno, "send to monitor '%s'", ctl_path);
	ssize_t got = recv(fd, buf, sizeof(buf), 0);
	if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return err_msg(err, -ETIMEDOUT, "monitor '%s' did not answer", ctl_path);
	if (got < 0)
		return err_set(err, -errno, "receive from monitor '%s'", ctl_path);
	struct mon_msg *rep = xmalloc(sizeof(*rep));
	int r = mon_msg_decode(buf, (size_t)got, rep);
	if (r >= 0 && rep->type != MON_MSG_REPLY)
		r = -EBADMSG;
	if (r < 0)
		r = err_msg(err, -EPROTO, "monitor '%s': bad reply", ctl_path);
	else if (rep->status < 0)
		r = err_msg(err, rep->status, "monitor '%s': %s", ctl_path, strerror(-rep->status));
	else
		r = 0;
	free(rep);
	return r;
}

int mon_reopen_log(const char *ctl_path, struct err *err)
{
	struct mon_msg m = { .type = MON_MSG_REOPEN_LOG };
	return ctl_request(ctl_path, &m, err);
}

int mon_resize(const char *ctl_path, unsigned width, unsigned height, struct err *err)
{
	if (width == 0 || height == 0 || width > UINT16_MAX || height > UINT16_MAX)
		return err_msg(err, -EINVAL, "terminal size %ux%u out of range", width, height);
	struct mon_msg m = { .type = MON_MSG_RESIZE };
	m.resize.width = (uint16_t)width;
	m.resize.height = (uint16_t)height;
	return ctl_request(ctl_path, &m, err);
}
