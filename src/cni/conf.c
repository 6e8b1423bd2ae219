/* Network configuration files: parsing, the built-in default network. */
#include <errno.h>
#include <string.h>

#include "base/base.h"
#include "base/json.h"
#include "cni/cni.h"
#include "cni/cni_int.h"

#define CONF_MAX (1 << 20)

void cni_net_free(struct cni_net *n)
{
	if (!n)
		return;
	free(n->name);
	free(n->version);
	json_decref(n->plugins);
	free(n->source);
	free(n->text);
	free(n);
}

bool cni_version_ok(const char *v)
{
	static const char *const ok[] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0" };
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		if (strcmp(v, ok[i]) == 0)
			return true;
	return false;
}

bool cni_version_ge(const char *v, const char *than)
{
	unsigned a[3] = { 0 }, b[3] = { 0 };
	if (sscanf(v, "%u.%u.%u", &a[0], &a[1], &a[2]) < 2 ||
	    sscanf(than, "%u.%u.%u", &b[0], &b[1], &b[2]) < 2)
		return false;
	for (int i = 0; i < 3; i++)
		if (a[i] != b[i])
			return a[i] > b[i];
	return true;
}

static bool type_ok(const char *t)
{
	/* A plugin type is a file name looked up in the plugin dirs. */
	return fs_name_ok(t) && strlen(t) < 256;
}

static int check_plugins(const char *name, json_t *plugins, struct err *err)
{
	if (!json_is_array(plugins) || json_array_size(plugins) == 0)
		return err_msg(err, -EINVAL, "%s: no plugins", name);
	size_t i;
	json_t *p;
	json_array_foreach(plugins, i, p)
	{
		const char *t = NULL;
		if (!json_is_object(p))
			return err_msg(err, -EINVAL, "%s: plugins[%zu]: expected an object", name,
				       i);
		int r = js_get_str(p, "plugins[]", "type", NULL, &t, err);
		if (r < 0)
			return err_wrap(err, "%s", name);
		if (!t || !type_ok(t))
			return err_msg(err, -EINVAL, "%s: plugins[%zu]: missing or invalid type",
				       name, i);
		const json_t *caps = NULL;
		r = js_get(p, "plugins[]", "capabilities", JSON_OBJECT, false, &caps, err);
		if (r < 0)
			return err_wrap(err, "%s", name);
	}
	return 0;
}

/* The list form of n, as the cache keeps it. */
static char *list_text(const struct cni_net *n)
{
	json_t *l = json_pack("{s:s,s:s,s:O}", "cniVersion", n->version, "name", n->name, "plugins",
			      n->plugins);
	if (n->disable_check)
		json_object_set_new(l, "disableCheck", json_true());
	char *s = js_dump(l, JS_DUMP_SORTED);
	json_decref(l);
	return s;
}

void cni_net_drop_type(struct cni_net *n, const char *type)
{
	json_t *keep = json_array();
	size_t i;
	json_t *p;
	json_array_foreach(n->plugins, i, p)
	{
		if (strcmp(json_string_value(json_object_get(p, "type")), type) != 0)
			json_array_append(keep, p);
	}
	json_decref(n->plugins);
	n->plugins = keep;
	free(n->text);
	n->text = list_text(n);
}

int cni_conf_parse(const char *name, const char *text, size_t len, bool list, struct cni_net **ret,
		   struct err *err)
{
	json_t *o = NULL;
	int r = js_load(name, text, len, CONF_MAX, &o, err);
	if (r < 0)
		return r;
	struct cni_net *n = xnew(struct cni_net);
	const char *nm = NULL, *ver = NULL;
	if (!json_is_object(o)) {
		r = err_msg(err, -EINVAL, "%s: expected a JSON object", name);
		goto out;
	}
	r = js_get_str(o, "", "name", NULL, &nm, err);
	if (r >= 0)
		r = js_get_str(o, "", "cniVersion", NULL, &ver, err);
	if (r >= 0)
		r = js_get_bool(o, "", "disableCheck", false, &n->disable_check, err);
	if (r < 0) {
		err_wrap(err, "%s", name);
		goto out;
	}
	if (str_empty(nm) || strlen(nm) > 255) {
		r = err_msg(err, -EINVAL, "%s: missing or invalid network name", name);
		goto out;
	}
	if (!ver || !cni_version_ok(ver)) {
		r = err_msg(err, -EINVAL,
			    "%s: cniVersion '%s' is not supported (0.3.0 to 1.1.0 are)", name,
			    ver ? ver : "");
		goto out;
	}
	n->name = xstrdup(nm);
	n->version = xstrdup(ver);
	if (list) {
		n->plugins = json_incref(json_object_get(o, "plugins"));
	} else {
		n->plugins = json_array();
		json_t *p = json_deep_copy(o);
		json_object_del(p, "name");
		json_object_del(p, "cniVersion");
		json_array_append_new(n->plugins, p);
	}
	r = check_plugins(name, n->plugins, err);
	if (r < 0)
		goto out;
	n->text = list_text(n);
	*ret = TAKE_PTR(n);
out:
	cni_net_free(n);
	json_decref(o);
	return r;
}

char *cni_default_conflist(const char *bridge, const char *subnet, const char *data_dir)
{
	json_t *ipam = json_pack("{s:s,s:[{s:s}],s:[[{s:s}]]}", "type", "host-local", "routes",
				 "dst", "0.0.0.0/0", "ranges", "subnet", subnet);
	if (data_dir)
		json_object_set_new(ipam, "dataDir", json_string(data_dir));
	/* No ipMasq: masq.c makes one chain for the subnet instead of the
	 * plugin's chain per pod. */
	json_t *br = json_pack("{s:s,s:s,s:b,s:b,s:b,s:o}", "type", "bridge", "bridge", bridge,
			       "isGateway", 1, "ipMasq", 0, "hairpinMode", 1, "ipam", ipam);
	json_t *pm = json_pack("{s:s,s:{s:b},s:b}", "type", "portmap", "capabilities",
			       "portMappings", 1, "snat", 1);
	/* disableCheck: portmap (1.1) fails CHECK on IPv4-only results,
	 * looking for an ip6tables chain it never made. */
	json_t *l = json_pack("{s:s,s:s,s:[o,o],s:b}", "cniVersion", "1.0.0", "name",
			      CNI_DEFAULT_NETWORK, "plugins", br, pm, "disableCheck", 1);
	char *s = js_dump(l, JS_DUMP_SORTED);
	json_decref(l);
	return s;
}

int cni_result_ips(const char *text, size_t len, char ***ret, struct err *err)
{
	json_t *o = NULL;
	*ret = NULL;
	int r = js_load("CNI result", text, len, CONF_MAX, &o, err);
	if (r < 0)
		return r;
	const json_t *ips = NULL;
	r = js_get(o, "", "ips", JSON_ARRAY, false, &ips, err);
	size_t i;
	json_t *ip;
	json_array_foreach(ips, i, ip)
	{
		const char *a = NULL;
		r = js_get_str(ip, "ips[]", "address", NULL, &a, err);
		if (r < 0)
			break;
		if (!a)
			continue;
		const char *slash = strchr(a, '/');
		strv_push_take(ret, slash ? xstrndup(a, (size_t)(slash - a)) : xstrdup(a));
	}
	json_decref(o);
	if (r < 0) {
		strv_free(*ret);
		*ret = NULL;
	}
	return r;
}
