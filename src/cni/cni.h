/* cni: Container Network Interface. Loads the first network config of a
 * directory (.conflist, .conf, .json in lexical order; spec 0.3.0 to
 * 1.1.0), runs its plugin chain (ADD, CHECK, DEL) with CNI_ARGS and the
 * runtimeConfig capabilities it declares, and caches each ADD result with
 * the config it used, so DEL gets what ADD returned even when the config
 * changed or vanished. With no config file at all, a built-in bridge
 * network (bridge + host-local + portmap with SNAT) is used; its
 * masquerade is one iptables chain for the subnet, made by ocid. */
#pragma once

#include "base/json.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define CNI_DEFAULT_NETWORK "ocid-default"
#define CNI_DEFAULT_BRIDGE "ocid0"
#define CNI_DEFAULT_SUBNET "10.88.0.0/16"

struct cni_opts {
	const char *conf_dir;	      /* network configs (may not exist) */
	char *const *plugin_dirs;     /* searched in order for plugin binaries */
	const char *cache_dir;	      /* ADD results (absolute), created when missing */
	const char *default_bridge;   /* built-in network; NULL = CNI_DEFAULT_BRIDGE */
	const char *default_subnet;   /* NULL = CNI_DEFAULT_SUBNET */
	const char *default_data_dir; /* host-local dataDir; NULL = plugin default */
	uint64_t timeout_ms;	      /* per plugin call; 0 = 60 s */
};

/* A parsed network configuration list. */
struct cni_net {
	char *name;
	char *version;	 /* cniVersion */
	json_t *plugins; /* array of plugin objects (owned reference) */
	char *source;	 /* file it came from, or NULL for the built-in one */
	char *text;	 /* the config as loaded (list form), for the cache */
	bool disable_check;
};

/** Parse a network config. `list` selects the .conflist form ({"name",
 *  "cniVersion", "plugins": [...]}); otherwise a single plugin config
 *  ({"name", "cniVersion", "type", ...}) becomes a one-plugin list.
 *  -EINVAL naming `name` and the problem: not JSON, no name, a cniVersion
 *  outside 0.3.0..1.1.0, no plugins, a plugin without a valid "type". */
int cni_conf_parse(const char *name, const char *text, size_t len, bool list, struct cni_net **ret,
		   struct err *err);
/** Free a parsed config. Accepts NULL. */
void cni_net_free(struct cni_net *n);

/** The built-in network's config list text (malloc'd). */
char *cni_default_conflist(const char *bridge, const char *subnet, const char *data_dir);

/** IPs ("10.88.0.5", without prefix length) of a CNI result (0.3.0+: the
 *  "ips" array) in order; NULL-terminated, malloc'd. -EINVAL on bad JSON. */
int cni_result_ips(const char *text, size_t len, char ***ret, struct err *err);

struct cni;

/** Copy `o` into a new handle. Never touches the network. */
int cni_new(const struct cni_opts *o, struct cni **ret, struct err *err);
/** Free the handle (nothing on the network is touched). Accepts NULL. */
void cni_free(struct cni *c);

/** Load (or reload, when the files of the config dir changed since the
 *  last call) the network and check that its plugins exist. 0 with
 *  *ret_name (malloc'd, may be NULL to skip) the network name; -ENOENT or
 *  -EINVAL with a message for the NetworkReady condition. Thread-safe. */
int cni_status(struct cni *c, char **ret_name, struct err *err);

/** Check (and make again) the built-in network's masquerade chain at the
 *  next pod that uses the network, as after a start: a firewall reload may
 *  have removed it (SIGHUP). Thread-safe. */
void cni_masq_recheck(struct cni *c);

struct cni_port {
	const char *protocol; /* "tcp", "udp", "sctp" */
	int32_t host_port, container_port;
	const char *host_ip; /* NULL/"" = any */
};

/* What a plugin chain is run for. Borrowed pointers. */
struct cni_attachment {
	const char *container_id; /* the pod id */
	const char *netns;	  /* path of the pinned network namespace */
	const char *ifname;	  /* NULL = "eth0" */
	const char *pod_name, *pod_namespace, *pod_uid;
	const struct cni_port *ports;
	size_t n_ports;
	const char *pod_cidr; /* "ipRanges" capability, CIDRs separated by commas; NULL/"" = none */
	uint64_t ingress_bps, egress_bps; /* "bandwidth" capability; 0 = unset */
	char *const *dns_servers, *const *dns_searches, *const *dns_options;
	/* ADD: what the whole chain may take (the caller's deadline, less
	 * time to undo it); a plugin still running then is killed and the
	 * ADD fails with -ETIMEDOUT naming it. 0 = the per-plugin timeout only. */
	uint64_t timeout_ms;
};

struct cni_result {
	char *network; /* name of the network attached */
	char **ips;    /* addresses, primary first; may be NULL */
	char *json;    /* the final result as returned */
};
/** Free what a result owns and zero it. Accepts NULL. */
void cni_result_done(struct cni_result *r);

/** Check a pod CIDR list as kubelet sends it (UpdateRuntimeConfig): CIDRs
 *  separated by commas, IPv4 or IPv6. NULL/"" is fine (none). -EINVAL with
 *  the offending entry named. */
int cni_pod_cidr_check(const char *list, struct err *err);

/** ADD the attachment to the current network and cache the result. On a
 *  plugin failure the chain is deleted again (best effort) and the error
 *  carries the plugin's own message: "network N: plugin P: msg (details)". */
int cni_add(struct cni *c, const struct cni_attachment *a, struct cni_result *ret, struct err *err);

/** DEL the attachment, using the cached config and result of its ADD when
 *  there is one (else the current network). The cache entry goes away only
 *  when every plugin succeeded. Without a cache entry and without a
 *  network config, succeeds doing nothing. */
int cni_del(struct cni *c, const struct cni_attachment *a, struct err *err);

/** The container ids with an ADD cached for interface eth0 (what a DEL
 *  would undo), as a strv in *ret_ids (NULL when none). Their count, or
 *  -errno when the cache directory cannot be read (missing: 0). */
int cni_cache_list(const struct cni *c, char ***ret_ids);
/** CHECK the attachment (spec 0.4.0+; a no-op for older configs or with
 *  disableCheck). -ENOENT when nothing is cached for it. */
int cni_check(struct cni *c, const struct cni_attachment *a, struct err *err);
