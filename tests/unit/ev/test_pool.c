/* The worker pool: jobs run on worker threads, threads start lazily up to
 * the limit, the queue is bounded (-EAGAIN), ev_pool_pending counts queued
 * and running jobs, ev_pool_free finishes what was queued. Blocking jobs
 * wait on a gate the test opens, so "full" is a state, not a race. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ev/ev.h"

#define WAIT_MS 5000

struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool open;
	int started, finished;
	int wrong_thread;
	pthread_t main_thread;
	pthread_t seen[64];
	int nseen;
};

static int setup(void **state)
{
	struct gate *g = xnew(struct gate);
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->main_thread = pthread_self();
	*state = g;
	return 0;
}

static int teardown(void **state)
{
	struct gate *g = *state;
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	free(g);
	return 0;
}

static void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->open = true;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

static void note_thread(struct gate *g)
{
	pthread_t self = pthread_self();
	if (pthread_equal(self, g->main_thread))
		g->wrong_thread++;
	for (int i = 0; i < g->nseen; i++)
		if (pthread_equal(g->seen[i], self))
			return;
	if (g->nseen < (int)ARRAY_SIZE(g->seen))
		g->seen[g->nseen++] = self;
}

/* Blocks until the gate opens. */
static void blocking_job(void *data)
{
	struct gate *g = data;
	pthread_mutex_lock(&g->mu);
	note_thread(g);
	g->started++;
	pthread_cond_broadcast(&g->cv);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	g->finished++;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

static void quick_job(void *data)
{
	struct gate *g = data;
	usleep(200);
	pthread_mutex_lock(&g->mu);
	note_thread(g);
	g->started++;
	g->finished++;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

/* Wait until *counter reaches n (fails the test after WAIT_MS). */
static void wait_for(struct gate *g, const int *counter, int n)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += WAIT_MS / 1000;
	pthread_mutex_lock(&g->mu);
	while (*counter < n) {
		if (pthread_cond_timedwait(&g->cv, &g->mu, &dl) == ETIMEDOUT) {
			int have = *counter;
			pthread_mutex_unlock(&g->mu);
			fail_msg("waited for %d jobs, have %d", n, have);
		}
	}
	pthread_mutex_unlock(&g->mu);
}

/* Wait until no job is queued or running (counted after the job returns,
 * unlike g->finished). */
static void wait_idle(struct ev_pool *pool)
{
	for (int k = 0; k < WAIT_MS && ev_pool_pending(pool) != 0; k++)
		usleep(1000);
	assert_int_equal(ev_pool_pending(pool), 0);
}

static struct ev_pool *new_pool(unsigned threads, unsigned queue)
{
	struct ev_pool *pool = NULL;
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(ev_pool_new(threads, queue, &pool, &err), 0);
	assert_non_null(pool);
	return pool;
}

static void test_new_invalid(void **state)
{
	struct ev_pool *pool = NULL;
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(ev_pool_new(0, 10, &pool, &err), -EINVAL);
	assert_null(pool);
	assert_non_null(strstr(err_str(&err), "at least one thread"));
	err_done(&err);
	ev_pool_free(NULL);
}

static void test_runs_on_workers(void **state)
{
	struct gate *g = *state;
	struct ev_pool *pool = new_pool(4, 100);
	for (int i = 0; i < 40; i++)
		assert_int_equal(ev_pool_submit(pool, quick_job, g), 0);
	wait_for(g, &g->finished, 40);
	assert_int_equal(g->wrong_thread, 0);
	assert_true(g->nseen >= 1 && g->nseen <= 4);
	ev_pool_free(pool);
}

/* Jobs one after another never need a second thread. */
static void test_lazy_threads(void **state)
{
	struct gate *g = *state;
	struct ev_pool *pool = new_pool(8, 100);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(ev_pool_submit(pool, quick_job, g), 0);
		wait_for(g, &g->finished, i + 1);
		/* finished is counted inside the job: wait for the worker to
		 * go idle again before the next submit */
		wait_idle(pool);
	}
	assert_int_equal(g->nseen, 1);
	ev_pool_free(pool);
}

