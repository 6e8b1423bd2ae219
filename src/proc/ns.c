/* Namespace pinning, writes inside namespaces, and PID-namespace spawning. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "proc/proc.h"
#include "proc/proc_int.h"

static const struct {
	unsigned bit;
	const char *name;
	int clone_flag;
} ns_table[] = {
	{ PROC_NS_NET, "net", CLONE_NEWNET },	 { PROC_NS_IPC, "ipc", CLONE_NEWIPC },
	{ PROC_NS_UTS, "uts", CLONE_NEWUTS },	 { PROC_NS_PID, "pid", CLONE_NEWPID },
	{ PROC_NS_USER, "user", CLONE_NEWUSER },
};

/* Failure report of a helper child: which step (an index the parent maps
 * to a message) and errno. */
struct child_report {
	int step;
	int err;
};

static __attribute__((noreturn)) void child_report_fail(int fd, int step, int e)
{
	struct child_report rep = { step, e };
	(void)!write(fd, &rep, sizeof(rep));
	_exit(1);
}

static int child_wait(pid_t pid, int rfd, struct child_report *rep)
{
	ssize_t n;
	do
		n = read(rfd, rep, sizeof(*rep));
	while (n < 0 && errno == EINTR);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (n == sizeof(*rep))
		return -(rep->err ? rep->err : EIO);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		rep->step = -1;
		rep->err = EIO;
		return -EIO;
	}
	return 0;
}

/* rep->step of a helper that could not be started (err says why). */
#define HELPER_UNRUN INT_MIN

/* Run fn(arg) as a proc_clone_vm child on a stack of this frame and wait
 * for it; *wfd (inside arg) is where it reports a failure. -errno: with
 * rep->step HELPER_UNRUN and err set when it could not be started, else
 * with the step the child reported (-1: it died without a report) and err
 * untouched, for the caller to name. */
static int helper_run(int (*fn)(void *), void *arg, int *wfd, struct child_report *rep,
		      struct err *err)
{
	*rep = (struct child_report){ HELPER_UNRUN, 0 };
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return err_set(err, -errno, "pipe");
	*wfd = pfd[1];
	char stack[PROC_CLONE_STACK] __attribute__((aligned(16)));
	pid_t pid = proc_clone_vm(fn, arg, 0, stack, sizeof(stack));
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		return err_set(err, pid, "clone");
	}
	rep->step = 0;
	int r = child_wait(pid, pfd[0], rep);
	close(pfd[0]);
	return r;
}

static void bring_lo_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		(void)ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
}

struct pin_plan {
	int flags;
	const char *hostname;
	bool lo;
	char *src[4]; /* /proc/thread-self/ns/<name> */
	char *dst[4];
	size_t n;
};

struct pin_args {
	int wfd;
	const struct pin_plan *p;
};

/* A proc_clone_vm child: system calls only. */
static int pin_child(void *arg)
{
	int wfd = ((const struct pin_args *)arg)->wfd;
	const struct pin_plan *p = ((const struct pin_args *)arg)->p;
	if (unshare(p->flags) < 0)
		child_report_fail(wfd, 0, errno);
	if (p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0)
		child_report_fail(wfd, 1, errno);
	if (p->lo)
		bring_lo_up();
	for (size_t i = 0; i < p->n; i++)
		if (mount(p->src[i], p->dst[i], NULL, MS_BIND, NULL) < 0)
			child_report_fail(wfd, 10 + (int)i, errno);
	_exit(0);
}

static void plan_done(struct pin_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->src[i]);
		free(p->dst[i]);
	}
}

