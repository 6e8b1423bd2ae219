/* Network counters of a pinned network namespace.
 *
 * A thread of our own joins the namespace and reads /proc/thread-self/net/dev
 * (not /proc/self/net/dev: /proc/self names the thread-group leader, whose
 * namespace is the host's). The thread exits right after, so no thread of
 * the daemon ever stays in a pod's namespace and the caller's is untouched. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "base/fs.h"
#include "stats/stats.h"
#include "stats/stats_int.h"

#define NET_DEV "/proc/thread-self/net/dev"

struct net_job {
	int nsfd; /* -1 = stay in ours */
	char *buf;
	size_t len;
	int r;
	struct err err;
};

static void *net_thread(void *arg)
{
	struct net_job *j = arg;
	if (j->nsfd >= 0 && setns(j->nsfd, CLONE_NEWNET) < 0) {
		j->r = err_set(&j->err, -errno, "setns");
		return NULL;
	}
	j->r = fs_read_file(AT_FDCWD, NET_DEV, STATS_FILE_MAX, &j->buf, &j->len, &j->err);
	return NULL;
}

/* Run net_thread to completion with every signal blocked in it. */
static int run_job(struct net_job *j, struct err *err)
{
	sigset_t all, old;
	pthread_t t;
	(void)sigfillset(&all);
	(void)pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&t, NULL, net_thread, j);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0)
		return err_set(err, -r, "start a thread to read network counters");
	(void)pthread_join(t, NULL);
	return 0;
}

int stats_net_read(const char *netns_path, struct stats_net *ret, struct err *err)
{
	cleanup_close int nsfd = -1;
	struct net_job j = { .nsfd = -1, .err = ERR_INIT };
	if (netns_path) {
		nsfd = open(netns_path, O_RDONLY | O_CLOEXEC);
		if (nsfd < 0)
			return err_set(err, -errno, "open network namespace '%s'", netns_path);
		j.nsfd = nsfd;
	}
	uint64_t ts = (uint64_t)wall_ns();
	int r = run_job(&j, err);
	if (r < 0)
		return r;
	cleanup_free char *buf = j.buf;
	if (j.r < 0) {
		(void)err_move(err, &j.err);
		return err_wrap(err, "network namespace '%s'", netns_path ? netns_path : "self");
	}
	struct stats_net n = { .timestamp_ns = ts };
	if (stats_parse_net_dev(buf, j.len, &n) < 0)
		return err_msg(err, -EBADMSG, "%s in '%s': unexpected format", NET_DEV,
			       netns_path ? netns_path : "self");
	*ret = n;
	return 0;
}
