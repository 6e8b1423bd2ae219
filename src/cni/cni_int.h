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

struct cni {
	pthread_mutex_t lock; /* guards net, sig, load_err */
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
