/* The event loop: epoll for fds, one timerfd driving a min-heap of
 * one-shot timers, one signalfd, and an eventfd waking the loop for
 * ev_post() from other threads. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>

#include "ev/ev.h"

/* A watched fd. Freed only between iterations, so an event already
 * returned by epoll_wait for a watcher deleted in the same batch is
 * recognised as stale instead of touching freed memory. */
struct watcher {
	int fd;
	bool dead;
	ev_fd_fn fn;
	void *data;
	struct watcher *next; /* in the graveyard once dead */
};

struct ev_timer {
	uint64_t when_ns;
	size_t idx; /* position in the heap */
	ev_fn fn;
	void *data;
};

struct sig_handler {
	int signo;
	ev_signal_fn fn;
	void *data;
};

struct post {
	ev_fn fn;
	void *data;
	struct post *next;
};

struct ev_loop {
	int epfd, timerfd, sigfd, postfd;
	bool quit;
	struct watcher **byfd; /* live watchers indexed by fd */
	size_t nbyfd;
	struct watcher *graveyard;
	struct ev_timer **heap;
	size_t nheap, capheap;
	uint64_t armed_ns; /* deadline currently programmed into timerfd, 0 = none */
	struct sig_handler *sigs;
	size_t nsigs;
	sigset_t sigmask;
	pthread_mutex_t post_mu;
	struct post *post_head, **post_tail;
};

/* Tags for the loop's own fds in epoll_event.data.ptr (never a watcher). */
static char tag_timer, tag_signal, tag_post;

uint64_t ev_now_ns(void)
{
	return mono_ns();
}

static int add_internal(struct ev_loop *loop, int fd, void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

int ev_loop_new(struct ev_loop **ret, struct err *err)
{
	struct ev_loop *loop = xnew(struct ev_loop);
	int r;

	loop->timerfd = loop->sigfd = loop->postfd = -1;
	loop->post_tail = &loop->post_head;
	sigemptyset(&loop->sigmask);
	pthread_mutex_init(&loop->post_mu, NULL);
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		r = err_set(err, -errno, "epoll_create1");
		goto fail;
	}
	loop->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (loop->timerfd < 0) {
		r = err_set(err, -errno, "timerfd_create");
		goto fail;
	}
	loop->postfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->postfd < 0) {
		r = err_set(err, -errno, "eventfd");
		goto fail;
	}
	r = add_internal(loop, loop->timerfd, &tag_timer);
	if (r >= 0)
		r = add_internal(loop, loop->postfd, &tag_post);
	if (r < 0) {
		err_set(err, r, "epoll_ctl");
		goto fail;
	}
	*ret = loop;
	return 0;
fail:
	ev_loop_free(loop);
	return r;
}

static void free_watchers(struct watcher *w)
{
	while (w) {
		struct watcher *next = w->next;
		free(w);
		w = next;
	}
}

void ev_loop_free(struct ev_loop *loop)
{
	if (!loop)
		return;
	for (size_t i = 0; i < loop->nbyfd; i++)
		free(loop->byfd[i]);
	free(loop->byfd);
	free_watchers(loop->graveyard);
	for (size_t i = 0; i < loop->nheap; i++)
		free(loop->heap[i]);
	free(loop->heap);
	free(loop->sigs);
	struct post *p = loop->post_head;
	while (p) {
		struct post *next = p->next;
		free(p);
		p = next;
	}
	pthread_mutex_destroy(&loop->post_mu);
	if (loop->epfd >= 0)
		(void)close(loop->epfd);
	if (loop->timerfd >= 0)
		(void)close(loop->timerfd);
	if (loop->sigfd >= 0)
		(void)close(loop->sigfd);
	if (loop->postfd >= 0)
		(void)close(loop->postfd);
	free(loop);
}

/* ---- fds ---- */

static struct watcher *find_watcher(struct ev_loop *loop, int fd)
{
	if (fd < 0 || (size_t)fd >= loop->nbyfd)
		return NULL;
	return loop->byfd[fd];
}

