/* The event loop: fd readiness, deleting watchers from callbacks, timer
 * order and cancellation, signals through signalfd, ev_post from other
 * threads, ev_loop_run_posted and ev_loop_quit. Every test arms a guard
 * timer so a lost wakeup fails the test instead of hanging it. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cmocka.h>

#include "ev/ev.h"

#define GUARD_MS 5000

static void guard_fired(struct ev_loop *loop, void *data)
{
	fail_msg("event loop test did not finish within %d ms", GUARD_MS);
}

struct fixture {
	struct ev_loop *loop;
	struct ev_timer *guard;
};

static int setup(void **state)
{
	struct fixture *f = xnew(struct fixture);
	struct err err = ERR_INIT;
	if (ev_loop_new(&f->loop, &err) < 0) {
		err_done(&err);
		free(f);
		return -1;
	}
	f->guard = ev_timer_add(f->loop, GUARD_MS, guard_fired, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	ev_timer_cancel(f->loop, f->guard);
	ev_loop_free(f->loop);
	free(f);
	return 0;
}

static struct ev_loop *fixture_loop(void **state)
{
	return ((struct fixture *)*state)->loop;
}

static void quit_cb(struct ev_loop *loop, void *data)
{
	ev_loop_quit(loop);
}

static void count_cb(struct ev_loop *loop, void *data)
{
	int *n = data;
	(*n)++;
}

static void make_pipe(int p[2])
{
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
}

/* ---- fds ---- */

struct fd_state {
	int calls;
	int last_fd;
	uint32_t last_events;
	char buf[16];
	ssize_t got;
};

static void on_readable(struct ev_loop *loop, int fd, uint32_t events, void *data)
{
	struct fd_state *s = data;
	s->calls++;
	s->last_fd = fd;
	s->last_events = events;
	s->got = read(fd, s->buf, sizeof(s->buf));
	ev_loop_quit(loop);
}

static void test_fd_readable(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	cleanup_err struct err err = ERR_INIT;
	int p[2];
	make_pipe(p);
	struct fd_state s = { 0 };
	assert_int_equal(ev_fd_add(loop, p[0], EPOLLIN, on_readable, &s, &err), 0);
	assert_int_equal(write(p[1], "hello", 5), 5);
	assert_int_equal(ev_loop_run(loop), 0);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.last_fd, p[0]);
	assert_true(s.last_events & EPOLLIN);
	assert_int_equal(s.got, 5);
	assert_memory_equal(s.buf, "hello", 5);

	/* closing the writer reports EPOLLHUP on the reader */
	close(p[1]);
	assert_int_equal(ev_loop_run(loop), 0);
	assert_int_equal(s.calls, 2);
	assert_true(s.last_events & EPOLLHUP);
	assert_int_equal(s.got, 0);

	ev_fd_del(loop, p[0]);
	close(p[0]);
}

static void on_writable(struct ev_loop *loop, int fd, uint32_t events, void *data)
{
	struct fd_state *s = data;
	s->calls++;
	s->last_events = events;
	/* stop asking for EPOLLOUT: a level-triggered writable pipe would
	 * otherwise call us on every iteration */
	assert_int_equal(ev_fd_mod(loop, fd, 0), 0);
	ev_loop_quit(loop);
}

static void test_fd_mod_and_errors(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	cleanup_err struct err err = ERR_INIT;
	int p[2];
	make_pipe(p);
	struct fd_state s = { 0 };

	assert_int_equal(ev_fd_add(loop, p[1], EPOLLOUT, on_writable, &s, &err), 0);
	assert_int_equal(ev_fd_add(loop, p[1], EPOLLOUT, on_writable, &s, &err), -EEXIST);
	assert_non_null(strstr(err_str(&err), "already watched"));
	assert_int_equal(ev_fd_add(loop, -1, EPOLLIN, on_writable, &s, &err), -EBADF);
	assert_int_equal(ev_fd_mod(loop, p[0], EPOLLIN), -ENOENT);
	/* an fd epoll cannot watch is refused with the kernel's error */
	int dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dir >= 0);
	assert_int_equal(ev_fd_add(loop, dir, EPOLLIN, on_writable, &s, &err), -EPERM);
	close(dir);

	assert_int_equal(ev_loop_run(loop), 0);
	assert_int_equal(s.calls, 1);
	assert_true(s.last_events & EPOLLOUT);

	/* watched for nothing now: a short timer must win */
	ev_timer_add(loop, 30, quit_cb, NULL);
	assert_int_equal(ev_loop_run(loop), 0);
	assert_int_equal(s.calls, 1);

	ev_fd_del(loop, p[1]);
	ev_fd_del(loop, p[1]); /* already gone: a no-op */
	assert_int_equal(ev_fd_mod(loop, p[1], EPOLLOUT), -ENOENT);
	close(p[0]);
	close(p[1]);
}

