/* Parked calls: a streaming call that waits for outside events holds no
 * worker. The loop thread watches the call's fd (and timer); when one fires
 * it stops watching and hands one pump to a short worker, whose answer comes
 * back by ev_post: wait again, or over. Ending a park while its pump runs
 * only marks it; the pump's post ends it. So `over` runs exactly once, on
 * the loop thread, after the last pump. */
#include <errno.h>

#include "rpc/rpc_int.h"

/* A full short pool queue: try the pump again this much later. */
#define PARK_RETRY_MS 10

static void kick(struct rpc_park *p);

static void unwatch(struct rpc_park *p)
{
	if (p->watching) {
		ev_fd_del(p->srv->loop, p->fd);
		p->watching = false;
	}
	ev_timer_cancel(p->srv->loop, p->timer);
	p->timer = NULL;
}

static void end(struct rpc_park *p)
{
	unwatch(p);
	p->st = PARK_OVER;
	p->over(p);
}

static void on_fd(struct ev_loop *loop, int fd, uint32_t events, void *data)
{
	kick(data);
}

static void on_timer(struct ev_loop *loop, void *data)
{
	struct rpc_park *p = data;
	p->timer = NULL;
	kick(p);
}

static void watch(struct rpc_park *p)
{
	p->st = PARK_WAITING;
	if (p->fd >= 0) {
		cleanup_err struct err err = ERR_INIT;
		if (ev_fd_add(p->srv->loop, p->fd, EPOLLIN, on_fd, p, &err) < 0) {
			log_warn("cannot watch a parked call", "error=%s", log_q(err_str(&err)));
			end(p);
			return;
		}
		p->watching = true;
	}
	if (p->interval_ms)
		p->timer = ev_timer_add(p->srv->loop, p->interval_ms, on_timer, p);
}

static void after(struct ev_loop *loop, void *data)
{
	struct rpc_park *p = data;
	if (p->stop || !p->keep)
		end(p);
	else
		watch(p);
}

static void pump(void *data)
{
	struct rpc_park *p = data;
	p->keep = p->run(p);
	ev_post(p->srv->loop, after, p);
}

static void kick(struct rpc_park *p)
{
	unwatch(p);
	p->st = PARK_RUNNING;
	if (ev_pool_submit(rpc_server_pool(p->srv, RPC_SHORT), pump, p) < 0) {
		/* Busy: wait as before and retry soon; the fd stays readable. */
		p->st = PARK_WAITING;
		p->timer = ev_timer_add(p->srv->loop, PARK_RETRY_MS, on_timer, p);
	}
}

void rpc_park_begin(struct rpc_park *p)
{
	p->stop = false;
	kick(p);
}

void rpc_park_stop(struct rpc_park *p)
{
	if (p->st == PARK_WAITING)
		end(p);
	else if (p->st == PARK_RUNNING)
		p->stop = true;
}
