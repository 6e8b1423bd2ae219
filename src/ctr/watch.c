/* Exit watching, on a thread of its own: each container's exit file
 * through inotify, each container's monitor through a pidfd in one epoll
 * set; and whether a recorded pid still is the container's. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "base/clock.h"
#include "ctr/ctr_int.h"
#include "mon/mon.h"
#include "proc/proc.h"

struct watch {
	int wd;
	char id[ID_LEN + 1];
};

/* A monitor's pidfd in the watcher's epoll set; `token` is its epoll data
 * (looked up under watch_lock, so a watch removed meanwhile is no harm). */
struct mon_watch {
	uint64_t token;
	int pidfd;
	pid_t pid;
	char id[ID_LEN + 1];
};

#define TOKEN_INOTIFY 1
#define TOKEN_STOP 2
#define TOKEN_FIRST_MON 16
/* How long a container whose monitor died may take to die of SIGKILL. */
#define LOST_KILL_WAIT_MS 2000

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

void ctr_exit_apply(struct ctr *c, const struct mon_exit *e)
{
	c->row.state = CTR_EXITED;
	c->row.exit_code = e->exit_code;
	c->row.finished_ns = e->finished_ns ? e->finished_ns : wall_ns();
	if (e->oom)
		set_str(&c->row.reason, "OOMKilled");
	else if (e->exit_code == 0)
		set_str(&c->row.reason, "Completed");
	else
		set_str(&c->row.reason, "Error");
	pthread_cond_broadcast(&c->changed);
}

/* Record exit `e` for `c` unless it has exited already or is removed:
 * applied and saved; true when it was. */
static bool take_exit(struct ctr_mgr *m, struct ctr *c, const struct mon_exit *e)
{
	pthread_mutex_lock(&c->st);
	bool changed = c->row.state != CTR_EXITED && !c->removed;
	if (changed) {
		ctr_exit_apply(c, e);
		ctr_save_state(m, c);
	}
	pthread_mutex_unlock(&c->st);
	return changed;
}

int ctr_exit_check(struct ctr_mgr *m, struct ctr *c)
{
	cleanup_free char *path = ctr_path_run(m, c->id, "exit");
	struct mon_exit e;
	cleanup_err struct err err = ERR_INIT;
	int r = mon_read_exit(path, &e, &err);
	if (r < 0)
		return 0;
	bool changed = take_exit(m, c, &e);
	if (changed) {
		log_info("container exited", "id=%s exit_code=%d oom=%d", c->id, e.exit_code,
			 (int)e.oom);
		if (e.oom)
			__atomic_fetch_add(&m->oom_total, 1, __ATOMIC_RELAXED);
		ctr_bus_publish(&m->bus, CTR_EVENT_STOPPED, c->id, c->row.pod_id);
	}
	return 1;
}

int ctr_watch_add(struct ctr_mgr *m, const char *id, struct err *err)
{
	cleanup_free char *dir = ctr_path_run(m, id, NULL);
	int wd = inotify_add_watch(m->inotify_fd, dir, IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR);
	if (wd < 0)
		return err_set(err, -errno, "watch '%s'", dir);
	pthread_mutex_lock(&m->watch_lock);
	m->watches = xrealloc(m->watches, (m->n_watches + 1) * sizeof(*m->watches));
	m->watches[m->n_watches].wd = wd;
	snprintf(m->watches[m->n_watches].id, ID_LEN + 1, "%s", id);
	m->n_watches++;
	pthread_mutex_unlock(&m->watch_lock);
	return 0;
}

/* Under watch_lock. */
static void mon_unwatch_at(struct ctr_mgr *m, size_t i)
{
	(void)epoll_ctl(m->epfd, EPOLL_CTL_DEL, m->mons[i].pidfd, NULL);
	close(m->mons[i].pidfd);
	m->mons[i] = m->mons[--m->n_mons];
}

void ctr_watch_remove(struct ctr_mgr *m, const char *id)
{
	pthread_mutex_lock(&m->watch_lock);
	for (size_t i = 0; i < m->n_watches; i++) {
		if (strcmp(m->watches[i].id, id) != 0)
			continue;
		(void)inotify_rm_watch(m->inotify_fd, m->watches[i].wd);
		m->watches[i] = m->watches[--m->n_watches];
		break;
	}
	for (size_t i = 0; i < m->n_mons; i++) {
		if (strcmp(m->mons[i].id, id) == 0) {
			mon_unwatch_at(m, i);
			break;
		}
	}
	pthread_mutex_unlock(&m->watch_lock);
}

