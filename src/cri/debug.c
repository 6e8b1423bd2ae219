/* /ocid.debug.Debug/Sleep (only with enable_debug_rpc): the request is the
 * decimal number of milliseconds as text; the reply is an empty message.
 * Tests use it to show that a slow call does not hold up others and that
 * deadlines and cancellation reach handlers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cri/cri_int.h"

#define SLEEP_MAX_MS (10ull * 60 * 1000)
#define SLICE_MS 10

void cri_debug_sleep(void *data, struct rpc_call *call, const uint8_t *req, size_t len)
{
	char buf[24];
	if (len == 0 || len >= sizeof(buf)) {
		rpc_call_finish(call, RPC_INVALID_ARGUMENT, "Sleep wants milliseconds as text");
		return;
	}
	memcpy(buf, req, len);
	buf[len] = '\0';
	char *end = NULL;
	errno = 0;
	unsigned long long ms = strtoull(buf, &end, 10);
	if (errno || *end || buf[0] == '-' || ms > SLEEP_MAX_MS) {
		rpc_call_finish(call, RPC_INVALID_ARGUMENT, "Sleep: bad milliseconds '%s'", buf);
		return;
	}
	for (unsigned long long slept = 0; slept < ms; slept += SLICE_MS) {
		if (rpc_call_cancelled(call)) {
			uint64_t dl = rpc_call_deadline(call);
			if (dl && ev_now_ns() >= dl)
				rpc_call_finish(call, RPC_DEADLINE_EXCEEDED,
						"Sleep: deadline exceeded");
			else
				rpc_call_finish(call, RPC_CANCELLED, "Sleep: cancelled");
			return;
		}
		unsigned long long step = ms - slept < SLICE_MS ? ms - slept : SLICE_MS;
		struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)step * 1000000L };
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	rpc_call_reply_take(call, xmalloc(1), 0);
}
