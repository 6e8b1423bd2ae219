/* Scope-bound ownership: variables marked cleanup_* are released when they
 * go out of scope; TAKE_PTR / TAKE_FD hand ownership on. fds start at -1. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void cleanup_freep(void *p)
{
	free(*(void **)p);
}

static inline void cleanup_closep(const int *fd)
{
	/* close() is never retried: on Linux the fd is gone even on EINTR. */
	if (*fd >= 0)
		(void)close(*fd);
}

static inline void cleanup_fclosep(FILE **f)
{
	if (*f)
		(void)fclose(*f);
}

#define cleanup_free __attribute__((__cleanup__(cleanup_freep)))
#define cleanup_close __attribute__((__cleanup__(cleanup_closep)))
#define cleanup_fclose __attribute__((__cleanup__(cleanup_fclosep)))

/* DEFINE_CLEANUP(struct foo, foo_free) defines cleanup_foo_free for
 * `struct foo *` variables: `cleanup(foo_free) struct foo *f = NULL;`. */
#define DEFINE_CLEANUP(type, fn)                  \
	static inline void fn##_cleanup(type **p) \
	{                                         \
		fn(*p);                           \
	}
#define cleanup(fn) __attribute__((__cleanup__(fn##_cleanup)))

#define TAKE_PTR(p)                            \
	({                                     \
		__typeof__(p) take_ptr_ = (p); \
		(p) = NULL;                    \
		take_ptr_;                     \
	})

#define TAKE_FD(fd)                  \
	({                           \
		int take_fd_ = (fd); \
		(fd) = -1;           \
		take_fd_;            \
	})

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/** Free each element of a NULL-terminated string vector, then the vector. */
void strv_free(char **v);
DEFINE_CLEANUP(char *, strv_free)
