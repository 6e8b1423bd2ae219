/* Memory after work: glibc keeps what large work freed (a pull's buffers,
 * the allocations of many calls at once, spread over an arena per busy
 * thread) and gives little of it back on its own. The daemon bounds its
 * arenas and a thread gives freed memory back when it has piled up. */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "cmd/ocid/ocid.h"

#define TRIM_EVERY_S 4
#define TRIM_MIN ((size_t)1 << 20) /* free bytes gained since the last trim */

/* The allocator's free bytes (all arenas, fast bins too). */
static size_t free_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.fordblks + mi.fsmblks;
}

static void *trimmer(void *arg)
{
	(void)arg;
	size_t after = free_bytes();
	for (;;) {
		struct timespec ts = { TRIM_EVERY_S, 0 };
		while (nanosleep(&ts, &ts) < 0)
			;
		/* Free memory that stays free across a look is released; what a
		 * busy daemon frees and takes again is left alone. */
		if (free_bytes() < after + TRIM_MIN)
			continue;
		(void)malloc_trim(0);
		after = free_bytes();
	}
	return NULL;
}

void ocid_mem_start(void)
{
	/* glibc's default is 8 per core: each pull or call thread may hold an
	 * arena's free memory of its own. */
	(void)mallopt(M_ARENA_MAX, 4);
	/* Fixed thresholds: glibc otherwise raises both after a large buffer
	 * (a pull's) is freed, up to 32 and 64 MiB, and the top of a thread's
	 * arena below them is never given back (malloc_trim does not trim
	 * the top of an arena other than the main one). */
	(void)mallopt(M_MMAP_THRESHOLD, 256 << 10);
	(void)mallopt(M_TRIM_THRESHOLD, 256 << 10);
	/* The trimmer takes no signal: the daemon's go through its signalfd. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_t t;
	if (pthread_create(&t, NULL, trimmer, NULL) == 0)
		(void)pthread_detach(t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}
