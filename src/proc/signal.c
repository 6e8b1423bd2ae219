/* Signals to the init of a PID namespace. The kernel drops a signal that
 * such an init leaves at its default action (SIGKILL and SIGSTOP from an
 * ancestor namespace excepted), even one that was blocked and pending when
 * the default is finally applied. A container's stop signal sent before
 * its program has set up its handling would be lost and the stop would
 * wait out the whole grace period. What a process takes is read from
 * /proc: a handler (SigCgt), sitting in sigwait (rt_sigtimedwait), or a
 * blocked signal that a signalfd of its collects (fdinfo "sigmask:"). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

#include "base/base.h"
#include "proc/proc.h"

#define POLL_MS 5

/* The value of "Key:" at the start of a line of `text`, or NULL. */
static const char *field(const char *text, const char *key)
{
	size_t n = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, n) == 0 && p[n] == ':')
			return p + n + 1;
	return NULL;
}

/* A hex mask ending the line. */
static int sig_mask(const char *v, uint64_t *ret)
{
	while (*v == ' ' || *v == '\t')
		v++;
	char *e;
	errno = 0;
	unsigned long long m = strtoull(v, &e, 16);
	if (errno || e == v || (*e != '\n' && *e != '\0'))
		return -EBADMSG;
	*ret = m;
	return 0;
}

int proc_status_parse(const char *text, struct proc_sig_status *ret)
{
	const char *nspid = field(text, "NSpid"), *cgt = field(text, "SigCgt");
	const char *blk = field(text, "SigBlk");
	if (!nspid || !cgt || !blk || sig_mask(cgt, &ret->caught) < 0 ||
	    sig_mask(blk, &ret->blocked) < 0)
		return -EBADMSG;
	/* NSpid: the pid in each namespace, outermost first; the last is its own. */
	const char *end = strchr(nspid, '\n');
	size_t len = end ? (size_t)(end - nspid) : strlen(nspid);
	while (len && (nspid[len - 1] == ' ' || nspid[len - 1] == '\t'))
		len--;
	size_t start = len;
	while (start && nspid[start - 1] >= '0' && nspid[start - 1] <= '9')
		start--;
	if (start == len)
		return -EBADMSG;
	ret->ns_init = len - start == 1 && nspid[start] == '1';
	return 0;
}

/* /proc/PID/<what> (its length in *len unless NULL), or NULL. */
static char *read_proc(pid_t pid, const char *what, size_t *len)
{
	char path[80];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	char *text = NULL;
	return fs_read_file(AT_FDCWD, path, 1 << 16, &text, len, NULL) < 0 ? NULL : text;
}

/* The system call the process sleeps in, or -1 (/proc/PID/syscall shows
 * the number only while it is blocked). */
static long blocked_in(pid_t pid)
{
	cleanup_free char *text = read_proc(pid, "syscall", NULL);
	char *end;
	long n = text ? strtol(text, &end, 10) : -1;
	return text && end != text && *end == ' ' ? n : -1;
}

static bool signalfd_takes(pid_t pid, uint64_t bit)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/fdinfo", (int)pid);
	DIR *d = opendir(dir);
	if (!d)
		return false;
	bool found = false;
	for (struct dirent *e; !found && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		cleanup_free char *what = xasprintf("fdinfo/%s", e->d_name);
		cleanup_free char *text = read_proc(pid, what, NULL);
		const char *m = text ? field(text, "sigmask") : NULL;
		uint64_t mask = 0;
		found = m && sig_mask(m, &mask) == 0 && (mask & bit);
	}
	closedir(d);
	return found;
}

/* 1 when `sig` sent now would reach the process, 0 when the kernel would
 * drop it, -ESRCH when it is gone. */
static int takes_now(pid_t pid, int sig)
{
	/* Mid-exec the old program's handlers still show, and the new one
	 * starts with none (see proc_exec_wait). */
	long nr = blocked_in(pid);
	if (nr == SYS_execve || nr == SYS_execveat)
		return 0;
	cleanup_free char *text = read_proc(pid, "status", NULL);
	struct proc_sig_status st;
	if (!text || proc_status_parse(text, &st) < 0)
		return -ESRCH;
	uint64_t bit = UINT64_C(1) << (sig - 1);
	if (!st.ns_init || (st.caught & bit))
		return 1;
	/* In sigwait the waited-for signals leave SigBlk for the wait. */
	return nr == SYS_rt_sigtimedwait || ((st.blocked & bit) && signalfd_takes(pid, bit));
}

int proc_signal_wait_deliverable(pid_t pid, int sig, uint64_t timeout_ms)
{
	if (sig == SIGKILL || sig == SIGSTOP || sig <= 0 || sig > 64)
		return 0;
	uint64_t deadline = mono_ms() + timeout_ms;
	for (;;) {
		if (takes_now(pid, sig) != 0)
			return 0; /* takes it, or gone: the caller's kill tells */
		if (mono_ms() >= deadline)
			return -ETIMEDOUT;
		struct timespec ts = { 0, POLL_MS * 1000000L };
		nanosleep(&ts, NULL);
	}
}

char *proc_auxv(pid_t pid, size_t *len)
{
	return read_proc(pid, "auxv", len);
}

int proc_exec_wait(pid_t pid, const char *before, size_t len, uint64_t timeout_ms)
{
	uint64_t deadline = mono_ms() + timeout_ms;
	for (;;) {
		size_t n = 0;
		cleanup_free char *now = proc_auxv(pid, &n);
		/* Empty: the new program's memory, its vector not built yet. */
		if (!now || (n && (n != len || memcmp(now, before, n) != 0)))
			return 0;
		if (mono_ms() >= deadline)
			return -ETIMEDOUT;
		struct timespec ts = { 0, 100000L };
		nanosleep(&ts, NULL);
	}
}