int ev_fd_add(struct ev_loop *loop, int fd, uint32_t events, ev_fd_fn fn, void *data,
	      struct err *err)
{
	if (fd < 0)
		return err_msg(err, -EBADF, "ev_fd_add: bad fd %d", fd);
	if (find_watcher(loop, fd))
		return err_msg(err, -EEXIST, "ev_fd_add: fd %d already watched", fd);
	if ((size_t)fd >= loop->nbyfd) {
		size_t n = loop->nbyfd ? loop->nbyfd : 64;
		while (n <= (size_t)fd)
			n *= 2;
		loop->byfd = xreallocarray(loop->byfd, n, sizeof(*loop->byfd));
		memset(loop->byfd + loop->nbyfd, 0, (n - loop->nbyfd) * sizeof(*loop->byfd));
		loop->nbyfd = n;
	}
	struct watcher *w = xnew(struct watcher);
	w->fd = fd;
	w->fn = fn;
	w->data = data;
	struct epoll_event ev = { .events = events, .data.ptr = w };
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(w);
		return err_set(err, -errno, "epoll_ctl add fd %d", fd);
	}
	loop->byfd[fd] = w;
	return 0;
}

int ev_fd_mod(struct ev_loop *loop, int fd, uint32_t events)
{
	struct watcher *w = find_watcher(loop, fd);
	if (!w)
		return -ENOENT;
	struct epoll_event ev = { .events = events, .data.ptr = w };
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	return 0;
}

void ev_fd_del(struct ev_loop *loop, int fd)
{
	struct watcher *w = find_watcher(loop, fd);
	if (!w)
		return;
	/* The fd may already be closed (then epoll dropped it itself). */
	(void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	loop->byfd[fd] = NULL;
	w->dead = true;
	w->next = loop->graveyard;
	loop->graveyard = w;
}

/* ---- timers: a binary min-heap on when_ns; timerfd armed at the root ---- */

static void heap_swap(struct ev_loop *loop, size_t a, size_t b)
{
	struct ev_timer *t = loop->heap[a];
	loop->heap[a] = loop->heap[b];
	loop->heap[b] = t;
	loop->heap[a]->idx = a;
	loop->heap[b]->idx = b;
}

static void heap_up(struct ev_loop *loop, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (loop->heap[parent]->when_ns <= loop->heap[i]->when_ns)
			break;
		heap_swap(loop, parent, i);
		i = parent;
	}
}

static void heap_down(struct ev_loop *loop, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < loop->nheap && loop->heap[l]->when_ns < loop->heap[m]->when_ns)
			m = l;
		if (r < loop->nheap && loop->heap[r]->when_ns < loop->heap[m]->when_ns)
			m = r;
		if (m == i)
			return;
		heap_swap(loop, i, m);
		i = m;
	}
}

static void heap_remove(struct ev_loop *loop, size_t i)
{
	loop->nheap--;
	if (i == loop->nheap)
		return;
	heap_swap(loop, i, loop->nheap);
	heap_up(loop, i);
	heap_down(loop, i);
}