static void on_readable_del_self(struct ev_loop *loop, int fd, uint32_t events, void *data)
{
	int *calls = data;
	(*calls)++;
	/* leave the byte unread: level-triggered epoll would report it again
	 * if the watcher were still registered */
	ev_fd_del(loop, fd);
}

static void test_fd_del_from_own_callback(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	cleanup_err struct err err = ERR_INIT;
	int p[2];
	make_pipe(p);
	int calls = 0;
	assert_int_equal(ev_fd_add(loop, p[0], EPOLLIN, on_readable_del_self, &calls, &err), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	ev_timer_add(loop, 50, quit_cb, NULL);
	assert_int_equal(ev_loop_run(loop), 0);
	assert_int_equal(calls, 1);

	/* the fd can be watched again afterwards */
	assert_int_equal(ev_fd_add(loop, p[0], EPOLLIN, on_readable_del_self, &calls, &err), 0);
	ev_timer_add(loop, 50, quit_cb, NULL);
	assert_int_equal(ev_loop_run(loop), 0);
	assert_int_equal(calls, 2);

	close(p[0]);
	close(p[1]);
}

/* Two pipes readable in the same epoll batch. Whichever callback runs first
 * deletes the other watcher, closes its fd and watches a new pipe that
 * reuses the fd number: the stale event still in the batch must reach
 * neither the deleted watcher nor the new one. */
struct pair {
	int a[2], b[2], c[2];
	int calls_a, calls_b, calls_c;
};

static void on_c(struct ev_loop *loop, int fd, uint32_t events, void *data)
{
	struct pair *s = data;
	s->calls_c++;
}

static void replace_other(struct ev_loop *loop, struct pair *s, int other[2])
{
	cleanup_err struct err err = ERR_INIT;
	int old = other[0];
	ev_fd_del(loop, old);
	close(other[0]);
	close(other[1]);
	other[0] = other[1] = -1;
	make_pipe(s->c);
	assert_int_equal(s->c[0], old); /* lowest free number: reused */
	assert_int_equal(ev_fd_add(loop, s->c[0], EPOLLIN, on_c, s, &err), 0);
	ev_timer_add(loop, 50, quit_cb, NULL);
}

static void on_a(struct ev_loop *loop, int fd, uint32_t events, void *data)
{
	struct pair *s = data;
	if (s->calls_a++ == 0 && s->calls_b == 0)
		replace_other(loop, s, s->b);
	char c;
	(void)!read(fd, &c, 1);
}

static void on_b(struct ev_loop *loop, int fd, uint32_t events, void *data)
{
	struct pair *s = data;
	if (s->calls_b++ == 0 && s->calls_a == 0)
		replace_other(loop, s, s->a);
	char c;
	(void)!read(fd, &c, 1);
}

static void test_fd_del_other_in_same_batch(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	cleanup_err struct err err = ERR_INIT;
	struct pair s = { 0 };
	make_pipe(s.a);
	make_pipe(s.b);
	assert_int_equal(ev_fd_add(loop, s.a[0], EPOLLIN, on_a, &s, &err), 0);
	assert_int_equal(ev_fd_add(loop, s.b[0], EPOLLIN, on_b, &s, &err), 0);
	assert_int_equal(write(s.a[1], "x", 1), 1);
	assert_int_equal(write(s.b[1], "x", 1), 1);
	assert_int_equal(ev_loop_run(loop), 0);
	assert_int_equal(s.calls_a + s.calls_b, 1);
	assert_int_equal(s.calls_c, 0);

	int *left = s.a[0] >= 0 ? s.a : s.b;
	ev_fd_del(loop, left[0]);
	ev_fd_del(loop, s.c[0]);
	for (int i = 0; i < 2; i++) {
		close(left[i]);
		close(s.c[i]);
	}
}

/* ---- timers ---- */

struct order {
	int seq[64];
	const struct tick *ran[64]; /* the ticks, in the order they ran */
	int n;
	struct ev_timer *victim;
	uint64_t when[64];
};

struct tick {
	struct order *o;
	int id;
	uint64_t lo, hi; /* the clock just before and after its ev_timer_add */
};

static void on_tick(struct ev_loop *loop, void *data)
{
	struct tick *t = data;
	assert_true(t->o->n < 64);
	t->o->when[t->o->n] = ev_now_ns();
	t->o->ran[t->o->n] = t;
	t->o->seq[t->o->n++] = t->id;
}

static void test_timer_order(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	struct order o = { 0 };
	static const uint64_t ms[] = { 40, 10, 30, 0, 20 };
	struct tick ticks[ARRAY_SIZE(ms)];
	uint64_t start = ev_now_ns();
	for (size_t i = 0; i < ARRAY_SIZE(ms); i++) {
		ticks[i] = (struct tick){ .o = &o, .id = (int)ms[i] };
		assert_non_null(ev_timer_add(loop, ms[i], on_tick, &ticks[i]));
	}
	ev_timer_add(loop, 60, quit_cb, NULL);
	assert_int_equal(ev_loop_run(loop), 0);
	assert_int_equal(o.n, 5);
	static const int want[] = { 0, 10, 20, 30, 40 };
	for (int i = 0; i < 5; i++) {
		assert_int_equal(o.seq[i], want[i]);
		/* never early */
		assert_true(o.when[i] - start >= (uint64_t)want[i] * 1000000ull);
	}
}

static void on_tick_cancel_victim(struct ev_loop *loop, void *data)
{
	struct tick *t = data;
	on_tick(loop, data);
	ev_timer_cancel(loop, t->o->victim);
	t->o->victim = NULL;
}

static void test_timer_cancel(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	struct order o = { 0 };
	struct tick t1 = { .o = &o, .id = 1 }, t2 = { .o = &o, .id = 2 }, t3 = { .o = &o, .id = 3 },
		    t4 = { .o = &o, .id = 4 };

	/* cancelled before it fires: never runs, the others still do */
	struct ev_timer *a = ev_timer_add(loop, 10, on_tick, &t1);
	ev_timer_add(loop, 20, on_tick, &t2);
	ev_timer_cancel(loop, a);
	ev_timer_cancel(loop, NULL);
	/* cancelled from another timer's callback */
	ev_timer_add(loop, 30, on_tick_cancel_victim, &t3);
	o.victim = ev_timer_add(loop, 50, on_tick, &t4);
	ev_timer_add(loop, 80, quit_cb, NULL);
	assert_int_equal(ev_loop_run(loop), 0);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.seq[0], 2);
	assert_int_equal(o.seq[1], 3);
	assert_null(o.victim);

	/* cancelling the only pending timer disarms the timerfd: the loop
	 * must then wake only for the later one */
	o.n = 0;
	a = ev_timer_add(loop, 10, on_tick, &t1);
	ev_timer_cancel(loop, a);
	ev_timer_add(loop, 40, on_tick, &t2);
	ev_timer_add(loop, 41, quit_cb, NULL);
	assert_int_equal(ev_loop_run(loop), 0);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.seq[0], 2);
}

