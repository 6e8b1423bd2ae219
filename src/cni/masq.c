/* The built-in network's masquerade: one iptables chain for its subnet,
 * made when the network is first used, instead of the bridge plugin's
 * chain per pod (ipMasq: nine iptables runs per ADD and as many per DEL,
 * the largest cost of a pod start when many start at once). The rules are
 * the plugin's: traffic from the subnet to outside it, multicast excepted,
 * leaves with the node's address. The chain stays when ocid stops: running
 * pods keep needing it. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "cni/cni_int.h"
#include "proc/proc.h"

#define MASQ_TIMEOUT_MS 30000

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

void cni_masq_rules(const char *subnet, struct cni_masq *ret)
{
	bool v6 = strchr(subnet, ':') != NULL;
	const char *program = v6 ? "ip6tables" : "iptables";
	char *chain = xasprintf("OCID-MASQ-%08x", fnv1a(subnet));
	ret->restore_argv = NULL;
	strv_push_take(&ret->restore_argv, xasprintf("%s-restore", program));
	const char *const ra[] = { "-w", "5", "--noflush" };
	for (size_t i = 0; i < ARRAY_SIZE(ra); i++)
		strv_push(&ret->restore_argv, ra[i]);
	ret->restore = xasprintf("*nat\n:%s - [0:0]\n-A %s -d %s -j ACCEPT\n"
				 "-A %s ! -d %s -j MASQUERADE\nCOMMIT\n",
				 chain, chain, subnet, chain, v6 ? "ff00::/8" : "224.0.0.0/4");
	/* The jump: program -w 5 -t nat -C POSTROUTING -s subnet -m comment
	 * --comment "ocid built-in network <subnet>" -j chain. */
	ret->jump_argv = NULL;
	const char *const ja[] = { program,	  "-w", "5",	"-t", "nat",	 "-C",
				   "POSTROUTING", "-s", subnet, "-m", "comment", "--comment" };
	for (size_t i = 0; i < ARRAY_SIZE(ja); i++)
		strv_push(&ret->jump_argv, ja[i]);
	strv_push_take(&ret->jump_argv, xasprintf("ocid built-in network %s", subnet));
	strv_push(&ret->jump_argv, "-j");
	strv_push_take(&ret->jump_argv, chain);
}

void cni_masq_done(struct cni_masq *m)
{
	strv_free(m->restore_argv);
	strv_free(m->jump_argv);
	free(m->restore);
}

/* Run `argv` (argv[0] a program name looked up on the plugins' PATH).
 * 0 when it exits 0; 1 when it exits 1 and `one_ok` (iptables -C: no such
 * rule); else -errno naming it, its status and what it said. */
static int run(char **argv, const char *input, bool one_ok, uint64_t end_ms, struct err *err)
{
	cleanup_free char *bin = fs_find_program(argv[0], CNI_HOST_PATH);
	if (!bin)
		return err_msg(err, -ENOENT, "%s not found in %s", argv[0], CNI_HOST_PATH);
	char *prog = argv[0];
	argv[0] = bin;
	char *env[] = { "PATH=" CNI_HOST_PATH, NULL };
	struct proc_opts o = { .argv = argv,
			       .env = env,
			       .input = input,
			       .input_len = input ? strlen(input) : 0,
			       .max_output = 64 << 10,
			       .timeout_ms = cni_time_left(end_ms, MASQ_TIMEOUT_MS) };
	struct proc_result res;
	int r = proc_run(&o, &res, err);
	argv[0] = prog;
	if (r < 0)
		err_wrap(err, "%s", prog);
	else if (res.status == 1 && one_ok)
		r = 1;
	else if (res.status != 0) {
		size_t n = res.err_len;
		while (n && (res.errout[n - 1] == '\n' || res.errout[n - 1] == ' '))
			res.errout[--n] = '\0';
		r = err_msg(err, -EIO, "%s: exit status %d: %.512s", prog, res.status, res.errout);
	}
	proc_result_done(&res);
	return r;
}

static int masq_make(const char *subnet, uint64_t end_ms, struct err *err)
{
	struct cni_masq m;
	cni_masq_rules(subnet, &m);
	int r = run(m.restore_argv, m.restore, false, end_ms, err);
	/* The jump from POSTROUTING, unless an earlier start made it. */
	if (r >= 0)
		r = run(m.jump_argv, NULL, true, end_ms, err);
	if (r == 1) {
		free(m.jump_argv[CNI_MASQ_JUMP_OP]);
		m.jump_argv[CNI_MASQ_JUMP_OP] = xstrdup("-A");
		r = run(m.jump_argv, NULL, false, end_ms, err);
	}
	if (r < 0)
		err_wrap(err, "masquerade of %s", subnet);
	else
		log_info("built-in network masquerade ready", "subnet=%s chain=%s", subnet,
			 m.jump_argv[strv_len(m.jump_argv) - 1]);
	cni_masq_done(&m);
	return r;
}

/* Take the lock, waiting no later than end_ms (0 = as long as it takes). */
static int lock_until(pthread_mutex_t *m, uint64_t end_ms)
{
	if (!end_ms)
		return -pthread_mutex_lock(m);
	struct timespec ts = { .tv_sec = (time_t)(end_ms / 1000),
			       .tv_nsec = (long)(end_ms % 1000) * 1000000 };
	return -pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &ts);
}

int cni_masq_ensure(struct cni *c, uint64_t end_ms, struct err *err)
{
	/* Another pod making the chain holds the lock; a pod does not wait
	 * for it past its own deadline. */
	int r = lock_until(&c->masq_lock, end_ms);
	if (r == -ETIMEDOUT)
		return err_msg(err, r,
			       "masquerade of %s: still being made for another pod at the deadline",
			       c->default_subnet);
	if (r < 0)
		return err_set(err, r, "masquerade of %s: lock", c->default_subnet);
	unsigned want = __atomic_load_n(&c->masq_want, __ATOMIC_ACQUIRE);
	r = c->masq_made == want ? 0 : masq_make(c->default_subnet, end_ms, err);
	if (r >= 0)
		c->masq_made = want;
	pthread_mutex_unlock(&c->masq_lock);
	return r;
}

void cni_masq_recheck(struct cni *c)
{
	__atomic_add_fetch(&c->masq_want, 1, __ATOMIC_ACQ_REL);
}
