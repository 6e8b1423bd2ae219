/* Calls across threads. A handler runs on a worker and queues framed
 * messages and a final status under the call's mutex; the loop thread is
 * woken with ev_post() and feeds them to nghttp2. The first status set
 * wins: a deadline or cancellation seen on the loop thread makes a later
 * finish from the handler a no-op. */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rpc/rpc_int.h"

/* A streaming handler blocks while this much is queued and not yet taken
 * by nghttp2 (flow control reaches the handler through it). */
#define SEND_HIGH_WATER (4u << 20)

struct rpc_call *rpc_call_new(struct rpc_server *srv, struct rpc_conn *c, int32_t stream_id)
{
	struct rpc_call *call = xnew(struct rpc_call);
	atomic_init(&call->refs, 1);
	atomic_init(&call->cancelled, false);
	call->srv = srv;
	call->conn = c;
	call->stream_id = stream_id;
	call->out_tail = &call->out_head;
	pthread_mutex_init(&call->mu, NULL);
	pthread_cond_init(&call->cv, NULL);
	rpc_deframer_init(&call->df, atomic_load(&srv->max_recv));
	atomic_fetch_add(&srv->live_calls, 1);
	return call;
}

void rpc_call_ref(struct rpc_call *call)
{
	atomic_fetch_add(&call->refs, 1);
}

static void out_free_all(struct rpc_call *call)
{
	struct rpc_out *o = call->out_head;
	while (o) {
		struct rpc_out *next = o->next;
		free(o->msg);
		free(o);
		o = next;
	}
	call->out_head = NULL;
	call->out_tail = &call->out_head;
	call->out_bytes = 0;
}

void rpc_call_unref(struct rpc_call *call)
{
	if (atomic_fetch_sub(&call->refs, 1) != 1)
		return;
	struct rpc_server *srv = call->srv;
	out_free_all(call);
	rpc_deframer_done(&call->df);
	free(call->req);
	free(call->method);
	free(call->message);
	free(call->content_type);
	pthread_cond_destroy(&call->cv);
	pthread_mutex_destroy(&call->mu);
	free(call);
	atomic_fetch_sub(&srv->live_calls, 1);
}

void rpc_call_detach(struct rpc_call *call)
{
	ev_timer_cancel(call->srv->loop, call->timer);
	call->timer = NULL;
	call->conn = NULL;
	call->stream_id = 0;
	pthread_mutex_lock(&call->mu);
	atomic_store(&call->cancelled, true);
	pthread_cond_broadcast(&call->cv);
	pthread_mutex_unlock(&call->mu);
	rpc_park_stop(&call->park); /* the park holds a reference of its own */
	rpc_call_unref(call);
}

/* ---- loop thread side ---- */

static void flush_posted(struct ev_loop *loop, void *data)
{
	struct rpc_call *call = data;
	pthread_mutex_lock(&call->mu);
	call->post_pending = false;
	pthread_mutex_unlock(&call->mu);
	struct rpc_conn *c = call->conn;
	if (c) {
		rpc_h2_call_flush(call);
		rpc_conn_flush(c);
	}
	rpc_call_unref(call);
}

/* With mu held: whether the caller must post a flush (one at a time). */
static bool want_post(struct rpc_call *call)
{
	if (call->post_pending)
		return false;
	call->post_pending = true;
	return true;
}

static void post_flush(struct rpc_call *call)
{
	rpc_call_ref(call);
	ev_post(call->srv->loop, flush_posted, call);
}

void rpc_call_fail(struct rpc_call *call, enum rpc_code code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	call->rx_done = true;
	pthread_mutex_lock(&call->mu);
	if (call->finished) {
		pthread_mutex_unlock(&call->mu);
		free(msg);
		return;
	}
	call->finished = true;
	call->code = code;
	call->message = msg;
	atomic_store(&call->cancelled, true);
	out_free_all(call);
	pthread_cond_broadcast(&call->cv);
	pthread_mutex_unlock(&call->mu);
	log_debug("rpc status", "method=%s code=%s message=%s",
		  log_q(call->method ? call->method : ""), rpc_code_name(code), log_q(msg));
	rpc_h2_call_flush(call);
	rpc_park_stop(&call->park);
}

