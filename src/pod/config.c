/* struct pod_config: free, copy, JSON for the database, reserved name. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "base/base.h"
#include "base/json.h"
#include "pod/pod.h"

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* NULL for an empty list: "no DNS settings" reaches CNI as their absence. */
static char **strv_copy_or_null(char *const *v)
{
	return v && v[0] ? strv_copy(v) : NULL;
}

static void kv_free(struct pod_kv *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].value);
	}
	free(v);
}

static struct pod_kv *kv_copy(const struct pod_kv *v, size_t n)
{
	if (!n)
		return NULL;
	struct pod_kv *out = xcalloc(n, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		out[i].key = xstrdup(v[i].key);
		out[i].value = xstrdup(v[i].value);
	}
	return out;
}

static struct oci_idmap *idmaps_copy(const struct oci_idmap *v, size_t n)
{
	if (!n)
		return NULL;
	struct oci_idmap *out = xcalloc(n, sizeof(*out));
	memcpy(out, v, n * sizeof(*out));
	return out;
}

void pod_config_done(struct pod_config *c)
{
	if (!c)
		return;
	free(c->name);
	free(c->namespace);
	free(c->uid);
	free(c->hostname);
	free(c->log_directory);
	strv_free(c->dns.servers);
	strv_free(c->dns.searches);
	strv_free(c->dns.options);
	for (size_t i = 0; i < c->n_ports; i++)
		free(c->ports[i].host_ip);
	free(c->ports);
	kv_free(c->labels, c->n_labels);
	kv_free(c->annotations, c->n_annotations);
	kv_free(c->sysctls, c->n_sysctls);
	free(c->cgroup_parent);
	free(c->runtime_handler);
	free(c->uid_maps);
	free(c->gid_maps);
	memset(c, 0, sizeof(*c));
}

void pod_config_copy(struct pod_config *d, const struct pod_config *s)
{
	*d = *s;
	d->name = dup_or_null(s->name);
	d->namespace = dup_or_null(s->namespace);
	d->uid = dup_or_null(s->uid);
	d->hostname = dup_or_null(s->hostname);
	d->log_directory = dup_or_null(s->log_directory);
	d->dns.servers = strv_copy_or_null(s->dns.servers);
	d->dns.searches = strv_copy_or_null(s->dns.searches);
	d->dns.options = strv_copy_or_null(s->dns.options);
	d->ports = s->n_ports ? xcalloc(s->n_ports, sizeof(*d->ports)) : NULL;
	for (size_t i = 0; i < s->n_ports; i++) {
		d->ports[i] = s->ports[i];
		d->ports[i].host_ip = dup_or_null(s->ports[i].host_ip);
	}
	d->labels = kv_copy(s->labels, s->n_labels);
	d->annotations = kv_copy(s->annotations, s->n_annotations);
	d->sysctls = kv_copy(s->sysctls, s->n_sysctls);
	d->cgroup_parent = dup_or_null(s->cgroup_parent);
	d->runtime_handler = dup_or_null(s->runtime_handler);
	d->uid_maps = idmaps_copy(s->uid_maps, s->n_uid_maps);
	d->gid_maps = idmaps_copy(s->gid_maps, s->n_gid_maps);
}

bool pod_config_userns(const struct pod_config *c)
{
	return c->has_userns && c->ns_user == POD_NS_POD;
}

char *pod_config_reserved_name(const struct pod_config *c)
{
	return xasprintf("k8s_%s_%s_%s_%u", c->name, c->namespace, c->uid, c->attempt);
}

static json_t *strv_json(char *const *v)
{
	json_t *a = json_array();
	for (size_t i = 0; v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *kv_json(const struct pod_kv *v, size_t n)
{
	json_t *o = json_object();
	for (size_t i = 0; i < n; i++)
		json_object_set_new(o, v[i].key, json_string(v[i].value));
	return o;
}

static void set_str(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, json_string(v));
}

static json_t *idmaps_json(const struct oci_idmap *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a,
				      json_pack("[I,I,I]", (json_int_t)v[i].container_id,
						(json_int_t)v[i].host_id, (json_int_t)v[i].length));
	return a;
}

