/* The bounded worker pool. Threads are started lazily, one per job that
 * finds no idle worker, up to the limit, with small stacks: an idle daemon
 * keeps no more threads than it ever needed at once. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>

#include "ev/ev.h"

#define POOL_STACK_SIZE (256u * 1024u)

struct job {
	ev_work_fn fn;
	void *data;
	struct job *next;
};

struct ev_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned max_threads, max_queue;
	unsigned nthreads, idle, queued, running;
	bool stopping;
	struct job *head, **tail;
	pthread_t *threads;
};

static void *worker_main(void *arg)
{
	struct ev_pool *pool = arg;
	pthread_mutex_lock(&pool->mu);
	for (;;) {
		while (!pool->head && !pool->stopping) {
			pool->idle++;
			pthread_cond_wait(&pool->cv, &pool->mu);
			pool->idle--;
		}
		struct job *j = pool->head;
		if (!j)
			break; /* stopping and drained */
		pool->head = j->next;
		if (!pool->head)
			pool->tail = &pool->head;
		pool->queued--;
		pool->running++;
		pthread_mutex_unlock(&pool->mu);
		j->fn(j->data);
		free(j);
		pthread_mutex_lock(&pool->mu);
		pool->running--;
	}
	pthread_mutex_unlock(&pool->mu);
	return NULL;
}

int ev_pool_new(unsigned threads, unsigned max_queue, struct ev_pool **ret, struct err *err)
{
	if (threads == 0)
		return err_msg(err, -EINVAL, "worker pool needs at least one thread");
	struct ev_pool *pool = xnew(struct ev_pool);
	pthread_mutex_init(&pool->mu, NULL);
	pthread_cond_init(&pool->cv, NULL);
	pool->max_threads = threads;
	pool->max_queue = max_queue;
	pool->tail = &pool->head;
	pool->threads = xcalloc(threads, sizeof(*pool->threads));
	*ret = pool;
	return 0;
}

/* Called with the lock held. Failure to start a thread is not fatal as
 * long as one worker exists: the job waits for it. */
static int start_worker(struct ev_pool *pool)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	(void)pthread_attr_setstacksize(&attr, POOL_STACK_SIZE);
	/* Workers must not take the loop's signals. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int r = pthread_create(&pool->threads[pool->nthreads], &attr, worker_main, pool);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (r != 0)
		return -r;
	pool->nthreads++;
	return 0;
}

int ev_pool_submit(struct ev_pool *pool, ev_work_fn fn, void *data)
{
	pthread_mutex_lock(&pool->mu);
	/* Full means every worker busy and max_queue jobs waiting. Counting
	 * only `queued` would refuse a burst into an idle pool, whose jobs sit
	 * queued until the workers just started pick them up. */
	if (pool->stopping || pool->queued + pool->running >= pool->max_threads + pool->max_queue) {
		pthread_mutex_unlock(&pool->mu);
		return -EAGAIN;
	}
	if (pool->idle <= pool->queued && pool->nthreads < pool->max_threads) {
		int r = start_worker(pool);
		if (r < 0 && pool->nthreads == 0) {
			pthread_mutex_unlock(&pool->mu);
			return r;
		}
	}
	struct job *j = xnew(struct job);
	j->fn = fn;
	j->data = data;
	*pool->tail = j;
	pool->tail = &j->next;
	pool->queued++;
	pthread_cond_signal(&pool->cv);
	pthread_mutex_unlock(&pool->mu);
	return 0;
}

unsigned ev_pool_pending(struct ev_pool *pool)
{
	pthread_mutex_lock(&pool->mu);
	unsigned n = pool->queued + pool->running;
	pthread_mutex_unlock(&pool->mu);
	return n;
}

void ev_pool_free(struct ev_pool *pool)
{
	if (!pool)
		return;
	pthread_mutex_lock(&pool->mu);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->cv);
	unsigned n = pool->nthreads;
	pthread_mutex_unlock(&pool->mu);
	for (unsigned i = 0; i < n; i++)
		pthread_join(pool->threads[i], NULL);
	pthread_cond_destroy(&pool->cv);
	pthread_mutex_destroy(&pool->mu);
	free(pool->threads);
	free(pool);
}