/* Many timers, half cancelled in random order: the heap must fire the rest
 * in deadline order. */
static void test_timer_heap(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	struct order o = { 0 };
	struct tick ticks[64];
	struct ev_timer *h[64];
	srand(42);
	for (int i = 0; i < 64; i++) {
		ticks[i] = (struct tick){ &o, rand() % 40, ev_now_ns(), 0 };
		h[i] = ev_timer_add(loop, (uint64_t)ticks[i].id, on_tick, &ticks[i]);
		ticks[i].hi = ev_now_ns();
	}
	int kept = 64;
	for (int i = 0; i < 64; i += 2) {
		ev_timer_cancel(loop, h[(i * 37) % 64]);
		kept--;
	}
	ev_timer_add(loop, 60, quit_cb, NULL);
	assert_int_equal(ev_loop_run(loop), 0);
	assert_int_equal(o.n, kept);
	/* Each deadline is its add's clock + id ms, the clock read somewhere
	 * in [lo, hi] (a busy machine may stall the adds for milliseconds):
	 * no tick may run before one whose deadline is surely earlier. */
	for (int i = 1; i < o.n; i++) {
		const struct tick *a = o.ran[i - 1], *b = o.ran[i];
		assert_true(b->hi + (uint64_t)b->id * 1000000 >= a->lo + (uint64_t)a->id * 1000000);
	}
}

