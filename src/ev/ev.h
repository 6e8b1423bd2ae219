/* ev: the event loop (epoll + timerfd/signalfd/eventfd) and the bounded
 * worker pool. One thread runs a loop; everything registered on it is
 * called on that thread. Only ev_post() may be called from other threads. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h> /* EPOLLIN & co for ev_fd_add */

#include "base/base.h"

struct ev_loop;
struct ev_timer;
struct ev_pool;

typedef void (*ev_fd_fn)(struct ev_loop *loop, int fd, uint32_t events, void *data);
typedef void (*ev_fn)(struct ev_loop *loop, void *data);
typedef void (*ev_signal_fn)(struct ev_loop *loop, int signo, void *data);
typedef void (*ev_work_fn)(void *data);

/** Create a loop. -errno with err filled on failure. */
int ev_loop_new(struct ev_loop **ret, struct err *err);
/** Free a loop (must not be running). Registered fds are not closed. Accepts NULL. */
void ev_loop_free(struct ev_loop *loop);
DEFINE_CLEANUP(struct ev_loop, ev_loop_free)

/** Watch fd for EPOLLIN/EPOLLOUT/... (level-triggered). The fd stays owned by the caller. */
int ev_fd_add(struct ev_loop *loop, int fd, uint32_t events, ev_fd_fn fn, void *data,
	      struct err *err);
/** Change the events watched on fd. */
int ev_fd_mod(struct ev_loop *loop, int fd, uint32_t events);
/** Stop watching fd (safe to call from inside its own callback). */
void ev_fd_del(struct ev_loop *loop, int fd);

/** One-shot timer after `ms` milliseconds. Returns a handle valid until it
 *  fires or is cancelled. */
struct ev_timer *ev_timer_add(struct ev_loop *loop, uint64_t ms, ev_fn fn, void *data);
/** Cancel a timer that has not fired yet. Accepts NULL. */
void ev_timer_cancel(struct ev_loop *loop, struct ev_timer *t);

/** Deliver `signo` through the loop (blocks it for the calling thread; call
 *  before starting other threads so they inherit the mask). */
int ev_signal_add(struct ev_loop *loop, int signo, ev_signal_fn fn, void *data, struct err *err);

/** Thread-safe: run fn(loop, data) on the loop thread soon. */
void ev_post(struct ev_loop *loop, ev_fn fn, void *data);

/** Run the callbacks posted so far, now (loop thread, or any thread while
 *  the loop is not running, e.g. to drain replies before freeing what they
 *  point to). Returns how many ran (those they post wait for the next call). */
unsigned ev_loop_run_posted(struct ev_loop *loop);

/** Run until ev_loop_quit(). Returns 0, or -errno if epoll fails. */
int ev_loop_run(struct ev_loop *loop);
/** Make ev_loop_run() return after the current iteration (loop thread only). */
void ev_loop_quit(struct ev_loop *loop);

/** Monotonic clock in nanoseconds. */
uint64_t ev_now_ns(void);

/** A pool of at most `threads` workers (started lazily, 256 KiB stacks)
 *  with a queue of at most `max_queue` waiting jobs. */
int ev_pool_new(unsigned threads, unsigned max_queue, struct ev_pool **ret, struct err *err);
/** Queue fn(data). -EAGAIN when the queue is full (caller answers "busy"). Thread-safe. */
int ev_pool_submit(struct ev_pool *pool, ev_work_fn fn, void *data);
/** Jobs queued or running. */
unsigned ev_pool_pending(struct ev_pool *pool);
/** Finish queued jobs, join the threads, free. Accepts NULL. */
void ev_pool_free(struct ev_pool *pool);
DEFINE_CLEANUP(struct ev_pool, ev_pool_free)
