/* cni internals shared by conf.c, exec.c and net.c: the handle, helpers. */
#pragma once

#include <pthread.h>
#include <stdbool.h>

#include "base/base.h"
#include "cni/cni.h"

/** cniVersion is one this build speaks (0.3.0 .. 1.1.0). */
bool cni_version_ok(const char *v);
/** Version v >= than (by numbers). */
bool cni_version_ge(const char *v, const char *than);

/* The PATH plugins and the programs run for the built-in network get. */
#define CNI_HOST_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct cni {
	pthread_mutex_t lock;	   /* guards net, sig, load_err */
	pthread_mutex_t masq_lock; /* held while the masquerade chain is made */
	/* The built-in network's masquerade chain is made for masq_want when
	 * masq_made equals it; a recheck bumps masq_want (atomic, no lock, so
	 * a SIGHUP never waits for a program that hangs). */
	unsigned masq_want, masq_made;
	char *conf_dir;
	char **plugin_dirs;
	char *cache_dir;
	char *default_bridge, *default_subnet, *default_data_dir;
	uint64_t timeout_ms;
	struct cni_net *net; /* the loaded network, or NULL */
	struct err load_err; /* why none is loaded */
	char *sig;	     /* signature of the config files it came from */
};

/** A private copy of the current network (reloaded when the dir changed). */
int cni_current(struct cni *c, struct cni_net **ret, struct err *err);
/** Drop the plugins of `type` from n's chain (and its text). */
void cni_net_drop_type(struct cni_net *n, const char *type);
/** Absolute path of plugin `type`. -ENOENT naming the dirs searched. */
int cni_find_plugin(const struct cni *c, const char *type, char **ret, struct err *err);

/* The built-in network's masquerade for a subnet (masq.c). */
struct cni_masq {
	char **restore_argv; /* [ip6]iptables-restore --noflush, run with `restore` */
	char *restore;	     /* its input: the chain OCID-MASQ-<hash of the subnet> */
	char **jump_argv;    /* [ip6]iptables -C the POSTROUTING rule jumping to it */
};
/** What a program may take: until end_ms (CLOCK_MONOTONIC ms; 0 = no end;
 *  1 when it has passed), and cap_ms at most. */
uint64_t cni_time_left(uint64_t end_ms, uint64_t cap_ms);

/* Index of "-C" in jump_argv (replaced by "-A" to add the rule). */
#define CNI_MASQ_JUMP_OP 5
/** The programs and rules for `subnet` (v4, or v6 when it holds a ':'). */
void cni_masq_rules(const char *subnet, struct cni_masq *ret);
/** Free what cni_masq_rules made. */
void cni_masq_done(struct cni_masq *m);
/** Make the chain and the POSTROUTING jump of the built-in network's
 *  subnet, once per handle (later calls return at once; a failed one is
 *  tried again by the next). Each program may run until end_ms
 *  (CLOCK_MONOTONIC ms; 0 = none) and 30 s at most; one still running then
 *  is killed (-ETIMEDOUT), and a call waiting for another's run gives up
 *  then too. -errno naming the program and the subnet. */
int cni_masq_ensure(struct cni *c, uint64_t end_ms, struct err *err);