size_t rpc_call_take_bytes(struct rpc_call *call, uint8_t *buf, size_t len, bool *eof)
{
	size_t n = 0;
	pthread_mutex_lock(&call->mu);
	while (n < len && call->out_head) {
		struct rpc_out *o = call->out_head;
		while (n < len && o->off < 5)
			buf[n++] = o->hdr[o->off++];
		size_t body = o->off - 5, left = o->len - body;
		size_t k = left < len - n ? left : len - n;
		if (k)
			memcpy(buf + n, o->msg + body, k);
		n += k;
		o->off += k;
		if (o->off - 5 == o->len) {
			call->out_head = o->next;
			if (!call->out_head)
				call->out_tail = &call->out_head;
			free(o->msg);
			free(o);
		}
	}
	call->out_bytes -= n;
	if (call->out_bytes <= SEND_HIGH_WATER)
		pthread_cond_broadcast(&call->cv);
	*eof = !call->out_head && call->finished;
	pthread_mutex_unlock(&call->mu);
	return n;
}

/* ---- parked calls (park.c does the waiting) ---- */

static bool call_finished(struct rpc_call *call)
{
	pthread_mutex_lock(&call->mu);
	bool finished = call->finished;
	pthread_mutex_unlock(&call->mu);
	return finished;
}

static bool park_run(struct rpc_park *p)
{
	struct rpc_call *call = p->owner;
	if (rpc_call_cancelled(call) || call_finished(call))
		return false;
	return call->pump(call->park_state, call) && !call_finished(call);
}

static void park_over(struct rpc_park *p)
{
	struct rpc_call *call = p->owner;
	if (!call_finished(call))
		rpc_call_finish(call, RPC_CANCELLED, "%s: cancelled", call->method);
	call->park_done(call->park_state);
	rpc_call_unref(call); /* the worker's, which the park took over */
}

/* Loop thread: the handler parked its call and returned. */
static void park_start(struct ev_loop *loop, void *data)
{
	struct rpc_call *call = data;
	call->park = (struct rpc_park){ .srv = call->srv,
					.owner = call,
					.fd = call->park.fd,
					.interval_ms = call->park.interval_ms,
					.run = park_run,
					.over = park_over };
	if (!call->conn || rpc_call_cancelled(call) || call_finished(call)) {
		call->park.st = PARK_OVER;
		park_over(&call->park);
		return;
	}
	rpc_park_begin(&call->park);
}

void rpc_call_park(struct rpc_call *call, int fd, unsigned interval_ms, rpc_pump_fn pump,
		   rpc_park_done_fn done, void *state)
{
	assert(!call->park_wanted);
	call->park_wanted = true;
	call->park.fd = fd;
	call->park.interval_ms = interval_ms;
	call->pump = pump;
	call->park_done = done;
	call->park_state = state;
}

static void work(void *data)
{
	struct rpc_call *call = data;
	if (!atomic_load(&call->cancelled))
		call->fn(call->fn_data, call, call->req, call->req_len);
	free(call->req);
	call->req = NULL;
	if (call->park_wanted) {
		/* Our reference goes to the park. */
		ev_post(call->srv->loop, park_start, call);
		return;
	}
	bool finished = call_finished(call);
	if (!finished) {
		if (atomic_load(&call->cancelled))
			rpc_call_finish(call, RPC_CANCELLED, "%s: cancelled", call->method);
		else
			rpc_call_finish(call, RPC_INTERNAL, "%s: the handler gave no answer",
					call->method);
	}
	rpc_call_unref(call);
}

void rpc_call_dispatch(struct rpc_call *call)
{
	struct rpc_server *srv = call->srv;
	call->rx_done = true;
	if (srv->stopping) {
		rpc_call_fail(call, RPC_UNAVAILABLE, "ocid is shutting down");
		return;
	}
	const struct rpc_method *m = rpc_server_find(srv, call->method);
	if (!m) {
		rpc_call_fail(call, RPC_UNIMPLEMENTED, "unknown method %s", call->method);
		return;
	}
	call->fn = m->fn;
	call->fn_data = m->data;
	struct ev_pool *pool = rpc_server_pool(srv, m->cls);
	rpc_call_ref(call);
	if (ev_pool_submit(pool, work, call) < 0) {
		rpc_call_unref(call);
		rpc_call_fail(call, RPC_UNAVAILABLE, "ocid is busy: %u calls are queued; retry",
			      ev_pool_pending(pool));
	}
}