static int make_targets(const char *dir, struct pin_plan *p, struct err *err)
{
	if (mkdir(dir, 0711) < 0 && errno != EEXIST)
		return err_set(err, -errno, "mkdir '%s'", dir);
	for (size_t i = 0; i < p->n; i++) {
		int fd = open(p->dst[i], O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
		if (fd < 0)
			return err_set(err, -errno, "create '%s'", p->dst[i]);
		close(fd);
	}
	return 0;
}

int proc_ns_pin(const char *dir, unsigned which, const char *hostname, struct err *err)
{
	struct pin_plan p = { .hostname = (which & PROC_NS_UTS) ? hostname : NULL };
	p.lo = which & PROC_NS_NET;
	for (size_t i = 0; i < ARRAY_SIZE(ns_table); i++) {
		if (!(which & ns_table[i].bit) || ns_table[i].bit == PROC_NS_PID ||
		    ns_table[i].bit == PROC_NS_USER)
			continue;
		p.flags |= ns_table[i].clone_flag;
		p.src[p.n] = xasprintf("/proc/thread-self/ns/%s", ns_table[i].name);
		p.dst[p.n] = xasprintf("%s/%s", dir, ns_table[i].name);
		p.n++;
	}
	int r = 0;
	if (!p.n)
		goto out;
	r = make_targets(dir, &p, err);
	if (r < 0)
		goto fail;
	struct pin_args args = { -1, &p };
	struct child_report rep;
	r = helper_run(pin_child, &args, &args.wfd, &rep, err);
	if (r < 0 && rep.step == HELPER_UNRUN)
		goto fail;
	if (r < 0) {
		if (rep.step == 0)
			err_set(err, r, "unshare namespaces");
		else if (rep.step == 1)
			err_set(err, r, "sethostname '%s'", hostname);
		else if (rep.step >= 10 && (size_t)(rep.step - 10) < p.n)
			err_set(err, r, "bind mount namespace onto '%s'", p.dst[rep.step - 10]);
		else
			err_set(err, r, "namespace helper failed");
		goto fail;
	}
	goto out;
fail:
	(void)proc_ns_unpin(dir, which & ~(unsigned)PROC_NS_PID, NULL);
out:
	plan_done(&p);
	return r;
}

static int read_report(int fd, struct child_report *rep)
{
	ssize_t n;
	do
		n = read(fd, rep, sizeof(*rep));
	while (n < 0 && errno == EINTR);
	if (n != sizeof(*rep))
		*rep = (struct child_report){ -1, EIO };
	return rep->err ? -rep->err : 0;
}

static void reap(pid_t pid)
{
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* The helper of a user-namespaced pin: join the user namespace, unshare the
 * others inside it, report (err 0 = ready), wait for the parent's go (EOF
 * on `gofd`) so its namespaces stay alive while they are mounted. */
static __attribute__((noreturn)) void userns_child(int wfd, int gofd, int userns_fd,
						   const struct pin_plan *p)
{
	if (setns(userns_fd, CLONE_NEWUSER) < 0)
		child_report_fail(wfd, 2, errno);
	if (unshare(p->flags) < 0)
		child_report_fail(wfd, 0, errno);
	if (p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0)
		child_report_fail(wfd, 1, errno);
	if (p->lo)
		bring_lo_up();
	struct child_report ok = { 0, 0 };
	(void)!write(wfd, &ok, sizeof(ok));
	char c;
	while (read(gofd, &c, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

static int mount_from(pid_t pid, const struct pin_plan *p, struct err *err)
{
	for (size_t i = 0; i < p->n; i++) {
		cleanup_free char *src = xasprintf("/proc/%d/ns/%s", (int)pid, p->src[i]);
		if (mount(src, p->dst[i], NULL, MS_BIND, NULL) < 0)
			return err_set(err, -errno, "bind mount namespace onto '%s'", p->dst[i]);
	}
	return 0;
}

int proc_ns_pin_userns(const char *dir, unsigned which, const char *hostname, int userns_fd,
		       struct err *err)
{
	struct pin_plan p = { .hostname = (which & PROC_NS_UTS) ? hostname : NULL };
	p.lo = which & PROC_NS_NET;
	which = (which & (PROC_NS_NET | PROC_NS_IPC | PROC_NS_UTS)) | PROC_NS_USER;
	for (size_t i = 0; i < ARRAY_SIZE(ns_table); i++) {
		if (!(which & ns_table[i].bit))
			continue;
		if (ns_table[i].bit != PROC_NS_USER)
			p.flags |= ns_table[i].clone_flag;
		p.src[p.n] = xstrdup(ns_table[i].name); /* under /proc/<helper>/ns/ */
		p.dst[p.n] = xasprintf("%s/%s", dir, ns_table[i].name);
		p.n++;
	}
	int rep_pipe[2] = { -1, -1 }, go[2] = { -1, -1 };
	int r = make_targets(dir, &p, err);
	if (r >= 0 && (pipe2(rep_pipe, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0))
		r = err_set(err, -errno, "pipe");
	pid_t pid = r < 0 ? -1 : fork();
	if (r >= 0 && pid < 0)
		r = err_set(err, -errno, "fork");
	if (pid == 0) {
		close(rep_pipe[0]);
		close(go[1]);
		userns_child(rep_pipe[1], go[0], userns_fd, &p);
	}
	if (pid > 0) {
		close(rep_pipe[1]);
		close(go[0]);
		rep_pipe[1] = go[0] = -1;
		struct child_report rep;
		r = read_report(rep_pipe[0], &rep);
		if (r < 0)
			err_set(err, r, "%s",
				rep.step == 2	? "join the pod's user namespace"
				: rep.step == 1 ? "sethostname"
				: rep.step == 0 ? "unshare namespaces"
						: "namespace helper failed");
		else
			r = mount_from(pid, &p, err);
		close(go[1]); /* the helper may go */
		go[1] = -1;
		reap(pid);
	}
	for (size_t i = 0; i < 2; i++) {
		if (rep_pipe[i] >= 0)
			close(rep_pipe[i]);
		if (go[i] >= 0)
			close(go[i]);
	}
	if (r < 0)
		(void)proc_ns_unpin(dir, which, NULL);
	plan_done(&p);
	return r;
}

static int write_map(pid_t pid, const char *name, const struct proc_idmap *m, struct err *err)
{
	cleanup_free char *path = xasprintf("/proc/%d/%s", (int)pid, name);
	cleanup_free char *text = xasprintf("%" PRIu32 " %" PRIu32 " %" PRIu32 "\n",
					    m->container_id, m->host_id, m->length);
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "open '%s'", path);
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return err_set(err, errno ? -errno : -EIO, "write '%s' to '%s'", text, path);
	return 0;
}

int proc_userns_new(const struct proc_idmap *uid, const struct proc_idmap *gid, struct err *err)
{
	int rep_pipe[2], go[2];
	if (pipe2(rep_pipe, O_CLOEXEC) < 0)
		return err_set(err, -errno, "pipe");
	if (pipe2(go, O_CLOEXEC) < 0) {
		int r = err_set(err, -errno, "pipe");
		close(rep_pipe[0]);
		close(rep_pipe[1]);
		return r;
	}
	pid_t pid = fork();
	if (pid == 0) {
		/* Async-signal-safe only: unshare, write, read, _exit. */
		close(rep_pipe[0]);
		close(go[1]);
		if (unshare(CLONE_NEWUSER) < 0)
			child_report_fail(rep_pipe[1], 0, errno);
		struct child_report ok = { 0, 0 };
		(void)!write(rep_pipe[1], &ok, sizeof(ok));
		char c;
		while (read(go[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(rep_pipe[1]);
	close(go[0]);
	int r = 0;
	if (pid < 0) {
		r = err_set(err, -errno, "fork");
	} else {
		struct child_report rep;
		r = read_report(rep_pipe[0], &rep);
		if (r < 0)
			err_set(err, r, "unshare a user namespace");
		if (r >= 0)
			r = write_map(pid, "uid_map", uid, err);
		if (r >= 0)
			r = write_map(pid, "gid_map", gid, err);
		if (r >= 0) {
			cleanup_free char *ns = xasprintf("/proc/%d/ns/user", (int)pid);
			r = open(ns, O_RDONLY | O_CLOEXEC);
			if (r < 0)
				r = err_set(err, -errno, "open '%s'", ns);
		}
	}
	close(go[1]);
	close(rep_pipe[0]);
	if (pid > 0)
		reap(pid);
	return r;
}

int proc_ns_pin_pid(const char *dir, pid_t pid, struct err *err)
{
	cleanup_free char *src = xasprintf("/proc/%d/ns/pid", (int)pid);
	cleanup_free char *dst = xasprintf("%s/pid", dir);
	int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
	if (fd < 0)
		return err_set(err, -errno, "create '%s'", dst);
	close(fd);
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0) {
		int r = err_set(err, -errno, "bind mount '%s' onto '%s'", src, dst);
		(void)unlink(dst);
		return r;
	}
	return 0;
}

int proc_ns_unpin(const char *dir, unsigned which, struct err *err)
{
	int r = 0;
	for (size_t i = 0; i < ARRAY_SIZE(ns_table); i++) {
		if (!(which & ns_table[i].bit))
			continue;
		cleanup_free char *path = xasprintf("%s/%s", dir, ns_table[i].name);
		/* Stacked mounts are possible after a crash in the middle of a
		 * pin: unmount until nothing is mounted there. */
		for (int n = 0; n < 16 && proc_ns_is_pinned(path); n++)
			if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL) {
				r = err_set(err, -errno, "unmount '%s'", path);
				break;
			}
		if (unlink(path) < 0 && errno != ENOENT && r >= 0)
			r = err_set(err, -errno, "remove '%s'", path);
	}
	return r;
}

bool proc_ns_is_pinned(const char *path)
{
	struct statfs st;
	return statfs(path, &st) == 0 && st.f_type == NSFS_MAGIC;
}

bool proc_ns_is_pinned_other(const char *path, const char *kind)
{
	struct stat ns, self;
	char own[32];
	snprintf(own, sizeof(own), "/proc/self/ns/%s", kind);
	return proc_ns_is_pinned(path) && lstat(path, &ns) == 0 && stat(own, &self) == 0 &&
	       (ns.st_ino != self.st_ino || ns.st_dev != self.st_dev);
}

struct write_args {
	int wfd;
	const int *nsfd;
	size_t nns;
	const struct proc_ns_write *w;
	size_t n;
};

/* A proc_clone_vm child: join the namespaces, write the files. */
static int write_child(void *arg)
{
	const struct write_args *a = arg;
	for (size_t i = 0; i < a->nns; i++)
		if (setns(a->nsfd[i], 0) < 0)
			child_report_fail(a->wfd, 1000 + (int)i, errno);
	for (size_t i = 0; i < a->n; i++) {
		int fd = open(a->w[i].path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			child_report_fail(a->wfd, (int)i, errno);
		size_t len = strlen(a->w[i].value);
		if (write(fd, a->w[i].value, len) != (ssize_t)len)
			child_report_fail(a->wfd, (int)i, errno ? errno : EIO);
		close(fd);
	}
	_exit(0);
}

int proc_ns_write_files(const char *const *ns_paths, const struct proc_ns_write *w, size_t n,
			struct err *err)
{
	int nsfd[PROC_NS_MAX];
	size_t nns = 0;
	int r = proc_ns_open_all(ns_paths, nsfd, &nns, err);
	if (r < 0)
		goto out;
	struct write_args args = { -1, nsfd, nns, w, n };
	struct child_report rep;
	r = helper_run(write_child, &args, &args.wfd, &rep, err);
	if (r < 0 && rep.step != HELPER_UNRUN) {
		if (rep.step >= 1000 && (size_t)(rep.step - 1000) < nns)
			err_set(err, r, "join namespace '%s'", ns_paths[rep.step - 1000]);
		else if (rep.step >= 0 && (size_t)rep.step < n)
			err_set(err, r, "write '%s'", w[rep.step].path);
		else
			err_set(err, r, "namespace helper failed");
	}
out:
	proc_ns_close_all(nsfd, nns);
	return r;
}

int proc_ns_open_all(const char *const *ns_paths, int fds[PROC_NS_MAX], size_t *ret_n,
		     struct err *err)
{
	size_t n = 0;
	int r = 0;
	for (; ns_paths && ns_paths[n]; n++) {
		if (n == PROC_NS_MAX) {
			r = err_msg(err, -E2BIG, "too many namespaces");
			break;
		}
		fds[n] = open(ns_paths[n], O_RDONLY | O_CLOEXEC);
		if (fds[n] < 0) {
			r = err_set(err, -errno, "open namespace '%s'", ns_paths[n]);
			break;
		}
	}
	*ret_n = n;
	return r;
}

void proc_ns_close_all(int *fds, size_t n)
{
	while (n > 0)
		close(fds[--n]);
}
