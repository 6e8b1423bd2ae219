/* Running a plugin chain: ADD, CHECK, DEL; the result cache. */
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "base/json.h"
#include "cni/cni.h"
#include "cni/cni_int.h"
#include "proc/proc.h"

#define PLUGIN_OUTPUT_MAX ((size_t)1 << 20)
#define BURST_MAX 2147483647 /* bits: the rate alone shapes traffic */

void cni_result_done(struct cni_result *r)
{
	if (!r)
		return;
	free(r->network);
	strv_free(r->ips);
	free(r->json);
	memset(r, 0, sizeof(*r));
}

static json_t *strv_json(char *const *v)
{
	json_t *a = json_array();
	for (size_t i = 0; v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static bool cidr_valid(const char *s)
{
	const char *slash = strchr(s, '/');
	char addr[INET6_ADDRSTRLEN];
	unsigned char buf[sizeof(struct in6_addr)];
	if (!slash || (size_t)(slash - s) >= sizeof(addr) || !slash[1] || strlen(slash + 1) > 3)
		return false;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	int max = inet_pton(AF_INET, addr, buf) == 1	? 32
		  : inet_pton(AF_INET6, addr, buf) == 1 ? 128
							: -1;
	int len = 0;
	for (const char *p = slash + 1; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		len = len * 10 + (*p - '0');
	}
	return max > 0 && len <= max;
}

int cni_pod_cidr_check(const char *list, struct err *err)
{
	if (str_empty(list))
		return 0;
	for (const char *p = list;;) {
		const char *comma = strchr(p, ',');
		cleanup_free char *one = comma ? xstrndup(p, (size_t)(comma - p)) : xstrdup(p);
		if (!cidr_valid(one))
			return err_msg(err, -EINVAL,
				       "pod CIDR '%s' is not an address/prefix-length (like "
				       "10.244.1.0/24 or fd00:10:244:1::/64)",
				       one);
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

/* Every capability value we can offer; each plugin gets those it declares. */
static json_t *runtime_all(const struct cni_attachment *a)
{
	json_t *rc = json_object();
	json_t *pm = json_array();
	for (size_t i = 0; i < a->n_ports; i++) {
		const struct cni_port *p = &a->ports[i];
		if (p->host_port <= 0)
			continue;
		json_t *m = json_pack("{s:i,s:i,s:s}", "hostPort", (int)p->host_port,
				      "containerPort", (int)p->container_port, "protocol",
				      p->protocol ? p->protocol : "tcp");
		if (!str_empty(p->host_ip))
			json_object_set_new(m, "hostIP", json_string(p->host_ip));
		json_array_append_new(pm, m);
	}
	json_object_set_new(rc, "portMappings", pm);
	if (a->ingress_bps || a->egress_bps) {
		json_t *bw = json_object();
		if (a->ingress_bps) {
			json_object_set_new(bw, "ingressRate",
					    json_integer((json_int_t)a->ingress_bps));
			json_object_set_new(bw, "ingressBurst", json_integer(BURST_MAX));
		}
		if (a->egress_bps) {
			json_object_set_new(bw, "egressRate",
					    json_integer((json_int_t)a->egress_bps));
			json_object_set_new(bw, "egressBurst", json_integer(BURST_MAX));
		}
		json_object_set_new(rc, "bandwidth", bw);
	}
	if (a->dns_servers || a->dns_searches || a->dns_options)
		json_object_set_new(rc, "dns",
				    json_pack("{s:o,s:o,s:o}", "servers", strv_json(a->dns_servers),
					      "searches", strv_json(a->dns_searches), "options",
					      strv_json(a->dns_options)));
	if (!str_empty(a->pod_cidr)) {
		/* One range set per CIDR: a dual-stack node gets an address of each family. */
		json_t *sets = json_array();
		char **cidrs = strv_split(a->pod_cidr, ',');
		for (size_t i = 0; cidrs[i]; i++)
			if (*cidrs[i])
				json_array_append_new(sets,
						      json_pack("[{s:s}]", "subnet", cidrs[i]));
		strv_free(cidrs);
		json_object_set_new(rc, "ipRanges", sets);
	}
	return rc;
}

static json_t *runtime_for(const json_t *plugin, const json_t *all)
{
	const json_t *caps = json_object_get(plugin, "capabilities");
	json_t *rc = json_object();
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)caps, k, v)
	{
		json_t *val = json_object_get(all, k);
		if (json_is_true(v) && val)
			json_object_set(rc, k, val);
	}
	return rc;
}

struct call {
	struct cni *c;
	const struct cni_net *net;
	const struct cni_attachment *a;
	const char *cmd;
	const json_t *rc_all;
	uint64_t end_ms; /* CLOCK_MONOTONIC ms by which the chain must be done; 0 = none */
};

uint64_t cni_time_left(uint64_t end_ms, uint64_t cap_ms)
{
	if (!end_ms)
		return cap_ms;
	uint64_t now = mono_ms(), left = end_ms > now ? end_ms - now : 1;
	return left < cap_ms ? left : cap_ms;
}

static char **plugin_env(const struct call *k)
{
	const struct cni_attachment *a = k->a;
	char **env = NULL;
	cleanup_free char *path = strv_join(k->c->plugin_dirs, ":");
	strv_push_take(&env, xasprintf("CNI_COMMAND=%s", k->cmd));
	strv_push_take(&env, xasprintf("CNI_CONTAINERID=%s", a->container_id));
	strv_push_take(&env, xasprintf("CNI_NETNS=%s", a->netns ? a->netns : ""));
	strv_push_take(&env, xasprintf("CNI_IFNAME=%s", a->ifname ? a->ifname : "eth0"));
	strv_push_take(&env, xasprintf("CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=%s;"
				       "K8S_POD_NAME=%s;K8S_POD_INFRA_CONTAINER_ID=%s;"
				       "K8S_POD_UID=%s",
				       a->pod_namespace ? a->pod_namespace : "",
				       a->pod_name ? a->pod_name : "", a->container_id,
				       a->pod_uid ? a->pod_uid : ""));
	strv_push_take(&env, xasprintf("CNI_PATH=%s", path ? path : ""));
	strv_push(&env, "PATH=" CNI_HOST_PATH);
	return env;
}

static int plugin_error(const char *type, const struct proc_result *res, struct err *err)
{
	/* No JSON error object: the raw output below says what went wrong. */
	json_t *o = NULL;
	(void)js_load("plugin error", res->out, res->out_len, SIZE_MAX, &o, NULL);
	const char *msg = json_string_value(json_object_get(o, "msg"));
	const char *det = json_string_value(json_object_get(o, "details"));
	int r;
	if (msg && det && *det)
		r = err_msg(err, -EIO, "plugin %s: %s (%s)", type, msg, det);
	else if (msg)
		r = err_msg(err, -EIO, "plugin %s: %s", type, msg);
	else
		r = err_msg(err, -EIO, "plugin %s: exit status %d: %.512s", type, res->status,
			    res->err_len ? res->errout : res->out);
	json_decref(o);
	return r;
}

/* Run one plugin. For ADD, *ret_result gets its result (new reference). */
static int run_plugin(const struct call *k, const json_t *plugin, const json_t *prev,
		      json_t **ret_result, struct err *err)
{
	const char *type = json_string_value(json_object_get(plugin, "type"));
	cleanup_free char *bin = NULL;
	int r = cni_find_plugin(k->c, type, &bin, err);
	if (r < 0)
		return r;
	json_t *conf = json_deep_copy(plugin);
	json_object_set_new(conf, "name", json_string(k->net->name));
	json_object_set_new(conf, "cniVersion", json_string(k->net->version));
	bool is_del = strcmp(k->cmd, "DEL") == 0;
	if (prev && (!is_del || cni_version_ge(k->net->version, "0.4.0")))
		json_object_set(conf, "prevResult", (json_t *)prev);
	json_t *rc = runtime_for(plugin, k->rc_all);
	if (json_object_size(rc))
		json_object_set(conf, "runtimeConfig", rc);
	json_decref(rc);
	cleanup_free char *input = js_dump(conf, 0);
	json_decref(conf);
	cleanup(strv_free) char **env = plugin_env(k);
	char *argv[] = { bin, NULL };
	struct proc_opts o = { .argv = argv,
			       .env = env,
			       .input = input,
			       .input_len = strlen(input),
			       .max_output = PLUGIN_OUTPUT_MAX,
			       .timeout_ms = cni_time_left(k->end_ms, k->c->timeout_ms) };
	struct proc_result res;
	uint64_t t0 = mono_ns();
	r = proc_run(&o, &res, err);
	log_debug("cni plugin", "cmd=%s type=%s id=%s us=%llu", k->cmd, type, k->a->container_id,
		  (unsigned long long)(mono_ns() - t0) / 1000);
	if (r < 0) {
		proc_result_done(&res);
		return err_wrap(err, "plugin %s", type);
	}
	if (res.status != 0)
		r = plugin_error(type, &res, err);
	else if (ret_result && res.out_len) {
		cleanup_err struct err e = ERR_INIT;
		json_t *v = NULL;
		r = js_load("result", res.out, res.out_len, SIZE_MAX, &v, &e);
		if (r >= 0 && !json_is_object(v))
			r = err_msg(&e, -EINVAL, "result: not an object");
		if (r < 0) {
			json_decref(v);
			r = err_msg(err, -EIO, "plugin %s: result is not a JSON object: %s", type,
				    err_str(&e));
		} else
			*ret_result = v;
	}
	proc_result_done(&res);
	return r;
}

/* DEL every plugin in reverse order; the first error is reported, but all
 * plugins run (each must release what it holds). */
static int chain_del(const struct call *k, const json_t *prev, struct err *err)
{
	int r = 0;
	size_t n = json_array_size(k->net->plugins);
	for (size_t i = n; i-- > 0;) {
		cleanup_err struct err e = ERR_INIT;
		int q = run_plugin(k, json_array_get(k->net->plugins, i), prev, NULL, &e);
		if (q < 0 && r >= 0)
			r = err ? err_move(err, &e) : q;
	}
	return r;
}

static char *cache_path(const struct cni *c, const struct cni_attachment *a)
{
	return xasprintf("%s/%s-%s.json", c->cache_dir, a->container_id,
			 a->ifname ? a->ifname : "eth0");
}

int cni_cache_list(const struct cni *c, char ***ret_ids)
{
	char **names = NULL, **ids = NULL;
	int r = fs_list_dir(c->cache_dir, &names);
	for (size_t i = 0; r > 0 && names[i]; i++) {
		size_t n = strlen(names[i]);
		if (n > 10 && strcmp(names[i] + n - 10, "-eth0.json") == 0)
			strv_push_take(&ids, xstrndup(names[i], n - 10));
	}
	strv_free(names);
	*ret_ids = ids;
	return r == -ENOENT ? 0 : r < 0 ? r : (int)strv_len(ids);
}

static int attachment_check(const struct cni_attachment *a, struct err *err)
{
	if (!a->container_id || !fs_name_ok(a->container_id) ||
	    (a->ifname && (!fs_name_ok(a->ifname) || strlen(a->ifname) > 15)))
		return err_msg(err, -EINVAL, "CNI attachment: invalid container id or ifname");
	return 0;
}

static int cache_write(struct cni *c, const struct cni_attachment *a, const struct cni_net *n,
		       const json_t *rc_all, const json_t *result, struct err *err)
{
	cleanup_close int root = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (root < 0)
		return err_set(err, -errno, "open /");
	cleanup_close int dfd = fs_mkdir_p_at(root, c->cache_dir + 1, 0700, err);
	if (dfd < 0)
		return dfd;
	json_t *conf = NULL;
	int r = js_load(n->source ? n->source : "built-in network", n->text, strlen(n->text),
			SIZE_MAX, &conf, err);
	if (r < 0)
		return err_wrap(err, "CNI cache of %s", n->name);
	json_t *o =
	    json_pack("{s:s,s:s,s:s,s:o,s:O,s:O}", "kind", "ocidCniCacheV1", "containerId",
		      a->container_id, "ifName", a->ifname ? a->ifname : "eth0", "config", conf,
		      "runtimeConfig", rc_all, "result", result ? result : json_null());
	cleanup_free char *text = js_dump(o, 0);
	json_decref(o);
	cleanup_free char *name =
	    xasprintf("%s-%s.json", a->container_id, a->ifname ? a->ifname : "eth0");
	/* Not flushed (two journal commits, 20-30 ms on a busy disk, on every
	 * RunPodSandbox): the cache only has to outlive ocid, not the machine,
	 * whose reboot takes the namespaces with it. A cache a power loss left
	 * empty or cut is read as none (cni_del then uses the current network). */
	return fs_write_file_atomic(dfd, name, text, strlen(text), 0600, 0, err);
}

static bool has_host_ports(const struct cni_attachment *a)
{
	for (size_t i = 0; i < a->n_ports; i++)
		if (a->ports[i].host_port > 0)
			return true;
	return false;
}

/* The built-in network is built per pod from what the pod needs: portmap
 * only with host ports (without, its ADD returns the previous result and
 * its DEL looks for chains that were never made, at the cost of two plugin
 * runs). Its masquerade is one chain for the subnet, not one per pod. An
 * operator's config keeps its whole chain, as the CNI spec says. DEL
 * follows the cached chain. */
static int builtin_for_pod(struct cni *c, const struct cni_attachment *a, struct cni_net *net,
			   uint64_t end_ms, struct err *err)
{
	if (!has_host_ports(a))
		cni_net_drop_type(net, "portmap");
	return cni_masq_ensure(c, end_ms, err);
}

/* ADD through the chain, each plugin given the result before it; *ret_prev
 * is the last result (also after a failure, for the DEL that undoes it). */
static int chain_add(const struct call *k, json_t **ret_prev, struct err *err)
{
	size_t i;
	json_t *p;
	json_array_foreach(k->net->plugins, i, p)
	{
		json_t *res = NULL;
		int r = run_plugin(k, p, *ret_prev, &res, err);
		if (r < 0)
			return r;
		if (res) {
			json_decref(*ret_prev);
			*ret_prev = res;
		}
	}
	return 0;
}

int cni_add(struct cni *c, const struct cni_attachment *a, struct cni_result *ret, struct err *err)
{
	memset(ret, 0, sizeof(*ret));
	int r = attachment_check(a, err);
	if (r < 0)
		return r;
	struct cni_net *net = NULL;
	uint64_t t0 = mono_ns();
	r = cni_current(c, &net, err);
	if (r < 0)
		return r;
	uint64_t t1 = mono_ns();
	uint64_t end_ms = a->timeout_ms ? mono_ms() + a->timeout_ms : 0;
	if (!net->source && (r = builtin_for_pod(c, a, net, end_ms, err)) < 0) {
		err_wrap(err, "network %s", net->name);
		cni_net_free(net);
		return r;
	}
	json_t *rc_all = runtime_all(a);
	struct call k = { c, net, a, "ADD", rc_all, end_ms };
	json_t *prev = NULL;
	r = chain_add(&k, &prev, err);
	uint64_t t2 = mono_ns();
	if (r >= 0)
		r = cache_write(c, a, net, rc_all, prev, err);
	uint64_t t3 = mono_ns();
	if (r >= 0 && prev) {
		ret->json = js_dump(prev, 0);
		r = cni_result_ips(ret->json, strlen(ret->json), &ret->ips, err);
	}
	log_debug("cni add steps", "id=%s load_us=%llu plugins_us=%llu cache_us=%llu",
		  a->container_id, (unsigned long long)(t1 - t0) / 1000,
		  (unsigned long long)(t2 - t1) / 1000, (unsigned long long)(t3 - t2) / 1000);
	if (r < 0) {
		err_wrap(err, "network %s", net->name);
		struct call d = { c, net, a, "DEL", rc_all, 0 };
		(void)chain_del(&d, prev, NULL);
		cleanup_free char *cp = cache_path(c, a);
		(void)unlink(cp);
		cni_result_done(ret);
	} else {
		ret->network = xstrdup(net->name);
	}
	json_decref(prev);
	json_decref(rc_all);
	cni_net_free(net);
	return r;
}

/* The cached ADD: its network, runtime config and result. -ENOENT if none. */
static int cache_read(struct cni *c, const struct cni_attachment *a, struct cni_net **ret_net,
		      json_t **ret_rc, json_t **ret_result, struct err *err)
{
	cleanup_free char *path = cache_path(c, a);
	cleanup_free char *text = NULL;
	size_t len = 0;
	int r = fs_read_file(AT_FDCWD, path, 4 << 20, &text, &len, err);
	if (r < 0)
		return r;
	json_t *o = NULL;
	r = js_load(path, text, len, 4 << 20, &o, err);
	if (r < 0)
		return r;
	json_t *conf = json_object_get(o, "config");
	cleanup_free char *ctext = conf ? js_dump(conf, 0) : xstrdup("");
	r = cni_conf_parse(path, ctext, strlen(ctext), true, ret_net, err);
	if (r >= 0) {
		*ret_rc = json_incref(json_object_get(o, "runtimeConfig"));
		json_t *res = json_object_get(o, "result");
		*ret_result = json_is_object(res) ? json_incref(res) : NULL;
	}
	json_decref(o);
	return r;
}

int cni_del(struct cni *c, const struct cni_attachment *a, struct err *err)
{
	int r = attachment_check(a, err);
	if (r < 0)
		return r;
	struct cni_net *net = NULL;
	json_t *rc_all = NULL, *prev = NULL;
	cleanup_err struct err cerr = ERR_INIT;
	r = cache_read(c, a, &net, &rc_all, &prev, &cerr);
	if (r == -ENOENT || r == -EINVAL) {
		/* Nothing cached (the ADD never finished, or this is a retry
		 * after a successful DEL) or a cache cut by a power loss: use
		 * the current network, if any. */
		cni_net_free(net);
		net = NULL;
		json_decref(rc_all);
		json_decref(prev);
		rc_all = prev = NULL;
		cleanup_err struct err nerr = ERR_INIT;
		if (cni_current(c, &net, &nerr) < 0)
			return 0;
		rc_all = runtime_all(a);
	} else if (r < 0) {
		return err_move(err, &cerr);
	}
	struct call k = { c, net, a, "DEL", rc_all, 0 };
	r = chain_del(&k, prev, err);
	if (r >= 0) {
		cleanup_free char *cp = cache_path(c, a);
		if (unlink(cp) < 0 && errno != ENOENT)
			r = err_set(err, -errno, "remove '%s'", cp);
	} else {
		err_wrap(err, "network %s", net->name);
	}
	json_decref(prev);
	json_decref(rc_all);
	cni_net_free(net);
	return r;
}

int cni_check(struct cni *c, const struct cni_attachment *a, struct err *err)
{
	int r = attachment_check(a, err);
	if (r < 0)
		return r;
	struct cni_net *net = NULL;
	json_t *rc_all = NULL, *prev = NULL;
	r = cache_read(c, a, &net, &rc_all, &prev, err);
	if (r < 0)
		return r;
	if (cni_version_ge(net->version, "0.4.0") && !net->disable_check) {
		struct call k = { c, net, a, "CHECK", rc_all, 0 };
		size_t i;
		json_t *p;
		json_array_foreach(net->plugins, i, p)
		{
			r = run_plugin(&k, p, prev, NULL, err);
			if (r < 0) {
				err_wrap(err, "network %s", net->name);
				break;
			}
		}
	}
	json_decref(prev);
	json_decref(rc_all);
	cni_net_free(net);
	return r;
}
