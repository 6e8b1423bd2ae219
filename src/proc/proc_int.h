/* proc internals shared by ns.c and spawn.c. */
#pragma once

#include <sys/types.h>

struct err;

/* At most this many namespaces are joined by one helper process. */
#define PROC_NS_MAX 8

/* Opens each path of the NULL-terminated `ns_paths` (may be NULL) O_CLOEXEC
 * into fds[]; *ret_n is how many are open, also on failure (close them with
 * proc_ns_close_all). More than PROC_NS_MAX is -E2BIG. */
int proc_ns_open_all(const char *const *ns_paths, int fds[PROC_NS_MAX], size_t *ret_n,
		     struct err *err);
void proc_ns_close_all(int *fds, size_t n);

/* proc_spawn_fds with more posix_spawnattr flags (POSIX_SPAWN_SETPGROUP:
 * the child leads a process group of its own, pgid = its pid). */
int proc_spawn_fds_flags(char *const *argv, char *const *env, const int *fds, int n_fds,
			 short flags, pid_t *ret_pid);

/* Bytes of stack a proc_clone_vm child of this module gets. */
#define PROC_CLONE_STACK (16 << 10)

/* Start fn(arg) in a child that shares this process's memory (clone with
 * CLONE_VM | CLONE_VFORK | flags) and runs on `stack` (`size` bytes, 16-byte
 * aligned): no page tables are copied, and the daemon's threads take no
 * copy-on-write faults afterwards, as they do after every fork. This thread
 * waits until the child execs or exits, so the stack may be an array in the
 * caller's frame (where tools that watch stacks, AddressSanitizer, expect
 * one). The child starts with every signal blocked. fn may only make system
 * calls (no malloc, no locks, nothing shared but errno and its own stack)
 * and must end in execve or _exit. The child's pid, or -errno. */
pid_t proc_clone_vm(int (*fn)(void *), void *arg, int flags, void *stack, size_t size);
