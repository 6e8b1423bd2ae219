/* The container event bus: each subscriber has a bounded queue; a
 * subscriber that falls more than CTR_SUB_QUEUE events behind is told so
 * (-EPIPE) instead of blocking publishers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "ctr/ctr_int.h"

#define CTR_SUB_QUEUE 1024

struct ctr_sub {
	struct ctr_bus *bus;
	struct ctr_sub *next;
	pthread_cond_t cond;
	struct ctr_event q[CTR_SUB_QUEUE];
	size_t head, len;
	bool overflow;
	int efd; /* see ctr_events_fd */
};

/* Under the bus lock: wake a subscriber that waits on its eventfd. */
static void sub_wake(struct ctr_sub *s)
{
	uint64_t one = 1;
	(void)!write(s->efd, &one, sizeof(one)); /* EAGAIN only at 2^64-2: already set */
}

static void sub_clear(struct ctr_sub *s)
{
	uint64_t v;
	(void)!read(s->efd, &v, sizeof(v)); /* EAGAIN: was not set */
}

void ctr_bus_init(struct ctr_bus *b)
{
	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->lock, NULL);
}

void ctr_bus_close(struct ctr_bus *b)
{
	pthread_mutex_lock(&b->lock);
	b->closed = true;
	for (struct ctr_sub *s = b->subs; s; s = s->next) {
		pthread_cond_broadcast(&s->cond);
		sub_wake(s);
	}
	pthread_mutex_unlock(&b->lock);
}

void ctr_bus_done(struct ctr_bus *b)
{
	/* Subscribers unsubscribe themselves before the manager is freed
	 * (the rpc server is freed first); anything left is dropped. */
	pthread_mutex_lock(&b->lock);
	while (b->subs) {
		struct ctr_sub *s = b->subs;
		b->subs = s->next;
		s->bus = NULL;
	}
	pthread_mutex_unlock(&b->lock);
	pthread_mutex_destroy(&b->lock);
}

struct ctr_sub *ctr_bus_subscribe(struct ctr_bus *b)
{
	struct ctr_sub *s = xzalloc(sizeof(*s));
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->efd < 0) {
		pthread_cond_destroy(&s->cond);
		free(s);
		return NULL;
	}
	s->bus = b;
	pthread_mutex_lock(&b->lock);
	s->next = b->subs;
	b->subs = s;
	pthread_mutex_unlock(&b->lock);
	return s;
}

void ctr_bus_publish(struct ctr_bus *b, enum ctr_event_type type, const char *id,
		     const char *pod_id)
{
	struct ctr_event e = { .type = type, .time_ns = wall_ns() };
	snprintf(e.id, sizeof(e.id), "%s", id);
	snprintf(e.pod_id, sizeof(e.pod_id), "%s", pod_id ? pod_id : "");
	pthread_mutex_lock(&b->lock);
	for (struct ctr_sub *s = b->subs; s; s = s->next) {
		if (s->len == CTR_SUB_QUEUE) {
			s->overflow = true;
		} else {
			s->q[(s->head + s->len) % CTR_SUB_QUEUE] = e;
			s->len++;
		}
		pthread_cond_signal(&s->cond);
		sub_wake(s);
	}
	pthread_mutex_unlock(&b->lock);
}

struct ctr_sub *ctr_events_subscribe(struct ctr_mgr *m)
{
	return ctr_bus_subscribe(&m->bus);
}

int ctr_events_next(struct ctr_sub *s, uint64_t wait_ms, struct ctr_event *ret)
{
	struct ctr_bus *b = s->bus;
	if (!b)
		return -ESHUTDOWN;
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(wait_ms / 1000);
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	int r = 0;
	pthread_mutex_lock(&b->lock);
	for (;;) {
		if (s->len) {
			*ret = s->q[s->head];
			s->head = (s->head + 1) % CTR_SUB_QUEUE;
			s->len--;
			r = 1;
			break;
		}
		if (s->overflow || b->closed) {
			r = s->overflow ? -EPIPE : -ESHUTDOWN;
			break;
		}
		if (wait_ms == 0) {
			sub_clear(s);
			break;
		}
		if (pthread_cond_timedwait(&s->cond, &b->lock, &until) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&b->lock);
	return r;
}

void ctr_events_close(struct ctr_mgr *m)
{
	ctr_bus_close(&m->bus);
}

void ctr_events_unsubscribe(struct ctr_sub *s)
{
	if (!s)
		return;
	struct ctr_bus *b = s->bus;
	if (b) {
		pthread_mutex_lock(&b->lock);
		for (struct ctr_sub **p = &b->subs; *p; p = &(*p)->next) {
			if (*p == s) {
				*p = s->next;
				break;
			}
		}
		pthread_mutex_unlock(&b->lock);
	}
	pthread_cond_destroy(&s->cond);
	close(s->efd);
	free(s);
}

int ctr_events_fd(const struct ctr_sub *s)
{
	return s->efd;
}