static json_t *resources_json(const struct pod_resources *r)
{
	return json_pack("{s:I,s:I,s:I,s:I}", "cpu_period", (json_int_t)r->cpu_period, "cpu_quota",
			 (json_int_t)r->cpu_quota, "cpu_shares", (json_int_t)r->cpu_shares,
			 "memory_limit_in_bytes", (json_int_t)r->memory_limit_in_bytes);
}

char *pod_config_to_json(const struct pod_config *c)
{
	json_t *o = json_object();
	set_str(o, "name", c->name);
	set_str(o, "namespace", c->namespace);
	set_str(o, "uid", c->uid);
	json_object_set_new(o, "attempt", json_integer(c->attempt));
	set_str(o, "hostname", c->hostname);
	set_str(o, "log_directory", c->log_directory);
	if (c->has_dns) {
		json_t *d = json_object();
		json_object_set_new(d, "servers", strv_json(c->dns.servers));
		json_object_set_new(d, "searches", strv_json(c->dns.searches));
		json_object_set_new(d, "options", strv_json(c->dns.options));
		json_object_set_new(o, "dns", d);
	}
	json_t *ports = json_array();
	for (size_t i = 0; i < c->n_ports; i++) {
		const struct pod_port *p = &c->ports[i];
		json_t *j =
		    json_pack("{s:i,s:i,s:i}", "protocol", (int)p->protocol, "container_port",
			      (int)p->container_port, "host_port", (int)p->host_port);
		set_str(j, "host_ip", p->host_ip);
		json_array_append_new(ports, j);
	}
	json_object_set_new(o, "ports", ports);
	json_object_set_new(o, "labels", kv_json(c->labels, c->n_labels));
	json_object_set_new(o, "annotations", kv_json(c->annotations, c->n_annotations));
	json_object_set_new(o, "sysctls", kv_json(c->sysctls, c->n_sysctls));
	set_str(o, "cgroup_parent", c->cgroup_parent);
	json_object_set_new(o, "ns_network", json_integer(c->ns_network));
	json_object_set_new(o, "ns_pid", json_integer(c->ns_pid));
	json_object_set_new(o, "ns_ipc", json_integer(c->ns_ipc));
	json_object_set_new(o, "privileged", json_boolean(c->privileged));
	set_str(o, "runtime_handler", c->runtime_handler);
	if (c->has_overhead)
		json_object_set_new(o, "overhead", resources_json(&c->overhead));
	if (c->has_resources)
		json_object_set_new(o, "resources", resources_json(&c->resources));
	/* Absent: the host's user namespace (also what older records mean). */
	if (pod_config_userns(c))
		json_object_set_new(o, "userns",
				    json_pack("{s:i,s:o,s:o}", "mode", (int)c->ns_user, "uids",
					      idmaps_json(c->uid_maps, c->n_uid_maps), "gids",
					      idmaps_json(c->gid_maps, c->n_gid_maps)));
	char *s = js_dump(o, JS_DUMP_SORTED);
	json_decref(o);
	return s;
}

static int get_strv(const json_t *o, const char *key, char ***ret, struct err *err)
{
	const json_t *a = NULL;
	int r = js_get(o, "dns", key, JSON_ARRAY, false, &a, err);
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v))
			return err_msg(err, -EINVAL, "dns.%s[%zu]: expected string", key, i);
		strv_push(ret, json_string_value(v));
	}
	return r;
}