int ctr_monitor_watch(struct ctr_mgr *m, const char *id, pid_t mon_pid, struct err *err)
{
	int fd = (int)pidfd_open(mon_pid, 0);
	if (fd < 0)
		return err_set(err, -errno, "pidfd_open of monitor %d", (int)mon_pid);
	pthread_mutex_lock(&m->watch_lock);
	struct mon_watch w = { .token = m->next_token++, .pidfd = fd, .pid = mon_pid };
	snprintf(w.id, sizeof(w.id), "%s", id);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = w.token };
	int r = epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
	if (r == 0) {
		m->mons = xreallocarray(m->mons, m->n_mons + 1, sizeof(*m->mons));
		m->mons[m->n_mons++] = w;
	}
	pthread_mutex_unlock(&m->watch_lock);
	if (r < 0) {
		close(fd);
		return err_set(err, r, "watch monitor %d", (int)mon_pid);
	}
	return 0;
}

void ctr_monitor_lost(struct ctr_mgr *m, struct ctr *c, pid_t mon_pid)
{
	if (ctr_exit_check(m, c))
		return; /* it recorded the exit, then ended as it should */
	pthread_mutex_lock(&c->st);
	bool over = c->row.state == CTR_EXITED || c->removed;
	pid_t pid = c->row.pid;
	pthread_mutex_unlock(&c->st);
	if (over)
		return;
	/* Its output has nowhere to go and its exit nobody to record it: a
	 * container left running so is one kubelet believes in and nothing
	 * watches. Kill it, and say why. */
	bool alive = ctr_pid_is(pid, c->id);
	if (alive && proc_kill_wait(pid, SIGKILL, LOST_KILL_WAIT_MS) < 0)
		log_warn("container of a dead monitor did not die of SIGKILL", "id=%s pid=%d",
			 c->id, (int)pid);
	cleanup_free char *who = mon_pid > 0
				     ? xasprintf("its monitor (ocimon, pid %d)", (int)mon_pid)
				     : xstrdup("its monitor (ocimon)");
	cleanup_free char *msg =
	    alive ? xasprintf("%s died without recording an exit; the container was killed, as "
			      "nothing was left to collect its output and exit status",
			      who)
		  : xasprintf("%s died without recording an exit, and the container's process is "
			      "gone: its exit status is unknown",
			      who);
	log_warn("container monitor died", "id=%s monitor_pid=%d killed=%d", c->id, (int)mon_pid,
		 (int)alive);
	pthread_mutex_lock(&c->st);
	set_str(&c->row.message, msg);
	pthread_mutex_unlock(&c->st);
	struct mon_exit e = { .exit_code = alive ? 128 + SIGKILL : 255,
			      .signal = alive ? SIGKILL : 0,
			      .finished_ns = wall_ns() };
	cleanup_free char *path = ctr_path_run(m, c->id, "exit");
	cleanup_err struct err err = ERR_INIT;
	if (mon_exit_write(path, &e, &err) < 0) {
		log_error("cannot write the exit file of a dead monitor", "id=%s error=%s", c->id,
			  log_q(err_str(&err)));
		if (take_exit(m, c, &e))
			ctr_bus_publish(&m->bus, CTR_EVENT_STOPPED, c->id, c->row.pod_id);
		return;
	}
	(void)ctr_exit_check(m, c);
}

/* The watcher saw monitor `token` exit. */
static void on_monitor_exit(struct ctr_mgr *m, uint64_t token)
{
	char id[ID_LEN + 1] = "";
	pid_t pid = 0;
	pthread_mutex_lock(&m->watch_lock);
	for (size_t i = 0; i < m->n_mons; i++) {
		if (m->mons[i].token == token) {
			memcpy(id, m->mons[i].id, sizeof(id));
			pid = m->mons[i].pid;
			mon_unwatch_at(m, i);
			break;
		}
	}
	pthread_mutex_unlock(&m->watch_lock);
	struct ctr *c = NULL;
	if (!*id || ctr_index_get(&m->index, id, &c, NULL) < 0)
		return;
	ctr_monitor_lost(m, c, pid);
	ctr_unref(c);
}

static void on_exit_file(struct ctr_mgr *m, int wd)
{
	char id[ID_LEN + 1] = "";
	pthread_mutex_lock(&m->watch_lock);
	for (size_t i = 0; i < m->n_watches; i++)
		if (m->watches[i].wd == wd)
			memcpy(id, m->watches[i].id, sizeof(id));
	pthread_mutex_unlock(&m->watch_lock);
	if (!*id)
		return;
	struct ctr *c = NULL;
	if (ctr_index_get(&m->index, id, &c, NULL) < 0)
		return;
	(void)ctr_exit_check(m, c);
	ctr_unref(c);
}

/* Events were lost: look at every container's exit file. */
static void check_all(struct ctr_mgr *m)
{
	size_t n = 0;
	struct ctr **all = ctr_index_all(&m->index, &n);
	for (size_t i = 0; i < n; i++)
		if (all[i]->visible)
			(void)ctr_exit_check(m, all[i]);
	ctr_refs_free(all, n);
}