/* Timers, watchers and posts still pending at ev_loop_free are freed with
 * the loop, without running (ASan reports a leak otherwise). */
static void test_free_pending(void **state)
{
	struct ev_loop *loop = NULL;
	cleanup_err struct err err = ERR_INIT;
	int p[2], calls = 0;
	make_pipe(p);
	assert_int_equal(ev_loop_new(&loop, &err), 0);
	ev_timer_add(loop, 0, count_cb, &calls);
	ev_post(loop, count_cb, &calls);
	assert_int_equal(ev_fd_add(loop, p[0], EPOLLIN, on_readable_del_self, &calls, &err), 0);
	assert_int_equal(ev_fd_add(loop, p[1], EPOLLOUT, on_readable_del_self, &calls, &err), 0);
	ev_fd_del(loop, p[1]); /* in the graveyard until the next iteration */
	ev_loop_free(loop);
	ev_loop_free(NULL);
	assert_int_equal(calls, 0);
	close(p[0]);
	close(p[1]);
}

/* ---- signals ---- */

struct sig_state {
	int calls;
	int signo;
	pthread_t thread;
};

static void on_signal(struct ev_loop *loop, int signo, void *data)
{
	struct sig_state *s = data;
	s->calls++;
	s->signo = signo;
	s->thread = pthread_self();
	ev_loop_quit(loop);
}

static void test_signal(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	cleanup_err struct err err = ERR_INIT;
	struct sig_state s1 = { 0 }, s2 = { 0 };
	assert_int_equal(ev_signal_add(loop, SIGUSR1, on_signal, &s1, &err), 0);
	assert_int_equal(ev_signal_add(loop, SIGUSR2, on_signal, &s2, &err), 0);

	/* blocked now: raise() leaves it pending for the signalfd instead of
	 * killing the test */
	sigset_t cur;
	assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &cur), 0);
	assert_true(sigismember(&cur, SIGUSR1));
	assert_true(sigismember(&cur, SIGUSR2));

	assert_int_equal(raise(SIGUSR1), 0);
	assert_int_equal(ev_loop_run(loop), 0);
	assert_int_equal(s1.calls, 1);
	assert_int_equal(s1.signo, SIGUSR1);
	assert_true(pthread_equal(s1.thread, pthread_self()));
	assert_int_equal(s2.calls, 0);

	assert_int_equal(raise(SIGUSR2), 0);
	assert_int_equal(ev_loop_run(loop), 0);
	assert_int_equal(s1.calls, 1);
	assert_int_equal(s2.calls, 1);
	assert_int_equal(s2.signo, SIGUSR2);
}

/* ---- posting ---- */

#define POSTERS 8
#define POSTS 2000

struct post_state {
	struct ev_loop *loop;
	pthread_t loop_thread;
	int ran[POSTERS * POSTS];
	int total;
	int wrong_thread;
};

struct post_item {
	struct post_state *s;
	int idx;
};

static void on_item(struct ev_loop *loop, void *data)
{
	struct post_item *it = data;
	struct post_state *s = it->s;
	if (!pthread_equal(pthread_self(), s->loop_thread))
		s->wrong_thread++;
	s->ran[it->idx]++;
	if (++s->total == POSTERS * POSTS)
		ev_loop_quit(loop);
}