static int get_kv(const json_t *o, const char *key, struct pod_kv **ret, size_t *ret_n,
		  struct err *err)
{
	const json_t *m = NULL;
	int r = js_get(o, "", key, JSON_OBJECT, false, &m, err);
	if (r < 0 || !m)
		return r;
	size_t n = json_object_size(m);
	*ret = n ? xcalloc(n, sizeof(**ret)) : NULL;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)m, k, v)
	{
		if (!json_is_string(v))
			return err_msg(err, -EINVAL, "%s.%s: expected string", key, k);
		(*ret)[*ret_n].key = xstrdup(k);
		(*ret)[(*ret_n)++].value = xstrdup(json_string_value(v));
	}
	return 0;
}

static int get_dup(const json_t *o, const char *key, char **ret, struct err *err)
{
	const char *s = NULL;
	int r = js_get_str(o, "", key, NULL, &s, err);
	*ret = dup_or_null(s);
	return r;
}

static int get_ports(const json_t *o, struct pod_config *c, struct err *err)
{
	const json_t *a = NULL;
	int r = js_get(o, "", "ports", JSON_ARRAY, false, &a, err);
	if (r < 0 || !a || !json_array_size(a))
		return r;
	c->ports = xcalloc(json_array_size(a), sizeof(*c->ports));
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		struct pod_port *p = &c->ports[c->n_ports++];
		int64_t proto = 0, cp = 0, hp = 0;
		r = js_get_int(v, "ports", "protocol", 0, &proto, err);
		if (r >= 0)
			r = js_get_int(v, "ports", "container_port", 0, &cp, err);
		if (r >= 0)
			r = js_get_int(v, "ports", "host_port", 0, &hp, err);
		if (r >= 0)
			r = get_dup(v, "host_ip", &p->host_ip, err);
		if (r < 0)
			return r;
		p->protocol = (enum pod_proto)proto;
		p->container_port = (int32_t)cp;
		p->host_port = (int32_t)hp;
	}
	return 0;
}

static int get_enums(const json_t *o, struct pod_config *c, struct err *err)
{
	int64_t a = 0, net = 0, pid = 0, ipc = 0;
	int r = js_get_int(o, "", "attempt", 0, &a, err);
	if (r >= 0)
		r = js_get_int(o, "", "ns_network", 0, &net, err);
	if (r >= 0)
		r = js_get_int(o, "", "ns_pid", 0, &pid, err);
	if (r >= 0)
		r = js_get_int(o, "", "ns_ipc", 0, &ipc, err);
	if (r >= 0)
		r = js_get_bool(o, "", "privileged", false, &c->privileged, err);
	c->attempt = (uint32_t)a;
	c->ns_network = (enum pod_ns_mode)net;
	c->ns_pid = (enum pod_ns_mode)pid;
	c->ns_ipc = (enum pod_ns_mode)ipc;
	return r;
}

static int get_idmaps(const json_t *o, const char *key, struct oci_idmap **ret, size_t *ret_n,
		      struct err *err)
{
	const json_t *a = json_object_get(o, key);
	if (!json_is_array(a))
		return err_msg(err, -EINVAL, "userns.%s: expected an array", key);
	size_t i;
	json_t *v;
	*ret = json_array_size(a) ? xcalloc(json_array_size(a), sizeof(**ret)) : NULL;
	json_array_foreach(a, i, v)
	{
		json_int_t f[3] = { -1, -1, -1 };
		if (json_unpack(v, "[III]", &f[0], &f[1], &f[2]) < 0 || f[0] < 0 ||
		    f[0] > UINT32_MAX || f[1] < 0 || f[1] > UINT32_MAX || f[2] < 0 ||
		    f[2] > UINT32_MAX)
			return err_msg(err, -EINVAL, "userns.%s[%zu]: expected 3 uint32", key, i);
		(*ret)[(*ret_n)++] =
		    (struct oci_idmap){ (uint32_t)f[0], (uint32_t)f[1], (uint32_t)f[2] };
	}
	return 0;
}

