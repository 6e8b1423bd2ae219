/* Helper children that share the daemon's memory instead of copying it. */
#include <errno.h>
#include <sched.h>
#include <signal.h>

#include "proc/proc_int.h"

#if defined(__SANITIZE_ADDRESS__)
#define OCID_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OCID_ASAN 1
#endif
#endif
#ifdef OCID_ASAN
#include <sanitizer/asan_interface.h>
#endif

pid_t proc_clone_vm(int (*fn)(void *), void *arg, int flags, void *stack, size_t size)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t pid = clone(fn, (char *)stack + size, CLONE_VM | CLONE_VFORK | SIGCHLD | flags, arg);
	int e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
#ifdef OCID_ASAN
	/* The child's frames never returned (it exec'd or exited): the
	 * redzones AddressSanitizer marked in them are still marked, in the
	 * memory we share, and would be taken for overflows by the next
	 * frames of this thread there. */
	__asan_unpoison_memory_region(stack, size);
#endif
	return pid < 0 ? -e : pid;
}
