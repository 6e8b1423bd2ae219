/* proc internals shared by ns.c and spawn.c. */
#pragma once

struct err;

/* At most this many namespaces are joined by one helper process. */
#define PROC_NS_MAX 8

/* Opens each path of the NULL-terminated `ns_paths` (may be NULL) O_CLOEXEC
 * into fds[]; *ret_n is how many are open, also on failure (close them with
 * proc_ns_close_all). More than PROC_NS_MAX is -E2BIG. */
int proc_ns_open_all(const char *const *ns_paths, int fds[PROC_NS_MAX], size_t *ret_n,
		     struct err *err);
void proc_ns_close_all(int *fds, size_t n);