static int get_userns(const json_t *o, struct pod_config *c, struct err *err)
{
	const json_t *u = NULL;
	int r = js_get(o, "", "userns", JSON_OBJECT, false, &u, err);
	if (r < 0 || !u)
		return r;
	int64_t mode = 0;
	r = js_get_int(u, "userns", "mode", 0, &mode, err);
	c->has_userns = true;
	c->ns_user = (enum pod_ns_mode)mode;
	if (r >= 0)
		r = get_idmaps(u, "uids", &c->uid_maps, &c->n_uid_maps, err);
	if (r >= 0)
		r = get_idmaps(u, "gids", &c->gid_maps, &c->n_gid_maps, err);
	return r;
}

static int get_resources(const json_t *o, const char *key, bool *ret_has, struct pod_resources *ret,
			 struct err *err)
{
	const json_t *v = NULL;
	int r = js_get(o, "", key, JSON_OBJECT, false, &v, err);
	if (r < 0 || !v)
		return r;
	*ret_has = true;
	r = js_get_int(v, key, "cpu_period", 0, &ret->cpu_period, err);
	if (r >= 0)
		r = js_get_int(v, key, "cpu_quota", 0, &ret->cpu_quota, err);
	if (r >= 0)
		r = js_get_int(v, key, "cpu_shares", 0, &ret->cpu_shares, err);
	if (r >= 0)
		r = js_get_int(v, key, "memory_limit_in_bytes", 0, &ret->memory_limit_in_bytes,
			       err);
	return r;
}

static int from_json(const json_t *o, struct pod_config *c, struct err *err)
{
	static const struct {
		const char *key;
		size_t off;
	} strs[] = {
		{ "name", offsetof(struct pod_config, name) },
		{ "namespace", offsetof(struct pod_config, namespace) },
		{ "uid", offsetof(struct pod_config, uid) },
		{ "hostname", offsetof(struct pod_config, hostname) },
		{ "log_directory", offsetof(struct pod_config, log_directory) },
		{ "cgroup_parent", offsetof(struct pod_config, cgroup_parent) },
		{ "runtime_handler", offsetof(struct pod_config, runtime_handler) },
	};
	int r = 0;
	for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(strs); i++)
		r = get_dup(o, strs[i].key, (char **)((char *)c + strs[i].off), err);
	if (r >= 0)
		r = get_enums(o, c, err);
	const json_t *dns = NULL;
	if (r >= 0)
		r = js_get(o, "", "dns", JSON_OBJECT, false, &dns, err);
	if (r >= 0 && dns) {
		c->has_dns = true;
		r = get_strv(dns, "servers", &c->dns.servers, err);
		if (r >= 0)
			r = get_strv(dns, "searches", &c->dns.searches, err);
		if (r >= 0)
			r = get_strv(dns, "options", &c->dns.options, err);
	}
	if (r >= 0)
		r = get_ports(o, c, err);
	if (r >= 0)
		r = get_kv(o, "labels", &c->labels, &c->n_labels, err);
	if (r >= 0)
		r = get_kv(o, "annotations", &c->annotations, &c->n_annotations, err);
	if (r >= 0)
		r = get_kv(o, "sysctls", &c->sysctls, &c->n_sysctls, err);
	if (r >= 0)
		r = get_userns(o, c, err);
	if (r >= 0)
		r = get_resources(o, "overhead", &c->has_overhead, &c->overhead, err);
	if (r >= 0)
		r = get_resources(o, "resources", &c->has_resources, &c->resources, err);
	return r;
}

int pod_config_from_json(const char *text, struct pod_config *ret, struct err *err)
{
	memset(ret, 0, sizeof(*ret));
	json_t *o = NULL;
	int r = js_load("pod config", text, strlen(text), 1 << 24, &o, err);
	if (r < 0)
		return r;
	if (!json_is_object(o))
		r = err_msg(err, -EINVAL, "pod config: expected an object");
	else
		r = from_json(o, ret, err);
	json_decref(o);
	if (r < 0)
		pod_config_done(ret);
	return r;
}