struct poster_arg {
	struct post_state *s;
	struct post_item *items;
};

static void *poster_main(void *arg)
{
	struct poster_arg *a = arg;
	for (int i = 0; i < POSTS; i++) {
		ev_post(a->s->loop, on_item, &a->items[i]);
		if (i % 256 == 0)
			sched_yield();
	}
	return NULL;
}

static void test_post_threads(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	struct post_state *s = xnew(struct post_state);
	struct post_item *items = xcalloc(POSTERS * POSTS, sizeof(*items));
	s->loop = loop;
	s->loop_thread = pthread_self();
	for (int i = 0; i < POSTERS * POSTS; i++)
		items[i] = (struct post_item){ s, i };
	pthread_t th[POSTERS];
	struct poster_arg args[POSTERS];
	for (int i = 0; i < POSTERS; i++) {
		args[i] = (struct poster_arg){ s, items + i * POSTS };
		assert_int_equal(pthread_create(&th[i], NULL, poster_main, &args[i]), 0);
	}
	assert_int_equal(ev_loop_run(loop), 0);
	for (int i = 0; i < POSTERS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	/* nothing left over and nothing twice */
	ev_loop_run_posted(loop);
	assert_int_equal(s->total, POSTERS * POSTS);
	assert_int_equal(s->wrong_thread, 0);
	for (int i = 0; i < POSTERS * POSTS; i++)
		assert_int_equal(s->ran[i], 1);
	free(items);
	free(s);
}

struct chain {
	int first, second;
};

static void on_second(struct ev_loop *loop, void *data)
{
	struct chain *c = data;
	c->second++;
	ev_loop_quit(loop);
}

static void on_first(struct ev_loop *loop, void *data)
{
	struct chain *c = data;
	c->first++;
	ev_post(loop, on_second, c);
}

static void *post_first(void *arg)
{
	void **a = arg;
	ev_post(a[0], on_first, a[1]);
	return NULL;
}

static void test_run_posted(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	struct chain c = { 0 };

	/* posted from another thread while the loop is not running */
	pthread_t th;
	void *arg[2] = { loop, &c };
	assert_int_equal(pthread_create(&th, NULL, post_first, arg), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(c.first, 0);
	ev_loop_run_posted(loop);
	assert_int_equal(c.first, 1);
	/* a callback that posts again: queued for later, not run now */
	assert_int_equal(c.second, 0);
	ev_loop_run_posted(loop);
	assert_int_equal(c.second, 1);
	ev_loop_run_posted(loop); /* nothing left: no-op */
	assert_int_equal(c.first, 1);
	assert_int_equal(c.second, 1);

	/* a post from a callback run by ev_loop_run_posted still wakes the loop */
	ev_post(loop, on_first, &c);
	ev_loop_run_posted(loop);
	assert_int_equal(c.first, 2);
	assert_int_equal(ev_loop_run(loop), 0);
	assert_int_equal(c.second, 2);
}

/* ---- quit ---- */

static void count_and_quit(struct ev_loop *loop, void *data)
{
	int *n = data;
	(*n)++;
	ev_loop_quit(loop);
}

static void test_quit(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	int n = 0;
	/* quit before run does not stick: run starts afresh */
	ev_loop_quit(loop);
	ev_timer_add(loop, 20, count_and_quit, &n);
	assert_int_equal(ev_loop_run(loop), 0);
	assert_int_equal(n, 1);
	/* and the loop can be run again after a quit */
	ev_post(loop, count_and_quit, &n);
	assert_int_equal(ev_loop_run(loop), 0);
	assert_int_equal(n, 2);
}

static void test_now(void **state)
{
	uint64_t a = ev_now_ns();
	usleep(2000);
	uint64_t b = ev_now_ns();
	assert_true(b > a);
	assert_true(b - a >= 2000000ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fd_readable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_mod_and_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_del_from_own_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_del_other_in_same_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timer_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timer_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timer_heap, setup, teardown),
		cmocka_unit_test(test_free_pending),
		cmocka_unit_test_setup_teardown(test_signal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_post_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_posted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quit, setup, teardown),
		cmocka_unit_test(test_now),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