static void read_inotify(struct ctr_mgr *m)
{
	_Alignas(struct inotify_event) char buf[16384];
	ssize_t n = read(m->inotify_fd, buf, sizeof(buf));
	for (char *q = buf; n > 0 && q < buf + n;) {
		const struct inotify_event *ev = (const struct inotify_event *)q;
		if (ev->mask & IN_Q_OVERFLOW)
			check_all(m);
		else if (ev->len && strcmp(ev->name, "exit") == 0)
			on_exit_file(m, ev->wd);
		q += sizeof(*ev) + ev->len;
	}
}

/* Exit files through inotify, monitors through their pidfds. */
static void *watcher_main(void *data)
{
	struct ctr_mgr *m = data;
	for (;;) {
		struct epoll_event evs[16];
		int n = epoll_wait(m->epfd, evs, ARRAY_SIZE(evs), -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u64 == TOKEN_STOP)
				return NULL;
			if (evs[i].data.u64 == TOKEN_INOTIFY)
				read_inotify(m);
		}
		/* Monitors after exit files: one that wrote its exit file
		 * and ended is then seen as done, not lost. */
		for (int i = 0; i < n; i++)
			if (evs[i].data.u64 >= TOKEN_FIRST_MON)
				on_monitor_exit(m, evs[i].data.u64);
	}
	return NULL;
}

bool ctr_pid_is(pid_t pid, const char *id)
{
	if (pid <= 0)
		return false;
	/* A zombie has exited (its monitor died before reaping it); only its
	 * exit status is left, and /proc still shows its cgroup. */
	cleanup_free char *stat_path = xasprintf("/proc/%d/stat", (int)pid);
	cleanup_free char *stat = NULL;
	size_t len = 0;
	if (fs_read_file(AT_FDCWD, stat_path, 4096, &stat, &len, NULL) < 0)
		return false;
	const char *state = strrchr(stat, ')'); /* after "pid (comm)" */
	if (!state || state[1] != ' ' || state[2] == 'Z' || state[2] == 'X')
		return false;
	cleanup_free char *path = xasprintf("/proc/%d/cgroup", (int)pid);
	char *text = NULL;
	if (fs_read_file(AT_FDCWD, path, 1 << 16, &text, &len, NULL) < 0)
		return false;
	bool yes = strstr(text, id) != NULL;
	free(text);
	if (yes)
		return true;
	/* Outside the container's cgroup (runsc --ignore-cgroups: the pid
	 * is its sandbox's), the id is among its arguments. */
	cleanup_free char *cmd_path = xasprintf("/proc/%d/cmdline", (int)pid);
	if (fs_read_file(AT_FDCWD, cmd_path, 1 << 16, &text, &len, NULL) < 0)
		return false;
	yes = memmem(text, len, id, strlen(id)) != NULL;
	free(text);
	return yes;
}

int ctr_watch_init(struct ctr_mgr *m, struct err *err)
{
	m->inotify_fd = m->stop_fd = m->epfd = -1;
	pthread_mutex_init(&m->watch_lock, NULL);
	m->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (m->inotify_fd < 0)
		return err_set(err, -errno, "inotify_init1");
	m->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (m->stop_fd < 0)
		return err_set(err, -errno, "eventfd");
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (m->epfd < 0)
		return err_set(err, -errno, "epoll_create1");
	m->next_token = TOKEN_FIRST_MON;
	struct epoll_event in = { .events = EPOLLIN, .data.u64 = TOKEN_INOTIFY };
	struct epoll_event stop = { .events = EPOLLIN, .data.u64 = TOKEN_STOP };
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->inotify_fd, &in) < 0 ||
	    epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->stop_fd, &stop) < 0)
		return err_set(err, -errno, "epoll_ctl");
	return 0;
}

int ctr_watch_start(struct ctr_mgr *m, struct err *err)
{
	if (pthread_create(&m->watcher, NULL, watcher_main, m) != 0)
		return err_msg(err, -EAGAIN, "cannot start the container exit watcher");
	m->watcher_started = true;
	return 0;
}

void ctr_watch_stop(struct ctr_mgr *m)
{
	if (!m->watcher_started)
		return;
	uint64_t one = 1;
	(void)!write(m->stop_fd, &one, sizeof(one));
	pthread_join(m->watcher, NULL);
	m->watcher_started = false;
}

void ctr_watch_done(struct ctr_mgr *m)
{
	if (m->inotify_fd >= 0)
		close(m->inotify_fd);
	if (m->stop_fd >= 0)
		close(m->stop_fd);
	while (m->n_mons)
		mon_unwatch_at(m, m->n_mons - 1);
	free(m->mons);
	if (m->epfd >= 0)
		close(m->epfd);
	free(m->watches);
	pthread_mutex_destroy(&m->watch_lock);
}