/* ---- worker side (public API) ---- */

/* Queue `o`; with `last`, also finish OK (a unary reply, in one step);
 * otherwise block while too much is queued. */
static int queue_out(struct rpc_call *call, struct rpc_out *o, bool last)
{
	pthread_mutex_lock(&call->mu);
	if (atomic_load(&call->cancelled) || call->finished) {
		pthread_mutex_unlock(&call->mu);
		free(o->msg);
		free(o);
		return -ECANCELED;
	}
	if (call->park_wanted && !last && call->out_bytes > SEND_HIGH_WATER) {
		/* Parked: never block a worker for a client that does not read. */
		pthread_mutex_unlock(&call->mu);
		free(o->msg);
		free(o);
		return -ENOBUFS;
	}
	*call->out_tail = o;
	call->out_tail = &o->next;
	call->out_bytes += o->len + 5;
	if (last) {
		call->finished = true;
		call->code = RPC_OK;
	}
	bool post = want_post(call);
	pthread_mutex_unlock(&call->mu);
	if (post)
		post_flush(call);
	if (last || call->park_wanted)
		return 0;
	pthread_mutex_lock(&call->mu);
	while (call->out_bytes > SEND_HIGH_WATER && !atomic_load(&call->cancelled))
		pthread_cond_wait(&call->cv, &call->mu);
	pthread_mutex_unlock(&call->mu);
	return 0;
}

static struct rpc_out *out_new(uint8_t *msg, size_t len)
{
	struct rpc_out *o = xnew(struct rpc_out);
	o->hdr[0] = 0;
	o->hdr[1] = (uint8_t)(len >> 24);
	o->hdr[2] = (uint8_t)(len >> 16);
	o->hdr[3] = (uint8_t)(len >> 8);
	o->hdr[4] = (uint8_t)len;
	o->msg = msg;
	o->len = len;
	return o;
}

int rpc_call_send_take(struct rpc_call *call, uint8_t *msg, size_t len)
{
	if (len > atomic_load(&call->srv->max_send) || len > UINT32_MAX) {
		free(msg);
		return -EMSGSIZE;
	}
	return queue_out(call, out_new(msg, len), false);
}

static void vfinish(struct rpc_call *call, enum rpc_code code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void vfinish(struct rpc_call *call, enum rpc_code code, const char *fmt, va_list ap)
{
	char *msg = fmt ? xvasprintf(fmt, ap) : NULL;
	pthread_mutex_lock(&call->mu);
	if (call->finished) {
		pthread_mutex_unlock(&call->mu);
		log_debug("rpc finish ignored", "method=%s code=%s", log_q(call->method),
			  rpc_code_name(code));
		free(msg);
		return;
	}
	call->finished = true;
	call->code = code;
	call->message = msg;
	bool post = want_post(call);
	pthread_mutex_unlock(&call->mu);
	if (post)
		post_flush(call);
}

void rpc_call_finish(struct rpc_call *call, enum rpc_code code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfinish(call, code, fmt, ap);
	va_end(ap);
}

void rpc_call_reply_take(struct rpc_call *call, uint8_t *msg, size_t len)
{
	size_t max = atomic_load(&call->srv->max_send);
	if (len > max) {
		free(msg);
		rpc_call_finish(call, RPC_RESOURCE_EXHAUSTED,
				"%s: reply of %zu bytes exceeds the send limit of %zu bytes",
				call->method, len, max);
		return;
	}
	(void)queue_out(call, out_new(msg, len), true);
}

size_t rpc_call_unsent(struct rpc_call *call)
{
	pthread_mutex_lock(&call->mu);
	size_t n = call->out_bytes;
	pthread_mutex_unlock(&call->mu);
	return n;
}

size_t rpc_call_max_send(const struct rpc_call *call)
{
	return atomic_load(&call->srv->max_send);
}

const char *rpc_call_method(const struct rpc_call *call)
{
	return call->method;
}

uint64_t rpc_call_deadline(const struct rpc_call *call)
{
	return call->deadline;
}

bool rpc_call_cancelled(const struct rpc_call *call)
{
	if (atomic_load(&call->cancelled))
		return true;
	return call->deadline && ev_now_ns() >= call->deadline;
}