/* All workers busy and the queue full: -EAGAIN, until jobs finish. */
static void test_bounded_queue(void **state)
{
	struct gate *g = *state;
	struct ev_pool *pool = new_pool(2, 3);
	assert_int_equal(ev_pool_submit(pool, blocking_job, g), 0);
	assert_int_equal(ev_pool_submit(pool, blocking_job, g), 0);
	wait_for(g, &g->started, 2);
	assert_int_equal(ev_pool_pending(pool), 2);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ev_pool_submit(pool, blocking_job, g), 0);
	assert_int_equal(ev_pool_pending(pool), 5);
	assert_int_equal(ev_pool_submit(pool, blocking_job, g), -EAGAIN);
	assert_int_equal(ev_pool_submit(pool, quick_job, g), -EAGAIN);
	assert_int_equal(ev_pool_pending(pool), 5);
	/* still only two running: the queued three wait */
	usleep(20000);
	pthread_mutex_lock(&g->mu);
	assert_int_equal(g->started, 2);
	pthread_mutex_unlock(&g->mu);

	gate_open(g);
	wait_for(g, &g->finished, 5);
	wait_idle(pool);
	assert_int_equal(g->nseen, 2);
	/* room again */
	assert_int_equal(ev_pool_submit(pool, quick_job, g), 0);
	wait_for(g, &g->finished, 6);
	ev_pool_free(pool);
}

/* A burst into an idle pool: every job that a worker can take at once is
 * accepted even before the workers have started, plus max_queue waiting. */
static void test_burst_fills_threads_then_queue(void **state)
{
	struct gate *g = *state;
	struct ev_pool *pool = new_pool(4, 1);
	for (int i = 0; i < 5; i++)
		assert_int_equal(ev_pool_submit(pool, blocking_job, g), 0);
	assert_int_equal(ev_pool_submit(pool, blocking_job, g), -EAGAIN);
	wait_for(g, &g->started, 4);
	assert_int_equal(ev_pool_pending(pool), 5);
	gate_open(g);
	wait_for(g, &g->finished, 5);
	assert_int_equal(g->nseen, 4);
	ev_pool_free(pool);
}

/* max_queue 0: as many jobs as threads, none waiting. */
static void test_no_queue(void **state)
{
	struct gate *g = *state;
	struct ev_pool *pool = new_pool(2, 0);
	assert_int_equal(ev_pool_submit(pool, blocking_job, g), 0);
	assert_int_equal(ev_pool_submit(pool, blocking_job, g), 0);
	assert_int_equal(ev_pool_submit(pool, blocking_job, g), -EAGAIN);
	gate_open(g);
	wait_for(g, &g->finished, 2);
	ev_pool_free(pool);
}

/* ev_pool_free runs everything queued before it returns. */
static void test_free_finishes_queue(void **state)
{
	struct gate *g = *state;
	struct ev_pool *pool = new_pool(1, 100);
	assert_int_equal(ev_pool_submit(pool, blocking_job, g), 0);
	for (int i = 0; i < 50; i++)
		assert_int_equal(ev_pool_submit(pool, quick_job, g), 0);
	wait_for(g, &g->started, 1);
	assert_int_equal(ev_pool_pending(pool), 51);
	gate_open(g);
	ev_pool_free(pool);
	/* no locking needed: the workers are joined */
	assert_int_equal(g->finished, 51);
	assert_int_equal(g->nseen, 1);
}

static void check_mask_job(void *data)
{
	int *blocked = data;
	sigset_t cur;
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	*blocked = sigismember(&cur, SIGTERM) && sigismember(&cur, SIGCHLD);
}

/* Workers never take signals meant for the loop thread's signalfd. */
static void test_workers_block_signals(void **state)
{
	sigset_t none, old;
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, &old);
	int blocked = -1;
	struct ev_pool *pool = new_pool(1, 1);
	assert_int_equal(ev_pool_submit(pool, check_mask_job, &blocked), 0);
	ev_pool_free(pool);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	assert_int_equal(blocked, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_invalid),
		cmocka_unit_test_setup_teardown(test_runs_on_workers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lazy_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounded_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_burst_fills_threads_then_queue, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_no_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_finishes_queue, setup, teardown),
		cmocka_unit_test(test_workers_block_signals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