/* Program the timerfd for the earliest timer (absolute monotonic time). */
static void timer_rearm(struct ev_loop *loop)
{
	uint64_t when = loop->nheap ? loop->heap[0]->when_ns : 0;
	if (when == loop->armed_ns)
		return;
	struct itimerspec its = { 0 };
	if (when) {
		its.it_value.tv_sec = (time_t)(when / 1000000000ull);
		its.it_value.tv_nsec = (long)(when % 1000000000ull);
	}
	/* Cannot fail with a valid fd and a normalised timespec. */
	(void)timerfd_settime(loop->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
	loop->armed_ns = when;
}

struct ev_timer *ev_timer_add(struct ev_loop *loop, uint64_t ms, ev_fn fn, void *data)
{
	struct ev_timer *t = xnew(struct ev_timer);
	t->when_ns = ev_now_ns() + ms * 1000000ull;
	t->fn = fn;
	t->data = data;
	if (loop->nheap == loop->capheap) {
		loop->capheap = loop->capheap ? loop->capheap * 2 : 16;
		loop->heap = xreallocarray(loop->heap, loop->capheap, sizeof(*loop->heap));
	}
	t->idx = loop->nheap++;
	loop->heap[t->idx] = t;
	heap_up(loop, t->idx);
	timer_rearm(loop);
	return t;
}

void ev_timer_cancel(struct ev_loop *loop, struct ev_timer *t)
{
	if (!t)
		return;
	heap_remove(loop, t->idx);
	free(t);
	timer_rearm(loop);
}

static void run_timers(struct ev_loop *loop)
{
	uint64_t buf;
	(void)!read(loop->timerfd, &buf, sizeof(buf));
	loop->armed_ns = 0; /* the expiry disarmed it */
	uint64_t now = ev_now_ns();
	while (loop->nheap && loop->heap[0]->when_ns <= now) {
		struct ev_timer *t = loop->heap[0];
		heap_remove(loop, 0);
		ev_fn fn = t->fn;
		void *data = t->data;
		free(t);
		fn(loop, data);
	}
	timer_rearm(loop);
}

/* ---- signals ---- */

int ev_signal_add(struct ev_loop *loop, int signo, ev_signal_fn fn, void *data, struct err *err)
{
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, signo);
	int r = pthread_sigmask(SIG_BLOCK, &one, NULL);
	if (r != 0)
		return err_set(err, -r, "block signal %d", signo);
	sigaddset(&loop->sigmask, signo);
	int fd = signalfd(loop->sigfd, &loop->sigmask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return err_set(err, -errno, "signalfd");
	if (loop->sigfd < 0) {
		loop->sigfd = fd;
		r = add_internal(loop, fd, &tag_signal);
		if (r < 0)
			return err_set(err, r, "epoll_ctl signalfd");
	}
	loop->sigs = xreallocarray(loop->sigs, loop->nsigs + 1, sizeof(*loop->sigs));
	loop->sigs[loop->nsigs++] = (struct sig_handler){ signo, fn, data };
	return 0;
}

static void run_signals(struct ev_loop *loop)
{
	struct signalfd_siginfo si;
	while (read(loop->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		for (size_t i = 0; i < loop->nsigs; i++)
			if (loop->sigs[i].signo == (int)si.ssi_signo)
				loop->sigs[i].fn(loop, (int)si.ssi_signo, loop->sigs[i].data);
	}
}

/* ---- posting from other threads ---- */

void ev_post(struct ev_loop *loop, ev_fn fn, void *data)
{
	struct post *p = xnew(struct post);
	p->fn = fn;
	p->data = data;
	pthread_mutex_lock(&loop->post_mu);
	bool was_empty = !loop->post_head;
	*loop->post_tail = p;
	loop->post_tail = &p->next;
	pthread_mutex_unlock(&loop->post_mu);
	if (was_empty) {
		uint64_t one = 1;
		/* Only EAGAIN (counter saturated) can fail: the loop is awake anyway. */
		(void)!write(loop->postfd, &one, sizeof(one));
	}
}

unsigned ev_loop_run_posted(struct ev_loop *loop)
{
	unsigned n = 0;
	uint64_t buf;
	(void)!read(loop->postfd, &buf, sizeof(buf));
	pthread_mutex_lock(&loop->post_mu);
	struct post *p = loop->post_head;
	loop->post_head = NULL;
	loop->post_tail = &loop->post_head;
	pthread_mutex_unlock(&loop->post_mu);
	while (p) {
		struct post *next = p->next;
		p->fn(loop, p->data);
		free(p);
		p = next;
		n++;
	}
	return n;
}

/* ---- running ---- */

static void dispatch(struct ev_loop *loop, struct epoll_event *ev)
{
	void *tag = ev->data.ptr;
	if (tag == &tag_timer) {
		run_timers(loop);
	} else if (tag == &tag_signal) {
		run_signals(loop);
	} else if (tag == &tag_post) {
		(void)ev_loop_run_posted(loop);
	} else {
		struct watcher *w = tag;
		if (!w->dead)
			w->fn(loop, w->fd, ev->events, w->data);
	}
}

int ev_loop_run(struct ev_loop *loop)
{
	struct epoll_event evs[64];
	loop->quit = false;
	while (!loop->quit) {
		int n = epoll_wait(loop->epfd, evs, (int)ARRAY_SIZE(evs), -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++)
			dispatch(loop, &evs[i]);
		free_watchers(loop->graveyard);
		loop->graveyard = NULL;
	}
	return 0;
}

void ev_loop_quit(struct ev_loop *loop)
{
	loop->quit = true;
}
